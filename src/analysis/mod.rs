//! What each WSGI application really gets: its mounts, its scope, and the
//! effective process group and application group under mod_wsgi's precedence
//! (modwsgi.md §4): alias options > per-directory sections that really cover
//! the app > virtual host > main server > default.

pub mod coverage;
pub mod options;

use crate::syntax::{logical, Line, LineKind, Node, Section, SyntaxTree};
use coverage::SectionKind;
use options::WsgiArgs;
use std::collections::HashMap;
use std::sync::Arc;

/// Where a node sits: indices into `children` from the file's top level.
pub type NodePath = Vec<usize>;

/// The main server (index 0) or one `<VirtualHost>`.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The last `ServerName` directly in the scope.
    pub server_name: Option<String>,
    /// False for the main server.
    pub is_vhost: bool,
}

/// An enclosing per-directory section.
#[derive(Debug, Clone)]
pub struct SectionContext {
    pub kind: SectionKind,
    /// The section's argument (path, URL or pattern), unquoted.
    pub arg: String,
    /// True for the `~` (regex) form of Directory/Files/Location.
    pub regex: bool,
    pub path: NodePath,
}

/// Position and context shared by everything the analysis records.
#[derive(Debug, Clone)]
pub struct Site {
    pub path: NodePath,
    pub scope: usize,
    /// Per-directory sections around it, outermost first.
    pub sections: Vec<SectionContext>,
    /// `<IfDefine>` conditions around it: (name, negated).
    pub defines: Vec<(String, bool)>,
    pub line: u32,
    pub column: u32,
}

impl Site {
    /// Directly in its scope: no per-directory section around it.
    pub fn at_scope_level(&self) -> bool {
        self.sections.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct Daemon {
    pub name: String,
    pub site: Site,
    pub args: WsgiArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// `WSGIScriptAlias`
    Alias,
    /// `WSGIScriptAliasMatch`
    AliasMatch,
    /// `SetHandler`/`AddHandler wsgi-script` inside a section.
    Handler,
}

#[derive(Debug, Clone)]
pub struct Mount {
    pub kind: MountKind,
    pub site: Site,
    /// URL prefix (Alias), pattern (AliasMatch), or the section's URL for a
    /// handler in a `<Location>` (when known).
    pub url: Option<String>,
    /// Script path, or the directory that holds handler-mapped scripts.
    pub target: String,
    /// Alias options (`process-group=`, `application-group=`); empty for handlers.
    pub args: WsgiArgs,
    /// For handler mounts: the section that holds the SetHandler/AddHandler.
    pub handler_section: Option<SectionContext>,
    /// The application this mount belongs to (index into `Analysis::apps`).
    pub app: usize,
}

impl Mount {
    /// What identifies the application: the same script mounted in the :80
    /// and :443 vhosts of one ServerName is one app.
    pub fn app_key(&self, analysis: &Analysis) -> (String, String) {
        analysis.apps[self.app].clone()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    Process,
    Application,
}

impl GroupKind {
    pub fn directive(self) -> &'static str {
        match self {
            GroupKind::Process => "WSGIProcessGroup",
            GroupKind::Application => "WSGIApplicationGroup",
        }
    }
    pub fn option(self) -> &'static str {
        match self {
            GroupKind::Process => "process-group",
            GroupKind::Application => "application-group",
        }
    }
}

/// A `WSGIProcessGroup` or `WSGIApplicationGroup` directive.
#[derive(Debug, Clone)]
pub struct GroupDirective {
    pub kind: GroupKind,
    pub value: String,
    /// The value exactly as written (quotes included).
    pub value_text: Vec<u8>,
    pub site: Site,
}

#[derive(Debug, Clone)]
pub struct ImportScript {
    pub site: Site,
    pub args: WsgiArgs,
}

/// A `<Macro>` body: a template, analysed on its own and never rewritten.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    pub tree: SyntaxTree,
    /// Physical line of the body's first line in the file.
    pub first_line: u32,
}

#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub scopes: Vec<Scope>,
    pub daemons: Vec<Daemon>,
    pub mounts: Vec<Mount>,
    pub groups: Vec<GroupDirective>,
    pub imports: Vec<ImportScript>,
    /// `Alias`/`AliasMatch` URL → target per scope, to find the script behind
    /// a `<Location>` that sets a wsgi-script handler.
    pub aliases: Vec<(usize, String, String)>,
    /// The main server's `WSGIPythonPath`, which daemons ignore.
    pub python_path: Option<String>,
    /// mod_wsgi on Windows has no daemon mode.
    pub windows: bool,
    pub templates: Vec<Template>,
    /// Each application's identity: (lower-cased ServerName, script target).
    pub apps: Vec<(String, String)>,
    /// Group directives by scope, for resolving a mount without looking at
    /// every other vhost's directives.
    groups_by_scope: Vec<Vec<usize>>,
    /// Daemon definitions by scope.
    daemons_by_scope: Vec<Vec<usize>>,
    /// Mounts by scope.
    mounts_by_scope: Vec<Vec<usize>>,
    /// For each scope, the scopes whose daemons it may select: itself, and
    /// for a vhost every vhost with the same ServerName.
    sharing_scopes: Vec<Vec<usize>>,
    /// Effective (process, application) group of each mount, worked out once.
    effective: std::sync::OnceLock<Vec<(Resolved, Resolved)>>,
}

/// Daemon names across the files of one server (an httpd config tree),
/// built once per server and shared by all its files.
#[derive(Debug, Default)]
pub struct ServerNames {
    /// The server's files, in httpd's reading order, as shown to users.
    pub files: Vec<String>,
    /// Name → its definitions as (file index, line), in reading order.
    pub defined: HashMap<String, Vec<(usize, u32)>>,
    /// Name → the files that select it (WSGIProcessGroup, process-group=).
    pub selected: HashMap<String, Vec<usize>>,
}

/// One file's view of its server: daemon names are global to a server, so
/// what the other files define and select matters to this one. The default
/// is a file on its own.
#[derive(Debug, Clone, Default)]
pub struct ServerContext {
    pub names: Option<Arc<ServerNames>>,
    /// This file's index in `names.files`.
    pub file: usize,
}

impl ServerContext {
    /// Is `name` defined by another file of the server?
    pub fn defined_elsewhere(&self, name: &str) -> bool {
        self.names.as_ref().is_some_and(|n| {
            n.defined
                .get(name)
                .is_some_and(|d| d.iter().any(|(f, _)| *f != self.file))
        })
    }

    /// The first definition of `name` in a file httpd reads before this one.
    pub fn defined_before(&self, name: &str) -> Option<(&str, u32)> {
        let n = self.names.as_ref()?;
        let &(f, line) = n.defined.get(name)?.iter().find(|(f, _)| *f < self.file)?;
        Some((n.files[f].as_str(), line))
    }

    /// Does another file of the server select `name`?
    pub fn selected_elsewhere(&self, name: &str) -> bool {
        self.names.as_ref().is_some_and(|n| {
            n.selected
                .get(name)
                .is_some_and(|f| f.iter().any(|f| *f != self.file))
        })
    }
}

/// Where an effective value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `process-group=`/`application-group=` on the mount's alias.
    AliasOption,
    /// A directive (index into `Analysis::groups`).
    Directive(usize),
    /// Nothing sets it: embedded / `%{RESOURCE}`.
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub value: String,
    pub source: Source,
}

impl Resolved {
    /// mod_wsgi turns `%{GLOBAL}` into the empty string.
    pub fn is_global(&self) -> bool {
        self.value.is_empty() || self.value == "%{GLOBAL}"
    }

    /// Chosen per request (`%{ENV:..}`, `%{SERVER}`, ...): nothing static to say.
    pub fn is_dynamic(&self) -> bool {
        self.value.contains("%{") && self.value != "%{GLOBAL}" && self.value != "%{RESOURCE}"
    }
}

pub fn analyse(tree: &SyntaxTree) -> Analysis {
    let mut a = Analysis {
        scopes: vec![Scope {
            server_name: None,
            is_vhost: false,
        }],
        ..Analysis::default()
    };
    let mut ctx = Walk {
        scope: 0,
        sections: Vec::new(),
        defines: Vec::new(),
        path: Vec::new(),
    };
    walk(&tree.nodes, &mut ctx, &mut a);
    // ServerName may come after a mount in its vhost: identities are known
    // only once the whole file is read.
    let mut ids: HashMap<(String, String), usize> = HashMap::new();
    for i in 0..a.mounts.len() {
        let m = &a.mounts[i];
        let server = a.scopes[m.site.scope]
            .server_name
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let key = (server, m.target.clone());
        let next = ids.len();
        let id = *ids.entry(key.clone()).or_insert(next);
        if id == a.apps.len() {
            a.apps.push(key);
        }
        a.mounts[i].app = id;
    }
    a.groups_by_scope = vec![Vec::new(); a.scopes.len()];
    for (i, g) in a.groups.iter().enumerate() {
        a.groups_by_scope[g.site.scope].push(i);
    }
    a.mounts_by_scope = vec![Vec::new(); a.scopes.len()];
    for (i, m) in a.mounts.iter().enumerate() {
        a.mounts_by_scope[m.site.scope].push(i);
    }
    a.daemons_by_scope = vec![Vec::new(); a.scopes.len()];
    for (i, d) in a.daemons.iter().enumerate() {
        a.daemons_by_scope[d.site.scope].push(i);
    }
    // mod_wsgi lets a vhost use a daemon of any vhost with the same
    // ServerName string.
    let mut by_name: HashMap<Option<&str>, Vec<usize>> = HashMap::new();
    for (i, s) in a.scopes.iter().enumerate().filter(|(_, s)| s.is_vhost) {
        by_name.entry(s.server_name.as_deref()).or_default().push(i);
    }
    a.sharing_scopes = a
        .scopes
        .iter()
        .enumerate()
        .map(|(i, s)| match s.is_vhost {
            true => by_name[&s.server_name.as_deref()].clone(),
            false => vec![i],
        })
        .collect();
    a
}

struct Walk {
    scope: usize,
    sections: Vec<SectionContext>,
    defines: Vec<(String, bool)>,
    path: NodePath,
}

impl Walk {
    fn site(&self, line: &Line) -> Site {
        let (l, c) = line.content_position();
        Site {
            path: self.path.clone(),
            scope: self.scope,
            sections: self.sections.clone(),
            defines: self.defines.clone(),
            line: l,
            column: c,
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn walk(nodes: &[Node], ctx: &mut Walk, a: &mut Analysis) {
    for (i, node) in nodes.iter().enumerate() {
        ctx.path.push(i);
        match node {
            Node::Line(line) if line.kind == LineKind::Directive => directive(line, ctx, a),
            Node::Line(_) => {}
            Node::Section(s) => section(s, ctx, a),
        }
        ctx.path.pop();
    }
}

fn section(s: &Section, ctx: &mut Walk, a: &mut Analysis) {
    let name = lossy(&s.name()).to_ascii_lowercase();
    let args = s.args();
    match name.as_str() {
        "virtualhost" if ctx.scope == 0 => {
            a.scopes.push(Scope {
                server_name: None,
                is_vhost: true,
            });
            let outer = std::mem::replace(&mut ctx.scope, a.scopes.len() - 1);
            walk(&s.children, ctx, a);
            ctx.scope = outer;
        }
        "ifmodule" | "ifversion" | "iffile" | "ifdirective" | "ifsection" => {
            walk(&s.children, ctx, a)
        }
        "ifdefine" => {
            let arg = args.first().map(|a| lossy(a)).unwrap_or_default();
            let (negated, define) = match arg.strip_prefix('!') {
                Some(rest) => (true, rest.to_string()),
                None => (false, arg),
            };
            ctx.defines.push((define, negated));
            walk(&s.children, ctx, a);
            ctx.defines.pop();
        }
        "macro" => {
            let mut body = Vec::new();
            for c in &s.children {
                if let Node::Line(l) = c {
                    body.extend_from_slice(l.raw());
                }
            }
            if let Ok(tree) = crate::syntax::parse(&body) {
                a.templates.push(Template {
                    name: args.first().map(|a| lossy(a)).unwrap_or_default(),
                    tree,
                    first_line: s.open.line + s.open.newline_count(),
                });
            }
        }
        _ => {
            let (kind, regex, arg) = coverage::classify_section(&name, &args);
            ctx.sections.push(SectionContext {
                kind,
                arg,
                regex,
                path: ctx.path.clone(),
            });
            walk(&s.children, ctx, a);
            ctx.sections.pop();
        }
    }
}

/// The directives the analysis reads, lower-cased.
const RELEVANT: &[&str] = &[
    "servername",
    "wsgidaemonprocess",
    "wsgiprocessgroup",
    "wsgiapplicationgroup",
    "wsgiscriptalias",
    "wsgiscriptaliasmatch",
    "sethandler",
    "addhandler",
    "alias",
    "aliasmatch",
    "wsgiimportscript",
    "wsgipythonpath",
    "loadmodule",
    "loadfile",
];

fn directive(line: &Line, ctx: &mut Walk, a: &mut Analysis) {
    let text = line.logical();
    let (name, rest) = logical::split_name(&text);
    // Most directives matter to no rule: recognise the few that do without
    // building strings for the rest.
    let Some(lower) = RELEVANT
        .iter()
        .find(|d| name.eq_ignore_ascii_case(d.as_bytes()))
        .copied()
    else {
        return;
    };
    match lower {
        "servername" if ctx.sections.is_empty() => {
            if let Some(v) = logical::words(rest).first() {
                let scope = &mut a.scopes[ctx.scope];
                // httpd keeps the last ServerName of a scope.
                scope.server_name = Some(lossy(v));
            }
        }
        "wsgidaemonprocess" => {
            let args = options::parse(rest, 1);
            if let Some(name) = args.words.first().cloned() {
                a.daemons.push(Daemon {
                    name,
                    site: ctx.site(line),
                    args,
                });
            }
        }
        "wsgiprocessgroup" | "wsgiapplicationgroup" => {
            let kind = if lower == "wsgiprocessgroup" {
                GroupKind::Process
            } else {
                GroupKind::Application
            };
            let mut pos = 0;
            let start = rest.iter().take_while(|&&b| logical::is_space(b)).count();
            if let Some(v) = logical::next_word(rest, &mut pos) {
                let mut end = pos;
                while end > start && logical::is_space(rest[end - 1]) {
                    end -= 1;
                }
                a.groups.push(GroupDirective {
                    kind,
                    value: lossy(&v),
                    value_text: rest[start..end].to_vec(),
                    site: ctx.site(line),
                });
            }
        }
        "wsgiscriptalias" | "wsgiscriptaliasmatch" => {
            let args = options::parse(rest, 2);
            if args.words.len() == 2 {
                a.mounts.push(Mount {
                    kind: if lower == "wsgiscriptalias" {
                        MountKind::Alias
                    } else {
                        MountKind::AliasMatch
                    },
                    site: ctx.site(line),
                    url: Some(args.words[0].clone()),
                    target: args.words[1].clone(),
                    args,
                    handler_section: None,
                    app: 0,
                });
            }
        }
        "sethandler" | "addhandler" => {
            let words = logical::words(rest);
            let is_wsgi = words.first().is_some_and(|h| {
                h.eq_ignore_ascii_case(b"wsgi-script")
                    || h.eq_ignore_ascii_case(b"application/x-httpd-wsgi")
            });
            if !is_wsgi {
                return;
            }
            let Some(section) = ctx.sections.last().cloned() else {
                return;
            };
            let (url, target) = match section.kind {
                SectionKind::Location if !section.regex => {
                    let target = a
                        .alias_visible(ctx.scope, |url, _| coverage::same_url(url, &section.arg))
                        .map(|(_, target)| target.to_string())
                        .unwrap_or_else(|| section.arg.clone());
                    (Some(section.arg.clone()), target)
                }
                SectionKind::Directory if !section.regex => {
                    // The URL is the one an Alias maps onto this directory.
                    let url = a
                        .alias_visible(ctx.scope, |_, target| {
                            coverage::same_url(target, &section.arg)
                        })
                        .map(|(url, _)| url.to_string());
                    (url, section.arg.clone())
                }
                _ => (None, section.arg.clone()),
            };
            a.mounts.push(Mount {
                kind: MountKind::Handler,
                site: ctx.site(line),
                url,
                target,
                args: WsgiArgs::default(),
                handler_section: Some(section),
                app: 0,
            });
        }
        "alias" | "aliasmatch" => {
            let words = logical::words(rest);
            if words.len() >= 2 {
                a.aliases
                    .push((ctx.scope, lossy(&words[0]), lossy(&words[1])));
            }
        }
        "wsgiimportscript" => {
            a.imports.push(ImportScript {
                site: ctx.site(line),
                args: options::parse(rest, 1),
            });
        }
        "wsgipythonpath" if ctx.scope == 0 && ctx.sections.is_empty() => {
            if let Some(v) = logical::words(rest).first() {
                a.python_path = Some(lossy(v));
            }
        }
        "loadmodule" | "loadfile" => {
            let words = logical::words(rest);
            if let Some(file) = words.last() {
                let f = lossy(file).to_ascii_lowercase();
                if f.ends_with(".pyd") || f.ends_with(".dll") {
                    a.windows = true;
                }
            }
        }
        _ => {}
    }
    if matches!(lower, "wsgiscriptalias" | "wsgiscriptaliasmatch") {
        if let Some(m) = a.mounts.last() {
            if coverage::is_windows_path(&m.target) {
                a.windows = true;
            }
        }
    }
}

impl Analysis {
    /// The last `Alias` seen so far in `scope` or the main server (which
    /// vhosts inherit) whose (URL, target) satisfies `pred`.
    fn alias_visible(
        &self,
        scope: usize,
        pred: impl Fn(&str, &str) -> bool,
    ) -> Option<(&str, &str)> {
        self.aliases
            .iter()
            .rev()
            .find(|(s, u, t)| (*s == scope || *s == 0) && pred(u, t))
            .map(|(_, u, t)| (u.as_str(), t.as_str()))
    }

    /// The effective group of `kind` of mount number `mount`, worked out
    /// once per analysis.
    pub fn effective(&self, mount: usize, kind: GroupKind) -> &Resolved {
        let all = self.effective.get_or_init(|| {
            self.mounts
                .iter()
                .map(|m| {
                    (
                        self.resolve(m, GroupKind::Process),
                        self.resolve(m, GroupKind::Application),
                    )
                })
                .collect()
        });
        match kind {
            GroupKind::Process => &all[mount].0,
            GroupKind::Application => &all[mount].1,
        }
    }

    /// The effective process or application group of a mount.
    pub fn resolve(&self, mount: &Mount, kind: GroupKind) -> Resolved {
        if let Some(opt) = mount.args.option(kind.option()) {
            return Resolved {
                value: opt.value.clone(),
                source: Source::AliasOption,
            };
        }
        let default = || Resolved {
            value: match kind {
                GroupKind::Process => String::new(),
                GroupKind::Application => "%{RESOURCE}".to_string(),
            },
            source: Source::Default,
        };
        let scope = mount.site.scope;
        // Only the main server's directives and the mount's own vhost's
        // can apply to it.
        let levels: &[usize] = if scope == 0 { &[0] } else { &[0, scope] };
        let candidates = levels
            .iter()
            .flat_map(|&l| self.groups_by_scope.get(l).into_iter().flatten())
            .copied();

        // Per-directory sections, in httpd's merge order; the last one that
        // applies wins.
        let mut best: Option<(coverage::MergeRank, usize)> = None;
        for i in candidates {
            let g = &self.groups[i];
            if g.kind != kind || g.site.at_scope_level() {
                continue;
            }
            if !g.site.sections.iter().all(|s| coverage::covers(s, mount)) {
                continue;
            }
            let rank = coverage::merge_rank(&g.site);
            if best.as_ref().is_none_or(|(r, _)| rank >= *r) {
                best = Some((rank, i));
            }
        }
        if let Some((_, i)) = best {
            return Resolved {
                value: self.groups[i].value.clone(),
                source: Source::Directive(i),
            };
        }
        // The vhost's own value, then the main server's (which vhosts inherit).
        for &level in levels.iter().rev() {
            let found = self.groups_by_scope[level]
                .iter()
                .rev()
                .map(|&i| (i, &self.groups[i]))
                .find(|(_, g)| g.kind == kind && g.site.at_scope_level());
            if let Some((i, g)) = found {
                return Resolved {
                    value: g.value.clone(),
                    source: Source::Directive(i),
                };
            }
        }
        default()
    }

    /// Group directives that sit in sections which do not cover `mount` but
    /// look meant for it (they hold the same kind of directive): reported so
    /// the user sees why a `%{GLOBAL}` is not effective.
    pub fn ineffective_for(&self, mount: &Mount, kind: GroupKind) -> Vec<usize> {
        self.groups_by_scope[mount.site.scope]
            .iter()
            .copied()
            .filter(|&i| {
                let g = &self.groups[i];
                g.kind == kind
                    && !g.site.at_scope_level()
                    && !g.site.sections.iter().all(|s| coverage::covers(s, mount))
            })
            .collect()
    }

    /// The mounts a directive or section of `scope` can reach: a vhost's
    /// own, or, from the main server (which every vhost inherits), all.
    pub fn mounts_reached_from(&self, scope: usize) -> Box<dyn Iterator<Item = usize> + '_> {
        if scope == 0 {
            Box::new(0..self.mounts.len())
        } else {
            Box::new(self.mounts_by_scope[scope].iter().copied())
        }
    }

    /// The mounts of `scope` and of the main server.
    pub fn mounts_in_or_above(&self, scope: usize) -> impl Iterator<Item = usize> + '_ {
        let own: &[usize] = if scope == 0 {
            &[]
        } else {
            &self.mounts_by_scope[scope]
        };
        self.mounts_by_scope[0].iter().chain(own).copied()
    }

    /// Daemons a mount in `scope` may select as its own: those of its scope,
    /// or of a vhost with the same ServerName.
    pub fn daemons_for_scope(&self, scope: usize) -> impl Iterator<Item = &Daemon> {
        self.sharing_scopes[scope]
            .iter()
            .flat_map(|&s| &self.daemons_by_scope[s])
            .map(|&i| &self.daemons[i])
    }
}
