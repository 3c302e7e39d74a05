//! WSGI003 not-global-interpreter: the app runs in a sub-interpreter.

use super::edit::{self, Edit};
use super::issue::{describe, section_label, CheckCtx, Issue, IssueKind};
use super::placement::{FixEdit, Fixer};
use super::registry::RuleInfo;
use crate::analysis::{GroupKind, Resolved};

pub const RULE: RuleInfo = RuleInfo {
    code: "WSGI003",
    name: "not-global-interpreter",
    summary: "WSGI application does not run in the main interpreter",
    has_fix: true,
    explanation: "\
The application's effective application group is not %{GLOBAL}, so mod_wsgi
runs it in a Python sub-interpreter (by default one per %{RESOURCE}). Many C
extensions do not support sub-interpreters: PyMongo's BSON extension has to use
a slower workaround, others crash or deadlock.

This is also reported when `WSGIApplicationGroup %{GLOBAL}` is written in a
section that does not cover the application (a <Directory> that does not hold
the script, a <Location> that does not cover the mount), or when an
`application-group=` option on the alias overrides it. A %{GLOBAL} set once
for the whole server (mods-available/wsgi.conf, a conf-enabled snippet)
applies to every vhost's apps and is seen.

Fix: set %{GLOBAL} where the effective value comes from, or add
`WSGIApplicationGroup %{GLOBAL}` to the app's vhost; outside every vhost, the
alias option application-group=%{GLOBAL} of that mount. A WSGIImportScript
that preloads into the old application group of the same daemon is changed to
application-group=%{GLOBAL} too, so the preload is not wasted.",
};

pub fn check(ctx: &CheckCtx) -> Vec<Issue> {
    let a = ctx.a;
    let mut out = Vec::new();
    for (i, inst) in a.instances.iter().enumerate() {
        let ag = a.effective_of(i, GroupKind::Application);
        if ag.is_global() || ag.is_dynamic() {
            continue;
        }
        let m = &a.mounts[inst.mount];
        let from = m.site.file;
        let undecided = ctx.undecided_text(from, ag, &m.site);
        let message = ctx.say(|| {
            let mut message = format!(
                "WSGI application {}{} runs in sub-interpreter '{}' ({}), not in the main interpreter %{{GLOBAL}}",
                describe(m),
                ctx.where_text(m, inst.scope),
                ag.value,
                ctx.source_text(from, ag, GroupKind::Application)
            );
            let ineffective: Vec<String> = a
                .ineffective_for(m, inst.scope, GroupKind::Application)
                .into_iter()
                // One beside the app was likely meant for it; those of
                // other files are other apps' (devstack's server-level
                // <Location /identity> is no hint for horizon's vhost).
                .filter(|&g| a.groups[g].value == "%{GLOBAL}" && a.groups[g].site.file == from)
                .map(|g| {
                    let site = &a.groups[g].site;
                    let s = site.sections.last().expect("per-dir");
                    format!(
                        "{} (its {} does not cover the app)",
                        ctx.at(from, site),
                        section_label(s)
                    )
                })
                .collect();
            if !ineffective.is_empty() {
                message.push_str(&format!(
                    "; WSGIApplicationGroup %{{GLOBAL}} at {} does not apply",
                    ineffective.join(", ")
                ));
            }
            message.push_str(&undecided);
            message
        });
        let kind = if undecided.is_empty() {
            IssueKind::NotGlobal {
                inst: i,
                mount: inst.mount,
                ag: ag.clone(),
            }
        } else {
            IssueKind::ReportOnly(Some(super::issue::UNDECIDED))
        };
        out.push(Issue::new(RULE.code, &m.site, message, kind));
    }
    out
}

impl Fixer<'_> {
    pub fn not_global(&self, inst: usize, ag: &Resolved) -> Option<Vec<FixEdit>> {
        // A template's app is one app per rendering: embedded, %{GLOBAL}
        // would put every rendering in Apache's one main interpreter (two
        // Review Board sites rendered from its fixed template shared one).
        let m = &self.a.mounts[self.a.instances[inst].mount];
        let templated = crate::syntax::logical::is_templated(m.target.as_bytes())
            || m.url
                .as_deref()
                .is_some_and(|u| crate::syntax::logical::is_templated(u.as_bytes()));
        if templated && self.a.effective_of(inst, GroupKind::Process).is_global() {
            return self.refuse(
                "it runs embedded in a template: %{GLOBAL} would put the app of every rendering in one interpreter",
            );
        }
        let mut edits = self.select(inst, GroupKind::Application, "%{GLOBAL}", ag)?;
        // A preload into the old application group of a daemon this change
        // reaches would load the script a second time: move it along. A
        // directive of the scope (changed or added) reaches every app of
        // the scope whose value it gives; the edits are then the same for
        // each of them, and made once.
        let a = self.a;
        // A preload names the interpreter literally: `%{RESOURCE}` there is
        // an interpreter of that name (Apache's log), and the app's own
        // %{RESOURCE} one is named `host:port|/url`.
        let expanded = resource_name(a, inst, ag);
        let old = |v: &str| v == ag.value || expanded.as_deref() == Some(v);
        let preloads_into_old = a.imports.iter().any(|s| {
            s.args
                .option("application-group")
                .is_some_and(|g| old(&g.value))
        });
        if !preloads_into_old {
            return Some(edits);
        }
        let scope = a.instances[inst].scope;
        let mut daemons: Vec<&str> = vec![a.effective_of(inst, GroupKind::Process).value.as_str()];
        if ag.source != crate::analysis::Source::AliasOption {
            daemons.extend(a.instances_in_scope(scope).iter().filter_map(|&o| {
                let theirs = a.effective_of(o, GroupKind::Application);
                (theirs.source == ag.source && theirs.value == ag.value)
                    .then(|| a.effective_of(o, GroupKind::Process).value.as_str())
            }));
        }
        for s in &self.a.imports {
            let (Some(p), Some(g)) = (
                s.args.option("process-group"),
                s.args.option("application-group"),
            ) else {
                continue;
            };
            let reached = daemons.contains(&p.value.as_str()) && p.value != "%{GLOBAL}";
            if reached && !p.value.is_empty() && old(&g.value) {
                let line = self.line(s.site.file, &s.site.path)?;
                let raw = edit::replace_in_args(line, &g.text, b"application-group=%{GLOBAL}")?;
                edits.push(FixEdit {
                    file: s.site.file,
                    edit: Edit::Replace {
                        path: s.site.path.clone(),
                        raw,
                    },
                });
            }
        }
        Some(edits)
    }
}

/// The name of the sub-interpreter `%{RESOURCE}` (the default) gives
/// instance `inst`: `host|/url`, with `:port` after the host unless it is
/// 80 or 443, and an empty URL for `/` (Apache: "reviews.example.com|",
/// "is.example:18427|/a"). `None` when host or port is not known.
fn resource_name(a: &crate::analysis::Analysis, inst: usize, ag: &Resolved) -> Option<String> {
    if ag.value != "%{RESOURCE}" {
        return None;
    }
    let i = a.instances[inst];
    let m = &a.mounts[i.mount];
    if m.kind != crate::analysis::MountKind::Alias {
        return None;
    }
    let host = a.server_name_of(i.scope)?;
    let address = a.scopes[i.scope].addresses.first()?;
    let port = address.rsplit_once(':')?.1;
    let port = match port {
        "80" | "443" => String::new(),
        p if p.bytes().all(|b| b.is_ascii_digit()) => format!(":{p}"),
        _ => return None,
    };
    let url = m.url.as_deref()?.trim_end_matches('/');
    Some(format!("{host}{port}|{url}"))
}
