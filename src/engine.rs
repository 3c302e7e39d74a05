//! A server (or one file) through the whole pipeline: analyse the server →
//! fix to a fixpoint, each fix verified on the whole server → verify what
//! is written. The command line (and the tests) call only this.

mod verify;

use crate::analysis::{self, AppInstance, ServerContext, View};
use crate::rules::placement::{FixEdit, Fixer};
use crate::rules::wsgi100_unused_suppression::{self as suppression, Suppressions};
use crate::rules::{check, edit, CheckCtx, Finding, Issue, IssueKind};
use crate::server::{FileId, ServerModel};
use crate::syntax::{self, SyntaxError, SyntaxTree};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use verify::{accept, Snapshot};

/// Which rules run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only these codes (empty: all).
    pub select: Vec<String>,
    /// Never these codes.
    pub ignore: Vec<String>,
}

impl Options {
    pub fn enabled(&self, code: &str) -> bool {
        (self.select.is_empty() || self.select.iter().any(|c| c.eq_ignore_ascii_case(code)))
            && !self.ignore.iter().any(|c| c.eq_ignore_ascii_case(code))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// The input does not parse (or httpd would refuse a directive in it);
    /// nothing may be written.
    Syntax(SyntaxError),
    /// The fixes did not produce a valid, stable result; they were discarded
    /// and the file must be left as it was.
    FixDiscarded {
        line: u32,
        column: u32,
        message: String,
    },
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Syntax(e) => write!(f, "{e}"),
            EngineError::FixDiscarded {
                line,
                column,
                message,
            } => write!(f, "{line}:{column}: {message}"),
        }
    }
}

/// What wsgifix makes of one file.
#[derive(Debug, Clone, Default)]
pub struct FileResult {
    /// Findings on the original input, in file order.
    pub findings: Vec<Finding>,
    /// The fixed file, when the fixes change it.
    pub fixed: Option<Vec<u8>>,
    pub error: Option<EngineError>,
}

/// What wsgifix makes of a server: one result per file (by `FileId`), and
/// the app instances the server has.
#[derive(Debug, Clone, Default)]
pub struct ServerResult {
    pub files: Vec<FileResult>,
    pub instances: Vec<AppInstance>,
    /// Set when the server's fixes were discarded as a whole.
    pub error: Option<EngineError>,
}

/// Runs every enabled rule on one file on its own and, where they can,
/// fixes it.
pub fn process(source: &[u8], options: &Options) -> FileResult {
    process_in(source, options, &ServerContext::default())
}

/// Like [`process`], for a file of a server whose other files define and
/// select the daemon names in `ctx`.
pub fn process_in(source: &[u8], options: &Options, ctx: &ServerContext) -> FileResult {
    process_shared(Arc::from(source), options, ctx)
}

/// [`process_in`] of a buffer the caller keeps too (to write beside the
/// fix): parsed in place, held once.
pub fn process_shared(source: Arc<[u8]>, options: &Options, ctx: &ServerContext) -> FileResult {
    let tree = match syntax::parse_shared(Arc::clone(&source)) {
        Ok(t) => t,
        Err(e) => {
            return FileResult {
                error: Some(EngineError::Syntax(e)),
                ..FileResult::default()
            }
        }
    };
    let model = ServerModel::single(PathBuf::new(), source, tree);
    let mut r = run(&model, options, ctx);
    r.files.pop().unwrap_or_default()
}

/// Runs every enabled rule on a whole server and fixes it where that is
/// safe: each fix is applied to the server's trees, the server is analysed
/// again, and the fix is kept only when it resolves its own finding, lowers
/// the number of findings, breaks no start-up check, and moves no other
/// instance's process or application group.
pub fn process_server(model: &ServerModel, options: &Options) -> ServerResult {
    run(model, options, &ServerContext::default())
}

/// Each Include directive (by file, path) → the files it reads.
type Includes = HashMap<(FileId, analysis::NodePath), Vec<FileId>>;

/// The server being fixed: its trees and Include map, kept in step. A fix
/// edits a few files of a server that may have thousands: trees are shared
/// between the candidates of a pass and copied only when edited.
#[derive(Clone)]
struct Work {
    trees: Vec<Arc<SyntaxTree>>,
    includes: Includes,
}

impl Work {
    fn suppressions(&self) -> Suppressions {
        Suppressions::of(self.trees.iter().map(|t| &**t))
    }

    fn analyse(&self) -> analysis::Analysis {
        View {
            trees: self.trees.iter().map(|t| &**t).collect(),
            includes: Some(&self.includes),
        }
        .analyse()
    }

    /// The server with `edits` applied, Include paths moved along; `None`
    /// when an edit does not fit.
    fn apply(&self, edits: &[FixEdit]) -> Option<Work> {
        let mut out = self.clone();
        let mut by_file: HashMap<FileId, Vec<edit::Edit>> = HashMap::new();
        for e in edits {
            by_file.entry(e.file).or_default().push(e.edit.clone());
        }
        for (file, edits) in by_file {
            let keys: Vec<(FileId, analysis::NodePath)> = out
                .includes
                .keys()
                .filter(|(f, _)| *f == file)
                .cloned()
                .collect();
            let mut paths: Vec<analysis::NodePath> = keys.iter().map(|(_, p)| p.clone()).collect();
            let tree = edit::apply_tracking(out.trees.get(file)?, edits, &mut paths)?;
            out.trees[file] = Arc::new(tree);
            let moved: Vec<_> = keys
                .into_iter()
                .zip(paths)
                .map(|(k, p)| (out.includes.remove(&k).unwrap_or_default(), (file, p)))
                .collect();
            for (files, key) in moved {
                out.includes.insert(key, files);
            }
        }
        Some(out)
    }
}

fn display_names(model: &ServerModel) -> Vec<String> {
    model
        .files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect()
}

/// The issues of the enabled rules that no suppression hides: the ones to
/// report and fix.
fn enabled_issues(
    a: &analysis::Analysis,
    files: &[String],
    options: &Options,
    ext: &ServerContext,
    suppressions: &Suppressions,
) -> Vec<Issue> {
    let mut issues = all_enabled_issues(a, files, options, ext);
    issues.retain(|i| !suppressions.hides(i));
    issues
}

fn all_enabled_issues(
    a: &analysis::Analysis,
    files: &[String],
    options: &Options,
    ext: &ServerContext,
) -> Vec<Issue> {
    check(&CheckCtx { a, files, ext })
        .into_iter()
        .filter(|i| options.enabled(i.code))
        .collect()
}

/// The codes each suppression hid, given every issue before hiding.
fn used_codes(
    suppressions: &Suppressions,
    issues: &[(&'static str, FileId, u32)],
) -> Vec<Vec<&'static str>> {
    let mut used = vec![Vec::new(); suppressions.all.len()];
    for &(code, file, line) in issues {
        if let Some(k) = suppressions.covering(code, file, line) {
            used[k].push(code);
        }
    }
    used
}

fn run(model: &ServerModel, options: &Options, ext: &ServerContext) -> ServerResult {
    let n = model.files.len();
    let mut result = ServerResult {
        files: vec![FileResult::default(); n],
        ..ServerResult::default()
    };
    // Every rule is about mod_wsgi directives or wsgi-script handlers, all of
    // which spell "wsgi": a server without those bytes needs nothing more.
    if !model.files.iter().any(|f| mentions_wsgi(&f.source)) {
        return result;
    }
    let names = display_names(model);
    let work = Work {
        trees: model.files.iter().map(|f| f.tree.clone()).collect(),
        includes: model.includes.clone(),
    };
    let initial = work.trees.clone();
    let first = work.analyse();
    result.instances = analysis::apps::instances_of(&first, model);
    let suppressions = work.suppressions();
    let unfiltered = all_enabled_issues(&first, &names, options, ext);
    let mut hidden: Vec<(&'static str, FileId, u32)> = unfiltered
        .iter()
        .map(|i| (i.code, i.file, i.line))
        .collect();
    let original: Vec<Issue> = unfiltered
        .into_iter()
        .filter(|i| !suppressions.hides(i))
        .collect();

    // httpd refuses these at start-up: say it as httpd does; fix nothing.
    for e in &first.errors {
        result.files[e.site.file].error.get_or_insert_with(|| {
            EngineError::Syntax(SyntaxError::new(
                e.site.line,
                e.site.column,
                e.message.clone(),
            ))
        });
    }
    let (fixed, final_issues) = if first.errors.is_empty() {
        fix_loop(work.clone(), &first, &original, &names, options, ext)
    } else {
        (None, original.clone())
    };

    // A finding is fixed when the final config no longer has it, whichever
    // fix did it (one `WSGIApplicationGroup %{GLOBAL}` serves a whole vhost).
    let remaining: HashSet<IssueKey> = final_issues.iter().map(issue_key).collect();
    for i in &original {
        let fixable = !remaining.contains(&issue_key(i));
        result.files[i.file].findings.push(i.to_finding(fixable));
    }
    for (file, f) in template_findings(&first, &names, options, ext) {
        hidden.push((f.code, file, f.line));
        if suppressions.covering(f.code, file, f.line).is_none() {
            result.files[file].findings.push(f);
        }
    }
    if options.enabled(suppression::RULE.code) {
        let used = used_codes(&suppressions, &hidden);
        for i in suppression::check(&suppressions, &used, |c| options.enabled(c)) {
            result.files[i.file].findings.push(i.to_finding(false));
        }
    }
    for f in &mut result.files {
        f.findings.sort_by_key(|f| (f.line, f.column, f.code));
    }
    let Some(done) = fixed else {
        return result;
    };
    match verify::written(done, &initial, &final_issues, &names, options, ext) {
        Ok(verified) => {
            drop(initial);
            for (i, bytes) in verified {
                if *bytes != *model.files[i].source {
                    result.files[i].fixed = Some(bytes.to_vec());
                }
            }
        }
        Err(message) => {
            let (line, column) = original
                .first()
                .map(|i| (i.line, i.column))
                .unwrap_or((1, 1));
            let error = EngineError::FixDiscarded {
                line,
                column,
                message: format!("fixes discarded, files left unchanged: {message}"),
            };
            for f in &mut result.files {
                f.findings.iter_mut().for_each(|f| f.fixable = false);
            }
            if let Some(i) = original.first() {
                result.files[i.file].error = Some(error.clone());
            }
            result.error = Some(error);
        }
    }
    result
}

/// Fixes in passes until nothing more can be fixed; returns the fixed
/// server (when anything changed) and its remaining issues.
fn fix_loop(
    mut current: Work,
    first: &analysis::Analysis,
    original: &[Issue],
    names: &[String],
    options: &Options,
    ext: &ServerContext,
) -> (Option<Work>, Vec<Issue>) {
    let mut state: Option<(analysis::Analysis, Vec<Issue>)> = None;
    let mut fixed_any = false;
    let mut refused: HashSet<IssueKey> = HashSet::new();
    // Edits that failed the checks in this state: the instances of one
    // server-level mount (one per vhost) often get the very same fix, and
    // it fails the same way for each of them.
    let mut refused_edits: Vec<Vec<FixEdit>> = Vec::new();
    loop {
        let (a, issues) = match &state {
            Some((a, i)) => (a, i.as_slice()),
            None => (first, original),
        };
        // A pass with nothing left to try would only build the fixer's
        // lookups of the whole server to find that out.
        if !issues
            .iter()
            .any(|i| i.is_fixable_kind() && !refused.contains(&issue_key(i)))
        {
            break;
        }
        let fixer = Fixer::new(&current.trees, names, a, ext)
            .with_pinned(pinned_apps(a, &current.suppressions()));
        // Every fixable issue whose edits fit beside the others' goes into
        // one pass; the checks below judge the whole batch on the whole
        // server, and halve it when it fails. Fixes computed on the same state
        // can clash (two apps picking one free daemon); the halving keeps the
        // largest part that passes and the rest comes back next pass.
        // Lines an edit of this pass replaces or removes: a second fix that
        // edits one of them waits for the next pass.
        let mut touched: HashSet<(FileId, analysis::NodePath)> = HashSet::new();
        // A main-server fix reaches every vhost: those go first, to be
        // checked apart from the vhosts' when the batch fails.
        let mut batch: [Vec<Fix>; 2] = [Vec::new(), Vec::new()];
        // Entries by the place of their first edit, to find an equal one.
        let mut by_place: HashMap<EditPlace, Vec<(usize, usize)>> = HashMap::new();
        // Per mount (alias directive), the fix this pass has for it: its
        // kind (process or application group) and whether it adds a section.
        // A second fix of the same kind, computed on the same state, would
        // give a server-level mount a second daemon; two fixes that both
        // add a <Location> for one mount would add two.
        let mut mounts_fixed: HashMap<usize, (u8, bool)> = HashMap::new();
        for issue in issues.iter().filter(|i| i.is_fixable_kind()) {
            let key = issue_key(issue);
            let class = group_class(issue);
            let earlier = issue.mount().and_then(|m| mounts_fixed.get(&m).copied());
            if refused.contains(&key) || earlier.is_some_and(|(c, _)| c == class) {
                continue;
            }
            let unit = unit_of(issue, a);
            // What the fixer sets aside for a fix (a daemon it defines) holds
            // only if the fix is in the pass: each path below settles it.
            let Some(edits) = fixer.fix(issue) else {
                fixer.settle(false);
                refused.insert(key);
                continue;
            };
            if refused_edits.contains(&edits) {
                fixer.settle(false);
                refused.insert(key);
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
        let check = |edits: &[FixEdit], fixes: &[&Issue]| {
            let w = current.apply(edits)?;
            let after = w.analyse();
            let after_issues = enabled_issues(&after, names, options, ext, &w.suppressions());
            accept(&before, fixes, &after, &after_issues).then_some((w, after, after_issues))
        };
        let split =
            (main_server_fixes > 0 && main_server_fixes < batch.len()).then_some(main_server_fixes);
        let next = verified_part(&batch, 0, split, &check, &mut refused).map(|(a, _)| a);
        refused_edits.extend(
            batch
                .iter()
                .filter(|f| f.issues.iter().any(|i| refused.contains(&issue_key(i))))
                .map(|f| f.edits.clone()),
        );
        if let Some((w, after, after_issues)) = next {
            current = w;
            state = Some((after, after_issues));
            fixed_any = true;
            // What could not be fixed before may be fixable now; retrying
            // keeps a second run from finding more to do. The loop still
            // ends: every accepted pass lowers the number of findings.
            refused.clear();
            refused_edits.clear();
        }
    }
    let remaining = state.map_or_else(|| original.to_vec(), |(_, i)| i);
    (fixed_any.then_some(current), remaining)
}

/// A fixed server that passed the checks, its analysis and its issues.
type Accepted = (Work, analysis::Analysis, Vec<Issue>);

/// Applies a set of fixes and checks the result on the whole server.
type Check<'c> = dyn Fn(&[FixEdit], &[&Issue]) -> Option<Accepted> + 'c;

/// One fix of a pass: its edits, and the issues they fix (several when the
/// same edits fix several apps).
struct Fix<'i> {
    issues: Vec<&'i Issue>,
    edits: Vec<FixEdit>,
}

/// The largest part of `part` (at `offset` in its batch) whose fixes pass
/// the checks together, and which fixes (batch indexes) those are. Found by
/// halving (the first split at `split_at` when given), so that one bad fix
/// among n costs about 2·log2(n) analyses of the server instead of one pass
/// per good fix. A fix that fails on its own is refused for the pass; one
/// left out only because it does not go with the others comes back in the
/// next pass.
fn verified_part(
    part: &[Fix],
    offset: usize,
    split_at: Option<usize>,
    check: &Check,
    refused: &mut HashSet<IssueKey>,
) -> Option<(Accepted, Vec<usize>)> {
    let members: Vec<usize> = (offset..offset + part.len()).collect();
    let together = |members: &[usize], all: &[Fix]| {
        let mut edits: Vec<FixEdit> = Vec::new();
        let mut at: HashMap<EditPlace, Vec<usize>> = HashMap::new();
        for &k in members {
            for e in &all[k - offset].edits {
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
            .flat_map(|&k| all[k - offset].issues.iter().copied())
            .collect();
        check(&edits, &fixes)
    };
    if let Some(a) = together(&members, part) {
        return Some((a, members));
    }
    if part.len() == 1 {
        refused.extend(part[0].issues.iter().map(|i| issue_key(i)));
        return None;
    }
    let mid = split_at.unwrap_or(part.len() / 2);
    let left = verified_part(&part[..mid], offset, None, check, refused);
    let right = verified_part(&part[mid..], offset + mid, None, check, refused);
    match (left, right) {
        (Some(l), Some(r)) => {
            let both: Vec<usize> = l.1.iter().chain(&r.1).copied().collect();
            match together(&both, part) {
                Some(a) => Some((a, both)),
                None if l.1.len() >= r.1.len() => Some(l),
                None => Some(r),
            }
        }
        (Some(x), None) | (None, Some(x)) => Some(x),
        (None, None) => None,
    }
}

/// Apps a suppression of a per-app rule covers: the user keeps them as they
/// are, so fixes of other apps must leave their groups alone.
fn pinned_apps(a: &analysis::Analysis, suppressions: &Suppressions) -> HashSet<usize> {
    const PER_APP: [&str; 3] = ["WSGI001", "WSGI002", "WSGI003"];
    a.mounts
        .iter()
        .filter(|m| {
            PER_APP
                .iter()
                .any(|c| suppressions.covering(c, m.site.file, m.site.line).is_some())
        })
        .map(|m| m.app)
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

fn mentions_wsgi(source: &[u8]) -> bool {
    source.windows(4).any(|w| w.eq_ignore_ascii_case(b"wsgi"))
}

/// Issues are known across passes by where they were reported: original
/// lines keep their line numbers in the edited trees.
pub(crate) type IssueKey = (&'static str, FileId, u32, u32);

pub(crate) fn issue_key(i: &Issue) -> IssueKey {
    (i.code, i.file, i.line, i.column)
}

/// Fixes of different units never touch the same lines or daemons: vhosts
/// that share a ServerName may share daemons, so they form one unit; the
/// main server is one; each duplicate name is one.
fn unit_of(issue: &Issue, a: &analysis::Analysis) -> Option<String> {
    if let crate::rules::IssueKind::Duplicate { dup, .. } = issue.kind {
        return Some(format!("\0daemon {}", a.daemons[dup].name));
    }
    let m = &a.mounts[issue.mount()?];
    let scope = &a.scopes[m.site.scope];
    scope.is_vhost.then(|| {
        a.server_name_of(m.site.scope)
            .unwrap_or_default()
            .to_string()
    })
}

/// `<Macro>` bodies are templates: what is wrong in them is reported, at its
/// place in the file, and never rewritten.
fn template_findings(
    a: &analysis::Analysis,
    names: &[String],
    options: &Options,
    ext: &ServerContext,
) -> Vec<(FileId, Finding)> {
    let mut out = Vec::new();
    for t in &a.templates {
        let inner = analysis::analyse(&t.tree);
        // Suppressions are read from the file itself by the caller, where
        // the template's lines have their place.
        for i in all_enabled_issues(&inner, names, options, ext) {
            let mut f = i.to_finding(false);
            f.line += t.first_line - 1;
            f.message.push_str(&format!(
                " (in <Macro {}>, a template: not rewritten)",
                t.name
            ));
            out.push((t.file, f));
        }
    }
    out
}
