//! The fix loop: fixes taken in passes, each pass's batch checked on the
//! whole server (and split when a part of it breaks something) until
//! nothing more can be fixed.

use super::verify::{judge, Snapshot};
use super::{enabled_issues, issue_key, unit_of, IssueKey, Options, Work};
use crate::analysis::{self, GroupKind, ServerContext};
use crate::collections::{HashMap, HashSet};
use crate::rules::issue::NotFixed;
use crate::rules::placement::{FixEdit, Fixer};
use crate::rules::wsgi100_unused_suppression::Suppressions;
use crate::rules::{edit, Issue, IssueKind};
use crate::server::FileId;
use crate::syntax;

/// Fixes in passes until nothing more can be fixed; returns the fixed
/// server (when anything changed), its remaining issues, and why the fixes
/// of those that were tried were declined.
pub(super) fn run(
    mut current: Work,
    first: analysis::Analysis,
    original: &[Issue],
    names: &[String],
    options: &Options,
    ext: &ServerContext,
) -> (Option<Work>, Vec<Issue>, HashMap<IssueKey, NotFixed>) {
    // The analysis of `current`, taken by each pass and dropped before the
    // pass's batch is checked: the check compares against a snapshot, and
    // the state's analysis (as big as the candidate's, 1.5× a dense file)
    // would otherwise be held beside the candidate's. A pass whose batch is
    // refused as a whole analyses the same state again.
    let mut analysis = Some(first);
    let mut later_issues: Option<Vec<Issue>> = None;
    let mut fixed_any = false;
    let mut refused: HashMap<IssueKey, NotFixed> = HashMap::default();
    // Why each issue was last refused, kept across passes.
    let mut reasons: HashMap<IssueKey, NotFixed> = HashMap::default();
    // Apps (by script) whose split from a shared daemon was refused: they
    // and the apps they share it with stay together, so another app's fix
    // must not give them a scope-wide %{GLOBAL} (one interpreter for both).
    let mut left_sharing: HashSet<String> = HashSet::default();
    // Edits that failed the checks in this state: the instances of one
    // server-level mount (one per vhost) often get the very same fix, and
    // it fails the same way for each of them.
    let mut refused_edits: Vec<Vec<FixEdit>> = Vec::new();
    loop {
        let issues = later_issues.as_deref().unwrap_or(original);
        // A pass with nothing left to try would only build the fixer's
        // lookups of the whole server to find that out.
        if !issues
            .iter()
            .any(|i| i.is_fixable_kind() && !refused.contains_key(&issue_key(i)))
        {
            break;
        }
        let state = analysis.take().unwrap_or_else(|| current.analyse());
        let a = &state;
        let fixer = Fixer::new(&current.trees, names, a, ext).with_pinned(pinned_apps(
            a,
            &current.suppressions(),
            &left_sharing,
        ));
        // Every fixable issue whose edits fit beside the others' goes into
        // one pass; the checks below judge the whole batch on the whole
        // server, and halve it when it fails. Fixes computed on the same state
        // can clash (two apps picking one free daemon); the halving keeps the
        // largest part that passes and the rest comes back next pass.
        // Lines an edit of this pass replaces or removes: a second fix that
        // edits one of them waits for the next pass.
        let mut touched: HashSet<(FileId, analysis::NodePath)> = HashSet::default();
        // A main-server fix reaches every vhost: those go first, to be
        // checked apart from the vhosts' when the batch fails.
        let mut batch: [Vec<Fix>; 2] = [Vec::new(), Vec::new()];
        // Entries by the place of their first edit, to find an equal one.
        let mut by_place: HashMap<EditPlace, Vec<(usize, usize)>> = HashMap::default();
        // Per mount (alias directive), the fix this pass has for it: its
        // kind (process or application group) and whether it adds a section.
        // A second fix of the same kind, computed on the same state, would
        // give a server-level mount a second daemon; two fixes that both
        // add a <Location> for one mount would add two.
        let mut mounts_fixed: HashMap<usize, (u8, bool)> = HashMap::default();
        for issue in issues.iter().filter(|i| i.is_fixable_kind()) {
            let key = issue_key(issue);
            let class = group_class(issue);
            let earlier = issue.mount().and_then(|m| mounts_fixed.get(&m).copied());
            if refused.contains_key(&key) || earlier.is_some_and(|(c, _)| c == class) {
                continue;
            }
            let unit = unit_of(issue, a);
            // What the fixer sets aside for a fix (a daemon it defines) holds
            // only if the fix is in the pass: each path below settles it.
            let Some(edits) = fixer.fix(issue) else {
                fixer.settle(false);
                refused.insert(key, fixer.take_refusal().unwrap_or(NO_SAFE_PLACE));
                continue;
            };
            if refused_edits.contains(&edits) {
                fixer.settle(false);
                refused.insert(key, CHANGES_OTHERS);
                continue;
            }
            let adds_section = edits.iter().any(adds_a_section);
            if earlier.is_some_and(|(_, earlier_adds)| earlier_adds || adds_section) {
                fixer.settle(false);
                continue;
            }
            let take = |mounts_fixed: &mut HashMap<usize, (u8, bool)>| {
                fixer.settle(true);
                if let Some(m) = issue.mount() {
                    mounts_fixed.entry(m).or_insert((class, adds_section));
                }
            };
            // One `WSGIApplicationGroup %{GLOBAL}` for a whole vhost is the
            // fix of each of its apps: made once, for all of them.
            let place = edits.first().map(edit_place);
            let same = place
                .as_ref()
                .and_then(|p| by_place.get(p))
                .into_iter()
                .flatten()
                .find(|&&(side, k)| batch[side][k].edits == edits);
            if let Some(&(side, k)) = same {
                batch[side][k].issues.push(issue);
                take(&mut mounts_fixed);
                continue;
            }
            let lines: Vec<_> = edits.iter().filter_map(edited_line).collect();
            if lines.iter().any(|l| touched.contains(l)) {
                fixer.settle(false);
                continue;
            }
            touched.extend(lines);
            take(&mut mounts_fixed);
            let side = usize::from(unit.is_some());
            if let Some(p) = place {
                by_place
                    .entry(p)
                    .or_default()
                    .push((side, batch[side].len()));
            }
            batch[side].push(Fix {
                issues: vec![issue],
                edits,
            });
        }
        let main_server_fixes = batch[0].len();
        let batch: Vec<Fix> = batch.into_iter().flatten().collect();
        if batch.is_empty() {
            break;
        }
        let before = Snapshot::new(a, issues);
        let shared_app = |i: &Issue| match i.kind {
            IssueKind::Shared { mount, .. } => {
                Some((issue_key(i), a.apps[a.mounts[mount].app].clone()))
            }
            _ => None,
        };
        let shared_apps: HashMap<IssueKey, String> = issues.iter().filter_map(shared_app).collect();
        drop(fixer);
        drop(state);
        let check = |edits: &[FixEdit], fixes: &[&Issue]| {
            let w = current.apply(edits).ok_or_else(Vec::new)?;
            let after = w.analyse();
            let after_issues = enabled_issues(&after, names, options, ext, &w.suppressions());
            judge(&before, fixes, &after, &after_issues).map(|()| (w, after, after_issues))
        };
        let split =
            (main_server_fixes > 0 && main_server_fixes < batch.len()).then_some(main_server_fixes);
        let all: Vec<usize> = (0..batch.len()).collect();
        let next = verified_part(&batch, all, split, &check, &mut refused).map(|(a, _)| a);
        left_sharing.extend(
            (shared_apps.iter())
                .filter(|(k, _)| refused.contains_key(k))
                .map(|(_, app)| app.clone()),
        );
        refused_edits.extend(
            batch
                .iter()
                .filter(|f| f.issues.iter().any(|i| refused.contains_key(&issue_key(i))))
                .map(|f| f.edits.clone()),
        );
        if let Some((w, after, after_issues)) = next {
            current = w;
            analysis = Some(after);
            later_issues = Some(after_issues);
            fixed_any = true;
            // What could not be fixed before may be fixable now; retrying
            // keeps a second run from finding more to do. The loop still
            // ends: every accepted pass lowers the number of findings.
            reasons.extend(refused.drain());
            refused_edits.clear();
        }
    }
    reasons.extend(refused);
    let remaining = later_issues.unwrap_or_else(|| original.to_vec());
    (fixed_any.then_some(current), remaining, reasons)
}

/// No fix was found that changes only what the finding is about.
const NO_SAFE_PLACE: NotFixed = "no place was found for a fix that changes only this";
/// The check of the whole server after the fix: something else changed.
const CHANGES_OTHERS: NotFixed =
    "with the fix made, the server read again showed another app moved or a new finding";

/// A fixed server that passed the checks, its analysis and its issues.
type Accepted = (Work, analysis::Analysis, Vec<Issue>);

/// Applies a set of fixes and checks the result on the whole server; when
/// it fails, the issues of the fixes that did not resolve theirs (maybe
/// none: the batch failed otherwise).
type Check<'c> = dyn Fn(&[FixEdit], &[&Issue]) -> Result<Accepted, Vec<(IssueKey, NotFixed)>> + 'c;

/// One fix of a pass: its edits, and the issues they fix (several when the
/// same edits fix several apps).
struct Fix<'i> {
    issues: Vec<&'i Issue>,
    edits: Vec<FixEdit>,
}

/// The largest part of `members` (indexes into the batch `all`) whose
/// fixes pass the checks together, and which fixes those are. A fix that
/// did not resolve its own issue is named by the check and dropped at once;
/// what fails otherwise is found by halving (the first split between the
/// main server's fixes and the vhosts' when `split_at` is given), so that
/// one bad fix among n costs about 2·log2(n) analyses of the server instead
/// of one pass per good fix. A fix that fails on its own is refused for the
/// pass; one left out only because it does not go with the others comes
/// back in the next pass.
fn verified_part(
    all: &[Fix],
    mut members: Vec<usize>,
    split_at: Option<usize>,
    check: &Check,
    refused: &mut HashMap<IssueKey, NotFixed>,
) -> Option<(Accepted, Vec<usize>)> {
    let together = |members: &[usize]| {
        let mut edits: Vec<FixEdit> = Vec::new();
        let mut at: HashMap<EditPlace, Vec<usize>> = HashMap::default();
        for &k in members {
            for e in &all[k].edits {
                // Fixes of one pass may share an edit (the same vhost-wide
                // line): it is made once.
                let same = at.entry(edit_place(e)).or_default();
                if !same.iter().any(|&j| edits[j] == *e) {
                    same.push(edits.len());
                    edits.push(e.clone());
                }
            }
        }
        let fixes: Vec<&Issue> = members
            .iter()
            .flat_map(|&k| all[k].issues.iter().copied())
            .collect();
        check(&edits, &fixes)
    };
    // With many fixes that resolve nothing in a pass (one per vhost of a
    // server, say), halving would analyse the server 2·log2(n) times for
    // each of them.
    loop {
        match together(&members) {
            Ok(a) => return Some((a, members)),
            Err(failed) if !failed.is_empty() => {
                let before = members.len();
                members.retain(|&k| {
                    let issues = &all[k].issues;
                    let why = issues
                        .iter()
                        .find_map(|i| failed.iter().find(|(f, _)| *f == issue_key(i)));
                    if let Some((_, why)) = why {
                        refused.extend(issues.iter().map(|i| (issue_key(i), *why)));
                    }
                    why.is_none()
                });
                if members.is_empty() {
                    return None;
                }
                if members.len() == before {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    if let [only] = members[..] {
        refused.extend(
            all[only]
                .issues
                .iter()
                .map(|i| (issue_key(i), CHANGES_OTHERS)),
        );
        return None;
    }
    let split = split_at.map_or(members.len() / 2, |s| members.partition_point(|&k| k < s));
    let split = if split == 0 || split == members.len() {
        members.len() / 2
    } else {
        split
    };
    let right_half = members.split_off(split);
    let left = verified_part(all, members, None, check, refused);
    let right = verified_part(all, right_half, None, check, refused);
    match (left, right) {
        (Some(l), Some(r)) => {
            let both: Vec<usize> = l.1.iter().chain(&r.1).copied().collect();
            match together(&both) {
                Ok(a) => Some((a, both)),
                Err(_) if l.1.len() >= r.1.len() => Some(l),
                Err(_) => Some(r),
            }
        }
        (Some(x), None) | (None, Some(x)) => Some(x),
        (None, None) => None,
    }
}

/// Apps whose groups fixes of other apps must leave alone: those a
/// suppression of a per-app rule covers (the user keeps them as they are),
/// mounts of several scripts that each have an interpreter of their own,
/// and apps left sharing a daemon with another (`left_sharing`, by script,
/// and the apps in their daemons): a scope-wide `%{GLOBAL}` would merge
/// them.
fn pinned_apps(
    a: &analysis::Analysis,
    suppressions: &Suppressions,
    left_sharing: &HashSet<String>,
) -> HashSet<usize> {
    let shared_daemons: HashSet<&str> = (0..a.instances.len())
        .filter(|&i| left_sharing.contains(&a.apps[a.mounts[a.instances[i].mount].app]))
        .map(|i| a.effective_of(i, GroupKind::Process).value.as_str())
        .collect();
    let sharing: HashSet<usize> = (0..a.instances.len())
        .filter(|&i| {
            let pg = a.effective_of(i, GroupKind::Process).value.as_str();
            shared_daemons.contains(pg)
        })
        .map(|i| a.mounts[a.instances[i].mount].app)
        .collect();
    const PER_APP: [&str; 3] = ["WSGI001", "WSGI002", "WSGI003"];
    let per_script: HashSet<usize> = (0..a.instances.len())
        .filter(|&i| a.has_interpreter_per_script(i))
        .map(|i| a.instances[i].mount)
        .collect();
    a.mounts
        .iter()
        .enumerate()
        .filter(|(k, m)| {
            per_script.contains(k)
                || PER_APP
                    .iter()
                    .any(|c| suppressions.covering(c, m.site.file, m.site.line).is_some())
        })
        .map(|(_, m)| m)
        .map(|m| m.app)
        .chain(sharing)
        .collect()
}

fn edited_line(e: &FixEdit) -> Option<(FileId, analysis::NodePath)> {
    match &e.edit {
        edit::Edit::Replace { path, .. } | edit::Edit::Remove { path } => {
            Some((e.file, path.clone()))
        }
        edit::Edit::Insert { .. } => None,
    }
}

/// Which group an issue's fix sets: 0 the process group, 1 the application
/// group, 2 neither (a daemon's name).
fn group_class(issue: &Issue) -> u8 {
    match issue.kind {
        IssueKind::Embedded { .. } | IssueKind::Shared { .. } => 0,
        IssueKind::NotGlobal { .. } => 1,
        _ => 2,
    }
}

/// Does the edit add a section (a `<Location>` for an app)?
fn adds_a_section(e: &FixEdit) -> bool {
    matches!(&e.edit, edit::Edit::Insert { nodes, .. }
        if nodes.iter().any(|n| matches!(n, syntax::Node::Section(_))))
}

/// Where an edit applies: the file, the line or section list, the position.
type EditPlace = (FileId, analysis::NodePath, usize);

fn edit_place(e: &FixEdit) -> EditPlace {
    match &e.edit {
        edit::Edit::Insert { parent, index, .. } => (e.file, parent.clone(), *index),
        edit::Edit::Replace { path, .. } | edit::Edit::Remove { path } => {
            (e.file, path.clone(), usize::MAX)
        }
    }
}
