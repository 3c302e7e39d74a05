//! WSGI005 duplicate-daemon-name: httpd refuses to start.

use super::edit::{self, Edit};
use super::issue::{exclusive, CheckCtx, Issue, IssueKind, NotFixed};
use super::placement::{quote_if_needed, FixEdit, Fixer};
use super::registry::RuleInfo;
use crate::analysis::{Daemon, GroupKind};

pub const RULE: RuleInfo = RuleInfo {
    code: "WSGI005",
    name: "duplicate-daemon-name",
    summary: "the same daemon process group name is defined twice",
    has_fix: true,
    explanation: "\
Two WSGIDaemonProcess directives define the same name. Daemon names are global
to the whole server, so httpd refuses to start: `Name duplicates previous WSGI
daemon definition.` The usual cause is a copied virtual host (certbot's
-le-ssl.conf files).

Definitions in mutually exclusive <IfDefine X> / <IfDefine !X> branches are not
duplicates.

Fix, where it is safe:
- the same definition in vhosts of one ServerName (certbot's copy of the :80
  vhost for :443): certbot's copy (in its -le-ssl.conf) is removed, whichever
  httpd reads first, so that the original site keeps its daemon; without a
  certbot file, the one httpd reads second; both vhosts then use the one
  left (a daemon serves every vhost of its ServerName);
- definitions in vhosts of different ServerNames: the second is renamed to a
  name unique in the server, and the selections in its vhosts follow it.
Otherwise both places are reported.",
};

pub fn check(ctx: &CheckCtx) -> Vec<Issue> {
    let a = ctx.a;
    let mut out = Vec::new();
    for (di, d) in a.daemons.iter().enumerate() {
        // A name from a `${NAME}` httpd's environment sets is unknown here.
        if d.name.contains("${") {
            continue;
        }
        let earlier = a
            .daemons_named(&d.name)
            .take_while(|(i, _)| *i < di)
            .find(|(_, e)| !exclusive(&e.site.defines, &d.site.defines))
            .map(|(i, _)| i);
        match earlier {
            Some(first) => {
                let e = &a.daemons[first];
                // One line read twice: its file is Included twice.
                let same_line = e.site.file == d.site.file && e.site.path == d.site.path;
                let kind = match unfixable(ctx, e, d) {
                    _ if same_line => IssueKind::ReportOnly(Some(READ_TWICE)),
                    None => IssueKind::Duplicate { first, dup: di },
                    why => IssueKind::ReportOnly(why),
                };
                let first_at = if same_line {
                    "its file is read twice: Included again".to_string()
                } else {
                    format!("first at {}", ctx.at(d.site.file, &e.site))
                };
                out.push(Issue::new(
                    RULE.code,
                    &d.site,
                    format!(
                        "daemon process group '{}' is defined again ({first_at}); httpd refuses to start: Name duplicates previous WSGI daemon definition.",
                        d.name,
                    ),
                    kind,
                ));
            }
            None => {
                if let Some((file, line)) = ctx.ext.defined_before(&d.name) {
                    out.push(Issue::new(
                        RULE.code,
                        &d.site,
                        format!(
                            "daemon process group '{}' is already defined in {file}:{line}, which httpd reads first; httpd refuses to start: Name duplicates previous WSGI daemon definition.",
                            d.name
                        ),
                        IssueKind::ReportOnly(Some(
                            "the first definition is in another file: run with --config to fix the server as one",
                        )),
                    ));
                }
            }
        }
    }
    out
}

const READ_TWICE: NotFixed =
    "the same line is read twice: one of the Includes that read its file has to go";

/// The same definition in two vhosts of one ServerName (certbot's copy of
/// the :80 vhost for :443): one of them goes, and both vhosts use the other.
pub fn is_removable_copy(a: &crate::analysis::Analysis, first: &Daemon, dup: &Daemon) -> bool {
    let (fs, ds) = (first.site.scope, dup.site.scope);
    fs != 0
        && ds != 0
        && fs != ds
        && a.server_name_of(fs) == a.server_name_of(ds)
        && first.same_options(dup)
}

/// Why the pair cannot be fixed, if it can't. Both in vhosts: removable
/// when one ServerName holds both and they are the same definition;
/// renamable when the ServerNames differ (each vhost's selections then
/// reach only its own definition).
fn unfixable(ctx: &CheckCtx, first: &Daemon, dup: &Daemon) -> Option<NotFixed> {
    let a = ctx.a;
    let (fs, ds) = (first.site.scope, dup.site.scope);
    if first.by_macro || dup.by_macro {
        return Some("a <Macro> defines it: its expansion is not rewritten");
    }
    if fs == 0 || ds == 0 {
        return Some("a definition outside every vhost serves them all: which one stays is the operator's choice");
    }
    if fs == ds {
        return Some("both definitions are in one vhost: which one stays is the operator's choice");
    }
    if a.server_name_of(fs) == a.server_name_of(ds) {
        return (!first.same_options(dup))
            .then_some("the two definitions differ: which one stays is the operator's choice");
    }
    // Renaming is safe only if nothing outside the dup's ServerName selects it.
    a.groups
        .iter()
        .any(|g| g.kind == GroupKind::Process && g.value == dup.name && g.site.scope == 0)
        .then_some(
            "a WSGIProcessGroup outside every vhost selects the name: a rename would move its apps",
        )
}

impl Fixer<'_> {
    pub fn duplicate(&self, first: usize, dup: usize) -> Option<Vec<FixEdit>> {
        let (e, d) = (&self.a.daemons[first], &self.a.daemons[dup]);
        if self.a.server_name_of(e.site.scope) == self.a.server_name_of(d.site.scope) {
            // certbot's copy goes, whichever httpd reads first: disabling
            // the -le-ssl site must not strand the original vhost. (If the
            // copy's vhost preloads from it, the engine refuses the fix.)
            let copy = if self.is_certbot_copy(e) && !self.is_certbot_copy(d) {
                e
            } else {
                d
            };
            return Some(vec![FixEdit {
                file: copy.site.file,
                edit: Edit::Remove {
                    path: copy.site.path.clone(),
                },
            }]);
        }
        self.rename(d)
    }

    fn is_certbot_copy(&self, d: &Daemon) -> bool {
        self.is_certbot_file(d.site.file)
    }

    /// Renames the second definition and every selection of the name in the
    /// vhosts of its ServerName.
    fn rename(&self, d: &Daemon) -> Option<Vec<FixEdit>> {
        let a = self.a;
        let name = self.new_name_from(&d.name, d.site.scope)?;
        let shown = quote_if_needed(&name);
        let same_vhosts =
            |scope: usize| scope != 0 && a.server_name_of(scope) == a.server_name_of(d.site.scope);
        let mut edits = Vec::new();
        let line = self.line(d.site.file, &d.site.path)?;
        let old = d.args.word_texts.first()?;
        edits.push(FixEdit {
            file: d.site.file,
            edit: Edit::Replace {
                path: d.site.path.clone(),
                raw: edit::replace_first_in_args(line, old, shown.as_bytes())?,
            },
        });
        for g in &a.groups {
            if g.kind == GroupKind::Process && g.value == d.name && same_vhosts(g.site.scope) {
                if g.by_macro {
                    return self.refuse(
                        "a Use of a <Macro> selects the name: the expansion is not rewritten",
                    );
                }
                let line = self.line(g.site.file, &g.site.path)?;
                edits.push(FixEdit {
                    file: g.site.file,
                    edit: Edit::Replace {
                        path: g.site.path.clone(),
                        raw: edit::replace_in_args(line, &g.value_text, shown.as_bytes())?,
                    },
                });
            }
        }
        let option_users = a
            .mounts
            .iter()
            .map(|m| (&m.site, &m.args))
            .chain(a.imports.iter().map(|s| (&s.site, &s.args)));
        for (site, args) in option_users {
            let Some(o) = args.option("process-group") else {
                continue;
            };
            if o.value == d.name && same_vhosts(site.scope) {
                let line = self.line(site.file, &site.path)?;
                let new = format!("process-group={shown}");
                edits.push(FixEdit {
                    file: site.file,
                    edit: Edit::Replace {
                        path: site.path.clone(),
                        raw: edit::replace_in_args(line, &o.text, new.as_bytes())?,
                    },
                });
            }
        }
        Some(edits)
    }
}
