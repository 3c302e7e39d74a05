//! The syntax tree's fast paths against straightforward references kept
//! here: lines are ranges of one shared buffer, `to_bytes` copies runs of
//! adjacent lines at once and `print` hands an unedited tree's buffer back;
//! the reference printer appends every line's `raw()` one by one, and the
//! reference splitter is httpd's reader replayed in `syntax_support`.
//! `prints` (verify's comparison without a copy) is checked against the same
//! reference print, and `parse_shared` against `parse`; a line's name, read
//! from its raw bytes when joining cannot change it, against the name of the
//! joined line. Checked on random input, random edits and the corpus.

mod common;
mod syntax_support;

use proptest::prelude::*;
use std::sync::Arc;
use syntax_support::{check_tree, to_crlf};
use wsgifix::syntax::{
    logical, parse, parse_in_chunks, parse_shared, visit_lines, Line, LineKind, Node, SyntaxTree,
};

/// Appends each line's bytes, in file order, with no shortcut.
fn reference_print(nodes: &[Node], out: &mut Vec<u8>) {
    for n in nodes {
        match n {
            Node::Line(l) => out.extend_from_slice(l.raw()),
            Node::Section(s) => {
                out.extend_from_slice(s.open.raw());
                reference_print(&s.children, out);
                if let Some(c) = &s.close {
                    out.extend_from_slice(c.raw());
                }
            }
        }
    }
}

fn reference(tree: &SyntaxTree) -> Vec<u8> {
    let mut out = Vec::new();
    reference_print(&tree.nodes, &mut out);
    out
}

/// Every line, mutable, in file order.
fn lines_mut<'a>(nodes: &'a mut [Node], out: &mut Vec<&'a mut Line>) {
    for n in nodes {
        match n {
            Node::Line(l) => out.push(l),
            Node::Section(s) => {
                let s = std::sync::Arc::make_mut(s);
                out.push(&mut s.open);
                lines_mut(&mut s.children, out);
                if let Some(c) = s.close.as_mut() {
                    out.push(c);
                }
            }
        }
    }
}

/// Edits as the fixes make them: replaced lines, inserted lines (at the top
/// level and inside the first section), a moved node.
fn edit(tree: &mut SyntaxTree, picks: &[(usize, u8)]) {
    for &(at, what) in picks {
        match what {
            0 => {
                let mut lines = Vec::new();
                lines_mut(&mut tree.nodes, &mut lines);
                if !lines.is_empty() {
                    let n = lines.len();
                    let l = &mut lines[at % n];
                    let mut raw = l.raw().to_vec();
                    raw.splice(0..0, b"  ".iter().copied());
                    l.set_raw(raw);
                }
            }
            1 => {
                let i = at % (tree.nodes.len() + 1);
                let l = Line::inserted(b"WSGIProcessGroup inserted\n".to_vec());
                tree.nodes.insert(i, Node::Line(l));
            }
            2 => {
                if let Some(Node::Section(s)) = tree
                    .nodes
                    .iter_mut()
                    .find(|n| matches!(n, Node::Section(_)))
                {
                    let s = std::sync::Arc::make_mut(s);
                    let i = at % (s.children.len() + 1);
                    let l = Line::inserted(b"    WSGIApplicationGroup %{GLOBAL}\r\n".to_vec());
                    s.children.insert(i, Node::Line(l));
                }
            }
            _ => {
                if tree.nodes.len() > 1 {
                    let n = tree.nodes.remove(at % tree.nodes.len());
                    tree.nodes.push(n);
                }
            }
        }
    }
}

/// A line's name from its joined text: the first word, without a
/// section's `<`, `</` and final `>`.
fn reference_name(line: &Line) -> Vec<u8> {
    let joined = line.logical();
    let word = logical::split_name(&joined).0.into_owned();
    let prefix = match line.kind {
        LineKind::Open => 1,
        LineKind::Close => 2,
        _ => return word,
    };
    let mut name = word[prefix.min(word.len())..].to_vec();
    if name.last() == Some(&b'>') {
        name.pop();
    }
    name
}

fn names_agree(tree: &SyntaxTree) -> Result<(), TestCaseError> {
    let mut lines = Vec::new();
    visit_lines(&tree.nodes, &mut |l: &Line| lines.push(l));
    for l in lines {
        let want = reference_name(l);
        prop_assert_eq!(l.name(), want.clone(), "{:?}", l.raw());
        if let Ok(name) = std::str::from_utf8(&want) {
            prop_assert!(l.name_is(&name.to_ascii_uppercase()), "{:?}", l.raw());
        }
    }
    Ok(())
}

fn check(input: &[u8], picks: &[(usize, u8)]) -> Result<(), TestCaseError> {
    let Ok(tree) = parse(input) else {
        return Ok(());
    };
    names_agree(&tree)?;
    prop_assert_eq!(tree.to_bytes(), input.to_vec());
    prop_assert_eq!(reference(&tree), input.to_vec());
    check_tree(input, &tree).map_err(TestCaseError::fail)?;
    let copy = tree.clone();
    prop_assert_eq!(&copy, &tree);
    let shared = Arc::new(input.to_vec());
    let in_place = parse_shared(Arc::clone(&shared)).expect("parse accepted it");
    prop_assert_eq!(&in_place, &tree);
    // Its lines are ranges of the caller's buffer, not of a copy.
    prop_assert!(in_place.nodes.is_empty() || Arc::strong_count(&shared) > 1);
    // Printing an unedited tree hands back the buffer it was parsed from.
    prop_assert_eq!(&**in_place.print(), input);
    prop_assert!(in_place.nodes.is_empty() || Arc::ptr_eq(&in_place.print(), &shared));
    let mut edited = tree.clone();
    edit(&mut edited, picks);
    let printed = reference(&edited);
    prop_assert_eq!(edited.to_bytes(), printed.clone());
    prop_assert_eq!(&**edited.print(), &printed[..]);
    prop_assert!(edited.prints(&printed));
    if !printed.is_empty() {
        let mut other = printed.clone();
        let last = other.len() - 1;
        other[last] ^= 1;
        prop_assert!(!edited.prints(&other));
        prop_assert!(!edited.prints(&printed[..last]));
    }
    let mut longer = printed.clone();
    longer.push(b'\n');
    prop_assert!(!edited.prints(&longer));
    // The original is untouched by edits to its clone.
    prop_assert_eq!(tree.to_bytes(), input.to_vec());
    Ok(())
}

const FRAGMENTS: &[&str] = &[
    "\n",
    "\r\n",
    "\\\n",
    "\\",
    " ",
    "\t",
    "#",
    "<VirtualHost *:80>\n",
    "</VirtualHost>\n",
    "<IfModule x>\n",
    "</IfModule>\n",
    "WSGIScriptAlias / /a.wsgi\n",
    "ServerName x\n",
    "\"<Directory\" /tmp>\n",
    "\0",
    "\u{e9}",
];

fn input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => prop::sample::select(FRAGMENTS).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..4),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// The grammar runs on pieces of about 1 MiB cut at line ends; the
/// reference runs it once on the whole input. Tiny pieces put a cut after
/// nearly every line, next to continuations, CRs and NULs.
fn chunks_agree(input: &[u8]) -> Result<(), String> {
    let whole = parse_in_chunks(input, usize::MAX);
    for chunk in [0, 1, 5, 64] {
        let pieces = parse_in_chunks(input, chunk);
        match (&whole, &pieces) {
            (Ok(w), Ok(p)) if w == p => {}
            (Err(w), Err(p)) if w.to_string() == p.to_string() => {}
            _ => return Err(format!("pieces of {chunk}: {pieces:?}, whole: {whole:?}")),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn parsing_in_pieces_equals_one_parse(input in input()) {
        chunks_agree(&input).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn fast_paths_equal_the_references(
        input in input(),
        picks in prop::collection::vec((0usize..1000, 0u8..4), 0..6),
    ) {
        check(&input, &picks)?;
    }
}

#[test]
fn corpus_fast_paths_equal_the_references() {
    let Some(files) = common::corpus::files("") else {
        return;
    };
    let mut parsed = 0;
    for f in files {
        let Ok(lf) = std::fs::read(&f) else {
            continue;
        };
        for input in [to_crlf(&lf), lf] {
            parsed += usize::from(parse(&input).is_ok());
            chunks_agree(&input).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            check(&input, &[(0, 0), (3, 1), (7, 2), (1, 3), (11, 0)])
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        }
    }
    assert!(parsed > 100, "the corpus parses");
}

/// A section of more children than the builder copies out (the vhost around
/// a redirect map) takes the node buffer itself; what came before it, at
/// the top and in the sections around it, must stay where it was.
#[test]
fn a_section_bigger_than_the_copy_limit_keeps_its_place_and_its_lines() {
    let mut input = b"ServerRoot /srv\n# head\n<IfModule wsgi>\nListen 80\n".to_vec();
    input.extend_from_slice(b"<VirtualHost *:80>\n");
    for i in 0..40_000 {
        input.extend_from_slice(format!("  Redirect /r{i} /t{i}\n").as_bytes());
    }
    input.extend_from_slice(b"</VirtualHost>\nServerName after\n</IfModule>\n# tail\n");
    let tree = parse(&input).expect("parses");
    assert_eq!(tree.to_bytes(), input);
    assert_eq!(reference(&tree), input);
    check_tree(&input, &tree).expect("kinds and nesting as httpd reads them");
    chunks_agree(&input).expect("pieces agree");
    let kinds: Vec<&str> = tree
        .nodes
        .iter()
        .map(|n| match n {
            Node::Line(_) => "line",
            Node::Section(_) => "section",
        })
        .collect();
    assert_eq!(kinds, ["line", "line", "section", "line"]);
    let Node::Section(module) = &tree.nodes[2] else {
        unreachable!()
    };
    assert_eq!(module.children.len(), 3, "Listen, the vhost, ServerName");
    let Node::Section(vhost) = &module.children[1] else {
        panic!("the vhost is the IfModule's second child");
    };
    assert_eq!(vhost.children.len(), 40_000);
    assert_eq!(
        vhost.children[0].first_line().raw(),
        b"  Redirect /r0 /t0\n"
    );
    assert_eq!(module.children[2].first_line().raw(), b"ServerName after\n");
}
