//! WSGI002 shared-process-group: several apps in one daemon.

use super::edit::{self, Edit, Sticks};
use super::issue::{
    accessible_daemon, describe, exclusive, CheckCtx, DaemonView, Issue, IssueKind, NotFixed,
};
use super::placement::{quote_if_needed, reindent, FixEdit, Fixer};
use super::registry::RuleInfo;
use crate::analysis::{GroupKind, Resolved};
use crate::syntax::{Line, Node};
use std::collections::BTreeMap;

pub const RULE: RuleInfo = RuleInfo {
    code: "WSGI002",
    name: "shared-process-group",
    summary: "several WSGI applications share one daemon process group",
    has_fix: true,
    explanation: "\
Two or more applications resolve to the same daemon process group. Running in
the main interpreter (%{GLOBAL}), they would share one Python interpreter and
interfere with each other's module state; PyMongo's documentation asks for one
daemon process group per application.

The whole server is read: a WSGIProcessGroup set for the server in one file
(a conf-enabled snippet) captures the apps of every vhost, and the finding
names that line, in whichever file it is.

Fix: the first application keeps the daemon; every other one gets a copy of
the daemon definition (same options: user, group, python-path, ...) under a
new name unique in the server, selected for that application only. The fix is
made only when the server, analysed again, shows that no other app changed
its process or application group.

The same script mounted in the :80 and :443 virtual hosts of one ServerName,
or reached in several vhosts, is one application and is left alone. certbot's
-le-ssl.conf copy of the daemon definition is the same daemon (WSGI005 removes
it); a new daemon for an app of such a pair goes in the original site, so that
disabling the copy leaves the :80 vhost every daemon it selects.",
};

/// A user of a daemon: an instance, its app, and the URL below its mount
/// of a part that alone runs there ([`crate::analysis::Analysis::parts_in`]).
type User = (usize, usize, Option<(String, Resolved)>);

pub fn check(ctx: &CheckCtx) -> Vec<Issue> {
    let a = ctx.a;
    // A daemon it cannot reach is WSGI006's, an undefined one WSGI004's, a
    // name defined as two different daemons WSGI005's (httpd does not start
    // at all, and which one an app means is unknown).
    //
    // Of one name defined in exclusive <IfDefine> branches (a server-level
    // daemon under `!VH`, a vhost's under `VH`), each app uses the one read
    // with it: apps of different branches never share a process.
    let daemon_of = |pg: &Resolved, v: &DaemonView| {
        let usable = !pg.is_global()
            && !pg.is_dynamic()
            && accessible_daemon(a, &pg.value, v.scope).is_some()
            && !ambiguous(a, &pg.value);
        if !usable {
            return None;
        }
        let defines = &v.mount.site.defines;
        let mut named = a.daemons_named(&pg.value);
        let definition = match (named.next(), named.next()) {
            // One definition (the usual case), accessible as checked above.
            (Some((k, _)), None) => Some(k),
            _ => a
                .daemons_named(&pg.value)
                .find(|(_, d)| a.accessible(d, v.scope) && !exclusive(&d.site.defines, defines))
                .map(|(k, _)| k),
        };
        Some((pg.value.clone(), definition))
    };
    // Daemon (name, definition read with the app) → its users, in read order.
    let mut users: BTreeMap<(String, Option<usize>), Vec<User>> = BTreeMap::new();
    for v in ctx.daemon_views() {
        if let Some(d) = daemon_of(v.pg, &v) {
            users
                .entry(d)
                .or_default()
                .push((v.index, v.mount.app, None));
        }
        for (url, pg) in a.parts_of(v.index, GroupKind::Process) {
            if let Some(d) = daemon_of(pg, &v) {
                let list = users.entry(d).or_default();
                if !list.iter().any(|(i, _, _)| *i == v.index) {
                    list.push((v.index, v.mount.app, Some((url.clone(), pg.clone()))));
                }
            }
        }
    }
    let mut out = Vec::new();
    for ((daemon, _), list) in &users {
        let keeper = keeper(a, daemon, list);
        for (i, app, part) in list {
            if *app == keeper {
                continue;
            }
            out.push(match part {
                None => issue(ctx, *i, daemon, keeper),
                Some((url, pg)) => part_issue(ctx, *i, daemon, keeper, url, pg),
            });
        }
    }
    out
}

/// Only a part of the app shares the daemon: reported, not fixed (a fix
/// would have to split the app's URLs between daemons).
fn part_issue(
    ctx: &CheckCtx,
    i: usize,
    daemon: &str,
    keeper: usize,
    url: &str,
    pg: &Resolved,
) -> Issue {
    let a = ctx.a;
    let inst = a.instances[i];
    let m = &a.mounts[inst.mount];
    let from = m.site.file;
    Issue::new(
        RULE.code,
        &m.site,
        ctx.say(|| {
            format!(
                "WSGI application {}{} shares daemon process group '{daemon}' with {} for its URLs under {url} ({})",
                describe(m),
                ctx.where_text(m, inst.scope),
                a.apps[keeper],
                ctx.source_text(from, pg, GroupKind::Process)
            )
        }),
        IssueKind::ReportOnly(Some(PART_SHARES)),
    )
}

const PART_SHARES: NotFixed =
    "only the URLs a <Location> below its own gives that daemon share it: moving them is not a fix of one app";

/// The app that keeps a shared daemon: one a `WSGIImportScript` preloads
/// into it (which no fix may move: pulp's content app beside cobbler), or
/// one a `Use` of a `<Macro>` mounts (never rewritten),
/// else one mounted in the scope that defines it (the vhost's own app, not
/// a server-level mount reaching in), else the first in read order; among
/// equals, one under fewer `<IfDefine>`s, then one that uses it for a part
/// of its URLs only.
fn keeper(a: &crate::analysis::Analysis, daemon: &str, list: &[User]) -> usize {
    let home = a.daemons_named(daemon).next().map(|(_, d)| d.site.scope);
    let mount_of = |i: usize| &a.mounts[a.instances[i].mount];
    let preloaded = |i: usize| {
        a.imports.iter().any(|s| {
            s.args
                .words
                .first()
                .is_some_and(|w| *w == mount_of(i).target)
                && s.args
                    .option("process-group")
                    .is_some_and(|o| o.value == daemon)
        })
    };
    let at_home = |i: usize| Some(mount_of(i).site.scope) == home;
    // An app under an <IfDefine> exists only with that -D option: the
    // one read always keeps the daemon, and the fix goes in the branch.
    let mut list = list.to_vec();
    list.sort_by_key(|(i, _, _)| mount_of(*i).site.defines.len());
    // A part that alone runs there keeps it before a whole app: the whole
    // app can be moved, a part only reported.
    list.iter()
        .find(|(i, _, _)| preloaded(*i))
        // An app a macro's Use mounts cannot be moved.
        .or_else(|| list.iter().find(|(i, _, _)| mount_of(*i).by_macro))
        .or_else(|| {
            list.iter()
                .find(|(i, _, part)| at_home(*i) && part.is_some())
        })
        .or_else(|| list.iter().find(|(i, _, _)| at_home(*i)))
        .or_else(|| list.iter().find(|(_, _, part)| part.is_some()))
        .or(list.first())
        .map(|(_, app, _)| *app)
        .unwrap_or_default()
}

/// Whether `name` is defined twice as different daemons. certbot's copy of
/// a vhost's definition, in the vhost of the same ServerName, is the same
/// daemon: its apps share it all the same once WSGI005 removes the copy.
fn ambiguous(a: &crate::analysis::Analysis, name: &str) -> bool {
    let defs: Vec<_> = a.daemons_named(name).map(|(_, d)| d).collect();
    defs.iter().enumerate().any(|(i, d)| {
        defs[..i].iter().any(|e| {
            !super::issue::exclusive(&e.site.defines, &d.site.defines)
                && !super::wsgi005_duplicate_daemon_name::is_removable_copy(a, e, d)
        })
    })
}

fn issue(ctx: &CheckCtx, i: usize, daemon: &str, keeper: usize) -> Issue {
    let a = ctx.a;
    let inst = a.instances[i];
    let m = &a.mounts[inst.mount];
    let pg = a.effective_of(i, GroupKind::Process);
    let from = m.site.file;
    let undecided = ctx.undecided_text(from, pg, &m.site);
    let kind = if undecided.is_empty() {
        IssueKind::Shared {
            inst: i,
            mount: inst.mount,
            daemon: daemon.to_string(),
            pg: pg.clone(),
        }
    } else {
        IssueKind::ReportOnly(Some(super::issue::UNDECIDED))
    };
    Issue::new(
        RULE.code,
        &m.site,
        ctx.say(|| {
            format!(
                "WSGI application {}{} shares daemon process group '{daemon}' with {} ({}){undecided}",
                describe(m),
                ctx.where_text(m, inst.scope),
                a.apps[keeper],
                ctx.source_text(from, pg, GroupKind::Process)
            )
        }),
        kind,
    )
}

impl Fixer<'_> {
    /// Into a copy of the shared daemon (its options travel with the app).
    pub fn shared(&self, inst: usize, daemon: &str, pg: &Resolved) -> Option<Vec<FixEdit>> {
        let i = self.a.instances[inst];
        let m = &self.a.mounts[i.mount];
        // A WSGIImportScript that preloads the app's script into the shared
        // daemon would go on loading it there, beside the app that keeps
        // the daemon; it could move along only if the new daemon were
        // defined before it, which a fix cannot promise.
        let preloaded_there = self.a.imports.iter().any(|s| {
            s.args.words.first().is_some_and(|w| *w == m.target)
                && s.args
                    .option("process-group")
                    .is_some_and(|o| o.value == daemon)
        });
        if preloaded_there {
            return self.refuse(
                "a WSGIImportScript preloads it into the shared daemon, and would go on loading it there",
            );
        }
        // Definitions in exclusive <IfDefine> branches may differ: a copy
        // made of one would give the app that branch's options in the other.
        let original = accessible_daemon(self.a, daemon, i.scope)?;
        if original.by_macro {
            return self.refuse(
                "the shared daemon is defined by a <Macro>: its expansion cannot be copied",
            );
        }
        if self
            .a
            .daemons_named(daemon)
            .any(|(_, d)| !d.same_options(original))
        {
            return self.refuse(
                "the daemon is defined with other options under another <IfDefine>: a copy would hold one branch's options",
            );
        }
        let mut edits = Vec::new();
        let reused = self
            .created_for(m)
            .or_else(|| self.reusable_daemon(m, Some(original)));
        let name = match reused {
            Some(n) => n,
            None => {
                let line = self.line(original.site.file, &original.site.path)?;
                let name = self.new_name(m)?;
                let old = original.args.word_texts.first()?;
                let mut raw =
                    edit::replace_first_in_args(line, old, quote_if_needed(&name).as_bytes())?;
                // A display-name that is the daemon's own name names the
                // copy's processes after the copy (anitya's copy showed up
                // in ps as "fedocal"); any other one is kept as written.
                if let Some(shown) =
                    (original.args.option("display-name")).filter(|o| o.value == original.name)
                {
                    let text = format!("display-name={}", quote_if_needed(&name));
                    let copy = Line::inserted(raw.clone());
                    if let Some(renamed) =
                        edit::replace_in_args(&copy, &shown.text, text.as_bytes())
                    {
                        raw = renamed;
                    }
                }
                // The copy keeps the original's options and continuations, at
                // the indent of the app's alias.
                let home = self.daemon_home(m);
                let anchor = self.daemon_anchor(home)?;
                let raw = reindent(
                    &raw,
                    line.indent(),
                    &self.indent_of(home.site.file, &anchor),
                );
                let (parent, index) = super::placement::split(&anchor);
                edits.push(FixEdit {
                    file: home.site.file,
                    edit: Edit::Insert {
                        parent,
                        index,
                        nodes: vec![Node::Line(Line::inserted(raw))],
                        sticks: Sticks::ToNext,
                    },
                });
                self.record_created(m, &name);
                name
            }
        };
        edits.extend(self.select(inst, GroupKind::Process, &name, pg)?);
        Some(edits)
    }
}
