//! The insertion primitives fixes share: lines before/after a node, into a
//! section, into the mount's scope, and a `<Location>` for one app; each
//! copies the style around it (indent, line ending).

use super::{is_grouping, quote_if_needed, split, FixEdit, Fixer};
use crate::analysis::coverage::{self, Decision};
use crate::analysis::{GroupKind, Mount, MountKind, NodePath};
use crate::rules::edit::{make_line, make_section, node_at, Edit, Sticks};
use crate::server::FileId;
use crate::syntax::{LineKind, Node};

impl<'a> Fixer<'a> {
    pub(super) fn eol_near(&self, file: FileId, path: &[usize]) -> Vec<u8> {
        match self.line(file, path).map(|l| l.eol()) {
            Some(e) if !e.is_empty() => e.to_vec(),
            _ => self.trees[file].dominant_eol().to_vec(),
        }
    }

    pub fn indent_of(&self, file: FileId, path: &[usize]) -> Vec<u8> {
        self.line(file, path)
            .map(|l| l.indent().to_vec())
            .unwrap_or_default()
    }

    /// Indent for a line placed as a child of the section at `section`.
    pub(super) fn child_indent(&self, file: FileId, section: &[usize]) -> Vec<u8> {
        if let Some(Node::Section(s)) = node_at(self.nodes(file), section) {
            if let Some(c) = s
                .children
                .iter()
                .map(|c| c.first_line())
                .find(|l| l.kind != LineKind::Blank && l.kind != LineKind::Comment)
            {
                return c.indent().to_vec();
            }
            return [s.open.indent(), self.indent_unit(file)].concat();
        }
        Vec::new()
    }

    /// The only app of its vhost: `WSGIProcessGroup` after its last mount.
    pub(super) fn after_last_mount(&self, m: &Mount, directive: &str) -> FixEdit {
        let (parent, _) = split(&m.site.path);
        let last_mount = self
            .a
            .mounts_in(m.site.scope)
            .iter()
            .map(|&o| &self.a.mounts[o])
            .filter(|o| o.handler_section.is_none() && o.app == m.app)
            .filter(|o| o.site.file == m.site.file)
            .map(|o| o.site.path.clone())
            .filter(|p| p.len() == m.site.path.len() && p.starts_with(&parent))
            .max()
            .unwrap_or_else(|| m.site.path.clone());
        self.insert_after(m.site.file, &last_mount, directive)
    }

    /// A `<Location>` (`<LocationMatch>` for a pattern) for this app only:
    /// an existing one for exactly this mount, else a new one after the
    /// mount and after any later section httpd would merge over it.
    pub(super) fn location_for(
        &self,
        m: &Mount,
        kind: GroupKind,
        directive: &str,
    ) -> Option<FixEdit> {
        let file = m.site.file;
        if let Some(loc) = self.exact_location(m) {
            // A later <Location> over it (`/` after `/app1`) would win.
            if self.last_covering_location(m, &loc, kind).is_some() {
                return None;
            }
            return Some(self.insert_first_child(file, &loc, directive));
        }
        let (name, arg) = match m.kind {
            MountKind::AliasMatch => ("LocationMatch", m.args.word_texts.first()?.to_vec()),
            MountKind::Alias => ("Location", m.args.word_texts.first()?.to_vec()),
            MountKind::Handler => ("Location", quote_if_needed(m.url.as_ref()?).into_bytes()),
        };
        let anchor = self.anchor(m);
        let after = self
            .last_covering_location(m, &anchor, kind)
            .unwrap_or_else(|| anchor.clone());
        let eol = self.eol_near(file, &after);
        let indent = self.indent_of(file, &anchor);
        let block = make_section(
            &indent,
            self.indent_unit(file),
            name,
            &arg,
            &[directive],
            &eol,
        );
        let (parent, index) = split(&after);
        Some(FixEdit {
            file,
            edit: Edit::Insert {
                parent,
                index: index + 1,
                nodes: vec![block],
                sticks: Sticks::ToPrevious,
            },
        })
    }

    pub(super) fn children(&self, file: FileId, parent: &[usize]) -> Option<&'a [Node]> {
        if parent.is_empty() {
            return Some(self.nodes(file));
        }
        match node_at(self.nodes(file), parent)? {
            Node::Section(s) => Some(&s.children),
            Node::Line(_) => None,
        }
    }

    /// A later section in the same container that sets this kind of group
    /// for the mount would be merged over a new one placed before it.
    pub(super) fn last_covering_location(
        &self,
        m: &Mount,
        anchor: &[usize],
        kind: GroupKind,
    ) -> Option<NodePath> {
        let (parent, _) = split(anchor);
        self.a
            .per_dir_candidates(m, m.site.scope, kind)
            .into_iter()
            .map(|g| &self.a.groups[g])
            .filter(|g| g.site.file == m.site.file)
            .filter(|g| coverage::covers_all(&g.site.sections, m) == Decision::Yes)
            .filter_map(|g| g.site.sections.first().map(|s| s.path.clone()))
            .filter(|p| {
                p.len() == parent.len() + 1 && p.starts_with(&parent) && p.as_slice() > anchor
            })
            .max()
    }

    pub fn insert_before(&self, file: FileId, path: &[usize], text: &str) -> FixEdit {
        let (parent, index) = split(path);
        FixEdit {
            file,
            edit: Edit::Insert {
                parent,
                index,
                nodes: vec![Node::Line(make_line(
                    &self.indent_of(file, path),
                    text,
                    &self.eol_near(file, path),
                ))],
                sticks: Sticks::ToNext,
            },
        }
    }

    pub(super) fn insert_after(&self, file: FileId, path: &[usize], text: &str) -> FixEdit {
        let (parent, index) = split(path);
        let at = match node_at(self.nodes(file), path) {
            Some(Node::Section(s)) => s.close.as_ref().unwrap_or(&s.open),
            Some(Node::Line(l)) => l,
            None => return self.insert_before(file, path, text),
        };
        let eol = if at.eol().is_empty() {
            self.trees[file].dominant_eol().to_vec()
        } else {
            at.eol().to_vec()
        };
        FixEdit {
            file,
            edit: Edit::Insert {
                parent,
                index: index + 1,
                nodes: vec![Node::Line(make_line(
                    &self.indent_of(file, path),
                    text,
                    &eol,
                ))],
                sticks: Sticks::ToPrevious,
            },
        }
    }

    /// Puts a directive into a section: after the daemon/group lines already
    /// there, else first.
    pub(super) fn insert_first_child(
        &self,
        file: FileId,
        section: &[usize],
        text: &str,
    ) -> FixEdit {
        let index = match node_at(self.nodes(file), section) {
            Some(Node::Section(s)) => s
                .children
                .iter()
                .rposition(|c| matches!(c, Node::Line(l) if is_grouping(l)))
                .map_or(0, |i| i + 1),
            _ => 0,
        };
        FixEdit {
            file,
            edit: Edit::Insert {
                parent: section.to_vec(),
                index,
                nodes: vec![Node::Line(make_line(
                    &self.child_indent(file, section),
                    text,
                    &self.eol_near(file, section),
                ))],
                sticks: Sticks::ToPrevious,
            },
        }
    }

    /// Adds a directive to the mount's vhost, in the mount's container (so
    /// it stays inside the same `<IfModule>` guards), after the last WSGI
    /// directive or WSGI `<Location>` there.
    pub(super) fn add_to_scope(&self, m: &Mount, text: &str) -> FixEdit {
        let file = m.site.file;
        let anchor = self.anchor(m);
        let (parent, _) = split(&anchor);
        let children = self.children(file, &parent).unwrap_or(&[]);
        let last_wsgi = children.iter().enumerate().rev().find_map(|(i, c)| {
            let wsgi = match c {
                Node::Line(l) => is_grouping(l),
                Node::Section(s) => {
                    (s.name_is("Location") || s.name_is("LocationMatch"))
                        && s.children
                            .iter()
                            .any(|c| matches!(c, Node::Line(l) if l.name_is("WSGIProcessGroup")))
                }
            };
            wsgi.then_some(i)
        });
        let after = match last_wsgi {
            Some(i) => {
                let mut p = parent.clone();
                p.push(i);
                p
            }
            None => anchor.clone(),
        };
        let indent = self.indent_of(file, &anchor);
        let mut e = self.insert_after(file, &after, text);
        if let Edit::Insert { nodes, sticks, .. } = &mut e.edit {
            let eol = nodes[0].first_line().eol().to_vec();
            nodes[0] = Node::Line(make_line(&indent, text, &eol));
            // A vhost-wide line closes the vhost's WSGI part: what other fixes
            // of the same pass add after the same last directive goes above it.
            *sticks = Sticks::ToNext;
        }
        e
    }
}
