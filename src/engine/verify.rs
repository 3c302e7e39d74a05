//! The checks every fix passes on the whole server, and the check of what is
//! finally written.

use super::{enabled_issues, issue_key, IssueKey, Options, Work};
use crate::analysis::{Analysis, GroupKind, ServerContext};
use crate::collections::{HashMap, HashSet};
use crate::rules::issue::NotFixed;
use crate::rules::{Issue, IssueKind};
use crate::syntax;

/// An instance across analyses: its mount's place (original lines keep
/// their numbers), its context (the vhost's place, or the main server), and
/// which walk of that place it is (a file included twice is walked twice).
type InstanceKey = (usize, u32, u32, Option<(usize, u32)>, usize);
/// An instance's place without its walk number.
type Place = (usize, u32, u32, Option<(usize, u32)>);

fn instance_keys(a: &Analysis) -> Vec<InstanceKey> {
    let mut seen: HashMap<Place, usize> = HashMap::default();
    a.instances
        .iter()
        .map(|inst| {
            let m = &a.mounts[inst.mount];
            let s = &a.scopes[inst.scope];
            let scope = s.is_vhost.then_some((s.file, s.line));
            let base = (m.site.file, m.site.line, m.site.column, scope);
            let n = seen.entry(base).or_insert(0);
            *n += 1;
            (base.0, base.1, base.2, base.3, *n)
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Seen {
    pg: String,
    ag: String,
    app: String,
    server_name: Option<String>,
    not_global: bool,
    /// URLs below the mount that run in other groups than the app
    /// ([`Analysis::parts_in`]): (kind, URL, value there).
    parts: Vec<(GroupKind, String, String)>,
}

/// What the server was before a fix.
pub struct Snapshot<'a> {
    issues: &'a [Issue],
    instances: HashMap<InstanceKey, Seen>,
    keys: Vec<InstanceKey>,
    preload_problems: usize,
    /// A WSGI005 fix may move the instances that select its name in the
    /// vhosts of the duplicate's ServerName: (name, ServerName) by issue.
    renames: HashMap<IssueKey, (String, Option<String>)>,
}

impl<'a> Snapshot<'a> {
    pub fn new(a: &Analysis, issues: &'a [Issue]) -> Snapshot<'a> {
        let not_global: HashSet<usize> = issues
            .iter()
            .filter(|i| matches!(i.kind, IssueKind::NotGlobal { .. }))
            .filter_map(Issue::instance)
            // Several scripts in one interpreter is no fix for any of them.
            .filter(|&i| !a.has_interpreter_per_script(i))
            .collect();
        let keys = instance_keys(a);
        let instances = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let m = &a.mounts[a.instances[i].mount];
                let seen = Seen {
                    pg: a.effective_of(i, GroupKind::Process).value.clone(),
                    ag: a.effective_of(i, GroupKind::Application).value.clone(),
                    app: a.apps[m.app].clone(),
                    server_name: a.server_name_of(a.instances[i].scope).map(str::to_string),
                    not_global: not_global.contains(&i),
                    parts: parts_of(a, i),
                };
                (*k, seen)
            })
            .collect();
        let renames = issues
            .iter()
            .filter_map(|i| match i.kind {
                IssueKind::Duplicate { dup, .. } => {
                    let d = &a.daemons[dup];
                    let sn = a.server_name_of(d.site.scope).map(str::to_string);
                    Some((issue_key(i), (d.name.clone(), sn)))
                }
                _ => None,
            })
            .collect();
        Snapshot {
            renames,
            issues,
            instances,
            keys,
            preload_problems: preload_problems(a),
        }
    }

    fn key_of(&self, inst: usize) -> InstanceKey {
        self.keys[inst]
    }
}

/// Is the fixed server acceptable for these fixes? When not, the fixes
/// that did not do what their rule asks (by issue; none when the batch
/// failed otherwise): those have to go whatever else the batch did, and
/// naming them at once spares the fix loop's halving an analysis of the
/// server for each of them.
pub fn judge(
    before: &Snapshot,
    fixes: &[&Issue],
    after: &Analysis,
    after_issues: &[Issue],
) -> Result<(), Vec<(IssueKey, NotFixed)>> {
    let keys = instance_keys(after);
    let index: HashMap<InstanceKey, usize> =
        keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let remaining: HashSet<_> = after_issues.iter().map(issue_key).collect();
    let sets_global = fixes
        .iter()
        .any(|f| matches!(f.kind, IssueKind::NotGlobal { .. }));
    let merges = sets_global.then(|| merges_interpreters(before, after));
    let failed: Vec<(IssueKey, NotFixed)> = fixes
        .iter()
        .filter_map(|f| {
            let why = match f.instance() {
                Some(inst) => {
                    let now = *index.get(&before.key_of(inst))?;
                    if !resolved(f, now, after) {
                        UNRESOLVED
                    } else if matches!(f.kind, IssueKind::NotGlobal { .. })
                        && merges.as_ref().is_some_and(|merges| merges(now))
                    {
                        MERGES_APPS
                    } else if !matches!(f.kind, IssueKind::NotGlobal { .. })
                        && !daemon_read_with_app(after, now)
                    {
                        DAEMON_UNDER_OTHER_DEFINES
                    } else {
                        return None;
                    }
                }
                None => {
                    let dup = matches!(f.kind, IssueKind::Duplicate { .. });
                    (dup && remaining.contains(&issue_key(f))).then_some(UNRESOLVED)?
                }
            };
            Some((issue_key(f), why))
        })
        .collect();
    if !failed.is_empty() {
        return Err(failed);
    }
    let refused = Err(Vec::new());
    if after_issues.len() + fixes.len() > before.issues.len()
        || preload_problems(after) > before.preload_problems
    {
        return refused;
    }
    // What each fix may move: its own app; for a renamed daemon, the vhosts
    // of its ServerName.
    let mut apps: HashSet<&str> = HashSet::default();
    for inst in fixes.iter().filter_map(|f| f.instance()) {
        let (Some(seen), true) = (
            before.instances.get(&before.key_of(inst)),
            index.contains_key(&before.key_of(inst)),
        ) else {
            return refused;
        };
        apps.insert(seen.app.as_str());
    }
    // The (name, ServerName) pairs the batch's WSGI005 renames may move.
    let renames: HashSet<(&String, &Option<String>)> = fixes
        .iter()
        .filter_map(|f| before.renames.get(&issue_key(f)))
        .map(|(name, sn)| (name, sn))
        .collect();
    // A part of an app that runs elsewhere stays where it runs, whether
    // or not its app is fixed; only %{GLOBAL} may reach the part of an app
    // the batch fixes.
    let mut moved_part = Vec::new();
    for (key, seen) in &before.instances {
        if seen.parts.is_empty() {
            continue;
        }
        let Some(&now) = index.get(key) else {
            return refused;
        };
        let fixed = apps.contains(seen.app.as_str());
        let kept = seen.parts.iter().all(|(kind, url, value)| {
            // A part that no longer differs from the app has the app's value.
            let there = (after.parts_of(now, *kind).iter())
                .find(|(u, _)| u == url)
                .map_or(&after.effective_of(now, *kind).value, |(_, r)| &r.value);
            there == value || (fixed && *kind == GroupKind::Application && there == "%{GLOBAL}")
        });
        if !kept {
            if !fixed {
                return refused;
            }
            moved_part.push(seen.app.as_str());
        }
    }
    if !moved_part.is_empty() {
        let own = |f: &&&Issue| {
            f.instance()
                .and_then(|i| before.instances.get(&before.key_of(i)))
                .is_some_and(|s| moved_part.contains(&s.app.as_str()))
        };
        return Err(fixes
            .iter()
            .filter(own)
            .map(|f| (issue_key(f), MOVES_PART))
            .collect());
    }
    for (key, seen) in &before.instances {
        if apps.contains(seen.app.as_str()) {
            continue;
        }
        let Some(&now) = index.get(key) else {
            return refused;
        };
        let pg = &after.effective_of(now, GroupKind::Process).value;
        let ag = after.effective_of(now, GroupKind::Application);
        let renamed = renames.contains(&(&seen.pg, &seen.server_name));
        if *pg != seen.pg && !renamed {
            return refused;
        }
        if ag.value != seen.ag && !(ag.is_global() && seen.not_global) {
            return refused;
        }
    }
    Ok(())
}

/// The fix moved URLs of the app that a `<Location>` below its own URL
/// runs in another group.
const MOVES_PART: NotFixed = "a <Location> below its URL runs part of it in another group, and the fix would move that part too";

/// Instance `i`'s parts that run elsewhere, as the snapshot keeps them.
fn parts_of(a: &Analysis, i: usize) -> Vec<(GroupKind, String, String)> {
    [GroupKind::Process, GroupKind::Application]
        .into_iter()
        .flat_map(|kind| {
            (a.parts_of(i, kind).iter()).map(move |(url, r)| (kind, url.clone(), r.value.clone()))
        })
        .collect()
}

/// The check of the whole server after the fix: the finding was still there.
const UNRESOLVED: NotFixed = "with the fix made, the server read again still had the finding";

/// The daemon a fix selects is read only under `<IfDefine>`s the app is not.
const DAEMON_UNDER_OTHER_DEFINES: NotFixed = "the daemon it would use is read only under an <IfDefine> the app is not: with that branch off, every request would fail";

/// Whether some definition of instance `i`'s daemon that it may use is
/// read whenever its mount is: under no `<IfDefine>` the mount is not under.
fn daemon_read_with_app(a: &Analysis, i: usize) -> bool {
    let pg = &a.effective_of(i, GroupKind::Process).value;
    let inst = a.instances[i];
    let mount = &a.mounts[inst.mount];
    a.daemons_named(pg)
        .any(|(_, d)| a.accessible(d, inst.scope) && d.site.read_whenever(&mount.site))
}

/// `%{GLOBAL}` for an app whose process serves another app too.
const MERGES_APPS: NotFixed = "it shares its process with another app that cannot be moved: %{GLOBAL} would put both in one interpreter";

/// Whether instance `i`, now in the main interpreter, shares it with an
/// app it shared no interpreter with before: one in the same daemon (or,
/// embedded, in Apache's own processes) whose interpreter is the main one
/// too. Apps that already shared a named one (FreeIPA's `ipa`) are merged
/// as it is.
fn merges_interpreters<'a>(before: &'a Snapshot, a: &'a Analysis) -> impl Fn(usize) -> bool + 'a {
    // Each app's interpreters before: (process group, group value, what
    // tells apart the interpreters of one value: the script for
    // %{RESOURCE}, the host for %{SERVER} and %{HOST}).
    type Interpreter<'s> = (&'s str, &'s str, &'s str);
    let mut had: HashMap<&str, Vec<Interpreter>> = HashMap::default();
    for seen in before.instances.values() {
        let (ag, detail) = match seen.ag.as_str() {
            "" | "%{GLOBAL}" => ("%{GLOBAL}", ""),
            "%{RESOURCE}" => ("%{RESOURCE}", seen.app.as_str()),
            t @ ("%{SERVER}" | "%{HOST}") => (t, seen.server_name.as_deref().unwrap_or("")),
            named => (named, ""),
        };
        let list = had.entry(seen.app.as_str()).or_default();
        if !list.contains(&(seen.pg.as_str(), ag, detail)) {
            list.push((seen.pg.as_str(), ag, detail));
        }
    }
    let mut apps_by_process: HashMap<&str, HashSet<&str>> = HashMap::default();
    for i in 0..a.instances.len() {
        if a.effective_of(i, GroupKind::Application).is_global() {
            let pg = a.effective_of(i, GroupKind::Process).value.as_str();
            let app = a.apps[a.mounts[a.instances[i].mount].app].as_str();
            apps_by_process.entry(pg).or_default().insert(app);
        }
    }
    move |i| {
        let pg = a.effective_of(i, GroupKind::Process).value.as_str();
        let app = a.apps[a.mounts[a.instances[i].mount].app].as_str();
        let mine = had.get(app);
        let shared_before = |other: &str| {
            had.get(other)
                .zip(mine)
                .is_some_and(|(o, m)| o.iter().any(|x| m.contains(x)))
        };
        apps_by_process.get(pg).is_some_and(|apps| {
            apps.iter()
                .any(|&other| other != app && !shared_before(other))
        })
    }
}

/// Did the fix do what its rule asks, for the instance it was about?
fn resolved(issue: &Issue, now: usize, after: &Analysis) -> bool {
    let pg = after.effective_of(now, GroupKind::Process);
    let scope = after.instances[now].scope;
    match &issue.kind {
        IssueKind::Embedded { .. } => {
            !pg.is_global()
                && crate::rules::issue::accessible_daemon(after, &pg.value, scope).is_some()
        }
        IssueKind::Shared { daemon, .. } => pg.value != *daemon,
        IssueKind::NotGlobal { .. } => after.effective_of(now, GroupKind::Application).is_global(),
        _ => false,
    }
}

/// Aliases with both group options preload their script at start-up, and
/// httpd then refuses to start unless the daemon is defined earlier in parse
/// order and reachable from the alias (modwsgi.md §2.1): how many break that.
pub fn preload_problems(a: &Analysis) -> usize {
    crate::analysis::preload::unmet_preloads(a).len()
}

/// An edited file (by id) and the bytes of it that passed [`written`].
pub type Verified = (usize, syntax::SharedBytes);

/// The print of each edited file, by file, for a run that writes nothing.
pub fn printed(done: Work, edited: &[bool]) -> Vec<Verified> {
    use rayon::prelude::*;
    (done.trees.par_iter().enumerate())
        .filter(|(i, _)| edited.get(*i).copied().unwrap_or(true))
        .map(|(i, tree)| (i, tree.print()))
        .collect()
}

/// What is written must parse back into the same bytes and read the same:
/// the same findings, nothing new for a second run. Returns the verified
/// bytes of each edited file, by file: what is written is what was checked.
pub fn written(
    mut done: Work,
    edited: &[bool],
    final_issues: &[Issue],
    names: &[String],
    options: &Options,
    ext: &ServerContext,
) -> Result<Vec<Verified>, String> {
    use rayon::prelude::*;
    use std::sync::Arc;
    // A tree no fix touched is still the very parse of the file (the same
    // Arc): parsing its print again would only repeat that. The edited ones
    // (1 200 of a 2 000-site server, say) are parsed again in parallel, each
    // in the place of the fixed tree it was printed from: that tree is
    // dropped first, and the reparse shares the printed buffer. A file
    // checked on its own has no other tree by then (the run dropped its
    // parse), so it is held as its source, its print and one tree.
    let verified: Vec<Verified> = done
        .trees
        .par_iter_mut()
        .enumerate()
        .filter(|(i, _)| edited.get(*i).copied().unwrap_or(true))
        .map(|(i, slot)| {
            let bytes = slot.print();
            *slot = Arc::default();
            let again = syntax::parse_shared(Arc::clone(&bytes)).map_err(|e| {
                format!(
                    "the result of {} does not parse: {e}",
                    names.get(i).map_or("?", |s| s)
                )
            })?;
            if !again.prints(&bytes) {
                return Err("the result does not print back the same".to_string());
            }
            *slot = Arc::new(again);
            Ok((i, bytes))
        })
        .collect::<Result<_, String>>()?;
    let before: Vec<&str> = final_issues.iter().map(|i| i.code).collect();
    let after_a = done.analyse();
    let after: Vec<&str> = enabled_issues(&after_a, names, options, ext, &done.suppressions())
        .iter()
        .map(|i| i.code)
        .collect();
    if before != after {
        return Err("the result reads differently once printed".to_string());
    }
    Ok(verified)
}
