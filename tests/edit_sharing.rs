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
