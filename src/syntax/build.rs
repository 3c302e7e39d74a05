//! Builds the syntax tree from the grammar's flat list of logical lines.
//!
//! Nesting is done here with an explicit stack rather than in the grammar:
//! pest recursion would overflow the stack on deeply nested input, and the
//! error messages must read like httpd's.

use super::grammar::{HttpdGrammar, Rule};
use super::logical;
use super::tree::{self, classify, Line, LineKind, Node, Section, SyntaxTree};
use super::SyntaxError;
use pest::Parser;
use std::borrow::Cow;
use std::sync::Arc;

/// Deeper nesting than this is refused. Real configs nest a handful of
/// levels; the cap keeps every recursive walk over the tree (printing,
/// analysis, drop) far from the stack's limit.
pub const MAX_DEPTH: usize = 256;

/// Sections httpd evaluates while reading (EXEC_ON_READ) instead of building
/// into the tree: their closer must be the whole line, and one left open at
/// the end of a file is accepted (apache-syntax.md §5b).
const CONDITIONAL: &[&str] = &[
    "IfModule",
    "IfDefine",
    "IfFile",
    "IfDirective",
    "IfSection",
    "IfVersion",
];

/// Sections whose bodies are captured as raw text by their module (mod_macro,
/// mod_perl) and not parsed as configuration until later, if ever: inside
/// them only nested openers of the same name count.
const OPAQUE: &[&str] = &["Macro", "Perl"];

fn is_one_of(name: &[u8], set: &[&str]) -> bool {
    set.iter().any(|s| name.eq_ignore_ascii_case(s.as_bytes()))
}

pub fn parse(input: &[u8]) -> Result<SyntaxTree, SyntaxError> {
    parse_in_chunks(input, CHUNK)
}

/// [`parse`] of text that starts at line `first_line` of its file (a
/// `<Macro>` body): lines are numbered as the file numbers them.
pub fn parse_from_line(input: &[u8], first_line: u32) -> Result<SyntaxTree, SyntaxError> {
    parse_buffer(Arc::new(input.to_vec()), CHUNK, first_line)
}

/// [`parse`] of a buffer the caller shares: the tree's lines are ranges of
/// `input` itself, so the file is held once however many hold it.
pub fn parse_shared(input: tree::SharedBytes) -> Result<SyntaxTree, SyntaxError> {
    parse_buffer(input, CHUNK, 1)
}

/// [`parse`], with the grammar run on pieces of about `chunk` bytes (cut at
/// line ends). Public so that tests can check small pieces against one
/// piece for the whole input.
#[doc(hidden)]
pub fn parse_in_chunks(input: &[u8], chunk: usize) -> Result<SyntaxTree, SyntaxError> {
    parse_buffer(Arc::new(input.to_vec()), chunk, 1)
}

fn parse_buffer(
    input: tree::SharedBytes,
    chunk: usize,
    first_line: u32,
) -> Result<SyntaxTree, SyntaxError> {
    if u32::try_from(input.len()).is_err() {
        return Err(SyntaxError::new(
            1,
            1,
            "file of 4 GiB or more; wsgifix refuses such input".to_string(),
        ));
    }
    split_lines(&input, chunk, first_line)?.finish()
}

/// How much input one run of the grammar reads: pest queues two tokens per
/// pair for the whole text it parses, so a 30 MB file parsed at once needed
/// several times its size just for them.
const CHUNK: usize = 1 << 20;

/// Where the chunk starting at `from` should end: after the first line end
/// past `from + CHUNK` that no grammar rule can read through. Every line rule
/// ends at the first `\n` that is not part of a `\`-newline continuation,
/// and starts fresh at a line start, so parsing the chunks one after another
/// gives exactly the pairs of one parse of the whole input. (A line with NUL
/// may end earlier than this test sees; then the cut is just later.)
fn chunk_end(input: &[u8], from: usize, chunk: usize) -> usize {
    let mut i = from.saturating_add(chunk);
    while i < input.len() {
        match input[i..].iter().position(|&b| b == b'\n') {
            None => break,
            Some(k) => {
                let nl = i + k;
                let before = &input[..nl];
                let continued = before.ends_with(b"\\") || before.ends_with(b"\\\r");
                if !continued {
                    return nl + 1;
                }
                i = nl + 1;
            }
        }
    }
    input.len()
}

/// Runs the grammar and nests its logical lines as they come, each a range of
/// one shared copy of the input.
fn split_lines(
    shared: &tree::SharedBytes,
    chunk: usize,
    first_line: u32,
) -> Result<Nester, SyntaxError> {
    let input: &[u8] = shared;
    // pest reads `&str`. A file that is not UTF-8 is read as Latin-1
    // instead (one char per byte, every byte >= 0x80 an ordinary non-space
    // char, which is all httpd makes of it), and each line is mapped back to
    // its bytes. UTF-8 is validated once, and each chunk is a slice of it
    // (chunks end after a `\n`, always a char boundary).
    let utf8 = std::str::from_utf8(input).ok();
    let mut splitter = Splitter {
        input,
        is_latin1: utf8.is_none(),
        buf: Arc::clone(shared),
        nest: Nester::default(),
        line_no: first_line,
        at: 0,
        pending: None,
    };
    let mut chunk_start = 0;
    loop {
        let chunk_stop = chunk_end(input, chunk_start, chunk);
        let bytes = &input[chunk_start..chunk_stop];
        let latin1: String;
        let text = match utf8 {
            Some(whole) => &whole[chunk_start..chunk_stop],
            None => {
                latin1 = bytes.iter().map(|&b| b as char).collect();
                latin1.as_str()
            }
        };
        let chunk_first_line = splitter.line_no;
        let pairs = HttpdGrammar::parse(Rule::file, text).map_err(|e| {
            // The grammar accepts every input; reaching this is a bug, reported
            // as an error rather than a panic.
            let (line, column) = match e.line_col {
                pest::error::LineColLocation::Pos(p) => p,
                pest::error::LineColLocation::Span(p, _) => p,
            };
            SyntaxError::new(
                chunk_first_line + line as u32 - 1,
                column as u32,
                format!("unparsable input: {e}"),
            )
        })?;
        let file = pairs
            .into_iter()
            .next()
            .expect("file rule always yields one pair");
        splitter.feed(file.into_inner());
        if chunk_stop == input.len() {
            break;
        }
        chunk_start = chunk_stop;
    }
    Ok(splitter.finish())
}

/// Turns the grammar's pairs into lines, one chunk after another: the line
/// number, the position and a line still going on carry over.
struct Splitter<'a> {
    input: &'a [u8],
    is_latin1: bool,
    /// The one shared copy of the input every line is a range of.
    buf: tree::SharedBytes,
    /// Where each finished line goes.
    nest: Nester,
    line_no: u32,
    /// Where the next pair starts in `input`: pairs cover the input in order.
    at: usize,
    /// The last line while httpd's reader says it goes on: the grammar's next
    /// lines belong to it. Kept apart, with the reader's state, so that a long
    /// chain of such lines is joined in linear time: (start, first line, reader).
    pending: Option<(usize, u32, logical::Joiner)>,
}

impl Splitter<'_> {
    fn feed(&mut self, pairs: pest::iterators::Pairs<Rule>) {
        for pair in pairs {
            let rule = pair.as_rule();
            let kind = match rule {
                Rule::blank | Rule::blank_any => LineKind::Blank,
                Rule::comment | Rule::comment_any => LineKind::Comment,
                Rule::directive | Rule::directive_any => LineKind::Directive,
                Rule::open | Rule::open_any => LineKind::Open,
                Rule::close | Rule::close_any => LineKind::Close,
                Rule::EOI => continue,
                Rule::file => unreachable!("file is never nested"),
            };
            let span = pair.as_span();
            let start = self.at;
            self.at = if self.is_latin1 {
                start + span.as_str().chars().count()
            } else {
                start + span.end() - span.start()
            };
            let at = self.at;
            let raw = &self.input[start..at];
            let first = self.line_no;
            // Only a continuation puts a newline anywhere but at the end.
            let has_backslash = memchr::memchr(b'\\', raw).is_some();
            self.line_no += if has_backslash {
                memchr::memchr_iter(b'\n', raw).count() as u32
            } else {
                u32::from(raw.last() == Some(&b'\n'))
            };
            if let Some((_, _, joiner)) = self.pending.as_mut() {
                if !joiner.feed(raw) {
                    let (from, first, joiner) = self.pending.take().expect("pending line");
                    let line = shared(classify(joiner.text()), &self.buf, from, at, first);
                    self.nest.push(line);
                }
                continue;
            }
            // The grammar decides the kind by the line's first bytes; httpd
            // decides on the joined line's first word. A continuation can join
            // bytes into a different start (`<\`-newline `/Directory>` is a
            // closer), and the grammar sees a quoted first word as a directive
            // while httpd strips the quotes (`"<Directory" /tmp>`).
            let kind = match kind {
                _ if has_backslash => kind_of_continued(raw),
                // The grammar's first tier takes only directives that start with
                // a letter; a quote can come first only in the full reading.
                LineKind::Directive if rule == Rule::directive_any => {
                    let text = logical::join(raw).text;
                    if matches!(text.first(), Some(b'"' | b'\'')) {
                        classify(&text)
                    } else {
                        kind
                    }
                }
                _ => kind,
            };
            // Only a line that holds a continuation and ends in a blank physical
            // line can continue further than the grammar saw.
            if has_backslash && may_continue(raw) {
                let mut joiner = logical::Joiner::default();
                if joiner.feed(raw) {
                    self.pending = Some((start, first, joiner));
                    continue;
                }
            }
            let line = shared(kind, &self.buf, start, at, first);
            self.nest.push(line);
        }
    }

    fn finish(mut self) -> Nester {
        if let Some((from, first, joiner)) = self.pending.take() {
            let line = shared(classify(joiner.text()), &self.buf, from, self.at, first);
            self.nest.push(line);
        }
        debug_assert_eq!(
            self.at,
            self.input.len(),
            "the grammar's pairs cover the input"
        );
        self.nest
    }
}

fn shared(kind: LineKind, buf: &tree::SharedBytes, start: usize, end: usize, line: u32) -> Line {
    // parse() refused inputs whose offsets do not fit.
    Line::shared(kind, buf, start as u32, end as u32, line)
}

/// The kind httpd gives a line that holds a backslash: that of its joined
/// line. Joining only removes `\`-newlines and cuts at NUL, so when neither
/// comes before the second byte of content (nor a quote first, which
/// `classify` reads as a whole word) the joined line starts with the same
/// two bytes, and they decide the kind, without building the joined line.
fn kind_of_continued(raw: &[u8]) -> LineKind {
    let head = raw
        .iter()
        .position(|&b| !logical::is_space(b))
        .and_then(|start| raw.get(start..start + 2));
    let kind = match head {
        Some(head) if !head.iter().any(|&b| matches!(b, b'\\' | 0 | b'"' | b'\'')) => {
            classify(head)
        }
        _ => classify(&logical::join(raw).text),
    };
    debug_assert_eq!(kind, classify(&logical::join(raw).text), "{raw:?}");
    kind
}

fn may_continue(raw: &[u8]) -> bool {
    (raw.ends_with(b"\n\n") || raw.ends_with(b"\n\r\n")) && raw.contains(&b'\\')
}

struct Open {
    line: Line,
    /// The section's name as written, read once.
    name: Vec<u8>,
    /// Where the section's children start in [`Nester::nodes`].
    first_child: usize,
    conditional: bool,
    /// For an opaque section, how many nested openers of its name are open.
    opaque_depth: Option<usize>,
}

/// How many children make a section big enough that its children are
/// never copied out of the node buffer ([`Nester::close_top`]): 768 KiB of
/// nodes.
const BIG_SECTION: usize = 1 << 15;

/// Nests lines into sections as the grammar hands them over, so that a
/// file's lines are never held twice (as a list and as the tree). The first
/// error stops it; later lines are ignored.
#[derive(Default)]
struct Nester {
    /// The nodes read so far of the file and of every open section, each
    /// open section's after its parent's: a closing section's children are
    /// the tail, moved out into a vector of their exact size. Growing one
    /// buffer for all costs far less than growing each section's by doubling
    /// and shrinking it at its end.
    nodes: Vec<Node>,
    stack: Vec<Open>,
    error: Option<SyntaxError>,
}

impl Nester {
    fn push(&mut self, line: Line) {
        if self.error.is_none() {
            if let Err(e) = self.take(line) {
                self.error = Some(e);
            }
        }
    }

    fn take(&mut self, line: Line) -> Result<(), SyntaxError> {
        // Inside <Macro>/<Perl>, lines are text until the matching closer.
        if let Some(top) = self.stack.last_mut() {
            if let Some(depth) = top.opaque_depth.as_mut() {
                let section = &top.name;
                let first = first_word(&line);
                let opens_same =
                    line.kind == LineKind::Open && line.name().eq_ignore_ascii_case(section);
                let closes_same = line.kind == LineKind::Close
                    && first.len() == section.len() + 3
                    && first.ends_with(b">")
                    && first[2..first.len() - 1].eq_ignore_ascii_case(section);
                if opens_same {
                    *depth += 1;
                } else if closes_same {
                    if *depth == 0 {
                        self.close_top(Some(line));
                        return Ok(());
                    }
                    *depth -= 1;
                }
                self.nodes.push(Node::Line(line));
                return Ok(());
            }
        }

        match line.kind {
            LineKind::Blank | LineKind::Comment | LineKind::Directive => {
                self.nodes.push(Node::Line(line));
            }
            LineKind::Open => {
                let text = line.logical();
                let (first, rest) = logical::split_name(&text);
                let name = tree::name_from_first_word(LineKind::Open, first.into_owned());
                // Positions and messages are only worked out for errors.
                let error = |what: String| {
                    let (line_no, col) = line.content_position();
                    let shown = String::from_utf8_lossy(&name);
                    SyntaxError::new(line_no, col, what.replace("{name}", &shown))
                };
                // httpd hands the handler the rest of the line after the
                // first word (or just `>` when there is none) and cuts it at
                // its last `>`: `<Else> # c` lacks one, a bare `<Else` does not.
                if !rest.is_empty() && !rest.contains(&b'>') {
                    return Err(error("<{name}> directive missing closing '>'".to_string()));
                }
                if self.stack.len() >= MAX_DEPTH {
                    return Err(error(format!(
                        "<{{name}}> nests sections more than {MAX_DEPTH} levels deep; wsgifix refuses such input"
                    )));
                }
                let conditional = is_one_of(&name, CONDITIONAL);
                let opaque = is_one_of(&name, OPAQUE);
                drop(text);
                self.stack.push(Open {
                    line,
                    name,
                    first_child: self.nodes.len(),
                    conditional,
                    opaque_depth: opaque.then_some(0),
                });
            }
            LineKind::Close => {
                if self
                    .stack
                    .last()
                    .is_some_and(|top| closes_exactly(&line, &top.name))
                {
                    self.close_top(Some(line));
                    return Ok(());
                }
                let first = first_word(&line);
                let position = || line.content_position();
                // httpd prints the closer's first word as it is, `>` or not.
                let word = || String::from_utf8_lossy(&first).into_owned();
                let orphan = || {
                    let (line_no, col) = position();
                    let word = word();
                    SyntaxError::new(
                        line_no,
                        col,
                        format!(
                            "{word} without matching <{} section",
                            word.get(2..).unwrap_or("")
                        ),
                    )
                };
                let top = match self.stack.last() {
                    None => return Err(orphan()),
                    // httpd builds the body of a read-time section as a tree
                    // of its own, ended only by a line that is exactly the
                    // section's closer; any other closer there, with no
                    // section open inside the body, matches nothing.
                    Some(top) if top.conditional => {
                        let text = line.logical();
                        let exact = text.len() == top.name.len() + 3
                            && text.starts_with(b"</")
                            && text.ends_with(b">")
                            && text[2..text.len() - 1].eq_ignore_ascii_case(&top.name);
                        if !exact {
                            return Err(orphan());
                        }
                        top
                    }
                    Some(top) => top,
                };
                if !first.ends_with(b">") {
                    let (line_no, col) = position();
                    return Err(SyntaxError::new(
                        line_no,
                        col,
                        format!("{}> directive missing closing '>'", word()),
                    ));
                }
                if !top.name.eq_ignore_ascii_case(&first[2..first.len() - 1]) {
                    let (line_no, col) = position();
                    let open_shown = String::from_utf8_lossy(&top.name);
                    return Err(SyntaxError::new(
                        line_no,
                        col,
                        format!("Expected </{open_shown}> but saw {}", word()),
                    ));
                }
                self.close_top(Some(line));
            }
        }
        Ok(())
    }

    /// Ends the innermost open section: its children move out of the shared
    /// buffer, and the section takes their place as a node of its parent.
    fn close_top(&mut self, close: Option<Line>) {
        let open = self.stack.pop().expect("a section is open");
        let count = self.nodes.len() - open.first_child;
        let children: Vec<Node> = if count >= BIG_SECTION && open.first_child <= count {
            // A section holding most of the buffer (the vhost around a
            // 600 000-line redirect map) takes the buffer itself, and what
            // precedes it moves instead: copying the children out would
            // hold them twice at the peak.
            let mut children = std::mem::take(&mut self.nodes);
            self.nodes = children.drain(..open.first_child).collect();
            children.shrink_to_fit();
            children
        } else {
            self.nodes.drain(open.first_child..).collect()
        };
        self.nodes.push(Node::Section(Arc::new(Section {
            open: open.line,
            children,
            close,
        })));
    }

    fn finish(mut self) -> Result<SyntaxTree, SyntaxError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        // End of file. httpd accepts a read-time conditional left open (and
        // whatever is open inside it); a tree section open outside one is an
        // error, reported for the innermost such section.
        let outermost_conditional = self.stack.iter().position(|o| o.conditional);
        let checked = &self.stack[..outermost_conditional.unwrap_or(self.stack.len())];
        // mod_macro reads a <Macro> body itself and fails at its end wherever it
        // is; an open opaque section is always the innermost one.
        let opaque = self.stack.last().filter(|o| o.opaque_depth.is_some());
        if let Some(unclosed) = opaque.or(checked.last()) {
            let (line_no, col) = unclosed.line.content_position();
            let name = String::from_utf8_lossy(&unclosed.name).into_owned();
            let message = if unclosed.opaque_depth.is_some() {
                format!("<{name}> was not closed (expected token not found: </{name}>)")
            } else {
                format!("<{name}> was not closed.")
            };
            return Err(SyntaxError::new(line_no, col, message));
        }
        while !self.stack.is_empty() {
            self.close_top(None);
        }
        // A tree lives as long as its run, so spare capacity would too.
        self.nodes.shrink_to_fit();
        Ok(SyntaxTree { nodes: self.nodes })
    }
}

/// Whether `line` is exactly `</name>`, the closer nearly every section has:
/// then its first word is the whole line and it closes a section of that
/// name in every context, so the closer's checks below all pass.
fn closes_exactly(line: &Line, name: &[u8]) -> bool {
    let text = line.logical();
    let plain = |b: &u8| !logical::is_space(*b) && !matches!(b, b'\\' | b'"' | b'\'');
    text.len() == name.len() + 3
        && text.starts_with(b"</")
        && text.ends_with(b">")
        && text[2..text.len() - 1].eq_ignore_ascii_case(name)
        && name.iter().all(plain)
}

/// A line's first word as httpd reads it, borrowed from the line when it is
/// written plainly (the closers real configs are made of).
fn first_word(line: &Line) -> Cow<'_, [u8]> {
    let text = line.logical();
    if let Cow::Borrowed(text) = text {
        if let Some((word, _)) = logical::plain_word(text) {
            return Cow::Borrowed(word);
        }
    }
    let mut pos = 0;
    Cow::Owned(logical::next_word(&text, &mut pos).unwrap_or_default())
}
