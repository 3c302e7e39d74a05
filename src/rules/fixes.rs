//! Fixes for WSGI001-003, as edits on the tree, laid out the way PyMongo's
//! documentation lays out a config: the daemon definition just before the
//! app's alias; one app in a vhost → `WSGIProcessGroup` in the vhost; several
//! apps, or outside every vhost → a `<Location /mount>` per app;
//! `WSGIApplicationGroup %{GLOBAL}` once in the scope.

use super::checks::{Issue, IssueKind};
use super::edit::{self, make_line, make_section, node_at, Edit};
use crate::analysis::{
    Analysis, GroupKind, Mount, MountKind, NodePath, Resolved, ServerContext, Source,
};
use crate::syntax::{Line, LineKind, Node, SyntaxTree};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

/// All names a new daemon must not take: defined daemons, and every name a
/// group directive or option refers to (also inside templates).
fn taken_names(a: &Analysis) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = a.daemons.iter().map(|d| d.name.clone()).collect();
    names.extend(a.groups.iter().map(|g| g.value.clone()));
    for m in &a.mounts {
        if let Some(o) = m.args.option("process-group") {
            names.insert(o.value.clone());
        }
    }
    for t in &a.templates {
        let inner = crate::analysis::analyse(&t.tree);
        names.extend(inner.daemons.into_iter().map(|d| d.name));
    }
    names
}

pub struct Fixer<'a> {
    pub tree: &'a SyntaxTree,
    pub a: &'a Analysis,
    unit: Vec<u8>,
    /// Names in use, plus the ones fixes of this pass have already taken.
    taken: RefCell<BTreeSet<String>>,
    /// Daemon name → the apps whose effective process group it is.
    users: HashMap<&'a str, BTreeSet<usize>>,
    /// How many times each daemon name is defined in the file.
    definitions: HashMap<&'a str, usize>,
    /// Per base name, the next number to try when the name is taken.
    next_suffix: RefCell<HashMap<String, usize>>,
    ctx: &'a ServerContext,
}

impl<'a> Fixer<'a> {
    pub fn new(tree: &'a SyntaxTree, a: &'a Analysis, ctx: &'a ServerContext) -> Fixer<'a> {
        Fixer {
            tree,
            a,
            unit: edit::indent_unit(tree),
            taken: RefCell::new(taken_names(a)),
            next_suffix: RefCell::default(),
            users: (0..a.mounts.len()).fold(HashMap::new(), |mut u, i| {
                let pg = a.effective(i, GroupKind::Process).value.as_str();
                u.entry(pg)
                    .or_insert_with(BTreeSet::new)
                    .insert(a.mounts[i].app);
                u
            }),
            definitions: a.daemons.iter().fold(HashMap::new(), |mut m, d| {
                *m.entry(d.name.as_str()).or_insert(0) += 1;
                m
            }),
            ctx,
        }
    }

    fn resolved(&self, mount: usize, kind: GroupKind) -> &Resolved {
        self.a.effective(mount, kind)
    }

    /// The edits that fix `issue`, or `None` when it cannot be fixed safely.
    pub fn fix(&self, issue: &Issue) -> Option<Vec<Edit>> {
        match &issue.kind {
            IssueKind::Embedded { mount, pg } => self.embedded(*mount, pg),
            IssueKind::Shared { mount, daemon, pg } => self.shared(*mount, daemon, pg),
            IssueKind::NotGlobal { mount, ag } => self.not_global(*mount, ag),
            IssueKind::ReportOnly => None,
        }
    }

    fn line(&self, path: &[usize]) -> Option<&'a Line> {
        Some(node_at(&self.tree.nodes, path)?.first_line())
    }

    /// The node next to which a mount's new lines go: the alias directive, or
    /// the section that holds a handler.
    fn anchor(&self, m: &Mount) -> NodePath {
        match &m.handler_section {
            Some(s) => s.path.clone(),
            None => m.site.path.clone(),
        }
    }

    fn eol_near(&self, path: &[usize]) -> Vec<u8> {
        match self.line(path).map(|l| l.eol()) {
            Some(e) if !e.is_empty() => e.to_vec(),
            _ => self.tree.dominant_eol().to_vec(),
        }
    }

    fn indent_of(&self, path: &[usize]) -> Vec<u8> {
        self.line(path)
            .map(|l| l.indent().to_vec())
            .unwrap_or_default()
    }

    /// Indent for a line placed as a child of the section at `section`.
    fn child_indent(&self, section: &[usize]) -> Vec<u8> {
        if let Some(Node::Section(s)) = node_at(&self.tree.nodes, section) {
            if let Some(c) = s
                .children
                .iter()
                .map(|c| c.first_line())
                .find(|l| l.kind != LineKind::Blank && l.kind != LineKind::Comment)
            {
                return c.indent().to_vec();
            }
            return [s.open.indent(), &self.unit].concat();
        }
        Vec::new()
    }

    /// A daemon name derived from the mount (`/my_app` → `my_app`) or, for
    /// `/` and patterns, from the script (`graphite.wsgi` → `graphite`);
    /// unique in the file; the same input always gives the same name.
    fn new_name(&self, m: &Mount) -> String {
        let from_url = match (&m.url, m.kind) {
            (Some(u), MountKind::Alias | MountKind::Handler) => sanitize(u),
            _ => String::new(),
        };
        let base = if from_url.is_empty() {
            let mut parts = m.target.trim_end_matches('/').rsplit('/');
            let file = parts.next().unwrap_or("");
            let stem = file
                .strip_suffix(".wsgi")
                .or_else(|| file.strip_suffix(".py"))
                .unwrap_or(file);
            // `wsgi.py`, `app.wsgi`...: the directory says more about the app.
            let stem = if GENERIC_SCRIPT_NAMES.contains(&stem.to_ascii_lowercase().as_str()) {
                parts.next().filter(|d| !d.is_empty()).unwrap_or(stem)
            } else {
                stem
            };
            sanitize(stem)
        } else {
            from_url
        };
        let base = if base.is_empty() {
            "wsgi".to_string()
        } else {
            base
        };
        let mut taken = self.taken.borrow_mut();
        // Names are global to the server: the other files' count too.
        let is_taken = |n: &str| {
            taken.contains(n) || self.ctx.defined_elsewhere(n) || self.ctx.selected_elsewhere(n)
        };
        // Taken: the same mount in another vhost is common (`/admin` on every
        // site), so the vhost's host name tells them apart (`shop_admin`);
        // only then a number, counted on from where this pass left off.
        let host = self.a.scopes[m.site.scope]
            .server_name
            .as_deref()
            .and_then(|n| n.split('.').next())
            .map(sanitize)
            .filter(|h| !h.is_empty() && *h != base);
        let name = match host.map(|h| format!("{h}_{base}")) {
            _ if !is_taken(&base) => base,
            Some(qualified) if !is_taken(&qualified) => qualified,
            _ => {
                let mut next = self.next_suffix.borrow_mut();
                let n = next.entry(base.clone()).or_insert(2);
                loop {
                    let candidate = format!("{base}-{n}");
                    *n += 1;
                    if !is_taken(&candidate) {
                        break candidate;
                    }
                }
            }
        };
        taken.insert(name.clone());
        name
    }

    /// Apps that select daemon `name`.
    fn users_of(&self, name: &str) -> BTreeSet<usize> {
        self.users.get(name).cloned().unwrap_or_default()
    }

    /// A daemon this mount may select without sharing it: defined in its
    /// scope (or a vhost with the same ServerName), used by no other app.
    fn reusable_daemon(&self, m: &Mount, except: Option<&str>) -> Option<String> {
        let key = m.app;
        let mut candidates: Vec<&str> = Vec::new();
        for d in self.a.daemons_for_scope(m.site.scope) {
            if Some(d.name.as_str()) == except
                || candidates.contains(&d.name.as_str())
                || super::checks::exclusive(&d.site.defines, &m.site.defines)
            {
                continue;
            }
            // Defined twice, or selected by an app in another file: not free.
            if self.definitions[d.name.as_str()] > 1
                || self.ctx.selected_elsewhere(&d.name)
                || self.ctx.defined_elsewhere(&d.name)
            {
                continue;
            }
            let users = self.users_of(&d.name);
            if users.iter().all(|u| *u == key) {
                candidates.push(&d.name);
            }
        }
        // Prefer a daemon this same app already uses (the other vhost of an
        // 80/443 pair), then the first unused one.
        candidates
            .iter()
            .find(|n| !self.users_of(n).is_empty())
            .or(candidates.first())
            .map(|s| s.to_string())
    }

    fn daemon_definition(&self, name: &str) -> String {
        let mut text = format!("WSGIDaemonProcess {}", quote_if_needed(name));
        if let Some(pp) = &self.a.python_path {
            text.push_str(&format!(" python-path={}", quote_if_needed(pp)));
        }
        text
    }

    /// WSGI001.
    fn embedded(&self, mi: usize, pg: &Resolved) -> Option<Vec<Edit>> {
        let m = &self.a.mounts[mi];
        let mut edits = Vec::new();
        let name = match self.reusable_daemon(m, None) {
            Some(n) => n,
            None => {
                let name = self.new_name(m);
                edits.push(self.insert_before(&self.anchor(m), &self.daemon_definition(&name)));
                name
            }
        };
        edits.extend(self.select(mi, GroupKind::Process, &name, pg)?);
        Some(edits)
    }

    /// WSGI002.
    fn shared(&self, mi: usize, daemon: &str, pg: &Resolved) -> Option<Vec<Edit>> {
        let m = &self.a.mounts[mi];
        let mut edits = Vec::new();
        let name = match self.reusable_daemon(m, Some(daemon)) {
            Some(n) => n,
            None => {
                let original = self.a.daemons.iter().find(|d| d.name == daemon)?;
                let line = self.line(&original.site.path)?;
                let name = self.new_name(m);
                let old = original.args.word_texts.first()?;
                let raw =
                    edit::replace_first_in_args(line, old, quote_if_needed(&name).as_bytes())?;
                // The copy keeps the original's options and continuations, at
                // the indent of the app's alias.
                let raw = reindent(&raw, line.indent(), &self.indent_of(&self.anchor(m)));
                let anchor = self.anchor(m);
                let (parent, index) = split(&anchor);
                edits.push(Edit::Insert {
                    parent,
                    index,
                    nodes: vec![Node::Line(Line::inserted(raw))],
                });
                name
            }
        };
        edits.extend(self.select(mi, GroupKind::Process, &name, pg)?);
        Some(edits)
    }

    /// WSGI003.
    fn not_global(&self, mi: usize, ag: &Resolved) -> Option<Vec<Edit>> {
        let mut edits = self.select(mi, GroupKind::Application, "%{GLOBAL}", ag)?;
        // A preload into the old application group of this app's daemon would
        // load the script a second time: move it along.
        let pg = &self.a.effective(mi, GroupKind::Process);
        for s in &self.a.imports {
            let (Some(p), Some(g)) = (
                s.args.option("process-group"),
                s.args.option("application-group"),
            ) else {
                continue;
            };
            if p.value == pg.value && g.value == ag.value && !pg.is_global() {
                let line = self.line(&s.site.path)?;
                let new = "application-group=%{GLOBAL}".to_string();
                let raw = edit::replace_in_args(line, &g.text, new.as_bytes())?;
                edits.push(Edit::Replace {
                    path: s.site.path.clone(),
                    raw,
                });
            }
        }
        Some(edits)
    }

    /// Makes `value` the mount's effective group of `kind`: where the current
    /// value comes from when that only concerns this app, else at the most
    /// specific place that covers only this app.
    fn select(
        &self,
        mi: usize,
        kind: GroupKind,
        value: &str,
        current: &Resolved,
    ) -> Option<Vec<Edit>> {
        let m = &self.a.mounts[mi];
        let key = m.app;
        let shown = quote_if_needed(value);
        match &current.source {
            Source::AliasOption => {
                let opt = m.args.option(kind.option())?;
                let line = self.line(&m.site.path)?;
                let new = format!("{}={}", kind.option(), shown);
                let raw = edit::replace_in_args(line, &opt.text, new.as_bytes())?;
                return Some(vec![Edit::Replace {
                    path: m.site.path.clone(),
                    raw,
                }]);
            }
            Source::Directive(gi) => {
                let g = &self.a.groups[*gi];
                let bare_server = g.site.scope == 0 && g.site.at_scope_level();
                let only_this_app = self.a.mounts_reached_from(g.site.scope).all(|oi| {
                    self.a.mounts[oi].app == key
                        || self.resolved(oi, kind).source != Source::Directive(*gi)
                });
                // A bare server-level value leaks into every vhost and file;
                // changing it would change apps we cannot see.
                let sets_global = kind == GroupKind::Application;
                if !bare_server && (only_this_app || sets_global) {
                    let line = self.line(&g.site.path)?;
                    let raw = edit::replace_in_args(line, &g.value_text, shown.as_bytes())?;
                    return Some(vec![Edit::Replace {
                        path: g.site.path.clone(),
                        raw,
                    }]);
                }
            }
            Source::Default => {}
        }
        let directive = format!("{} {}", kind.directive(), shown);

        // A handler mount: its own section is the place, unless a section
        // httpd merges later (a <Location> over a <Directory>) sets the value.
        if let Some(h) = &m.handler_section {
            if kind == GroupKind::Application && self.a.scopes[m.site.scope].is_vhost {
                return Some(vec![self.add_to_scope(m, &directive)]);
            }
            let overridden = match current.source {
                Source::Directive(gi) => self.a.groups[gi]
                    .site
                    .sections
                    .last()
                    .is_some_and(|s| s.kind > h.kind),
                _ => false,
            };
            if !overridden {
                return Some(vec![self.insert_first_child(&h.path, &directive)]);
            }
            m.url.as_ref()?;
        }

        let in_vhost = self.a.scopes[m.site.scope].is_vhost;
        if in_vhost && kind == GroupKind::Application {
            return Some(vec![self.add_to_scope(m, &directive)]);
        }
        let apps_here: BTreeSet<usize> = self
            .a
            .mounts_in_or_above(m.site.scope)
            .map(|o| self.a.mounts[o].app)
            .collect();
        if in_vhost && apps_here.len() == 1 && current.source == Source::Default {
            let (parent, _) = split(&m.site.path);
            let last_mount = self
                .a
                .mounts_in_or_above(m.site.scope)
                .map(|o| &self.a.mounts[o])
                .filter(|o| o.handler_section.is_none() && o.app == key)
                .map(|o| o.site.path.clone())
                .filter(|p| p.len() == m.site.path.len() && p.starts_with(&parent))
                .max()
                .unwrap_or_else(|| m.site.path.clone());
            return Some(vec![self.insert_after(&last_mount, &directive)]);
        }
        // A <Location> for this mount would also cover another app mounted
        // below it (`/` and `/admin`): an option on this alias only is exact.
        // Alone, `process-group=` neither preloads nor adds start-up checks.
        if kind == GroupKind::Process && self.location_would_capture_others(m) {
            if m.kind != MountKind::Alias || m.args.option("application-group").is_some() {
                return None;
            }
            let line = self.line(&m.site.path)?;
            let body_len = line.raw().len() - line.eol().len();
            let mut raw = line.raw()[..body_len].to_vec();
            raw.extend_from_slice(format!(" process-group={shown}").as_bytes());
            raw.extend_from_slice(line.eol());
            return Some(vec![Edit::Replace {
                path: m.site.path.clone(),
                raw,
            }]);
        }
        // Several apps here, or outside every vhost: a <Location> for this
        // app only; an existing one for exactly this mount is reused.
        if let Some(loc) = self.exact_location(m) {
            return Some(vec![self.insert_first_child(&loc, &directive)]);
        }
        let (name, arg) = match m.kind {
            MountKind::AliasMatch => ("LocationMatch", m.args.word_texts.first()?.clone()),
            MountKind::Alias => ("Location", m.args.word_texts.first()?.clone()),
            MountKind::Handler => ("Location", quote_if_needed(m.url.as_ref()?).into_bytes()),
        };
        let anchor = self.anchor(m);
        let after = self
            .last_covering_location(m, &anchor, kind)
            .unwrap_or_else(|| anchor.clone());
        let eol = self.eol_near(&after);
        let indent = self.indent_of(&anchor);
        let block = make_section(&indent, &self.unit, name, &arg, &[&directive], &eol);
        let (parent, index) = split(&after);
        Some(vec![Edit::Insert {
            parent,
            index: index + 1,
            nodes: vec![block],
        }])
    }

    /// Would a `<Location>` for `m`'s URL also cover a mount of another app?
    fn location_would_capture_others(&self, m: &Mount) -> bool {
        let Some(url) = &m.url else { return false };
        let prefix = match m.kind {
            MountKind::AliasMatch => crate::analysis::coverage::literal_prefix(url),
            _ => url.clone(),
        };
        let key = m.app;
        let others = match m.site.scope {
            0 => self.a.mounts_reached_from(0),
            s => Box::new(self.a.mounts_in_or_above(s)),
        };
        others.map(|o| &self.a.mounts[o]).any(|o| {
            o.app != key
                && o.url.as_ref().is_some_and(|ou| {
                    let ou = match o.kind {
                        MountKind::AliasMatch => crate::analysis::coverage::literal_prefix(ou),
                        _ => ou.clone(),
                    };
                    crate::analysis::coverage::url_under(&ou, &prefix)
                })
        })
    }

    /// An existing `<Location>` (`<LocationMatch>` for a pattern) for exactly
    /// this mount, in the mount's container.
    fn exact_location(&self, m: &Mount) -> Option<NodePath> {
        let url = m.url.as_ref()?;
        let section_name = match m.kind {
            MountKind::Alias => "Location",
            MountKind::AliasMatch => "LocationMatch",
            MountKind::Handler => return None,
        };
        let matches = |arg: &str| match m.kind {
            MountKind::Alias => crate::analysis::coverage::same_url(arg, url),
            _ => arg == url,
        };
        let (parent, _) = split(&m.site.path);
        let children = match parent.is_empty() {
            true => &self.tree.nodes,
            false => match node_at(&self.tree.nodes, &parent)? {
                Node::Section(s) => &s.children,
                Node::Line(_) => return None,
            },
        };
        children.iter().enumerate().find_map(|(i, c)| match c {
            Node::Section(s)
                if s.name_is(section_name)
                    && s.args().len() == 1
                    && matches(&String::from_utf8_lossy(&s.args()[0])) =>
            {
                let mut p = parent.clone();
                p.push(i);
                Some(p)
            }
            _ => None,
        })
    }

    /// A later `<Location>` in the same container that sets this kind of
    /// group for the mount would override a new one placed before it.
    fn last_covering_location(
        &self,
        m: &Mount,
        anchor: &[usize],
        kind: GroupKind,
    ) -> Option<NodePath> {
        let (parent, _) = split(anchor);
        self.a
            .groups
            .iter()
            .filter(|g| g.kind == kind && g.site.scope == m.site.scope)
            .filter(|g| {
                g.site
                    .sections
                    .iter()
                    .all(|s| crate::analysis::coverage::covers(s, m))
            })
            .filter_map(|g| g.site.sections.first().map(|s| s.path.clone()))
            .filter(|p| {
                p.len() == parent.len() + 1 && p.starts_with(&parent) && p.as_slice() > anchor
            })
            .max()
    }

    fn insert_before(&self, path: &[usize], text: &str) -> Edit {
        let (parent, index) = split(path);
        Edit::Insert {
            parent,
            index,
            nodes: vec![Node::Line(make_line(
                &self.indent_of(path),
                text,
                &self.eol_near(path),
            ))],
        }
    }

    fn insert_after(&self, path: &[usize], text: &str) -> Edit {
        let (parent, index) = split(path);
        let at = match node_at(&self.tree.nodes, path) {
            Some(Node::Section(s)) => s.close.as_ref().unwrap_or(&s.open),
            Some(Node::Line(l)) => l,
            None => return self.insert_before(path, text),
        };
        let eol = if at.eol().is_empty() {
            self.tree.dominant_eol().to_vec()
        } else {
            at.eol().to_vec()
        };
        Edit::Insert {
            parent,
            index: index + 1,
            nodes: vec![Node::Line(make_line(&self.indent_of(path), text, &eol))],
        }
    }

    /// Puts a directive into a section: after the daemon/group lines already
    /// there, else first.
    fn insert_first_child(&self, section: &[usize], text: &str) -> Edit {
        let index = match node_at(&self.tree.nodes, section) {
            Some(Node::Section(s)) => s
                .children
                .iter()
                .rposition(|c| matches!(c, Node::Line(l) if l.kind == LineKind::Directive && GROUPING_DIRECTIVES.iter().any(|d| l.name_is(d))))
                .map_or(0, |i| i + 1),
            _ => 0,
        };
        Edit::Insert {
            parent: section.to_vec(),
            index,
            nodes: vec![Node::Line(make_line(
                &self.child_indent(section),
                text,
                &self.eol_near(section),
            ))],
        }
    }

    /// Adds a directive to the mount's scope, in the mount's container (so
    /// it stays inside the same `<IfModule>` guards), after the last WSGI
    /// directive or WSGI `<Location>` there.
    fn add_to_scope(&self, m: &Mount, text: &str) -> Edit {
        let anchor = self.anchor(m);
        let (parent, _) = split(&anchor);
        let children: &[Node] = if parent.is_empty() {
            &self.tree.nodes
        } else {
            match node_at(&self.tree.nodes, &parent) {
                Some(Node::Section(s)) => &s.children,
                _ => &[],
            }
        };
        let last_wsgi = children.iter().enumerate().rev().find_map(|(i, c)| {
            let wsgi = match c {
                Node::Line(l) => {
                    l.kind == LineKind::Directive
                        && GROUPING_DIRECTIVES.iter().any(|d| l.name_is(d))
                }
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
        let indent = self.indent_of(&anchor);
        let mut e = self.insert_after(&after, text);
        if let Edit::Insert { nodes, .. } = &mut e {
            let eol = nodes[0].first_line().eol().to_vec();
            nodes[0] = Node::Line(make_line(&indent, text, &eol));
        }
        e
    }
}

const GENERIC_SCRIPT_NAMES: &[&str] = &[
    "wsgi",
    "app",
    "application",
    "index",
    "main",
    "django",
    "site",
    "server",
    "run",
    "start",
];

/// The directives that make up an app's daemon and group setup; a new
/// `WSGIApplicationGroup` joins them rather than unrelated WSGI settings.
const GROUPING_DIRECTIVES: &[&str] = &[
    "WSGIScriptAlias",
    "WSGIScriptAliasMatch",
    "WSGIDaemonProcess",
    "WSGIProcessGroup",
    "WSGIApplicationGroup",
    "WSGIImportScript",
];

fn split(path: &[usize]) -> (NodePath, usize) {
    let (last, parent) = path.split_last().expect("a node path is never empty");
    (parent.to_vec(), *last)
}

/// Daemon names mod_wsgi and httpd read without surprises.
fn sanitize(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
            out.push(c);
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_matches(|c| c == '_' || c == '.' || c == '-')
        .to_string()
}

fn quote_if_needed(s: &str) -> String {
    if s.is_empty()
        || s.bytes()
            .any(|b| crate::syntax::logical::is_space(b) || b == b'"' || b == b'\'')
    {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s.to_string()
    }
}

/// Moves a copied line from one indent to another (first physical line only;
/// continuation lines keep their own alignment).
fn reindent(raw: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let rest = raw.strip_prefix(from).unwrap_or(raw);
    [to, rest].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_mounts() {
        assert_eq!(sanitize("/my_app"), "my_app");
        assert_eq!(sanitize("/cblr/svc"), "cblr_svc");
        assert_eq!(sanitize("/"), "");
        assert_eq!(sanitize("ironic-api-wsgi"), "ironic-api-wsgi");
        assert_eq!(quote_if_needed("/a b"), "\"/a b\"");
    }
}
