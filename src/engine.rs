//! One file through the whole pipeline: parse → analyse → fix to a fixpoint →
//! verify. The command line (and the tests) call only this.

use crate::analysis::{analyse, Analysis, GroupKind, ServerContext};
use crate::rules::checks::{check, Issue, IssueKind};
use crate::rules::edit;
use crate::rules::fixes::Fixer;
use crate::rules::Finding;
use crate::syntax::{self, SyntaxError};
use std::collections::HashSet;

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
    /// The input does not parse; nothing may be written.
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

/// Runs every enabled rule on `source` and, where they can, fixes it.
///
/// Each pass applies fixes to a copy of the tree that is then analysed again:
/// fixes are kept only when each resolves its own finding and the number of
/// findings drops by at least one per fix. That makes the loop end (at most
/// one pass per finding) and keeps a fix that would only move the problem
/// elsewhere from ever being written.
pub fn process(source: &[u8], options: &Options) -> FileResult {
    process_in(source, options, &ServerContext::default())
}

/// Like [`process`], for a file of a server whose other files define and
/// select the daemon names in `ctx`.
pub fn process_in(source: &[u8], options: &Options, ctx: &ServerContext) -> FileResult {
    let tree = match syntax::parse(source) {
        Ok(t) => t,
        Err(e) => {
            return FileResult {
                error: Some(EngineError::Syntax(e)),
                ..FileResult::default()
            }
        }
    };
    // Every rule is about mod_wsgi directives or wsgi-script handlers, all of
    // which spell "wsgi": a file without those bytes only needs its syntax
    // checked. Most files of a fleet are like that.
    if !mentions_wsgi(source) {
        return FileResult::default();
    }
    let first = analyse(&tree);
    let original = enabled_issues(&first, options, ctx);

    // The tree being fixed, with its analysis and issues: each verified step
    // hands its own analysis on, so no tree is analysed twice.
    let mut current = tree;
    let mut state: Option<(Analysis, Vec<Issue>)> = None;
    let mut fixed_any = false;
    let mut refused: HashSet<IssueKey> = HashSet::new();
    loop {
        let (a, issues) = match &state {
            Some((a, i)) => (a, i),
            None => (&first, &original),
        };
        let fixer = Fixer::new(&current, a, ctx);

        // The first fixable issue of each independent unit (a group of
        // vhosts sharing a ServerName, or the main server): their fixes touch
        // disjoint parts of the file and can be applied in one pass.
        let mut units: HashSet<Option<String>> = HashSet::new();
        let mut batch: Vec<(&Issue, Vec<edit::Edit>)> = Vec::new();
        for issue in issues.iter().filter(|i| i.mount().is_some()) {
            let key = issue_key(issue);
            let unit = unit_of(issue, a);
            if refused.contains(&key) || units.contains(&unit) {
                continue;
            }
            match fixer.fix(issue) {
                Some(edits) => {
                    units.insert(unit);
                    batch.push((issue, edits));
                }
                None => {
                    refused.insert(key);
                }
            }
        }
        if batch.is_empty() {
            break;
        }

        let accept = |edits: Vec<edit::Edit>, fixes: &[&Issue]| {
            let t = edit::apply(&current, edits)?;
            let after = analyse(&t);
            let after_issues = enabled_issues(&after, options, ctx);
            let defined: HashSet<&str> = after.daemons.iter().map(|d| d.name.as_str()).collect();
            let all_resolved = fixes.iter().all(|i| resolved(i, &after, &defined));
            (all_resolved && after_issues.len() + fixes.len() <= issues.len()).then_some((
                t,
                after,
                after_issues,
            ))
        };
        let mut next = None;
        if batch.len() > 1 {
            let edits = batch.iter().flat_map(|(_, e)| e.clone()).collect();
            let fixes: Vec<&Issue> = batch.iter().map(|(i, _)| *i).collect();
            next = accept(edits, &fixes);
        }
        if next.is_none() {
            // One at a time: the first fix that verifies on its own.
            for (issue, edits) in batch {
                next = accept(edits, &[issue]);
                if next.is_some() {
                    break;
                }
                refused.insert(issue_key(issue));
            }
        }
        if let Some((t, after, after_issues)) = next {
            current = t;
            state = Some((after, after_issues));
            fixed_any = true;
            // What could not be fixed before may be fixable now; retrying
            // keeps a second run from finding more to do. The loop still
            // ends: every accepted pass lowers the number of findings.
            refused.clear();
        }
    }

    // A finding is fixed when the final config no longer has it, whichever
    // fix did it (one `WSGIApplicationGroup %{GLOBAL}` serves a whole vhost).
    let final_issues = state.as_ref().map_or(&original, |(_, i)| i);
    let remaining: HashSet<IssueKey> = final_issues.iter().map(issue_key).collect();
    let mut findings: Vec<Finding> = original
        .iter()
        .map(|i| i.to_finding(!remaining.contains(&issue_key(i))))
        .collect();
    findings.extend(template_findings(&first, options, ctx));
    findings.sort_by_key(|f| (f.line, f.column, f.code));

    if !fixed_any {
        return FileResult {
            findings,
            ..FileResult::default()
        };
    }
    let bytes = current.to_bytes();
    if let Err(message) = verify(final_issues, &bytes, options, ctx) {
        let (line, column) = original
            .first()
            .map(|i| (i.line, i.column))
            .unwrap_or((1, 1));
        for f in &mut findings {
            f.fixable = false;
        }
        return FileResult {
            findings,
            fixed: None,
            error: Some(EngineError::FixDiscarded {
                line,
                column,
                message: format!("fixes discarded, file left unchanged: {message}"),
            }),
        };
    }
    FileResult {
        findings,
        fixed: (bytes != source).then_some(bytes),
        error: None,
    }
}

fn mentions_wsgi(source: &[u8]) -> bool {
    source.windows(4).any(|w| w.eq_ignore_ascii_case(b"wsgi"))
}

/// Issues are known across passes by where they were reported: original
/// lines keep their line numbers in the edited tree.
type IssueKey = (&'static str, u32, u32);

fn issue_key(i: &Issue) -> IssueKey {
    (i.code, i.line, i.column)
}

fn enabled_issues(a: &Analysis, options: &Options, ctx: &ServerContext) -> Vec<Issue> {
    check(a, ctx)
        .into_iter()
        .filter(|i| options.enabled(i.code))
        .collect()
}

/// Fixes of different units never touch the same lines or daemons: vhosts
/// that share a ServerName may share daemons, so they form one unit.
fn unit_of(issue: &Issue, a: &Analysis) -> Option<String> {
    let scope = &a.scopes[a.mounts[issue.mount().expect("fixable issues have a mount")]
        .site
        .scope];
    scope
        .is_vhost
        .then(|| scope.server_name.clone().unwrap_or_default())
}

/// Did the fix do what its rule asks, for the mount it was about?
/// `defined` holds the daemon names `after` defines.
fn resolved(issue: &Issue, after: &Analysis, defined: &HashSet<&str>) -> bool {
    let Some(i) = issue.mount().filter(|&i| i < after.mounts.len()) else {
        return false;
    };
    match &issue.kind {
        IssueKind::Embedded { .. } => {
            let pg = after.effective(i, GroupKind::Process);
            !pg.is_global() && defined.contains(pg.value.as_str())
        }
        IssueKind::Shared { daemon, .. } => after.effective(i, GroupKind::Process).value != *daemon,
        IssueKind::NotGlobal { .. } => after.effective(i, GroupKind::Application).is_global(),
        IssueKind::ReportOnly => false,
    }
}

/// The printed result must parse back into the same tree and leave nothing
/// for a second run to fix.
fn verify(
    issues: &[Issue],
    bytes: &[u8],
    options: &Options,
    ctx: &ServerContext,
) -> Result<(), String> {
    let reparsed = syntax::parse(bytes).map_err(|e| format!("the result does not parse: {e}"))?;
    if reparsed.to_bytes() != bytes {
        return Err("the result does not print back the same".to_string());
    }
    let before: Vec<&str> = issues.iter().map(|i| i.code).collect();
    let after: Vec<&str> = enabled_issues(&analyse(&reparsed), options, ctx)
        .iter()
        .map(|i| i.code)
        .collect();
    if before != after {
        return Err("the result reads differently once printed".to_string());
    }
    Ok(())
}

/// `<Macro>` bodies are templates: what is wrong in them is reported, at its
/// place in the file, and never rewritten.
fn template_findings(a: &Analysis, options: &Options, ctx: &ServerContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for t in &a.templates {
        let inner = analyse(&t.tree);
        for i in enabled_issues(&inner, options, ctx) {
            let mut f = i.to_finding(false);
            f.line += t.first_line - 1;
            f.message.push_str(&format!(
                " (in <Macro {}>, a template: not rewritten)",
                t.name
            ));
            out.push(f);
        }
    }
    out
}
