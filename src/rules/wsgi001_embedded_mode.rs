//! WSGI001 embedded-mode: the app runs inside Apache's own processes.

use super::issue::{describe, CheckCtx, Issue, IssueKind};
use super::placement::{FixEdit, Fixer};
use super::registry::RuleInfo;
use crate::analysis::{GroupKind, Resolved, Source};

pub const RULE: RuleInfo = RuleInfo {
    code: "WSGI001",
    name: "embedded-mode",
    summary: "WSGI application runs in embedded mode",
    has_fix: true,
    explanation: "\
The application's effective process group is empty, so mod_wsgi runs it inside
Apache's own child processes (embedded mode). C extensions such as PyMongo,
NumPy or cryptography then share those processes with every other app and with
Apache itself, and they are restarted with Apache's children.

The PyMongo documentation asks for daemon mode: define a daemon process group
with WSGIDaemonProcess and select it with WSGIProcessGroup.

The whole server is read, as httpd reads it: a WSGIProcessGroup set for the
server in another file (a conf-enabled snippet) does apply to the app, and
then it is not embedded.

Fix: select a daemon process group that the app can use and that no other app
selects; if there is none, add `WSGIDaemonProcess NAME` just before the app's
WSGIScriptAlias and select it for that app only. In a vhost with one app the
selection is a `WSGIProcessGroup` line in the vhost; with several apps it goes
in a `<Location /mount>` for the app. Outside every <VirtualHost> it is the
alias option process-group= of that mount, which reaches no other vhost. The
new daemon gets WSGIPythonHome / WSGIPythonPath as python-home= / python-path=
(daemons ignore WSGIPythonPath). The fix is made only when the server,
analysed again, shows that no other app changed its process or application
group.

Not fixed on Windows configs (.pyd modules, drive-letter paths): mod_wsgi has
no daemon mode there.",
};

pub fn check(ctx: &CheckCtx) -> Vec<Issue> {
    let mut out = Vec::new();
    for v in ctx.daemon_views() {
        let (i, pg, m) = (v.index, v.pg, v.mount);
        if !pg.is_global() {
            continue;
        }
        let from = m.site.file;
        let undecided = ctx.undecided_text(from, pg, &m.site);
        let kind = if undecided.is_empty() {
            IssueKind::Embedded {
                inst: i,
                mount: v.mount_index,
                pg: pg.clone(),
            }
        } else {
            IssueKind::ReportOnly(Some(super::issue::UNDECIDED))
        };
        out.push(Issue::new(
            RULE.code,
            &m.site,
            ctx.say(|| {
                let how = match pg.source {
                    Source::Default => "no WSGIProcessGroup applies to it".to_string(),
                    _ => format!(
                        "{} selects embedded mode",
                        ctx.source_text(from, pg, GroupKind::Process)
                    ),
                };
                format!(
                    "WSGI application {}{} runs in embedded mode: {how}{undecided}",
                    describe(m),
                    ctx.where_text(m, v.scope)
                )
            }),
            kind,
        ));
    }
    out
}

impl Fixer<'_> {
    /// Into a daemon of its own: a free one it can use, else a new bare one.
    pub fn embedded(&self, inst: usize, pg: &Resolved) -> Option<Vec<FixEdit>> {
        let mi = self.a.instances[inst].mount;
        let m = &self.a.mounts[mi];
        let mut edits = Vec::new();
        let name = match self
            .created_for(m)
            .or_else(|| self.reusable_daemon(m, None))
        {
            Some(n) => n,
            None => {
                let name = self.new_name(m)?;
                let home = self.daemon_home(m);
                let anchor = self.daemon_anchor(home)?;
                edits.push(self.insert_before(home.site.file, &anchor, &self.bare_daemon(&name)));
                self.record_created(m, &name);
                name
            }
        };
        edits.extend(self.select(inst, GroupKind::Process, &name, pg)?);
        edits.extend(self.move_embedded_preloads(m, &name));
        Some(edits)
    }

    /// A `WSGIImportScript` of the app's script into the embedded
    /// interpreters (`process-group=%{GLOBAL}`) would go on loading it in
    /// every Apache child once the app runs in daemon `name` (graphite's
    /// vhosts preload so): it follows the app, where the daemon is defined
    /// before it in its scope, as a preload needs (httpd refuses to start
    /// otherwise).
    fn move_embedded_preloads(&self, m: &crate::analysis::Mount, name: &str) -> Vec<FixEdit> {
        let daemon_before = |import: &crate::analysis::Site| {
            let defined = self.a.daemons_named(name).any(|(_, d)| {
                d.site.order < import.order && (d.site.scope == 0 || d.site.scope == import.scope)
            });
            // A daemon this fix defines goes just before the app's mount.
            let new_here = self.a.daemons_named(name).next().is_none()
                && std::ptr::eq(self.daemon_home(m), m)
                && import.scope == m.site.scope
                && import.file == m.site.file
                && import.order > m.site.order;
            defined || new_here
        };
        let shown = super::placement::quote_if_needed(name);
        self.a
            .imports
            .iter()
            .filter(|s| s.args.words.first().is_some_and(|w| *w == m.target))
            .filter_map(|s| {
                let p = s.args.option("process-group")?;
                if p.value != "%{GLOBAL}" || !daemon_before(&s.site) {
                    return None;
                }
                let line = self.line(s.site.file, &s.site.path)?;
                let new = format!("process-group={shown}");
                let raw = super::edit::replace_in_args(line, &p.text, new.as_bytes())?;
                Some(FixEdit {
                    file: s.site.file,
                    edit: super::edit::Edit::Replace {
                        path: s.site.path.clone(),
                        raw,
                    },
                })
            })
            .collect()
    }
}
