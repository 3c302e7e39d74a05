//! Edits on the syntax tree: whole lines replaced or inserted, nothing else
//! touched. New lines copy the style around them (indent unit and depth, line
//! ending).

use crate::analysis::NodePath;
use crate::syntax::{visit_lines, Line, LineKind, Node, Section, SyntaxTree};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Insert `nodes` into the children of the section at `parent` (the
    /// file's top level when empty), before position `index`.
    Insert {
        parent: NodePath,
        index: usize,
        nodes: Vec<Node>,
    },
    /// Replace the raw text of the line at `path` (a directive, or the
    /// opening line of a section).
    Replace { path: NodePath, raw: Vec<u8> },
    /// Remove the line at `path` (a directive).
    Remove { path: NodePath },
}

impl Edit {
    /// Edits are applied from the end of the file backwards so that earlier
    /// paths stay valid; at one position a replacement goes before an insert.
    fn order_key(&self) -> (NodePath, u8) {
        match self {
            Edit::Insert { parent, index, .. } => {
                let mut p = parent.clone();
                p.push(*index);
                (p, 0)
            }
            Edit::Replace { path, .. } => (path.clone(), 1),
            Edit::Remove { path } => (path.clone(), 2),
        }
    }

    /// Moves `path` (a node elsewhere in the same file) to where it is once
    /// this edit is applied: inserts and removals shift later siblings.
    fn shift(&self, path: &mut [usize]) {
        let (parent, index, delta) = match self {
            Edit::Insert {
                parent,
                index,
                nodes,
            } => (parent.as_slice(), *index, nodes.len() as isize),
            Edit::Remove { path: removed } => match removed.split_last() {
                Some((last, parent)) => (parent, *last + 1, -1),
                None => return,
            },
            Edit::Replace { .. } => return,
        };
        let depth = parent.len();
        if path.len() > depth && path.starts_with(parent) && path[depth] >= index {
            path[depth] = (path[depth] as isize + delta) as usize;
        }
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
            Node::Section(s) => children_mut(&mut s.children, rest),
            Node::Line(_) => None,
        },
    }
}

fn line_at_mut<'a>(nodes: &'a mut [Node], path: &[usize]) -> Option<&'a mut Line> {
    let (first, rest) = path.split_first()?;
    let node = nodes.get_mut(*first)?;
    match (node, rest.is_empty()) {
        (Node::Line(l), true) => Some(l),
        (Node::Section(s), true) => Some(&mut s.open),
        (Node::Section(s), false) => line_at_mut(&mut s.children, rest),
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
pub fn apply_tracking(
    tree: &SyntaxTree,
    mut edits: Vec<Edit>,
    paths: &mut [NodePath],
) -> Option<SyntaxTree> {
    let had_final_eol = last_line(&tree.nodes).is_none_or(|l| !l.eol().is_empty());
    let eol = tree.dominant_eol();
    let mut out = tree.clone();
    edits.sort_by_key(|e| std::cmp::Reverse(e.order_key()));
    for e in edits {
        for p in paths.iter_mut() {
            e.shift(p);
        }
        match e {
            Edit::Insert {
                parent,
                index,
                nodes,
            } => {
                let children = children_mut(&mut out.nodes, &parent)?;
                if index > children.len() {
                    return None;
                }
                children.splice(index..index, nodes);
            }
            Edit::Replace { path, raw } => {
                line_at_mut(&mut out.nodes, &path)?.set_raw(raw);
            }
            Edit::Remove { path } => {
                let (last, parent) = path.split_last()?;
                let children = children_mut(&mut out.nodes, parent)?;
                if !matches!(children.get(*last), Some(Node::Line(_))) {
                    return None;
                }
                children.remove(*last);
            }
        }
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
/// the file still ends without one, as it did.
fn fix_line_ends(nodes: &mut [Node], eol: &[u8], had_final_eol: bool) {
    let mut lines: Vec<&mut Line> = Vec::new();
    collect_lines_mut(nodes, &mut lines);
    let n = lines.len();
    for (i, line) in lines.into_iter().enumerate() {
        let is_last = i + 1 == n;
        if !is_last && line.eol().is_empty() {
            let mut raw = line.raw().to_vec();
            raw.extend_from_slice(eol);
            line.set_raw(raw);
        } else if is_last && !had_final_eol && line.line == 0 {
            let raw = line.raw();
            let keep = raw.len() - line.eol().len();
            let raw = raw[..keep].to_vec();
            line.set_raw(raw);
        }
    }
}

fn collect_lines_mut<'a>(nodes: &'a mut [Node], out: &mut Vec<&'a mut Line>) {
    for n in nodes {
        match n {
            Node::Line(l) => out.push(l),
            Node::Section(s) => {
                out.push(&mut s.open);
                collect_lines_mut(&mut s.children, out);
                if let Some(c) = s.close.as_mut() {
                    out.push(c);
                }
            }
        }
    }
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
    Node::Section(Section {
        open: Line::inserted(open),
        children: body
            .iter()
            .map(|t| Node::Line(make_line(&inner, t, eol)))
            .collect(),
        close: Some(make_line(indent, &format!("</{name}>"), eol)),
    })
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
