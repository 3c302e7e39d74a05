//! WSGI100 unused-suppression: inline suppressions, and the report of those
//! that suppress nothing (as ruff's RUF100 does for `# noqa`).
//!
//! `# wsgifix: ignore[WSGI003] reason` on its own line says "this one is
//! intended". It covers the directive that follows it (a whole section when
//! that directive opens one), or, as the first line inside a section, the
//! whole section. Coverage is by line in the comment's own file: a finding
//! in a file Included inside the section is not covered, because the
//! comment is not where a reader of that file would look.
//!
//! httpd only knows whole-line comments (`#` after leading blanks), so only
//! those can carry a suppression: a `#` after a directive's arguments is an
//! argument to httpd.

use super::issue::{Issue, IssueKind};
use super::registry::{rule_by_code, RuleInfo};
use crate::server::FileId;
use crate::syntax::{LineKind, Node, SyntaxTree};

pub const RULE: RuleInfo = RuleInfo {
    code: "WSGI100",
    name: "unused-suppression",
    summary: "A `# wsgifix: ignore[...]` comment suppresses nothing",
    has_fix: false,
    explanation: "\
A suppression comment names a rule that reports nothing where the comment
applies, names no rule wsgifix knows, or is not written the way wsgifix reads
suppressions. Left in place, it would silently hide a real finding added
there later, or it hides nothing while the author thinks it does.

A suppression is a whole-line comment:

    # wsgifix: ignore[WSGI003] keeps its own sub-interpreter on purpose
    WSGIScriptAlias /legacy /srv/legacy/app.wsgi

It covers the directive after it (the whole section when that directive
opens one), or, as the first line inside a section, the whole section.
Codes or names may be listed, comma-separated: ignore[WSGI001,WSGI003].
Suppressed findings are neither reported nor fixed.

A suppression naming a rule that --select or --ignore turned off is not
reported. No automatic fix: whether the comment is stale or misplaced is
for its author to decide.",
};

/// What a comment must start with (after `#` and blanks) to be read as a
/// suppression; anything else is an ordinary comment.
const MARKER: &str = "wsgifix:";

/// One `# wsgifix: ...` comment.
#[derive(Debug, Clone)]
pub struct Suppression {
    pub file: FileId,
    pub line: u32,
    pub column: u32,
    /// Lines covered, inclusive, in the file's original numbering.
    pub lines: (u32, u32),
    /// The rules named, by code; `Err` holds a name wsgifix does not know,
    /// as written, for the report.
    pub codes: Vec<Result<&'static str, String>>,
    /// Set when the comment is not a well-formed `ignore[...]`.
    pub malformed: Option<String>,
}

/// Every suppression of a server's files.
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    pub all: Vec<Suppression>,
}

impl Suppressions {
    pub fn of<'a>(trees: impl IntoIterator<Item = &'a SyntaxTree>) -> Suppressions {
        let all = trees
            .into_iter()
            .enumerate()
            .flat_map(|(file, tree)| Suppressions::in_file(file, tree))
            .collect();
        Suppressions { all }
    }

    /// The suppressions of one file of a server, as [`Suppressions::of`]
    /// lists them for it.
    pub fn in_file(file: FileId, tree: &SyntaxTree) -> Vec<Suppression> {
        let mut all = Vec::new();
        collect(file, &tree.nodes, None, &mut all);
        all
    }

    /// The suppression that hides an issue of `code` at `file:line`, if any.
    pub fn covering(&self, code: &str, file: FileId, line: u32) -> Option<usize> {
        if line == 0 {
            // An inserted line has no place a comment could name.
            return None;
        }
        self.all.iter().position(|s| {
            s.file == file
                && (s.lines.0..=s.lines.1).contains(&line)
                && s.codes.iter().any(|c| c.as_ref().is_ok_and(|c| *c == code))
        })
    }

    pub fn hides(&self, issue: &Issue) -> bool {
        self.covering(issue.code, issue.file, issue.line).is_some()
    }
}

/// Walks `nodes`; `section` is the enclosing section, whose line range a
/// suppression on its first line covers (worked out only then: it means a
/// walk over all the section's lines).
fn collect(file: FileId, nodes: &[Node], section: Option<&Node>, out: &mut Vec<Suppression>) {
    let mut first_content = true;
    for (k, node) in nodes.iter().enumerate() {
        match node {
            Node::Section(s) => {
                first_content = false;
                collect(file, &s.children, Some(node), out);
            }
            Node::Line(l) if l.kind == LineKind::Comment => {
                let inside_first = first_content;
                let Some(mut sup) = parse(file, l) else {
                    continue;
                };
                sup.lines = match (inside_first, section) {
                    (true, Some(section)) => span(section),
                    _ => target(&nodes[k + 1..]).unwrap_or((sup.line, sup.line)),
                };
                out.push(sup);
            }
            Node::Line(l) if l.kind == LineKind::Blank => {}
            Node::Line(_) => first_content = false,
        }
    }
}

/// The lines of the first directive or section in `rest`, past comments and
/// blank lines.
fn target(rest: &[Node]) -> Option<(u32, u32)> {
    rest.iter()
        .find(|n| {
            !matches!(n, Node::Line(l) if matches!(l.kind, LineKind::Comment | LineKind::Blank))
        })
        .map(span)
}

/// First and last physical line of a node (inserted lines, numbered 0, are
/// skipped: they lie between original ones).
fn span(node: &Node) -> (u32, u32) {
    let first = node.first_line().line;
    let mut last = first;
    let mut see = |l: &crate::syntax::Line| {
        if l.line != 0 {
            last = last.max(l.line + l.newline_count().saturating_sub(1));
        }
    };
    match node {
        Node::Line(l) => see(l),
        Node::Section(s) => {
            see(&s.open);
            crate::syntax::visit_lines(&s.children, &mut see);
            if let Some(c) = &s.close {
                see(c);
            }
        }
    }
    (first, last)
}

/// Reads one comment line; `None` when it is not meant for wsgifix.
fn parse(file: FileId, l: &crate::syntax::Line) -> Option<Suppression> {
    // Most comments are not for wsgifix: skip them before joining lines.
    // Every comment of every file is asked, several times a run.
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(MARKER));
    let raw = l.raw();
    FINDER.find(raw)?;
    let logical = l.logical();
    let text = String::from_utf8_lossy(&logical);
    let indent = l.indent().len();
    let body = text.trim_start().strip_prefix('#')?.trim_start();
    let rest = body.strip_prefix(MARKER)?.trim_start();
    let mut sup = Suppression {
        file,
        line: l.line,
        column: indent as u32 + 1,
        lines: (l.line, l.line),
        codes: Vec::new(),
        malformed: None,
    };
    let list = rest
        .strip_prefix("ignore[")
        .and_then(|r| r.split_once(']'))
        .map(|(list, _reason)| list);
    match list {
        Some(list) if !list.trim().is_empty() => {
            sup.codes = list
                .split(',')
                .map(str::trim)
                .map(|c| rule_by_code(c).map(|r| r.code).ok_or_else(|| c.to_string()))
                .collect();
        }
        _ => {
            sup.malformed = Some(format!(
                "`# {MARKER} {}` is not a suppression wsgifix reads; write `# {MARKER} ignore[CODE,...] reason`",
                rest.trim_end()
            ));
        }
    }
    Some(sup)
}

/// The WSGI100 issues: for each suppression, the codes it names that hid
/// nothing (`used[k]`: codes of suppression k that hid an issue), unknown
/// codes, and malformed comments. `enabled` says which rules ran.
pub fn check(
    s: &Suppressions,
    used: &[Vec<&'static str>],
    enabled: impl Fn(&str) -> bool,
) -> Vec<Issue> {
    let mut out = Vec::new();
    let issue = |sup: &Suppression, message: String| Issue {
        kind: IssueKind::ReportOnly(None),
        code: RULE.code,
        file: sup.file,
        line: sup.line,
        column: sup.column,
        order: 0,
        message,
    };
    for (k, sup) in s.all.iter().enumerate() {
        if let Some(m) = &sup.malformed {
            out.push(issue(sup, m.clone()));
            continue;
        }
        let mut unused = Vec::new();
        let mut unknown = Vec::new();
        for c in &sup.codes {
            match c {
                Ok(code) if enabled(code) && !used[k].contains(code) => unused.push(*code),
                Ok(_) => {}
                Err(name) => unknown.push(name.as_str()),
            }
        }
        if !unknown.is_empty() {
            out.push(issue(
                sup,
                format!(
                    "suppression names no rule wsgifix has: {} (see `wsgifix rules`)",
                    unknown.join(", ")
                ),
            ));
        }
        if !unused.is_empty() {
            let (from, to) = sup.lines;
            let place = if from == to {
                format!("line {from}")
            } else {
                format!("lines {from}-{to}")
            };
            out.push(issue(
                sup,
                format!(
                    "suppression of {} hides nothing: no such finding at {place}",
                    unused.join(", ")
                ),
            ));
        }
    }
    out
}
