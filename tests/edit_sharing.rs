//! A fix is applied to a copy of the tree, once per candidate the fix loop
//! checks. The copy must share every section the edits do not enter, or a
//! file of thousands of vhosts is copied whole for a fix to one of them; and
//! the sharing must never let an edit reach the tree it was applied to.

use std::sync::Arc;
use wsgifix::rules::edit::{apply, Edit, Sticks};
use wsgifix::syntax::{self, Line, Node, SyntaxTree};

fn vhosts(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "<VirtualHost *:80>\n    ServerName s{i}.example.org\n    <Directory /srv/s{i}>\n        Require all granted\n    </Directory>\n    WSGIScriptAlias / /srv/s{i}/app.wsgi\n</VirtualHost>\n"
        ));
    }
    s
}

fn section(tree: &SyntaxTree, i: usize) -> &Arc<syntax::Section> {
    match &tree.nodes[i] {
        Node::Section(s) => s,
        Node::Line(_) => panic!("node {i} is a line"),
    }
}

#[test]
fn an_edit_copies_only_the_sections_on_its_path() {
    let source = vhosts(50);
    let tree = syntax::parse(source.as_bytes()).unwrap();
    let edits = vec![
        Edit::Insert {
            parent: vec![7],
            index: 2,
            nodes: vec![Node::Line(Line::inserted(
                b"    WSGIApplicationGroup %{GLOBAL}\n".to_vec(),
            ))],
            sticks: Sticks::ToNext,
        },
        Edit::Replace {
            path: vec![20, 1, 0],
            raw: b"        Require all denied\n".to_vec(),
        },
    ];
    let fixed = apply(&tree, edits).unwrap();

    for i in 0..50 {
        let shared = Arc::ptr_eq(section(&tree, i), section(&fixed, i));
        assert_eq!(shared, i != 7 && i != 20, "vhost {i}");
    }
    // Inside the edited vhost 20, the <Directory> was edited and copied;
    // nothing else in it is a section.
    let (before, after) = (section(&tree, 20), section(&fixed, 20));
    let dir = |s: &syntax::Section| match &s.children[1] {
        Node::Section(d) => Arc::clone(d),
        Node::Line(_) => panic!("not the <Directory>"),
    };
    assert!(!Arc::ptr_eq(&dir(before), &dir(after)));

    // The original is untouched and still prints its source; the copy
    // prints the source with exactly the two edits.
    assert_eq!(tree.to_bytes(), source.as_bytes());
    let printed = String::from_utf8(fixed.to_bytes()).unwrap();
    assert_eq!(printed.matches("WSGIApplicationGroup %{GLOBAL}").count(), 1);
    assert_eq!(printed.matches("Require all denied").count(), 1);
    assert_eq!(printed.lines().count(), source.lines().count() + 1);
}

#[test]
fn a_line_end_added_by_an_insert_after_the_last_line_stays_in_the_copy() {
    // The last line has no newline: inserting after it gives it one (in the
    // copy only), and the file still ends without one.
    let source = "<VirtualHost *:80>\n    ServerName a\n</VirtualHost>\n<VirtualHost *:80>\n    ServerName b\n</VirtualHost>";
    let tree = syntax::parse(source.as_bytes()).unwrap();
    let fixed = apply(
        &tree,
        vec![Edit::Insert {
            parent: vec![1],
            index: 1,
            nodes: vec![Node::Line(Line::inserted(
                b"    WSGIProcessGroup b\n".to_vec(),
            ))],
            sticks: Sticks::ToPrevious,
        }],
    )
    .unwrap();
    assert!(Arc::ptr_eq(section(&tree, 0), section(&fixed, 0)));
    assert_eq!(tree.to_bytes(), source.as_bytes());
    assert_eq!(
        String::from_utf8(fixed.to_bytes()).unwrap(),
        "<VirtualHost *:80>\n    ServerName a\n</VirtualHost>\n<VirtualHost *:80>\n    ServerName b\n    WSGIProcessGroup b\n</VirtualHost>"
    );

    let appended = apply(
        &tree,
        vec![Edit::Insert {
            parent: vec![],
            index: 2,
            nodes: vec![Node::Line(Line::inserted(
                b"WSGIRestrictEmbedded On\n".to_vec(),
            ))],
            sticks: Sticks::ToPrevious,
        }],
    )
    .unwrap();
    assert!(Arc::ptr_eq(section(&tree, 0), section(&appended, 0)));
    assert_eq!(tree.to_bytes(), source.as_bytes());
    assert_eq!(
        String::from_utf8(appended.to_bytes()).unwrap(),
        format!("{source}\nWSGIRestrictEmbedded On")
    );
}

/// Every (parent, index) an insert may use and every line path a replace
/// or remove may use, in `tree`.
fn places(
    nodes: &[Node],
    at: &mut Vec<usize>,
    lists: &mut Vec<(Vec<usize>, usize)>,
    lines: &mut Vec<Vec<usize>>,
) {
    lists.push((at.clone(), nodes.len()));
    for (i, n) in nodes.iter().enumerate() {
        at.push(i);
        match n {
            Node::Line(_) => lines.push(at.clone()),
            Node::Section(s) => places(&s.children, at, lists, lines),
        }
        at.pop();
    }
}

proptest::proptest! {
    /// Random edits on random vhost files: the tree they were applied to
    /// still prints its source, and the result prints exactly what the
    /// same edits give on a parse of its own, which shares nothing.
    #[test]
    fn edits_never_reach_the_tree_they_were_applied_to(
        n in 1usize..12,
        picks in proptest::collection::vec((0usize..1000, 0usize..1000, 0u8..3), 1..8),
    ) {
        let source = vhosts(n);
        let tree = syntax::parse(source.as_bytes()).unwrap();
        let (mut lists, mut lines) = (Vec::new(), Vec::new());
        places(&tree.nodes, &mut Vec::new(), &mut lists, &mut lines);
        let mut edits = Vec::new();
        let mut touched = std::collections::HashSet::new();
        for (a, b, kind) in picks {
            match kind {
                0 => {
                    let (parent, len) = &lists[a % lists.len()];
                    edits.push(Edit::Insert {
                        parent: parent.clone(),
                        index: b % (len + 1),
                        nodes: vec![Node::Line(Line::inserted(b"    WSGIProcessGroup x\n".to_vec()))],
                        sticks: Sticks::ToNext,
                    });
                }
                _ => {
                    let path = &lines[a % lines.len()];
                    // One edit per line: two would not both apply.
                    if !touched.insert(path.clone()) {
                        continue;
                    }
                    edits.push(if kind == 1 {
                        Edit::Replace { path: path.clone(), raw: b"    # replaced\n".to_vec() }
                    } else {
                        Edit::Remove { path: path.clone() }
                    });
                }
            }
        }
        let fixed = apply(&tree, edits.clone());
        let alone = apply(&syntax::parse(source.as_bytes()).unwrap(), edits);
        proptest::prop_assert_eq!(tree.to_bytes(), source.as_bytes());
        proptest::prop_assert_eq!(fixed.map(|t| t.to_bytes()), alone.map(|t| t.to_bytes()));
    }
}
