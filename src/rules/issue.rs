//! What a check reports: an issue at a place in one file of the server,
//! carrying what its fix needs; and the context checks share.

use super::{rule_by_code, Finding};
use crate::analysis::{
    coverage::section_name, Analysis, GroupKind, Mount, Resolved, ServerContext, Site, Source,
};
use crate::server::FileId;

#[derive(Debug, Clone)]
pub enum IssueKind {
    /// WSGI001: instance `inst` (of mount `mount`) runs embedded.
    Embedded {
        inst: usize,
        mount: usize,
        pg: Resolved,
    },
    /// WSGI002: the instance's app shares daemon `daemon` with an earlier app.
    Shared {
        inst: usize,
        mount: usize,
        daemon: String,
        pg: Resolved,
    },
    /// WSGI003: the instance does not run in the main interpreter.
    NotGlobal {
        inst: usize,
        mount: usize,
        ag: Resolved,
    },
    /// WSGI005: daemon `dup` repeats daemon `first` (indexes into daemons).
    Duplicate { first: usize, dup: usize },
    /// Reported only; for a rule that has a fix, why it is not made here.
    ReportOnly(Option<NotFixed>),
}

/// Why a finding of a rule that has a fix is left as it is, in words shown
/// with the finding: the operator must not have to guess.
pub type NotFixed = &'static str;

/// Which sections apply to the app is decided per request (a regex section
/// over a pattern mount, an `<If>`, a `<Location /app/>` that takes
/// `/app/x` but not `/app`).
pub const UNDECIDED: NotFixed =
    "a section applies to some of its requests only, or is decided per request";

#[derive(Debug, Clone)]
pub struct Issue {
    pub kind: IssueKind,
    pub code: &'static str,
    /// The file the finding belongs to (the file of the mount or directive).
    pub file: FileId,
    pub line: u32,
    pub column: u32,
    /// Read order of the site, to sort findings the way httpd reads.
    pub order: usize,
    pub message: String,
}

impl Issue {
    pub fn new(code: &'static str, site: &Site, message: String, kind: IssueKind) -> Issue {
        Issue {
            kind,
            code,
            file: site.file,
            line: site.line,
            column: site.column,
            order: site.order,
            message,
        }
    }

    /// The finding, and (when it is not fixed) why, if known.
    pub fn to_finding(&self, fixable: bool, not_fixed: Option<NotFixed>) -> Finding {
        let rule = rule_by_code(self.code).expect("issue codes are registered");
        Finding {
            code: rule.code,
            name: rule.name,
            line: self.line,
            column: self.column,
            message: self.message.clone(),
            fixable,
            not_fixed: if fixable { None } else { not_fixed },
        }
    }

    /// The instance the issue is about, for the rules about one app.
    pub fn instance(&self) -> Option<usize> {
        match self.kind {
            IssueKind::Embedded { inst, .. }
            | IssueKind::Shared { inst, .. }
            | IssueKind::NotGlobal { inst, .. } => Some(inst),
            _ => None,
        }
    }

    /// Why the check itself leaves the finding unfixed.
    pub fn reported_only_because(&self) -> Option<NotFixed> {
        match self.kind {
            IssueKind::ReportOnly(why) => why,
            _ => None,
        }
    }

    pub fn mount(&self) -> Option<usize> {
        match self.kind {
            IssueKind::Embedded { mount, .. }
            | IssueKind::Shared { mount, .. }
            | IssueKind::NotGlobal { mount, .. } => Some(mount),
            _ => None,
        }
    }

    pub fn is_fixable_kind(&self) -> bool {
        !matches!(self.kind, IssueKind::ReportOnly(_))
    }
}

/// What every check reads: the server's analysis, the display names of its
/// files, and (for a file processed alone) what its other files hold.
pub struct CheckCtx<'a> {
    pub a: &'a Analysis,
    pub files: &'a [String],
    pub ext: &'a ServerContext,
    /// Whether anyone reads the issues' messages. Only the findings of the
    /// input are reported; the fix loop's checks of its candidates compare
    /// issues by place, and building their messages was about a twentieth
    /// of a server's run.
    pub messages: bool,
}

impl CheckCtx<'_> {
    /// `message()` when messages are read, else nothing.
    pub fn say(&self, message: impl FnOnce() -> String) -> String {
        if self.messages {
            message()
        } else {
            String::new()
        }
    }
}

/// One app instance as the daemon rules (WSGI001, 002, 006) read it.
pub struct DaemonView<'a> {
    /// The instance's number in `Analysis::instances`.
    pub index: usize,
    pub scope: usize,
    pub mount_index: usize,
    pub mount: &'a Mount,
    /// Its effective process group.
    pub pg: &'a Resolved,
}

impl<'a> CheckCtx<'a> {
    /// Every instance with its mount and effective process group, in read
    /// order; none on Windows, where mod_wsgi has no daemon mode.
    pub fn daemon_views(&self) -> impl Iterator<Item = DaemonView<'a>> + 'a {
        let a: &'a Analysis = self.a;
        let instances = if a.windows { &[][..] } else { &a.instances[..] };
        instances
            .iter()
            .enumerate()
            .map(move |(i, inst)| DaemonView {
                index: i,
                scope: inst.scope,
                mount_index: inst.mount,
                mount: &a.mounts[inst.mount],
                pg: a.effective_of(i, GroupKind::Process),
            })
    }
}

impl CheckCtx<'_> {
    /// "line N" in the same file, "FILE:N" in another.
    pub fn at(&self, from: FileId, site: &Site) -> String {
        if site.file == from {
            format!("line {}", site.line)
        } else {
            let name = self.files.get(site.file).map_or("?", String::as_str);
            format!("{name}:{}", site.line)
        }
    }

    /// What gives an instance its value, named for the user.
    pub fn source_text(&self, from: FileId, r: &Resolved, kind: GroupKind) -> String {
        match &r.source {
            Source::AliasOption => format!("the alias option {}={}", kind.option(), r.value),
            Source::Directive(i) => {
                let g = &self.a.groups[*i];
                format!(
                    "{} {} at {}",
                    kind.directive(),
                    g.value,
                    self.at(from, &g.site)
                )
            }
            Source::Default => "the default".to_string(),
        }
    }

    /// "; cannot decide whether <LocationMatch X> (line N) covers this app".
    /// "; cannot decide whether <IfDefine SSL> (line N) is read" for a
    /// group under an `<IfDefine>` the app is not under.
    pub fn undecided_text(&self, from: FileId, r: &Resolved, app: &Site) -> String {
        r.undecided
            .iter()
            .map(|&g| {
                let g = &self.a.groups[g];
                let at = self.at(from, &g.site);
                let condition = (g.site.defines.iter()).find(|c| !app.defines.contains(c));
                match (condition, g.site.sections.last()) {
                    (Some((name, negated)), _) => {
                        let not = if *negated { "!" } else { "" };
                        format!("; cannot decide whether <IfDefine {not}{name}> ({at}) is read: httpd's -D options decide it")
                    }
                    (None, Some(s)) => format!(
                        "; cannot decide whether {} ({at}) covers this app",
                        section_label(s)
                    ),
                    (None, None) => format!("; cannot decide whether the group at {at} applies"),
                }
            })
            .collect()
    }

    /// " in vhost name:port" for a server-level mount reached in a vhost;
    /// also for a mount in a file its vhost Includes (the same line is
    /// another vhost's app too).
    pub fn where_text(&self, m: &Mount, scope: usize) -> String {
        let included = m.site.scope != 0 && self.a.scopes[m.site.scope].file != m.site.file;
        if m.site.scope != 0 && !included {
            return String::new();
        }
        match self.a.scope_label(scope) {
            Some(label) => format!(" in <VirtualHost> {label}"),
            None => String::new(),
        }
    }
}

/// A section as written in its opening line: `<Location /app>`, `<Else>`.
pub fn section_label(s: &crate::analysis::SectionContext) -> String {
    match s.arg.as_str() {
        "" => format!("<{}>", section_name(s.kind, s.regex)),
        arg => format!("<{} {arg}>", section_name(s.kind, s.regex)),
    }
}

pub fn describe(m: &Mount) -> String {
    match &m.url {
        Some(url) => format!("{url} ({})", m.target),
        None => m.target.clone(),
    }
}

/// Every problem of the server, in read order.
pub fn check(ctx: &CheckCtx) -> Vec<Issue> {
    use rayon::prelude::*;
    let rules: [fn(&CheckCtx) -> Vec<Issue>; 6] = [
        super::wsgi001_embedded_mode::check,
        super::wsgi002_shared_process_group::check,
        super::wsgi003_not_global_interpreter::check,
        super::wsgi004_undefined_process_group::check,
        super::wsgi005_duplicate_daemon_name::check,
        super::wsgi006_inaccessible_process_group::check,
    ];
    // The rules read the analysis and nothing else: on a whole server they
    // run side by side (the effective groups they share are resolved once).
    let mut issues: Vec<Issue> = if ctx.a.instances.len() >= crate::analysis::PARALLEL_INSTANCES {
        rules.par_iter().flat_map_iter(|rule| rule(ctx)).collect()
    } else {
        rules.iter().flat_map(|rule| rule(ctx)).collect()
    };
    issues.sort_by_key(|i| (i.order, i.line, i.column, i.code));
    // One finding per place and rule: a server-level mount reached in many
    // vhosts is reported once, for the first instance that has the problem.
    let mut seen = crate::collections::HashSet::default();
    issues.retain(|i| seen.insert((i.code, i.file, i.line, i.column)));
    issues
}

pub use crate::analysis::exclusive_defines as exclusive;

/// Is daemon `name` defined anywhere in the server (or, for a file
/// processed alone, in its server's other files)?
pub fn is_defined(ctx: &CheckCtx, name: &str) -> bool {
    ctx.a.daemons_named(name).next().is_some() || ctx.ext.defined_elsewhere(name)
}

/// The daemon named `name` that requests in `scope` can use, if any.
pub fn accessible_daemon<'a>(
    a: &'a Analysis,
    name: &str,
    scope: usize,
) -> Option<&'a crate::analysis::Daemon> {
    a.daemons_named(name)
        .map(|(_, d)| d)
        .find(|d| a.accessible(d, scope))
}
