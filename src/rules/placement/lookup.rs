//! Indexes a fixer builds on first use and keeps for its pass: a pass may
//! hold a fix for each of thousands of apps in one vhost, and each must cost
//! a lookup, not a scan of that vhost.

use super::Fixer;
use crate::analysis::coverage::{self, Decision, SectionKind};
use crate::analysis::{GroupKind, Mount, MountKind, NodePath, SectionContext, Source};
use crate::collections::HashMap;
use crate::server::FileId;
use crate::syntax::Node;
use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Default)]
pub(super) struct Lookups {
    scopes: RefCell<HashMap<usize, Rc<ScopeMounts>>>,
    /// (kind, group directive) → the distinct apps whose effective group it
    /// gives, at most two (enough to tell "only this app").
    directive_apps: OnceCell<HashMap<(GroupKind, usize), Vec<usize>>>,
    /// (file, container) → its `<Location>`s by URL key and `<LocationMatch>`es
    /// by pattern, each the first child of that name.
    locations: RefCell<HashMap<(FileId, NodePath), Rc<ExistingLocations>>>,
}

/// The mounts whose instances a scope holds (its own and the server-level
/// ones reaching it).
struct ScopeMounts {
    /// Distinct apps among them, at most two.
    apps: Vec<usize>,
    /// Plain aliases by [`coverage::location_key`] of their URL.
    plain: BTreeMap<String, Vec<usize>>,
    /// Patterns and handlers: compared one by one.
    others: Vec<usize>,
}

#[derive(Default)]
struct ExistingLocations {
    literal: HashMap<String, usize>,
    patterns: HashMap<String, usize>,
}

fn push_distinct(apps: &mut Vec<usize>, app: usize) {
    if apps.len() < 2 && !apps.contains(&app) {
        apps.push(app);
    }
}

impl<'a> Fixer<'a> {
    fn scope_mounts(&self, scope: usize) -> Rc<ScopeMounts> {
        let mut scopes = self.lookups.scopes.borrow_mut();
        let a = self.a;
        scopes
            .entry(scope)
            .or_insert_with(|| {
                let mut s = ScopeMounts {
                    apps: Vec::new(),
                    plain: BTreeMap::new(),
                    others: Vec::new(),
                };
                for o in a.mounts_reaching(scope) {
                    let m = &a.mounts[o];
                    push_distinct(&mut s.apps, m.app);
                    match (&m.url, m.kind, &m.handler_section) {
                        (Some(url), MountKind::Alias, None) => s
                            .plain
                            .entry(coverage::location_key(url))
                            .or_default()
                            .push(o),
                        _ => s.others.push(o),
                    }
                }
                Rc::new(s)
            })
            .clone()
    }

    /// Is `m`'s app the only one whose instances `m`'s scope holds?
    pub(super) fn only_app_in_scope(&self, m: &Mount) -> bool {
        self.scope_mounts(m.site.scope).apps.len() == 1
    }

    /// Would a `<Location>` (`<LocationMatch>`) for `m`'s URL also cover,
    /// or possibly cover, a mount of another app in the same context?
    pub(super) fn location_would_capture_others(&self, m: &Mount) -> bool {
        let Some(url) = &m.url else { return false };
        let regex = m.kind == MountKind::AliasMatch;
        let section = SectionContext {
            kind: SectionKind::Location,
            arg: url.clone(),
            regex,
            file: m.site.file,
            path: Vec::new(),
            order: usize::MAX,
            line: 0,
        };
        let scope = self.scope_mounts(m.site.scope);
        let key = coverage::location_key(url);
        // A literal Location covers a plain alias only at or below its URL.
        let plain: Vec<usize> = if regex {
            scope.plain.values().flatten().copied().collect()
        } else {
            scope
                .plain
                .range(key.clone()..)
                .take_while(|(k, _)| k.starts_with(&key))
                .flat_map(|(_, v)| v.iter().copied())
                .collect()
        };
        scope
            .others
            .iter()
            .copied()
            .chain(plain)
            .map(|o| &self.a.mounts[o])
            .any(|o| o.app != m.app && coverage::covers(&section, o) != Decision::No)
    }

    /// Does group directive `gi` give the effective group of `kind` to no
    /// app but `app`?
    pub(super) fn directive_only_for(&self, gi: usize, kind: GroupKind, app: usize) -> bool {
        let a = self.a;
        let map = self.lookups.directive_apps.get_or_init(|| {
            let mut map: HashMap<(GroupKind, usize), Vec<usize>> = HashMap::default();
            for (i, inst) in a.instances.iter().enumerate() {
                for k in [GroupKind::Process, GroupKind::Application] {
                    if let Source::Directive(g) = a.effective_of(i, k).source {
                        push_distinct(map.entry((k, g)).or_default(), a.mounts[inst.mount].app);
                    }
                }
            }
            map
        });
        map.get(&(kind, gi))
            .is_none_or(|apps| apps.iter().all(|&x| x == app))
    }

    /// An existing `<Location>` (`<LocationMatch>` for a pattern) for exactly
    /// this mount, in the mount's container.
    pub(super) fn exact_location(&self, m: &Mount) -> Option<NodePath> {
        let url = m.url.as_ref()?;
        let (parent, _) = super::split(&m.site.path);
        let found = self.existing_locations(m.site.file, &parent);
        let index = match m.kind {
            MountKind::Alias => found.literal.get(&coverage::location_key(url)),
            MountKind::AliasMatch => found.patterns.get(url),
            MountKind::Handler => None,
        }?;
        let mut p = parent;
        p.push(*index);
        Some(p)
    }

    fn existing_locations(&self, file: FileId, parent: &[usize]) -> Rc<ExistingLocations> {
        let mut all = self.lookups.locations.borrow_mut();
        all.entry((file, parent.to_vec()))
            .or_insert_with(|| {
                let mut found = ExistingLocations::default();
                for (i, c) in self
                    .children(file, parent)
                    .unwrap_or(&[])
                    .iter()
                    .enumerate()
                {
                    let Node::Section(s) = c else { continue };
                    let args = s.args();
                    let [arg] = args.as_slice() else { continue };
                    let arg = String::from_utf8_lossy(arg).into_owned();
                    if s.name_is("Location") {
                        found
                            .literal
                            .entry(coverage::location_key(&arg))
                            .or_insert(i);
                    } else if s.name_is("LocationMatch") {
                        found.patterns.entry(arg).or_insert(i);
                    }
                }
                Rc::new(found)
            })
            .clone()
    }
}
