//! The owned, editable concrete syntax tree.
//!
//! A file is a list of nodes; a node is one logical line (blank, comment,
//! directive) or a section (its opening line, its children, its closing line).
//! Every line keeps its exact raw bytes, continuations and line ending
//! included, so printing the tree gives the input back byte for byte; an edit
//! replaces or inserts whole lines and leaves every other byte alone.

use super::logical::{self, is_space};
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Blank,
    Comment,
    Directive,
    /// `<Name ...>`
    Open,
    /// `</Name>`
    Close,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: LineKind,
    raw: Vec<u8>,
    /// 1-based physical line where this logical line starts in the file it was
    /// parsed from; 0 for a line that an edit inserted.
    pub line: u32,
}

impl Line {
    pub fn new(kind: LineKind, raw: Vec<u8>, line: u32) -> Line {
        Line { kind, raw, line }
    }

    /// Builds an inserted line from its text; the kind is read from the text
    /// the same way the parser would.
    pub fn inserted(raw: Vec<u8>) -> Line {
        let kind = classify(&logical::join(&raw).text);
        Line { kind, raw, line: 0 }
    }

    /// The exact bytes of the line, line ending included.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    pub fn set_raw(&mut self, raw: Vec<u8>) {
        self.raw = raw;
    }

    /// The logical line httpd sees: continuations joined, cut at NUL, trimmed.
    pub fn logical(&self) -> Cow<'_, [u8]> {
        logical::join(&self.raw).text
    }

    /// How many physical lines (newlines) the raw text spans.
    pub fn newline_count(&self) -> u32 {
        self.raw.iter().filter(|&&b| b == b'\n').count() as u32
    }

    /// The line ending this line uses (`\r\n`, `\n`, or empty at end of file).
    pub fn eol(&self) -> &[u8] {
        if self.raw.ends_with(b"\r\n") {
            b"\r\n"
        } else if self.raw.ends_with(b"\n") {
            b"\n"
        } else {
            b""
        }
    }

    /// The whitespace before the first byte of content, when it is all on the
    /// line's first physical line (the usual case).
    pub fn indent(&self) -> &[u8] {
        let n = self
            .raw
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        &self.raw[..n]
    }

    /// Physical line and 1-based byte column of the first byte of content.
    pub fn content_position(&self) -> (u32, u32) {
        let mut line = self.line;
        let mut col = 1u32;
        let mut i = 0;
        while i < self.raw.len() {
            let b = self.raw[i];
            if b == b'\\' && self.raw[i + 1..].starts_with(b"\n") {
                line += 1;
                col = 1;
                i += 2;
            } else if b == b'\\' && self.raw[i + 1..].starts_with(b"\r\n") {
                line += 1;
                col = 1;
                i += 3;
            } else if is_space(b) && b != b'\n' {
                col += 1;
                i += 1;
            } else {
                break;
            }
        }
        (line, col)
    }

    /// For a directive: its name as written (first word) and the raw rest.
    /// For a section line: the section name without `<`, `</` or `>`.
    pub fn name(&self) -> Vec<u8> {
        let text = self.logical();
        section_or_directive_name(self.kind, &text)
    }

    pub fn name_is(&self, wanted: &str) -> bool {
        self.name().eq_ignore_ascii_case(wanted.as_bytes())
    }

    /// Directive arguments, tokenized as `ap_getword_conf` does. For a section
    /// opener, the words between the name and the last `>`.
    pub fn args(&self) -> Vec<Vec<u8>> {
        let text = self.logical();
        match self.kind {
            LineKind::Open => {
                let (_, rest) = logical::split_name(&text);
                let cut = rest.iter().rposition(|&b| b == b'>').unwrap_or(rest.len());
                let inner = &rest[..cut];
                logical::words(inner)
            }
            _ => {
                let (_, rest) = logical::split_name(&text);
                logical::words(rest)
            }
        }
    }
}

/// The kind of a logical (joined, trimmed) line, decided as the grammar
/// decides it.
pub fn classify(logical: &[u8]) -> LineKind {
    match logical {
        [] => LineKind::Blank,
        [b'#', ..] => LineKind::Comment,
        [b'<', b'/', ..] => LineKind::Close,
        [b'<', ..] => LineKind::Open,
        // httpd reads the name with ap_getword_conf, so `"<Directory" /tmp>`
        // opens a section and `"</Directory>"` closes one.
        [b'"' | b'\'', ..] => match logical::split_name(logical).0.as_slice() {
            [b'<', b'/', ..] => LineKind::Close,
            [b'<', ..] => LineKind::Open,
            _ => LineKind::Directive,
        },
        _ => LineKind::Directive,
    }
}

pub(crate) fn section_or_directive_name(kind: LineKind, text: &[u8]) -> Vec<u8> {
    let (first, _) = logical::split_name(text);
    match kind {
        LineKind::Open => {
            let mut n = &first[1.min(first.len())..];
            if let [rest @ .., b'>'] = n {
                n = rest;
            }
            n.to_vec()
        }
        LineKind::Close => {
            let mut n = &first[2.min(first.len())..];
            if let [rest @ .., b'>'] = n {
                n = rest;
            }
            n.to_vec()
        }
        _ => first,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub open: Line,
    pub children: Vec<Node>,
    /// `None` only for a read-time conditional section (`<IfModule>` ...)
    /// left open at end of file, which httpd accepts.
    pub close: Option<Line>,
}

impl Section {
    pub fn name(&self) -> Vec<u8> {
        self.open.name()
    }

    pub fn name_is(&self, wanted: &str) -> bool {
        self.open.name_is(wanted)
    }

    pub fn args(&self) -> Vec<Vec<u8>> {
        self.open.args()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Line(Line),
    Section(Section),
}

impl Node {
    pub fn first_line(&self) -> &Line {
        match self {
            Node::Line(l) => l,
            Node::Section(s) => &s.open,
        }
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Node::Line(l) => out.extend_from_slice(l.raw()),
            Node::Section(s) => {
                out.extend_from_slice(s.open.raw());
                for c in &s.children {
                    c.write_to(out);
                }
                if let Some(c) = &s.close {
                    out.extend_from_slice(c.raw());
                }
            }
        }
    }
}

/// A parsed file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyntaxTree {
    pub nodes: Vec<Node>,
}

impl SyntaxTree {
    /// Prints the tree: for an unedited tree, exactly the parsed bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for n in &self.nodes {
            n.write_to(&mut out);
        }
        out
    }

    /// The line ending most lines use; `\n` when there is none.
    pub fn dominant_eol(&self) -> &'static [u8] {
        let (mut crlf, mut lf) = (0usize, 0usize);
        visit_lines(&self.nodes, &mut |l| match l.eol() {
            b"\r\n" => crlf += 1,
            b"\n" => lf += 1,
            _ => {}
        });
        if crlf > lf {
            b"\r\n"
        } else {
            b"\n"
        }
    }
}

/// Calls `f` on every line of `nodes`, in file order.
pub fn visit_lines<'a>(nodes: &'a [Node], f: &mut impl FnMut(&'a Line)) {
    for n in nodes {
        match n {
            Node::Line(l) => f(l),
            Node::Section(s) => {
                f(&s.open);
                visit_lines(&s.children, f);
                if let Some(c) = &s.close {
                    f(c);
                }
            }
        }
    }
}
