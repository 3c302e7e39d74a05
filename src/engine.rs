//! A server (or one file) through the whole pipeline: analyse the server →
//! fix to a fixpoint, each fix verified on the whole server → verify what
//! is written. The command line (and the tests) call only this.

mod fix_loop;
mod verify;

use crate::analysis::{self, AppInstance, ServerContext, View};
use crate::collections::{HashMap, HashSet};
use crate::rules::placement::FixEdit;
use crate::rules::wsgi100_unused_suppression::{self as suppression, Suppression, Suppressions};
use crate::rules::{check, edit, CheckCtx, Finding, Issue};
use crate::server::{FileId, ServerModel};
use crate::syntax::{self, SyntaxError, SyntaxTree};
use std::path::PathBuf;
use std::sync::{Arc, Weak};

/// Which rules run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only these codes (empty: all).
    pub select: Vec<String>,
    /// Never these codes.
    pub ignore: Vec<String>,
    /// The run writes nothing (`--check`): the fixed trees are printed but
    /// not parsed and analysed again. That check (`verify::written`) only
    /// guards against a fix the loop itself would have refused; that it never
    /// changes a finding, a fix or an error is what `tests/check_shortcut.rs`
    /// shows on the corpus and on random servers.
    pub unverified: bool,
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
    process_shared(Arc::new(source.to_vec()), options, ctx)
}

/// [`process_in`] of a buffer the caller keeps too (to write beside the
/// fix): parsed in place, held once.
pub fn process_shared(
    source: syntax::SharedBytes,
    options: &Options,
    ctx: &ServerContext,
) -> FileResult {
    let tree = match syntax::parse_shared(Arc::clone(&source)) {
        Ok(t) => t,
        Err(e) => {
            return FileResult {
                error: Some(EngineError::Syntax(e)),
                ..FileResult::default()
            }
        }
    };
    // The model holds no tree: the run holds the only one, so that the
    // parse is freed once the fixed print is verified in its place.
    let model = ServerModel::single(PathBuf::new(), source, SyntaxTree::default());
    let mut r = run(&model, vec![Arc::new(tree)], options, ctx);
    r.files.pop().unwrap_or_default()
}

/// Runs every enabled rule on a whole server and fixes it where that is
/// safe: each fix is applied to the server's trees, the server is analysed
/// again, and the fix is kept only when it resolves its own finding, lowers
/// the number of findings, breaks no start-up check, and moves no other
/// instance's process or application group.
pub fn process_server(model: &ServerModel, options: &Options) -> ServerResult {
    let trees = model.files.iter().map(|f| f.tree.clone()).collect();
    run(model, trees, options, &ServerContext::default())
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
    /// Each file's suppressions, with the tree they were read from: every
    /// candidate of a pass needs the server's, and only the files it edited
    /// differ. The tree is held weakly, so a cache entry never keeps a
    /// tree alive (verify drops the fixed trees to parse their prints);
    /// and while the weak handle lives, no other tree can take its address.
    suppressions: Vec<(Weak<SyntaxTree>, Arc<[Suppression]>)>,
    /// Every pass reads the same `Use`s of `<Macro>`s: each expansion is
    /// parsed and analysed once for the whole loop.
    macros: Arc<analysis::MacroExpansions>,
}

impl Work {
    fn new(trees: Vec<Arc<SyntaxTree>>, includes: Includes) -> Work {
        let suppressions = trees
            .iter()
            .enumerate()
            .map(|(file, tree)| read_suppressions(file, tree))
            .collect();
        Work {
            trees,
            includes,
            suppressions,
            macros: Arc::default(),
        }
    }

    /// The server's suppressions: those of a file whose tree is no longer
    /// the one they were read from are read again.
    fn suppressions(&self) -> Suppressions {
        let mut all = Vec::new();
        for (file, tree) in self.trees.iter().enumerate() {
            match self.suppressions.get(file) {
                Some((read_from, cached))
                    if std::ptr::eq(read_from.as_ptr(), Arc::as_ptr(tree)) =>
                {
                    all.extend(cached.iter().cloned());
                }
                _ => all.extend(Suppressions::in_file(file, tree)),
            }
        }
        Suppressions { all }
    }

    fn analyse(&self) -> analysis::Analysis {
        View {
            trees: self.trees.iter().map(|t| &**t).collect(),
            includes: Some(&self.includes),
            macros: Some(&self.macros),
        }
        .analyse()
    }

    /// The server with `edits` applied, Include paths moved along; `None`
    /// when an edit does not fit.
    fn apply(&self, edits: &[FixEdit]) -> Option<Work> {
        let mut out = self.clone();
        let mut by_file: HashMap<FileId, Vec<edit::Edit>> = HashMap::default();
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
            let tree = Arc::new(edit::apply_tracking(
                out.trees.get(file)?,
                edits,
                &mut paths,
            )?);
            out.suppressions[file] = read_suppressions(file, &tree);
            out.trees[file] = tree;
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

fn read_suppressions(
    file: FileId,
    tree: &Arc<SyntaxTree>,
) -> (Weak<SyntaxTree>, Arc<[Suppression]>) {
    (
        Arc::downgrade(tree),
        Suppressions::in_file(file, tree).into(),
    )
}

fn display_names(model: &ServerModel) -> Vec<String> {
    model
        .files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect()
}

/// The issues of the enabled rules that no suppression hides, as the fix
/// loop and verify compare them: without messages.
fn enabled_issues(
    a: &analysis::Analysis,
    files: &[String],
    options: &Options,
    ext: &ServerContext,
    suppressions: &Suppressions,
) -> Vec<Issue> {
    let mut issues = all_enabled_issues(a, files, options, ext, false);
    issues.retain(|i| !suppressions.hides(i));
    issues
}

/// Every issue of the enabled rules; `messages` says whether their
/// messages are read (see [`CheckCtx::messages`]).
fn all_enabled_issues(
    a: &analysis::Analysis,
    files: &[String],
    options: &Options,
    ext: &ServerContext,
    messages: bool,
) -> Vec<Issue> {
    check(&CheckCtx {
        a,
        files,
        ext,
        messages,
    })
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

/// `trees` are the parses of the model's files, by `FileId` (the model's
/// own are not read).
fn run(
    model: &ServerModel,
    trees: Vec<Arc<SyntaxTree>>,
    options: &Options,
    ext: &ServerContext,
) -> ServerResult {
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
    let work = Work::new(trees, model.includes.clone());
    let initial = work.trees.clone();
    let first = work.analyse();
    result.instances = analysis::apps::instances_of(&first, model);
    let suppressions = work.suppressions();
    let unfiltered = all_enabled_issues(&first, &names, options, ext, true);
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
    let templates = template_findings(&first, &names, options, ext);
    let (fixed, final_issues, declined) = if first.errors.is_empty() {
        fix_loop::run(work.clone(), first, &original, &names, options, ext)
    } else {
        (None, original.clone(), HashMap::default())
    };

    // A finding is fixed when the final config no longer has it, whichever
    // fix did it (one `WSGIApplicationGroup %{GLOBAL}` serves a whole vhost).
    let remaining: HashSet<IssueKey> = final_issues.iter().map(issue_key).collect();
    for i in &original {
        let key = issue_key(i);
        let fixable = !remaining.contains(&key);
        let why = i
            .reported_only_because()
            .or_else(|| declined.get(&key).copied());
        result.files[i.file]
            .findings
            .push(i.to_finding(fixable, why));
    }
    for (file, f) in templates {
        hidden.push((f.code, file, f.line));
        if suppressions.covering(f.code, file, f.line).is_none() {
            result.files[file].findings.push(f);
        }
    }
    if options.enabled(suppression::RULE.code) {
        let used = used_codes(&suppressions, &hidden);
        for i in suppression::check(&suppressions, &used, |c| options.enabled(c)) {
            result.files[i.file]
                .findings
                .push(i.to_finding(false, None));
        }
    }
    for f in &mut result.files {
        f.findings.sort_by_key(|f| (f.line, f.column, f.code));
    }
    let Some(done) = fixed else {
        return result;
    };
    // What the fixes did not touch is still the parse (the same Arc).
    let edited: Vec<bool> = (done.trees.iter().zip(&initial))
        .map(|(now, first)| !Arc::ptr_eq(now, first))
        .collect();
    // Verify parses the print of each edited file again; the parses it
    // replaces need not be held beside it.
    drop((initial, work));
    let checked = if options.unverified {
        Ok(verify::printed(done, &edited))
    } else {
        verify::written(done, &edited, &final_issues, &names, options, ext)
    };
    match checked {
        Ok(verified) => {
            for (i, bytes) in verified {
                if *bytes != *model.files[i].source {
                    // Verify's re-parse is gone: the bytes are no longer
                    // shared and become the result without a copy.
                    result.files[i].fixed =
                        Some(Arc::try_unwrap(bytes).unwrap_or_else(|shared| shared.to_vec()));
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
        // Each Use of it mounts the body's apps of the Use's own scope
        // where it stands: those are judged there, not in the body.
        let used = a.macro_uses.iter().any(|u| {
            u.name.eq_ignore_ascii_case(&t.name)
                && u.args.len() == t.params.len()
                && u.site.order > t.order
        });
        let inner = analysis::analyse(&t.tree);
        let expanded = |i: &Issue| {
            used && i.mount().is_some_and(|m| {
                let m = &inner.mounts[m];
                m.site.scope == 0 && m.site.sections.is_empty() && m.handler_section.is_none()
            })
        };
        // A body selects the server's daemons as well as its own: a name the
        // server defines is no WSGI004 of the template.
        let defined_outside = |name: &str| a.daemons_named(name).next().is_some();
        let selects_outside: HashSet<u32> = inner
            .groups
            .iter()
            .filter(|g| g.kind == analysis::GroupKind::Process && defined_outside(&g.value))
            .map(|g| g.site.line)
            .chain(
                (inner.mounts.iter().map(|m| (&m.site, &m.args)))
                    .chain(inner.imports.iter().map(|i| (&i.site, &i.args)))
                    .filter(|(_, args)| {
                        args.option("process-group")
                            .is_some_and(|o| defined_outside(&o.value))
                    })
                    .map(|(site, _)| site.line),
            )
            .collect();
        // Where the body sets nothing, its apps take the server's own
        // values (a Use in a vhost inherits them), as any vhost does.
        let server_sets = |kind: analysis::GroupKind| {
            a.groups
                .iter()
                .rev()
                .find(|g| g.kind == kind && g.site.scope == 0 && g.site.at_scope_level())
        };
        let inherited = |i: &Issue| match &i.kind {
            crate::rules::IssueKind::Embedded { pg, .. } => {
                pg.source == analysis::Source::Default
                    && server_sets(analysis::GroupKind::Process)
                        .is_some_and(|g| !g.value.is_empty())
            }
            crate::rules::IssueKind::NotGlobal { ag, .. } => {
                ag.source == analysis::Source::Default
                    && server_sets(analysis::GroupKind::Application)
                        .is_some_and(|g| g.value == "%{GLOBAL}")
            }
            _ => false,
        };
        // Suppressions are read from the file itself by the caller, where
        // the template's lines have their place.
        for i in all_enabled_issues(&inner, names, options, ext, true) {
            if (i.code == "WSGI004" && selects_outside.contains(&i.line))
                || inherited(&i)
                || expanded(&i)
            {
                continue;
            }
            let mut f = i.to_finding(false, None);
            f.message.push_str(&format!(
                " (in <Macro {}>, a template: not rewritten)",
                t.name
            ));
            out.push((t.file, f));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Arc<SyntaxTree> {
        Arc::new(syntax::parse(text.as_bytes()).unwrap())
    }

    fn listed(s: &Suppressions) -> String {
        format!("{:?}", s.all)
    }

    /// The cached suppressions are always those a fresh read of the trees
    /// gives: after a fix edits a file, and after a tree is replaced by one
    /// the cache never saw (verify's re-parse).
    #[test]
    fn cached_suppressions_follow_every_tree_change() {
        let a = "# wsgifix: ignore[WSGI003] kept\nWSGIScriptAlias / /srv/a.wsgi\n";
        let b = "<VirtualHost *:80>\n    # wsgifix: ignore[WSGI001]\n    ServerName b\n</VirtualHost>\n";
        let work = Work::new(vec![tree(a), tree(b)], Includes::default());
        let fresh = |w: &Work| listed(&Suppressions::of(w.trees.iter().map(|t| &**t)));
        assert_eq!(listed(&work.suppressions()), fresh(&work));
        assert_eq!(work.suppressions().all.len(), 2);

        // A fix inserts a line above the suppressed alias of file 0 and
        // removes the suppression comment of file 1.
        let edits = vec![
            FixEdit {
                file: 0,
                edit: edit::Edit::Insert {
                    parent: vec![],
                    index: 0,
                    nodes: vec![syntax::Node::Line(syntax::Line::inserted(
                        b"WSGIApplicationGroup %{GLOBAL}\n".to_vec(),
                    ))],
                    sticks: edit::Sticks::ToNext,
                },
            },
            FixEdit {
                file: 1,
                edit: edit::Edit::Remove { path: vec![0, 0] },
            },
        ];
        let edited = work.apply(&edits).unwrap();
        assert_eq!(listed(&edited.suppressions()), fresh(&edited));
        assert_eq!(edited.suppressions().all.len(), 1);
        // The work the edits were applied to is unchanged.
        assert_eq!(work.suppressions().all.len(), 2);

        // Replaced behind the cache's back, as verify does with each
        // re-parse: read again, not served stale.
        let mut replaced = edited.clone();
        replaced.trees[1] = tree(b);
        replaced.trees[0] = tree("WSGIScriptAlias / /srv/a.wsgi\n");
        assert_eq!(listed(&replaced.suppressions()), fresh(&replaced));
        assert_eq!(replaced.suppressions().all.len(), 1);
        assert_eq!(replaced.suppressions().all[0].file, 1);
    }
}
