//! Edits on the syntax tree: whole lines replaced or inserted, nothing else
//! touched. New lines copy the style around them (indent unit and depth, line
//! ending).

use crate::analysis::NodePath;
use crate::collections::HashMap;
use crate::syntax::{visit_lines, Line, LineKind, Node, Section, SyntaxTree};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Insert `nodes` into the children of the section at `parent` (the
    /// file's top level when empty), before position `index`.
    Insert {
        parent: NodePath,
        index: usize,
        nodes: Vec<Node>,
        sticks: Sticks,
    },
    /// Replace the raw text of the line at `path` (a directive, or the
    /// opening line of a section).
    Replace { path: NodePath, raw: Vec<u8> },
    /// Remove the line at `path` (a directive).
    Remove { path: NodePath },
}

/// Which neighbour inserted lines belong with. Fixes of several apps made in
/// one pass can insert into the same gap: the `<Location>` that follows the
/// alias above it goes first, then the daemon that precedes the alias below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sticks {
    ToPrevious,
    ToNext,
}

/// The structural edits of one child list, in the order they were given.
#[derive(Default)]
struct ListEdits {
    inserts: Vec<(usize, Sticks, Vec<Node>)>,
    removes: Vec<usize>,
}

impl ListEdits {
    /// Where the child now at `index` ends up.
    fn moved(&self, index: usize) -> usize {
        let added: usize = self
            .inserts
            .iter()
            .filter(|(at, _, _)| *at <= index)
            .map(|(_, _, n)| n.len())
            .sum();
        let removed = self.removes.iter().filter(|&&r| r < index).count();
        index + added - removed
    }

    /// Rebuilds `children` with every insert and removal in one sweep (a
    /// splice per edit is quadratic when a fix touches thousands of apps).
    fn apply(mut self, children: &mut Vec<Node>) -> Option<()> {
        let len = children.len();
        if self.inserts.iter().any(|(at, _, _)| *at > len)
            || self
                .removes
                .iter()
                .any(|&r| !matches!(children.get(r), Some(Node::Line(_))))
        {
            return None;
        }
        // Stable: in one gap, lines sticking to the previous node first, each
        // group in the order given.
        self.inserts.sort_by_key(|(at, sticks, _)| (*at, *sticks));
        self.removes.sort_unstable();
        let added: usize = self.inserts.iter().map(|(_, _, n)| n.len()).sum();
        let mut out = Vec::with_capacity(len + added);
        let mut inserts = self.inserts.into_iter().peekable();
        let mut removes = self.removes.into_iter().peekable();
        for (j, child) in std::mem::take(children).into_iter().enumerate() {
            while let Some((_, _, nodes)) = inserts.next_if(|(at, _, _)| *at == j) {
                out.extend(nodes);
            }
            if removes.next_if(|&r| r == j).is_some() {
                while removes.next_if(|&r| r == j).is_some() {}
                continue;
            }
            out.push(child);
        }
        out.extend(inserts.flat_map(|(_, _, nodes)| nodes));
        *children = out;
        Some(())
    }
}

pub fn node_at<'a>(nodes: &'a [Node], path: &[usize]) -> Option<&'a Node> {
    let (first, rest) = path.split_first()?;
    let node = nodes.get(*first)?;
    if rest.is_empty() {
        return Some(node);
    }
    match node {
        Node::Section(s) => node_at(&s.children, rest),
        Node::Line(_) => None,
    }
}

fn children_mut<'a>(nodes: &'a mut Vec<Node>, parent: &[usize]) -> Option<&'a mut Vec<Node>> {
    match parent.split_first() {
        None => Some(nodes),
        Some((first, rest)) => match nodes.get_mut(*first)? {
            Node::Section(s) => children_mut(&mut Arc::make_mut(s).children, rest),
            Node::Line(_) => None,
        },
    }
}

fn line_at_mut<'a>(nodes: &'a mut [Node], path: &[usize]) -> Option<&'a mut Line> {
    let (first, rest) = path.split_first()?;
    let node = nodes.get_mut(*first)?;
    match (node, rest.is_empty()) {
        (Node::Line(l), true) => Some(l),
        (Node::Section(s), true) => Some(&mut Arc::make_mut(s).open),
        (Node::Section(s), false) => line_at_mut(&mut Arc::make_mut(s).children, rest),
        (Node::Line(_), false) => None,
    }
}

/// Applies `edits` to a copy of `tree`. Returns `None` when an edit does not
/// fit the tree (a stale path): the caller then drops the fix.
pub fn apply(tree: &SyntaxTree, edits: Vec<Edit>) -> Option<SyntaxTree> {
    apply_tracking(tree, edits, &mut [])
}

/// Like [`apply`], and moves each of `paths` (nodes the edits keep, such as
/// Include directives a server model maps) to its place in the result.
///
/// Every path in `edits` is in the coordinates of `tree`. Replacements come
/// first (they change no path); then each child list is rebuilt once, the
/// deepest lists first, so the lists above keep their original numbering
/// until their own turn.
pub fn apply_tracking(
    tree: &SyntaxTree,
    edits: Vec<Edit>,
    paths: &mut [NodePath],
) -> Option<SyntaxTree> {
    let had_final_eol = last_line(&tree.nodes).is_none_or(|l| !l.eol().is_empty());
    let eol = tree.dominant_eol();
    let mut out = tree.clone();
    let mut lists: HashMap<NodePath, ListEdits> = HashMap::default();
    for e in edits {
        match e {
            Edit::Insert {
                parent,
                index,
                nodes,
                sticks,
            } => lists
                .entry(parent)
                .or_default()
                .inserts
                .push((index, sticks, nodes)),
            Edit::Replace { path, raw } => line_at_mut(&mut out.nodes, &path)?.set_raw(raw),
            Edit::Remove { path } => {
                let (last, parent) = path.split_last()?;
                lists
                    .entry(parent.to_vec())
                    .or_default()
                    .removes
                    .push(*last);
            }
        }
    }
    for p in paths.iter_mut() {
        let original = p.clone();
        for depth in 0..original.len() {
            if let Some(list) = lists.get(&original[..depth]) {
                p[depth] = list.moved(original[depth]);
            }
        }
    }
    let mut lists: Vec<(NodePath, ListEdits)> = lists.into_iter().collect();
    lists.sort_by_key(|(parent, _)| std::cmp::Reverse(parent.len()));
    for (parent, list) in lists {
        list.apply(children_mut(&mut out.nodes, &parent)?)?;
    }
    fix_line_ends(&mut out.nodes, eol, had_final_eol);
    Some(out)
}

fn last_line(nodes: &[Node]) -> Option<&Line> {
    let mut last = None;
    visit_lines(nodes, &mut |l| last = Some(l));
    last
}

/// Inserting after a last line that had no newline: that line gets one, and
/// the file still ends without one, as it did. Only the sections that hold
/// such a line are entered for writing: the others stay shared with the
/// tree the edits were applied to.
fn fix_line_ends(nodes: &mut [Node], eol: &[u8], had_final_eol: bool) {
    let mut total = 0usize;
    let mut due: Vec<(usize, LineEnd)> = Vec::new();
    let mut last: Option<&Line> = None;
    visit_lines(nodes, &mut |l| {
        if l.eol().is_empty() {
            due.push((total, LineEnd::Add));
        }
        total += 1;
        last = Some(l);
    });
    let last_at = total.wrapping_sub(1);
    due.retain(|&(i, _)| i != last_at);
    // An inserted last line takes the file's missing final newline away.
    if last.is_some_and(|l| !had_final_eol && l.line == 0 && !l.eol().is_empty()) {
        due.push((last_at, LineEnd::Drop));
    }
    for (ordinal, change) in due {
        if let Some(line) = nth_line_mut(nodes, ordinal) {
            match change {
                LineEnd::Add => {
                    let mut raw = line.raw().to_vec();
                    raw.extend_from_slice(eol);
                    line.set_raw(raw);
                }
                LineEnd::Drop => {
                    let raw = line.raw();
                    let keep = raw.len() - line.eol().len();
                    let raw = raw[..keep].to_vec();
                    line.set_raw(raw);
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum LineEnd {
    Add,
    Drop,
}

fn lines_in(node: &Node) -> usize {
    match node {
        Node::Line(_) => 1,
        Node::Section(s) => {
            let mut n = 1 + usize::from(s.close.is_some());
            visit_lines(&s.children, &mut |_| n += 1);
            n
        }
    }
}

/// The `n`th line in print order (0-based), the sections around it made
/// the tree's own.
fn nth_line_mut(nodes: &mut [Node], mut n: usize) -> Option<&mut Line> {
    for node in nodes {
        let count = lines_in(node);
        if n >= count {
            n -= count;
            continue;
        }
        return match node {
            Node::Line(l) => Some(l),
            Node::Section(s) => {
                let s = Arc::make_mut(s);
                if n == 0 {
                    return Some(&mut s.open);
                }
                let inner = count - 1 - usize::from(s.close.is_some());
                if n - 1 < inner {
                    nth_line_mut(&mut s.children, n - 1)
                } else {
                    s.close.as_mut()
                }
            }
        };
    }
    None
}

/// The file's indentation unit: what a section's first child adds to the
/// section's own indent, the first time the file shows one.
pub fn indent_unit(tree: &SyntaxTree) -> Vec<u8> {
    fn find(nodes: &[Node]) -> Option<Vec<u8>> {
        for n in nodes {
            if let Node::Section(s) = n {
                let open = s.open.indent();
                let child = s.children.iter().find_map(|c| {
                    let l = c.first_line();
                    (l.kind != LineKind::Blank).then(|| l.indent())
                });
                if let Some(child) = child {
                    if child.len() > open.len() && child.starts_with(open) {
                        return Some(child[open.len()..].to_vec());
                    }
                }
                if let Some(u) = find(&s.children) {
                    return Some(u);
                }
            }
        }
        None
    }
    find(&tree.nodes).unwrap_or_else(|| b"    ".to_vec())
}

/// Builds a line `indent + text + eol`.
pub fn make_line(indent: &[u8], text: &str, eol: &[u8]) -> Line {
    let mut raw = indent.to_vec();
    raw.extend_from_slice(text.as_bytes());
    raw.extend_from_slice(eol);
    Line::inserted(raw)
}

/// A `<Name arg>` ... `</Name>` block holding `body` lines.
pub fn make_section(
    indent: &[u8],
    unit: &[u8],
    name: &str,
    arg: &[u8],
    body: &[&str],
    eol: &[u8],
) -> Node {
    let mut open = indent.to_vec();
    open.push(b'<');
    open.extend_from_slice(name.as_bytes());
    open.push(b' ');
    open.extend_from_slice(arg);
    open.push(b'>');
    open.extend_from_slice(eol);
    let inner: Vec<u8> = [indent, unit].concat();
    Node::Section(Arc::new(Section {
        open: Line::inserted(open),
        children: body
            .iter()
            .map(|t| Node::Line(make_line(&inner, t, eol)))
            .collect(),
        close: Some(make_line(indent, &format!("</{name}>"), eol)),
    }))
}

/// Where, in a line's raw bytes, the directive name ends (so searches for
/// argument text skip the name itself).
fn name_end(line: &Line) -> usize {
    let raw = line.raw();
    let mut i = 0;
    while i < raw.len() && crate::syntax::logical::is_space(raw[i]) {
        i += 1;
    }
    while i < raw.len() && !crate::syntax::logical::is_space(raw[i]) {
        i += 1;
    }
    i
}

/// Replaces `old` by `new` in the line's arguments, when `old` occurs there
/// exactly once as written; otherwise `None` (the edit would be a guess).
pub fn replace_in_args(line: &Line, old: &[u8], new: &[u8]) -> Option<Vec<u8>> {
    let raw = line.raw();
    let start = name_end(line);
    let hay = &raw[start..];
    let mut found = hay
        .windows(old.len())
        .enumerate()
        .filter(|(_, w)| *w == old);
    let (at, _) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    replace_at(raw, start + at, old.len(), new)
}

/// Replaces the first occurrence of `old` in the line's arguments (for the
/// first word, which comes before any option that may repeat it).
pub fn replace_first_in_args(line: &Line, old: &[u8], new: &[u8]) -> Option<Vec<u8>> {
    let raw = line.raw();
    let start = name_end(line);
    let at = raw[start..].windows(old.len()).position(|w| w == old)?;
    replace_at(raw, start + at, old.len(), new)
}

fn replace_at(raw: &[u8], at: usize, len: usize, new: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len() + new.len());
    out.extend_from_slice(&raw[..at]);
    out.extend_from_slice(new);
    out.extend_from_slice(&raw[at + len..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn line(text: &str) -> Node {
        Node::Line(make_line(b"", text, b"\n"))
    }

    fn insert(index: usize, text: &str, sticks: Sticks) -> Edit {
        Edit::Insert {
            parent: Vec::new(),
            index,
            nodes: vec![line(text)],
            sticks,
        }
    }

    fn print(tree: &SyntaxTree) -> String {
        String::from_utf8(tree.to_bytes()).unwrap()
    }

    /// Fixes of two apps meet in the gap between their aliases: what follows
    /// the first alias stays with it, what precedes the second stays with it,
    /// whatever order the fixes came in.
    #[test]
    fn one_gap_keeps_each_insert_with_its_neighbour() {
        let tree = parse(b"A\nB\n").unwrap();
        let edits = vec![
            insert(1, "before B", Sticks::ToNext),
            insert(1, "after A", Sticks::ToPrevious),
            insert(1, "before B, second", Sticks::ToNext),
            insert(1, "after A, second", Sticks::ToPrevious),
        ];
        let out = apply(&tree, edits).unwrap();
        assert_eq!(
            print(&out),
            "A\nafter A\nafter A, second\nbefore B\nbefore B, second\nB\n"
        );
    }

    /// Thousands of inserts, removals and replacements in one list, given in
    /// any order, all in the original numbering; tracked paths follow.
    #[test]
    fn many_edits_in_one_list_use_the_original_numbering() {
        let text: String = (0..1000).map(|i| format!("L{i}\n")).collect();
        let tree = parse(text.as_bytes()).unwrap();
        let mut edits = Vec::new();
        for i in (0..1000).rev() {
            match i % 3 {
                0 => edits.push(insert(i, &format!("new{i}"), Sticks::ToNext)),
                1 => edits.push(Edit::Remove { path: vec![i] }),
                _ => edits.push(Edit::Replace {
                    path: vec![i],
                    raw: format!("R{i}\n").into_bytes(),
                }),
            }
        }
        let mut tracked = vec![vec![998], vec![0]];
        let out = apply_tracking(&tree, edits, &mut tracked).unwrap();
        let expected: String = (0..1000)
            .map(|i| match i % 3 {
                0 => format!("new{i}\nL{i}\n"),
                1 => String::new(),
                _ => format!("R{i}\n"),
            })
            .collect();
        assert_eq!(print(&out), expected);
        let at = |p: &NodePath| match node_at(&out.nodes, p) {
            Some(Node::Line(l)) => String::from_utf8_lossy(l.raw()).into_owned(),
            _ => String::new(),
        };
        assert_eq!(at(&tracked[0]), "R998\n");
        assert_eq!(at(&tracked[1]), "L0\n");
    }

    #[test]
    fn an_edit_that_does_not_fit_refuses_the_whole_set() {
        let tree = parse(b"<S>\nA\n</S>\n").unwrap();
        assert!(apply(&tree, vec![insert(5, "x", Sticks::ToNext)]).is_none());
        // Only directive lines may be removed, never a section.
        assert!(apply(&tree, vec![Edit::Remove { path: vec![0] }]).is_none());
        let nested = Edit::Insert {
            parent: vec![0],
            index: 1,
            nodes: vec![line("  B")],
            sticks: Sticks::ToPrevious,
        };
        let out = apply(&tree, vec![nested, insert(0, "top", Sticks::ToNext)]).unwrap();
        assert_eq!(print(&out), "top\n<S>\nA\n  B\n</S>\n");
    }
}
