//! Checks shared by the syntax test suites (`roundtrip`, `syntax_cases`,
//! `proptest_roundtrip`).
//!
//! The line reader below is written from httpd's source as described in
//! shared/docs/apache-syntax.md §1 (ap_cfg_getline_core + cfg_trim_line), not
//! from the crate's code, so comparing the tree's logical lines with it checks
//! the grammar and the tree builder against an independent model.
#![allow(dead_code)]

use wsgifix::syntax::{visit_lines, Line, LineKind, Node, SyntaxTree};

pub fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

pub fn c_trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_c_space(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_c_space(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// The non-empty logical lines httpd reads from `input`, each with the
/// physical line it starts on.
pub fn httpd_logical_lines(input: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut line_no = 0u32;
    while pos < input.len() {
        let start_line = line_no + 1;
        let mut buf: Vec<u8> = Vec::new();
        // A continuation on the last physical line simply meets EOF.
        while pos < input.len() {
            line_no += 1;
            let end = input[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(input.len(), |i| pos + i + 1);
            let phys = &input[pos..end];
            pos = end;
            // apr_file_gets reads through the newline, then httpd uses
            // strlen(): it sees nothing past a NUL, newline included.
            let seen = match phys.iter().position(|&b| b == 0) {
                Some(n) => &phys[..n],
                None => phys,
            };
            buf.extend_from_slice(seen);
            // The check looks at the joined buffer, not just this physical
            // line: a bare newline can eat a backslash left by the previous
            // continuation.
            let mut cp = buf.len();
            if cp > 0 && buf[cp - 1] == b'\n' {
                cp -= 1;
                if cp > 0 && buf[cp - 1] == b'\r' {
                    cp -= 1;
                }
                if cp > 0 && buf[cp - 1] == b'\\' {
                    buf.truncate(cp - 1);
                    continue;
                }
            }
            break;
        }
        let text = c_trim(&buf);
        if !text.is_empty() {
            out.push((start_line, text.to_vec()));
        }
    }
    out
}

/// Every line of the tree in file order.
pub fn all_lines(tree: &SyntaxTree) -> Vec<&Line> {
    let mut v = Vec::new();
    visit_lines(&tree.nodes, &mut |l| v.push(l));
    v
}

/// The tree's non-empty logical lines, as `httpd_logical_lines` gives them.
pub fn tree_logical_lines(tree: &SyntaxTree) -> Vec<(u32, Vec<u8>)> {
    all_lines(tree)
        .into_iter()
        .map(|l| (l.line, l.logical().into_owned()))
        .filter(|(_, t)| !t.is_empty())
        .collect()
}

/// The kind httpd gives a logical line (apache-syntax.md §2, §5): a comment
/// by its first byte, a section line by its first *word*, which may be
/// quoted (`"<Directory" /tmp>` opens a section).
pub fn expected_kind(logical: &[u8]) -> LineKind {
    let word = match logical {
        [] => return LineKind::Blank,
        [b'#', ..] => return LineKind::Comment,
        [b'"' | b'\'', rest @ ..] => rest,
        _ => logical,
    };
    match word {
        [b'<', b'/', ..] => LineKind::Close,
        [b'<', ..] => LineKind::Open,
        _ => LineKind::Directive,
    }
}

const CONDITIONAL: &[&str] = &[
    "IfModule",
    "IfDefine",
    "IfFile",
    "IfDirective",
    "IfSection",
    "IfVersion",
];
const OPAQUE: &[&str] = &["Macro", "Perl"];

fn is_in(name: &[u8], set: &[&str]) -> bool {
    set.iter().any(|s| name.eq_ignore_ascii_case(s.as_bytes()))
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Everything a parsed tree must satisfy for the input it came from.
pub fn check_tree(input: &[u8], tree: &SyntaxTree) -> Result<(), String> {
    if tree.to_bytes() != input {
        return Err(first_difference(input, &tree.to_bytes()));
    }

    // Line numbers: each line starts where the newlines before it say.
    let mut newlines = 0u32;
    for l in all_lines(tree) {
        if l.line != newlines + 1 {
            return Err(format!(
                "line {:?} claims to start on line {} but starts on line {}",
                show(l.raw()),
                l.line,
                newlines + 1
            ));
        }
        if l.raw().is_empty() {
            return Err(format!("empty line node at line {}", l.line));
        }
        newlines += l.newline_count();
        let text = l.logical();
        if l.kind != expected_kind(&text) {
            return Err(format!(
                "line {}: {:?} is {:?}, expected {:?}",
                l.line,
                show(&text),
                l.kind,
                expected_kind(&text)
            ));
        }
    }

    let ours = tree_logical_lines(tree);
    let httpd = httpd_logical_lines(input);
    if ours != httpd {
        let i = ours
            .iter()
            .zip(&httpd)
            .position(|(a, b)| a != b)
            .unwrap_or(ours.len().min(httpd.len()));
        return Err(format!(
            "logical lines differ from httpd's reader at #{i}: tree {:?} vs httpd {:?}",
            ours.get(i).map(|(n, t)| (n, show(t))),
            httpd.get(i).map(|(n, t)| (n, show(t))),
        ));
    }

    check_nodes(&tree.nodes, false, false)
}

fn check_nodes(nodes: &[Node], in_opaque: bool, in_open_conditional: bool) -> Result<(), String> {
    for (i, node) in nodes.iter().enumerate() {
        match node {
            Node::Line(l) => {
                if !in_opaque && matches!(l.kind, LineKind::Open | LineKind::Close) {
                    return Err(format!(
                        "line {}: section line {:?} outside any <Macro>/<Perl> is not a section",
                        l.line,
                        show(l.raw())
                    ));
                }
            }
            Node::Section(s) => {
                let name = s.open.name();
                if s.open.kind != LineKind::Open {
                    return Err(format!(
                        "line {}: section opened by a {:?} line",
                        s.open.line, s.open.kind
                    ));
                }
                if in_opaque {
                    return Err(format!(
                        "line {}: section node inside an opaque body",
                        s.open.line
                    ));
                }
                let conditional = is_in(&name, CONDITIONAL);
                match &s.close {
                    Some(c) => {
                        if c.kind != LineKind::Close || !c.name().eq_ignore_ascii_case(&name) {
                            return Err(format!(
                                "line {}: <{}> closed by {:?}",
                                s.open.line,
                                show(&name),
                                show(c.raw())
                            ));
                        }
                        if s.children
                            .iter()
                            .any(|c| matches!(c, Node::Section(cs) if cs.close.is_none()))
                        {
                            return Err(format!(
                                "line {}: closed <{}> holds an unclosed section",
                                s.open.line,
                                show(&name)
                            ));
                        }
                    }
                    None => {
                        // httpd accepts only a read-time conditional left open
                        // at EOF, with whatever is open inside it.
                        if !(conditional || in_open_conditional) {
                            return Err(format!(
                                "line {}: <{}> left open outside any open conditional",
                                s.open.line,
                                show(&name)
                            ));
                        }
                        if i + 1 != nodes.len() {
                            return Err(format!(
                                "line {}: unclosed <{}> is followed by siblings",
                                s.open.line,
                                show(&name)
                            ));
                        }
                    }
                }
                let open_cond = in_open_conditional || (conditional && s.close.is_none());
                check_nodes(&s.children, is_in(&name, OPAQUE), open_cond)?;
            }
        }
    }
    Ok(())
}

fn first_difference(want: &[u8], got: &[u8]) -> String {
    let i = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let ctx = |b: &[u8]| show(&b[i.saturating_sub(20)..(i + 20).min(b.len())]);
    format!(
        "round trip differs at byte {i} (input {} bytes, output {}): input {:?} output {:?}",
        want.len(),
        got.len(),
        ctx(want),
        ctx(got)
    )
}

/// Every `\n` not already preceded by `\r` becomes `\r\n`.
pub fn to_crlf(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 16);
    for (i, &b) in input.iter().enumerate() {
        if b == b'\n' && (i == 0 || input[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// A compact outline of the tree for asserting structure: one entry per
/// line, indented two spaces per nesting level, `kind name [args]`.
pub fn outline(tree: &SyntaxTree) -> Vec<String> {
    let mut out = Vec::new();
    outline_nodes(&tree.nodes, 0, &mut out);
    out
}

fn outline_line(l: &Line, depth: usize) -> String {
    let pad = "  ".repeat(depth);
    match l.kind {
        LineKind::Blank => format!("{pad}blank"),
        LineKind::Comment => format!("{pad}comment"),
        LineKind::Directive => format!("{pad}{} {:?}", show(&l.name()), args(l)),
        LineKind::Open => format!("{pad}<{} {:?}>", show(&l.name()), args(l)),
        LineKind::Close => format!("{pad}</{}>", show(&l.name())),
    }
}

fn args(l: &Line) -> Vec<String> {
    l.args().iter().map(|a| show(a)).collect()
}

fn outline_nodes(nodes: &[Node], depth: usize, out: &mut Vec<String>) {
    for n in nodes {
        match n {
            Node::Line(l) => out.push(outline_line(l, depth)),
            Node::Section(s) => {
                out.push(outline_line(&s.open, depth));
                outline_nodes(&s.children, depth + 1, out);
                match &s.close {
                    Some(c) => out.push(outline_line(c, depth)),
                    None => out.push(format!("{}(unclosed)", "  ".repeat(depth))),
                }
            }
        }
    }
}
