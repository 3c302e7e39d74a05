//! Where fixes put things, shared by the rules. The PyMongo layout: the
//! daemon definition just before the app's alias; one app in a vhost →
//! `WSGIProcessGroup` in the vhost; several apps → a `<Location /mount>` per
//! app; `WSGIApplicationGroup %{GLOBAL}` once in the vhost. Outside every
//! vhost nothing bare is added (it would reach every vhost's apps): the alias
//! options `process-group=`/`application-group=` of that mount, or the
//! handler's own section.

use super::edit::{self, node_at, Edit};
use super::issue::{Issue, IssueKind, NotFixed};
use crate::analysis::{
    Analysis, Daemon, GroupKind, Mount, NodePath, Resolved, ServerContext, Source,
};
use crate::server::FileId;
use crate::syntax::{Line, LineKind, Node, SyntaxTree};
use std::cell::RefCell;

mod insert;
mod lookup;
mod naming;
mod server_level;
use crate::collections::{HashMap, HashSet};
pub use naming::sanitize;
use std::collections::BTreeSet;

/// An edit to one file of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixEdit {
    pub file: FileId,
    pub edit: Edit,
}

/// All names a new daemon must not take: defined daemons, and every name a
/// group directive or option refers to, in every file (also in templates).
fn taken_names(a: &Analysis) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = a.daemons.iter().map(|d| d.name.clone()).collect();
    names.extend(a.macro_daemon_names.iter().cloned());
    names.extend(a.groups.iter().map(|g| g.value.clone()));
    let options = a
        .mounts
        .iter()
        .map(|m| &m.args)
        .chain(a.imports.iter().map(|i| &i.args));
    for args in options {
        if let Some(o) = args.option("process-group") {
            names.insert(o.value.to_string());
        }
    }
    for t in &a.templates {
        let inner = crate::analysis::analyse(&t.tree);
        names.extend(inner.daemons.into_iter().map(|d| d.name));
        names.extend(inner.groups.into_iter().map(|g| g.value));
    }
    names
}

/// An app (index into `Analysis::apps`) in the vhosts of one ServerName.
type AppInServerName = (usize, Option<String>);

pub struct Fixer<'a> {
    pub trees: &'a [std::sync::Arc<SyntaxTree>],
    pub a: &'a Analysis,
    /// Each file's indent unit, worked out when a fix first edits the file.
    units: Vec<std::cell::OnceCell<Vec<u8>>>,
    /// Names in use, plus the ones fixes of this pass have already taken.
    taken: RefCell<BTreeSet<String>>,
    /// Daemon name → the apps whose effective process group it is.
    users: HashMap<&'a str, BTreeSet<usize>>,
    /// The server's files as users name them.
    pub file_names: &'a [String],
    /// Every name a WSGIProcessGroup or process-group= names.
    selected: BTreeSet<&'a str>,
    /// How many times each daemon name is defined in the server.
    definitions: HashMap<&'a str, usize>,
    /// Per base name, the next number to try when the name is taken.
    next_suffix: RefCell<HashMap<String, usize>>,
    /// Free daemons a fix of this pass gave to an app (name → app): another
    /// app's fix in the same pass must not take the same one.
    claimed: RefCell<HashMap<String, usize>>,
    /// Daemons a fix of this pass defines in a vhost, by (app, ServerName):
    /// the other vhost of an 80/443 pair selects the same one in the same pass.
    created: RefCell<HashMap<AppInServerName, String>>,
    /// What the last fix would add to `created`, until the engine says
    /// whether that fix is in the pass ([`Fixer::settle`]).
    created_pending: RefCell<Vec<(AppInServerName, String)>>,
    ext: &'a ServerContext,
    /// Apps a suppression keeps as they are: a fix for another app must not
    /// move them, so it takes a narrower place (a <Location>, an option).
    pinned: HashSet<usize>,
    lookups: lookup::Lookups,
    /// Why the fix being made was declined, when a check said so.
    refusal: std::cell::Cell<Option<NotFixed>>,
}

impl<'a> Fixer<'a> {
    pub fn new(
        trees: &'a [std::sync::Arc<SyntaxTree>],
        file_names: &'a [String],
        a: &'a Analysis,
        ext: &'a ServerContext,
    ) -> Fixer<'a> {
        let mut users: HashMap<&'a str, BTreeSet<usize>> = HashMap::default();
        for (i, inst) in a.instances.iter().enumerate() {
            let pg = a.effective_of(i, GroupKind::Process).value.as_str();
            users
                .entry(pg)
                .or_default()
                .insert(a.mounts[inst.mount].app);
        }
        let mut selected: BTreeSet<&'a str> = a
            .groups
            .iter()
            .filter(|g| g.kind == GroupKind::Process)
            .map(|g| g.value.as_str())
            .collect();
        let options = a.mounts.iter().map(|m| &m.args);
        let options = options.chain(a.imports.iter().map(|i| &i.args));
        selected
            .extend(options.filter_map(|o| o.option("process-group").map(|o| o.value.as_str())));
        Fixer {
            file_names,
            selected,
            trees,
            a,
            units: trees.iter().map(|_| std::cell::OnceCell::new()).collect(),
            taken: RefCell::new(taken_names(a)),
            next_suffix: RefCell::default(),
            claimed: RefCell::default(),
            created: RefCell::default(),
            created_pending: RefCell::default(),
            users,
            definitions: a.daemons.iter().fold(HashMap::default(), |mut m, d| {
                *m.entry(d.name.as_str()).or_insert(0) += 1;
                m
            }),
            ext,
            pinned: HashSet::default(),
            lookups: lookup::Lookups::default(),
            refusal: std::cell::Cell::new(None),
        }
    }

    /// Marks apps (by index into `a.apps`) whose groups no fix may move.
    pub fn with_pinned(mut self, pinned: HashSet<usize>) -> Fixer<'a> {
        self.pinned = pinned;
        self
    }

    /// Would a directive for the whole scope of `m` also reach a pinned app?
    fn scope_holds_pinned(&self, m: &Mount) -> bool {
        !self.pinned.is_empty()
            && self.a.mounts_reaching(m.site.scope).into_iter().any(|o| {
                self.a.mounts[o].app != m.app && self.pinned.contains(&self.a.mounts[o].app)
            })
    }

    /// The edits that fix `issue`, or `None` when it cannot be fixed safely
    /// (then [`Fixer::take_refusal`] may say why).
    pub fn fix(&self, issue: &Issue) -> Option<Vec<FixEdit>> {
        self.refusal.set(None);
        // One daemon or interpreter for a mount of several scripts would
        // merge them: each needs one of its own, which only its author can
        // lay out.
        if issue.mount().is_some_and(|m| self.a.mounts[m].by_macro) {
            return self.refuse(
                "it is mounted by a Use of a <Macro>: the expansion is not rewritten, and a fix in the macro's body would reach every Use",
            );
        }
        if issue
            .mount()
            .is_some_and(|m| self.a.mounts[m].serves_several_scripts())
        {
            return self.refuse(
                "it serves several scripts, each in an interpreter of its own: one daemon and %{GLOBAL} for it would merge them",
            );
        }
        // A WSGIRestrictProcess lists the daemons its apps may use: an app
        // moved to another daemon, or a daemon renamed, would answer 500.
        let restricted = |scope: usize| {
            self.a
                .restricted_scopes
                .iter()
                .any(|&s| s == 0 || s == scope)
        };
        match &issue.kind {
            IssueKind::Embedded { inst, .. } | IssueKind::Shared { inst, .. }
                if restricted(self.a.instances[*inst].scope) =>
            {
                return self.refuse(RESTRICTED);
            }
            IssueKind::Duplicate { dup, .. } if restricted(self.a.daemons[*dup].site.scope) => {
                return self.refuse(RESTRICTED);
            }
            _ => {}
        }
        match &issue.kind {
            IssueKind::Embedded { inst, pg, .. } => self.embedded(*inst, pg),
            IssueKind::Shared {
                inst, daemon, pg, ..
            } => self.shared(*inst, daemon, pg),
            IssueKind::NotGlobal { inst, ag, .. } => self.not_global(*inst, ag),
            IssueKind::Duplicate { first, dup } => self.duplicate(*first, *dup),
            IssueKind::ReportOnly(_) => None,
        }
    }

    /// Declines the fix being made, saying why.
    pub(crate) fn refuse<T>(&self, why: NotFixed) -> Option<T> {
        self.refusal.set(Some(why));
        None
    }

    /// Why the last [`Fixer::fix`] that gave `None` declined, if it said.
    pub fn take_refusal(&self) -> Option<NotFixed> {
        self.refusal.take()
    }

    pub(crate) fn indent_unit(&self, file: FileId) -> &[u8] {
        self.units[file].get_or_init(|| edit::indent_unit(&self.trees[file]))
    }

    fn nodes(&self, file: FileId) -> &'a [Node] {
        self.trees.get(file).map_or(&[], |t| t.nodes.as_slice())
    }

    pub fn line(&self, file: FileId, path: &[usize]) -> Option<&'a Line> {
        Some(node_at(self.nodes(file), path)?.first_line())
    }

    /// The node next to which a mount's new lines go: the alias directive, or
    /// the outermost section around a handler in its file (the `<Directory>`
    /// of a `<Files>` that holds it), so that what only a vhost may hold
    /// lands in the vhost.
    pub fn anchor(&self, m: &Mount) -> NodePath {
        match &m.handler_section {
            Some(h) => m
                .site
                .sections
                .iter()
                .find(|s| s.file == h.file && h.path.starts_with(&s.path))
                .map_or_else(|| h.path.clone(), |s| s.path.clone()),
            None => m.site.path.clone(),
        }
    }

    /// The mount before which a new daemon for `m`'s app goes. For a mount
    /// in certbot's `-le-ssl.conf` copy of a vhost, the same app's mount in
    /// the original vhost of its ServerName: both vhosts may use a daemon
    /// either defines, and disabling the copy again (`a2dissite`) must not
    /// take away the daemon the original selects.
    pub fn daemon_home<'m>(&'m self, m: &'m Mount) -> &'m Mount {
        if !self.is_certbot_file(m.site.file) || m.site.scope == 0 {
            return m;
        }
        let a = self.a;
        a.vhosts_named(a.server_name_of(m.site.scope))
            .iter()
            .flat_map(|&v| a.mounts_in(v))
            .map(|&o| &a.mounts[o])
            .find(|o| o.app == m.app && !self.is_certbot_file(o.site.file))
            .unwrap_or(m)
    }

    /// Whether `file` is one certbot wrote: the `-le-ssl.conf` copy of a
    /// site, for its TLS vhost.
    pub fn is_certbot_file(&self, file: FileId) -> bool {
        self.file_names
            .get(file)
            .is_some_and(|n| n.ends_with("-le-ssl.conf"))
    }

    /// Where a daemon for `m` may be defined: before its [`Fixer::anchor`],
    /// unless that is itself inside a per-directory section (a handler in a
    /// file Included inside a `<Directory>`), where httpd refuses one.
    pub fn daemon_anchor(&self, m: &Mount) -> Option<NodePath> {
        let inside_other_file = m
            .site
            .sections
            .first()
            .is_some_and(|s| s.file != m.site.file);
        if inside_other_file {
            return self.refuse(
                "its file is Included inside a <Directory>, where httpd allows no WSGIDaemonProcess",
            );
        }
        Some(self.anchor(m))
    }

    /// The apps whose process group is daemon `name` (none when unused).
    fn users_of(&self, name: &str) -> impl Iterator<Item = usize> + '_ {
        self.users.get(name).into_iter().flatten().copied()
    }

    /// A daemon this mount may select without sharing it: one its context
    /// can use (server level for a server-level mount), used by no other app.
    /// An app leaving daemon `leaving` takes only one with its options (or
    /// one it already uses): a spare with another python-path or user would
    /// drop what its daemon gave it.
    pub fn reusable_daemon(&self, m: &Mount, leaving: Option<&Daemon>) -> Option<String> {
        let except = leaving.map(|d| d.name.as_str());
        let key = m.app;
        let mut candidates: Vec<&str> = Vec::new();
        for d in self.a.daemons_for_scope(m.site.scope) {
            // Read whenever the app is: under no <IfDefine> the app is not.
            let read_with_app = d.site.read_whenever(&m.site);
            if Some(d.name.as_str()) == except
                || candidates.contains(&d.name.as_str())
                || !read_with_app
            {
                continue;
            }
            // Defined twice, or known to another file: not free.
            if self.definitions[d.name.as_str()] > 1
                || self.ext.selected_elsewhere(&d.name)
                || self.ext.defined_elsewhere(&d.name)
            {
                continue;
            }
            let mut users = self.users_of(&d.name).peekable();
            // Selected somewhere yet used by no app we can resolve (a section
            // whose coverage is undecided): not free either.
            if users.peek().is_none() && self.selected.contains(d.name.as_str()) {
                continue;
            }
            let claimed_by_other = self
                .claimed
                .borrow()
                .get(&d.name)
                .is_some_and(|&app| app != key);
            let used_by_this_app = users.peek().is_some();
            let keeps_options = match leaving {
                Some(l) => used_by_this_app || l.same_options(d),
                // An embedded app ran with the server's WSGIPythonPath and
                // WSGIPythonHome, which a daemon ignores: where those are
                // set, it takes only a daemon that sets the same (as a new
                // one would). Without them, a spare's own (the daemon its
                // author meant for it) only adds to what the app had.
                None => {
                    let same = |name, server: &Option<String>| {
                        server.is_none()
                            || d.args.option(name).map(|o| o.value.as_str()) == server.as_deref()
                    };
                    same("python-path", &self.a.python_path)
                        && same("python-home", &self.a.python_home)
                }
            };
            if users.all(|u| u == key) && !claimed_by_other && keeps_options {
                candidates.push(&d.name);
            }
        }
        // Prefer a daemon this same app already uses (the other vhost of an
        // 80/443 pair), then the first unused one.
        let chosen = candidates
            .iter()
            .find(|n| self.users_of(n).next().is_some())
            .or(candidates.first())
            .map(|s| s.to_string())?;
        self.claimed.borrow_mut().insert(chosen.clone(), key);
        Some(chosen)
    }

    /// The daemon a fix of this pass defines for `m`'s app in a vhost of the
    /// same ServerName, which `m` may select (a vhost's daemon serves the
    /// vhosts of its ServerName).
    pub fn created_for(&self, m: &Mount) -> Option<String> {
        if m.site.scope == 0 {
            return None;
        }
        let key = (
            m.app,
            self.a.server_name_of(m.site.scope).map(str::to_string),
        );
        self.created.borrow().get(&key).cloned()
    }

    /// Notes that the fix being made defines daemon `name` for `m`'s app in
    /// `m`'s vhost.
    pub fn record_created(&self, m: &Mount, name: &str) {
        if m.site.scope != 0 {
            let key = (
                m.app,
                self.a.server_name_of(m.site.scope).map(str::to_string),
            );
            self.created_pending
                .borrow_mut()
                .push((key, name.to_string()));
        }
    }

    /// Called after each fix: `taken` when its edits are in the pass, so
    /// the daemons it defines may be selected by later fixes of the pass.
    pub fn settle(&self, taken: bool) {
        let pending = std::mem::take(&mut *self.created_pending.borrow_mut());
        if taken {
            self.created.borrow_mut().extend(pending);
        }
    }

    /// A new daemon for an app that ran embedded: bare, plus the server's
    /// WSGIPythonHome/WSGIPythonPath (a daemon ignores WSGIPythonPath).
    pub fn bare_daemon(&self, name: &str) -> String {
        let mut text = format!("WSGIDaemonProcess {}", quote_if_needed(name));
        if let Some(ph) = &self.a.python_home {
            text.push_str(&format!(" python-home={}", quote_if_needed(ph)));
        }
        if let Some(pp) = &self.a.python_path {
            text.push_str(&format!(" python-path={}", quote_if_needed(pp)));
        }
        text
    }

    /// Makes `value` the group of `kind` of instance `inst`: where the
    /// current value comes from when that only concerns this app, else at
    /// the most specific place that covers only this app.
    pub fn select(
        &self,
        inst: usize,
        kind: GroupKind,
        value: &str,
        current: &Resolved,
    ) -> Option<Vec<FixEdit>> {
        let m = &self.a.mounts[self.a.instances[inst].mount];
        let shown = quote_if_needed(value);
        let file = m.site.file;
        match &current.source {
            Source::AliasOption => {
                let opt = m.args.option(kind.option())?;
                let line = self.line(file, &m.site.path)?;
                let new = format!("{}={}", kind.option(), shown);
                let raw = edit::replace_in_args(line, &opt.text, new.as_bytes())?;
                return Some(vec![self.replace(file, &m.site.path, raw)]);
            }
            Source::Directive(gi) if self.a.groups[*gi].by_macro => {
                return self.refuse(
                    "its group is set by a Use of a <Macro>: the expansion is not rewritten",
                );
            }
            Source::Directive(gi) => {
                if let Some(e) = self.change_directive(*gi, m, kind, &shown) {
                    return Some(vec![e]);
                }
            }
            Source::Default => {}
        }
        let directive = format!("{} {}", kind.directive(), shown);
        if let Some(h) = &m.handler_section {
            return self.select_in_handler(m, h, kind, &directive, current);
        }
        if m.site.scope == 0 {
            return self.select_at_server_level(m, kind, &shown);
        }
        // A mount in a file its vhost Includes (a snippet several vhosts
        // share: prod's and staging's django-common.conf): a line beside it
        // would reach every vhost that includes it. The vhost's own section
        // takes the selection.
        let scope = &self.a.scopes[m.site.scope];
        if scope.file != m.site.file
            && kind == GroupKind::Process
            && current.source == Source::Default
            && self.only_app_in_scope(m)
        {
            return Some(vec![self.insert_first_child(
                scope.file,
                &scope.path,
                &directive,
            )]);
        }
        if kind == GroupKind::Application && !self.scope_holds_pinned(m) {
            return Some(vec![self.add_to_scope(m, &directive)]);
        }
        if self.only_app_in_scope(m) && current.source == Source::Default {
            return Some(vec![self.after_last_mount(m, &directive)]);
        }
        // A <Location> for this mount would also cover another app mounted
        // below it (`/` and `/admin`): an option on this alias only is exact.
        if self.location_would_capture_others(m) {
            return self.alias_option(m, kind, &shown);
        }
        // Where a <Location> cannot take it, the alias's own option can.
        match self.location_for(m, kind, &directive) {
            Some(e) => Some(vec![e]),
            None => self.alias_option(m, kind, &shown),
        }
    }

    /// Changes the value of the directive that gives it, when that directive
    /// concerns only this app (or sets %{GLOBAL}, wanted by every app it
    /// reaches) and is not a bare server-level one (which reaches every vhost).
    fn change_directive(
        &self,
        gi: usize,
        m: &Mount,
        kind: GroupKind,
        shown: &str,
    ) -> Option<FixEdit> {
        let g = &self.a.groups[gi];
        let bare_server = g.site.scope == 0 && g.site.at_scope_level();
        let only_this_app = self.directive_only_for(gi, kind, m.app);
        if bare_server || !(only_this_app || kind == GroupKind::Application) {
            return None;
        }
        let line = self.line(g.site.file, &g.site.path)?;
        let raw = edit::replace_in_args(line, &g.value_text, shown.as_bytes())?;
        Some(self.replace(g.site.file, &g.site.path, raw))
    }

    /// A handler mount: its own section is the place, unless a section httpd
    /// merges later (a <Location> over a <Directory>) sets the value.
    fn select_in_handler(
        &self,
        m: &Mount,
        h: &crate::analysis::SectionContext,
        kind: GroupKind,
        directive: &str,
        current: &Resolved,
    ) -> Option<Vec<FixEdit>> {
        if kind == GroupKind::Application && self.a.scopes[m.site.scope].is_vhost {
            return Some(vec![self.add_to_scope(m, directive)]);
        }
        let overridden = match current.source {
            Source::Directive(gi) => self.a.groups[gi]
                .site
                .sections
                .last()
                .is_some_and(|s| s.kind > h.kind),
            _ => false,
        };
        if overridden {
            m.url.as_ref()?;
            return Some(vec![self.location_for(m, kind, directive)?]);
        }
        Some(vec![self.insert_first_child(h.file, &h.path, directive)])
    }

    fn replace(&self, file: FileId, path: &[usize], raw: Vec<u8>) -> FixEdit {
        FixEdit {
            file,
            edit: Edit::Replace {
                path: path.to_vec(),
                raw,
            },
        }
    }
}

/// A `WSGIRestrictProcess` lists the daemons a scope's apps may use.
const RESTRICTED: NotFixed =
    "a WSGIRestrictProcess limits the daemons its apps may use: moved, an app would answer 500";

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

fn is_grouping(l: &Line) -> bool {
    l.kind == LineKind::Directive && GROUPING_DIRECTIVES.iter().any(|d| l.name_is(d))
}

pub fn split(path: &[usize]) -> (NodePath, usize) {
    let (last, parent) = path.split_last().expect("a node path is never empty");
    (parent.to_vec(), *last)
}

pub fn quote_if_needed(s: &str) -> String {
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
pub fn reindent(raw: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let rest = raw.strip_prefix(from).unwrap_or(raw);
    [to, rest].concat()
}
