//! Property tests of the syntax tree: whatever the bytes, parsing never
//! panics, and a tree it returns prints the input back exactly and reads it
//! the way httpd's line reader does. Generated well-formed configs must parse
//! into the structure they were generated from.
//!
//! The case count stays modest for debug builds; raise it with
//! `PROPTEST_CASES=5000 cargo test --test proptest_roundtrip`.

mod syntax_support;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use syntax_support::check_tree;
use wsgifix::syntax::{parse, LineKind, Node, SyntaxTree};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn bytes(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(options).prop_map(bytes)
}

// ---------------------------------------------------------------------------
// Arbitrary input: fragments that matter to the reader, and raw bytes.

const FRAGMENTS: &[&str] = &[
    "\n",
    "\r\n",
    "\r",
    "\\\n",
    "\\\r\n",
    "\\",
    "\\\\",
    "\t",
    " ",
    "\x0b",
    "\x0c",
    "\0",
    "#",
    "<",
    "</",
    ">",
    "\"",
    "'",
    "<Directory /a>",
    "</Directory>",
    "<IfModule x>",
    "</IfModule>",
    "</ifmodule>",
    "<VirtualHost *:80>",
    "</VirtualHost>",
    "<Macro m $a>",
    "</Macro>",
    "<Perl>",
    "</Perl>",
    "<Else>",
    "<If \"%{X} > 5\">",
    "</If>",
    "Alias /a /b",
    "WSGIProcessGroup g",
    "# c",
    "\u{feff}",
    "é",
    "\u{a0}",
];

fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => pick(FRAGMENTS),
        2 => vec(any::<u8>(), 1..6),
        1 => vec(0x80u8..=0xff, 1..4),
        1 => "[a-zA-Z0-9 ]{1,8}".prop_map(|s| bytes(&s)),
    ]
}

fn arbitrary_input() -> impl Strategy<Value = Vec<u8>> {
    vec(fragment(), 0..40).prop_map(|v| v.concat())
}

/// A refused input must still be reported at a place inside it.
fn check_error_position(input: &[u8], line: u32, column: u32) -> Result<(), String> {
    let lines = input.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    if line == 0 || line > lines || column == 0 {
        return Err(format!(
            "error at {line}:{column} outside the input's {lines} lines"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Well-formed input: balanced sections, every logical line ends where it
// looks like it ends. Each generated piece carries the shape the parser must
// find: (depth, kind, lower-case name).

type Shape = Vec<(usize, char, String)>;

#[derive(Clone, Debug)]
struct Piece {
    bytes: Vec<u8>,
    shape: Shape,
}

fn indent() -> impl Strategy<Value = Vec<u8>> {
    vec(
        pick(&[" ", "  ", "\t", "\x0b", "\x0c", "\\\n", "\\\r\n"]),
        0..3,
    )
    .prop_map(|v| v.concat())
}

fn eol() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => Just(bytes("\n")),
        4 => Just(bytes("\r\n")),
        // Whitespace before the end, a CR that is not part of it, text that
        // a NUL hides (a continuation or a closer there must not count).
        3 => pick(&[" \n", "\t\r\n", "\r\r\n", "\0junk\\\n", "\0</Directory>\n", "\0\r\n"]),
    ]
}

fn sep() -> impl Strategy<Value = Vec<u8>> {
    pick(&[
        " ",
        " ",
        "\t",
        "  ",
        " \\\n ",
        "\\\n\t",
        "\r",
        "\x0b",
        " \\\r\n\t",
    ])
}

fn word() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[A-Za-z0-9/._:%{}$=*-]{1,8}".prop_map(|s| bytes(&s)),
        3 => pick(&[
            "\"quoted > # text\"",
            "'it\\'s'",
            "\"a\\\"b\"",
            "\"\"",
            "ab\\\ncd",
            "ab\\\r\ncd",
            "\"con\\\n  tinued\"",
            "#x",
            "a\\\\b",
            "<x>",
            "a\"b",
            "display-name='%{GROUP}'",
            "\u{a0}",
        ]),
        1 => vec(0x80u8..=0xff, 1..4),
    ]
}

fn words() -> impl Strategy<Value = Vec<u8>> {
    vec((sep(), word()), 0..4).prop_map(|v| {
        v.into_iter()
            .flat_map(|(s, w)| [s, w])
            .collect::<Vec<_>>()
            .concat()
    })
}

const DIRECTIVES: &[(&str, &str)] = &[
    ("Alias", "alias"),
    ("ServerName", "servername"),
    ("WSGIDaemonProcess", "wsgidaemonprocess"),
    ("\"Listen\"", "listen"),
    ("require", "require"),
    ("Use", "use"),
    ("X-y.z", "x-y.z"),
    ("a\\\nlias", "alias"),
];

fn directive() -> impl Strategy<Value = Piece> {
    (indent(), prop::sample::select(DIRECTIVES), words(), eol()).prop_map(
        |(i, (name, lower), w, e)| Piece {
            bytes: [i, bytes(name), w, e].concat(),
            shape: vec![(0, 'D', lower.to_string())],
        },
    )
}

fn comment() -> impl Strategy<Value = Piece> {
    let text = pick(&[
        "",
        " c",
        "# double",
        " a \\\n b",
        " <Directory /x>",
        " x\\\r\n</IfModule>",
    ]);
    (indent(), text, eol()).prop_map(|(i, t, e)| Piece {
        bytes: [i, bytes("#"), t, e].concat(),
        shape: vec![(0, 'C', String::new())],
    })
}

fn blank() -> impl Strategy<Value = Piece> {
    (indent(), eol()).prop_map(|(i, e)| Piece {
        bytes: [i, e].concat(),
        shape: vec![(0, 'B', String::new())],
    })
}

/// (name, is a read-time conditional)
const SECTIONS: &[(&str, bool)] = &[
    ("Directory", false),
    ("VirtualHost", false),
    ("Location", false),
    ("Files", false),
    ("If", false),
    ("Else", false),
    ("IfModule", true),
    ("IfDefine", true),
    ("IfVersion", true),
];

fn random_case(name: &str, mask: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn section(children: impl Strategy<Value = Vec<Piece>>) -> impl Strategy<Value = Piece> {
    (
        (
            indent(),
            pick(&["<", "<", "<", "<\\\n"]),
            prop::sample::select(SECTIONS),
            words(),
        ),
        (pick(&["", "", " # comment", "#", " junk"]), eol()),
        children,
        (
            indent(),
            pick(&["</", "</", "</", "<\\\n/", "</\\\r\n"]),
            any::<u64>(),
        ),
        (pick(&["", "", " junk", " </IfModule>", " # c"]), eol()),
    )
        .prop_map(
            |(
                (i1, lt, (name, conditional), args),
                (trailer, e1),
                kids,
                (i2, lts, mask),
                (junk, e2),
            )| {
                // httpd ends a read-time section only at a line that is exactly
                // its closer, so those get no junk after it.
                let junk = if conditional { Vec::new() } else { junk };
                // Text after `<Name>` with no argument is what httpd cuts at
                // the last `>` (and refuses) or glues to the name; after an
                // argument it lies past the last `>` and is ignored.
                let trailer = if args.is_empty() { Vec::new() } else { trailer };
                let mut bytes = [i1, lt, bytes(name), args, bytes(">"), trailer, e1].concat();
                let lower = name.to_ascii_lowercase();
                let mut shape = vec![(0, 'O', lower.clone())];
                for k in kids {
                    bytes.extend_from_slice(&k.bytes);
                    shape.extend(k.shape.into_iter().map(|(d, c, n)| (d + 1, c, n)));
                }
                bytes.extend(
                    [
                        i2,
                        lts,
                        random_case(name, mask).into_bytes(),
                        b">".to_vec(),
                        junk,
                        e2,
                    ]
                    .concat(),
                );
                shape.push((0, 'X', lower));
                Piece { bytes, shape }
            },
        )
}

fn node() -> impl Strategy<Value = Piece> {
    let leaf = prop_oneof![4 => directive(), 2 => comment(), 1 => blank()];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            3 => inner.clone(),
            1 => section(vec(inner, 0..5)),
        ]
    })
}

fn balanced_input() -> impl Strategy<Value = (Vec<u8>, Shape)> {
    (vec(node(), 0..8), any::<bool>()).prop_map(|(pieces, strip_final_eol)| {
        let mut bytes: Vec<u8> = pieces
            .iter()
            .flat_map(|p| p.bytes.iter().copied())
            .collect();
        let shape: Shape = pieces.into_iter().flat_map(|p| p.shape).collect();
        // The last line may end at EOF instead of a newline (unless it is a
        // blank line, which could vanish with it).
        let last_is_blank = shape.last().is_some_and(|(_, k, _)| *k == 'B');
        if strip_final_eol && !last_is_blank && bytes.ends_with(b"\n") {
            bytes.pop();
            if bytes.ends_with(b"\r") {
                bytes.pop();
            }
        }
        (bytes, shape)
    })
}

fn shape_of(tree: &SyntaxTree) -> Shape {
    fn walk(nodes: &[Node], depth: usize, out: &mut Shape) {
        for n in nodes {
            match n {
                Node::Line(l) => {
                    let (kind, name) = match l.kind {
                        LineKind::Blank => ('B', Vec::new()),
                        LineKind::Comment => ('C', Vec::new()),
                        LineKind::Directive => ('D', l.name()),
                        LineKind::Open => ('o', l.name()),
                        LineKind::Close => ('x', l.name()),
                    };
                    out.push((
                        depth,
                        kind,
                        String::from_utf8_lossy(&name).to_ascii_lowercase(),
                    ));
                }
                Node::Section(s) => {
                    let name = String::from_utf8_lossy(&s.open.name()).to_ascii_lowercase();
                    out.push((depth, 'O', name));
                    walk(&s.children, depth + 1, out);
                    match &s.close {
                        Some(c) => out.push((
                            depth,
                            'X',
                            String::from_utf8_lossy(&c.name()).to_ascii_lowercase(),
                        )),
                        None => out.push((depth, '?', String::new())),
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&tree.nodes, 0, &mut out);
    out
}

/// Parses `input`: a tree must round-trip and match the reference reader;
/// an error must point at a real place in the input.
fn check_parse(input: &[u8]) -> Result<(), String> {
    match parse(input) {
        Ok(tree) => check_tree(input, &tree),
        Err(e) => {
            check_error_position(input, e.line, e.column).map_err(|why| format!("{why} ({e})"))
        }
    }
}

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_and_round_trip(input in arbitrary_input()) {
        if let Err(why) = check_parse(&input) {
            prop_assert!(false, "{}: {}", show(&input), why);
        }
    }

    #[test]
    fn balanced_input_parses_into_its_structure((input, shape) in balanced_input()) {
        let parsed = parse(&input);
        prop_assert!(parsed.is_ok(), "{} must parse: {}", show(&input), parsed.unwrap_err());
        let tree = parsed.unwrap();
        if let Err(e) = check_tree(&input, &tree) {
            prop_assert!(false, "{}: {}", show(&input), e);
        }
        prop_assert_eq!(shape_of(&tree), shape, "{}", show(&input));
    }

    #[test]
    fn damaged_balanced_input_never_panics(
        (input, _) in balanced_input(),
        damage in vec((any::<Index>(), fragment()), 1..4),
    ) {
        let mut input = input;
        for (at, bytes) in damage {
            let at = if input.is_empty() { 0 } else { at.index(input.len() + 1) };
            input.splice(at..at, bytes);
        }
        if let Err(why) = check_parse(&input) {
            prop_assert!(false, "{}: {}", show(&input), why);
        }
    }
}
