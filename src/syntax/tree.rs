//! The owned, editable concrete syntax tree.
//!
//! A file is a list of nodes; a node is one logical line (blank, comment,
//! directive) or a section (its opening line, its children, its closing line).
//! Every line keeps its exact raw bytes, continuations and line ending
//! included, so printing the tree gives the input back byte for byte; an edit
//! replaces or inserts whole lines and leaves every other byte alone.

use super::logical::{self, is_space};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

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

/// The buffer a parse's lines are ranges of, behind a thin pointer: a line
/// is then 24 bytes instead of 32, and a tree is one line per line of the
/// file (600 000 for a 30 MB redirect map), held twice while a fix is
/// verified.
///
/// A `Vec` behind it, not a slice, so that bytes printed or read into a `Vec`
/// are shared without a copy, and handed back without one
/// (`Arc::try_unwrap`) once nothing else holds them.
pub type SharedBytes = Arc<Vec<u8>>;

/// A line's bytes: a range of the buffer the file was parsed from, shared by
/// every line of that parse, or a buffer of its own once an edit set it. So a
/// parse makes no allocation per line, and cloning a tree (the fix loop does)
/// copies no text.
#[derive(Clone)]
struct Text {
    buf: SharedBytes,
    start: u32,
    end: u32,
}

impl Text {
    fn owned(raw: Vec<u8>) -> Text {
        let end = u32::try_from(raw.len()).expect("a line under 4 GiB");
        Text {
            buf: Arc::new(raw),
            start: 0,
            end,
        }
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        &self.buf[self.start as usize..self.end as usize]
    }
}

#[derive(Clone)]
pub struct Line {
    pub kind: LineKind,
    text: Text,
    /// 1-based physical line where this logical line starts in the file it was
    /// parsed from; 0 for a line that an edit inserted.
    pub line: u32,
}

impl PartialEq for Line {
    fn eq(&self, other: &Line) -> bool {
        self.kind == other.kind && self.line == other.line && self.raw() == other.raw()
    }
}

impl Eq for Line {}

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Line")
            .field("kind", &self.kind)
            .field("raw", &String::from_utf8_lossy(self.raw()))
            .field("line", &self.line)
            .finish()
    }
}

impl Line {
    pub fn new(kind: LineKind, raw: Vec<u8>, line: u32) -> Line {
        Line {
            kind,
            text: Text::owned(raw),
            line,
        }
    }

    /// A line whose bytes are `buf[start..end]` (the parser's lines).
    pub(crate) fn shared(
        kind: LineKind,
        buf: &SharedBytes,
        start: u32,
        end: u32,
        line: u32,
    ) -> Line {
        Line {
            kind,
            text: Text {
                buf: Arc::clone(buf),
                start,
                end,
            },
            line,
        }
    }

    /// Builds an inserted line from its text; the kind is read from the text
    /// the same way the parser would.
    pub fn inserted(raw: Vec<u8>) -> Line {
        let kind = classify(&logical::join(&raw).text);
        Line::new(kind, raw, 0)
    }

    /// The exact bytes of the line, line ending included.
    #[inline]
    pub fn raw(&self) -> &[u8] {
        self.text.bytes()
    }

    pub fn set_raw(&mut self, raw: Vec<u8>) {
        self.text = Text::owned(raw);
    }

    /// When this line's bytes directly follow `prev`'s in the same buffer.
    fn follows(&self, prev: &Text) -> bool {
        self.text.start == prev.end && Arc::ptr_eq(&self.text.buf, &prev.buf)
    }

    /// The logical line httpd sees: continuations joined, cut at NUL, trimmed.
    pub fn logical(&self) -> Cow<'_, [u8]> {
        logical::join(self.raw()).text
    }

    /// How many physical lines (newlines) the raw text spans.
    pub fn newline_count(&self) -> u32 {
        self.raw().iter().filter(|&&b| b == b'\n').count() as u32
    }

    /// The line ending this line uses (`\r\n`, `\n`, or empty at end of file).
    pub fn eol(&self) -> &[u8] {
        let raw = self.raw();
        if raw.ends_with(b"\r\n") {
            b"\r\n"
        } else if raw.ends_with(b"\n") {
            b"\n"
        } else {
            b""
        }
    }

    /// The whitespace before the first byte of content, when it is all on the
    /// line's first physical line (the usual case).
    pub fn indent(&self) -> &[u8] {
        let raw = self.raw();
        let n = raw.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        &raw[..n]
    }

    /// Physical line and 1-based byte column of the first byte of content.
    pub fn content_position(&self) -> (u32, u32) {
        let mut line = self.line;
        let mut col = 1u32;
        let raw = self.raw();
        let mut i = 0;
        while i < raw.len() {
            let b = raw[i];
            if b == b'\\' && raw[i + 1..].starts_with(b"\n") {
                line += 1;
                col = 1;
                i += 2;
            } else if b == b'\\' && raw[i + 1..].starts_with(b"\r\n") {
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
        if let Some(name) = self.plain_name() {
            return name.to_vec();
        }
        let text = self.logical();
        section_or_directive_name(self.kind, &text)
    }

    /// [`Line::name`], borrowed when written plainly: for asking one line
    /// several names.
    pub fn name_ref(&self) -> Cow<'_, [u8]> {
        match self.plain_name() {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(self.name()),
        }
    }

    pub fn name_is(&self, wanted: &str) -> bool {
        self.name_ref().eq_ignore_ascii_case(wanted.as_bytes())
    }

    /// The name borrowed from the raw line, when joining the line could not
    /// change it (nearly always): the fixer asks many lines their name.
    fn plain_name(&self) -> Option<&[u8]> {
        let word = logical::raw_name(self.raw())?;
        let (start, end) = name_in_word(self.kind, word);
        Some(&word[start..end])
    }

    /// Directive arguments, tokenized as `ap_getword_conf` does. For a section
    /// opener, the words between the name and the last `>`.
    pub fn args(&self) -> Vec<Vec<u8>> {
        self.name_and_args().1
    }

    /// [`Line::name`] and [`Line::args`] from one reading of the line.
    pub fn name_and_args(&self) -> (Vec<u8>, Vec<Vec<u8>>) {
        let text = self.logical();
        let (first, rest) = logical::split_name(&text);
        let rest = match self.kind {
            LineKind::Open => {
                let cut = rest.iter().rposition(|&b| b == b'>').unwrap_or(rest.len());
                &rest[..cut]
            }
            _ => rest,
        };
        let args = logical::words(rest);
        (name_from_first_word(self.kind, first.into_owned()), args)
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
        [b'"' | b'\'', ..] => match &*logical::split_name(logical).0 {
            [b'<', b'/', ..] => LineKind::Close,
            [b'<', ..] => LineKind::Open,
            _ => LineKind::Directive,
        },
        _ => LineKind::Directive,
    }
}

pub(crate) fn section_or_directive_name(kind: LineKind, text: &[u8]) -> Vec<u8> {
    name_from_first_word(kind, logical::split_name(text).0.into_owned())
}

/// The name in a line's first word: for a section line without `<`, `</`
/// and a final `>`.
pub(crate) fn name_from_first_word(kind: LineKind, mut first: Vec<u8>) -> Vec<u8> {
    let (start, end) = name_in_word(kind, &first);
    // In place: the word is the name's only allocation.
    first.truncate(end);
    first.drain(..start);
    first
}

/// Where the name lies in a line's first word, as a range.
fn name_in_word(kind: LineKind, word: &[u8]) -> (usize, usize) {
    let prefix = match kind {
        LineKind::Open => 1,
        LineKind::Close => 2,
        _ => return (0, word.len()),
    };
    let start = prefix.min(word.len());
    let end = if word.len() > start && word.last() == Some(&b'>') {
        word.len() - 1
    } else {
        word.len()
    };
    (start, end)
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

    pub fn name_and_args(&self) -> (Vec<u8>, Vec<Vec<u8>>) {
        self.open.name_and_args()
    }
}

/// A section is behind a pointer so that a node is no bigger than a line:
/// most nodes are lines, and a tree is one node per line (a 10 MB redirect
/// map is 200 000 of them). The pointer is shared: each candidate fix is
/// applied to a copy of the tree, and a copy shares every section the edit
/// does not enter (`Arc::make_mut` copies only the sections on the edited
/// path), so a fix to one vhost of thousands copies that vhost, not the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Line(Line),
    Section(Arc<Section>),
}

impl Node {
    pub fn first_line(&self) -> &Line {
        match self {
            Node::Line(l) => l,
            Node::Section(s) => &s.open,
        }
    }
}

/// The runs' bytes, copied once each into an output of the exact size.
fn concat(runs: &[Text]) -> Vec<u8> {
    let mut out = Vec::with_capacity(runs.iter().map(|r| r.bytes().len()).sum());
    for run in runs {
        out.extend_from_slice(run.bytes());
    }
    out
}

/// A parsed file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyntaxTree {
    pub nodes: Vec<Node>,
}

impl SyntaxTree {
    /// Prints the tree: for an unedited tree, exactly the parsed bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        concat(&self.runs())
    }

    /// The tree's print, shared: an unedited tree (its lines one run over the
    /// whole buffer it was parsed from) gives that very buffer back, with no
    /// copy; any other tree a new buffer.
    pub fn print(&self) -> SharedBytes {
        match self.runs().as_slice() {
            [whole] if whole.start == 0 && whole.end as usize == whole.buf.len() => {
                Arc::clone(&whole.buf)
            }
            runs => Arc::new(concat(runs)),
        }
    }

    /// The runs of lines that lie next to each other in one buffer, in
    /// order: an unedited file is a single run, and each edit adds a few.
    fn runs(&self) -> Vec<Text> {
        let mut runs: Vec<Text> = Vec::new();
        visit_lines(&self.nodes, &mut |l| match runs.last_mut() {
            Some(run) if l.follows(run) => run.end = l.text.end,
            _ => runs.push(l.text.clone()),
        });
        runs
    }

    /// Does the tree print exactly `expected`? Compared line by line, with
    /// no copy of the print.
    pub fn prints(&self, expected: &[u8]) -> bool {
        let mut at = 0usize;
        let mut same = true;
        visit_lines(&self.nodes, &mut |l| {
            let raw = l.raw();
            same = same && expected.get(at..at + raw.len()) == Some(raw);
            at += raw.len();
        });
        same && at == expected.len()
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

// The point of the pointer to a section: a node costs what a line costs.
const _: () = assert!(std::mem::size_of::<Node>() == std::mem::size_of::<Line>());
const _: () = assert!(std::mem::size_of::<Line>() == 24);
