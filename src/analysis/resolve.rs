//! After the walk: app identities, instances, indexes by scope, and the
//! effective groups of each instance (modwsgi.md §4) with daemon visibility
//! (§2.3).

use super::coverage::{self, Decision};
use super::*;
use crate::collections::HashMap;
use std::sync::OnceLock;

mod parts;

/// Lookups by scope, so resolving an instance looks only at its own vhost
/// and the main server, never at every other vhost.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    groups_by_scope: Vec<Vec<usize>>,
    daemons_by_scope: Vec<Vec<usize>>,
    mounts_by_scope: Vec<Vec<usize>>,
    /// mod_alias's `Alias`es (entries of `Analysis::aliases`) by scope.
    aliases_by_scope: Vec<Vec<usize>>,
    pub(crate) instances_by_mount: Vec<Vec<usize>>,
    instances_by_scope: Vec<Vec<usize>>,
    /// Daemon definitions by name, in read order.
    daemons_by_name: HashMap<String, Vec<usize>>,
    /// Vhosts by the ServerName their requests carry.
    vhosts_by_name: HashMap<Option<String>, Vec<usize>>,
    /// Per scope and kind, the group directives inside sections, split so
    /// that resolving an app looks only at the `<Location>`s above its URL.
    per_dir: Vec<[PerDirGroups; 2]>,
    /// Effective (process, application) group of each instance.
    effective: OnceLock<Vec<(Resolved, Resolved)>>,
    /// [`Analysis::parts_of`] of the instances that have parts, by kind.
    parts: OnceLock<HashMap<usize, [Parts; 2]>>,
}

/// URLs below a mount whose requests run in another group, with that group.
pub type Parts = Vec<(String, Resolved)>;

/// One scope's group directives of one kind that sit inside sections.
#[derive(Debug, Clone, Default)]
struct PerDirGroups {
    /// Those whose only section is a literal `<Location>`, by
    /// [`coverage::location_key`]: a vhost whose fix gave each of its
    /// thousands of apps a `<Location>` is resolved without a scan.
    by_location: HashMap<String, Vec<usize>>,
    /// The keys of `by_location`, sorted: the `<Location>`s below a URL
    /// are a range of them.
    location_keys: Vec<String>,
    /// All the others, in read order.
    rest: Vec<usize>,
}

fn kind_slot(kind: GroupKind) -> usize {
    match kind {
        GroupKind::Process => 0,
        GroupKind::Application => 1,
    }
}

impl Analysis {
    pub(super) fn finish(&mut self, macros: Option<&super::MacroExpansions>) {
        self.expand_macro_daemons(macros);
        // The walk grew these by doubling. A fix loop holds an analysis for
        // the whole of each pass, and for a file of thousands of vhosts the
        // spare capacity alone is megabytes.
        self.scopes.shrink_to_fit();
        self.daemons.shrink_to_fit();
        self.mounts.shrink_to_fit();
        self.groups.shrink_to_fit();
        self.imports.shrink_to_fit();
        self.aliases.shrink_to_fit();
        let mut ids: HashMap<String, usize> = HashMap::default();
        for m in &mut self.mounts {
            let next = ids.len();
            let id = *ids.entry(m.target.clone()).or_insert(next);
            if id == self.apps.len() {
                self.apps.push(m.target.clone());
            }
            m.app = id;
        }
        let n = self.scopes.len();
        let mut ix = Index {
            groups_by_scope: vec![Vec::new(); n],
            daemons_by_scope: vec![Vec::new(); n],
            mounts_by_scope: vec![Vec::new(); n],
            aliases_by_scope: vec![Vec::new(); n],
            instances_by_mount: vec![Vec::new(); self.mounts.len()],
            instances_by_scope: vec![Vec::new(); n],
            daemons_by_name: HashMap::default(),
            vhosts_by_name: HashMap::default(),
            per_dir: vec![Default::default(); n],
            effective: OnceLock::new(),
            parts: OnceLock::new(),
        };
        for (i, d) in self.daemons.iter().enumerate() {
            ix.daemons_by_name
                .entry(d.name.clone())
                .or_default()
                .push(i);
        }
        for (i, g) in self.groups.iter().enumerate() {
            ix.groups_by_scope[g.site.scope].push(i);
            let slot = &mut ix.per_dir[g.site.scope][kind_slot(g.kind)];
            match g.site.sections.as_slice() {
                [] => {}
                [s] if s.kind == coverage::SectionKind::Location
                    && !s.regex
                    && !coverage::has_wildcard(&s.arg) =>
                {
                    slot.by_location
                        .entry(coverage::location_key(&s.arg))
                        .or_default()
                        .push(i)
                }
                _ => slot.rest.push(i),
            }
        }
        for slot in ix.per_dir.iter_mut().flatten() {
            slot.location_keys = slot.by_location.keys().cloned().collect();
            slot.location_keys.sort_unstable();
        }
        for (i, d) in self.daemons.iter().enumerate() {
            ix.daemons_by_scope[d.site.scope].push(i);
        }
        for (i, m) in self.mounts.iter().enumerate() {
            ix.mounts_by_scope[m.site.scope].push(i);
        }
        for (i, (scope, _, _)) in self.aliases.iter().enumerate() {
            ix.aliases_by_scope[*scope].push(i);
        }
        self.index = ix;
        for v in 1..n {
            let name = self.server_name_of(v).map(str::to_string);
            self.index.vhosts_by_name.entry(name).or_default().push(v);
        }
        self.instances = self.find_instances();
        for (i, inst) in self.instances.iter().enumerate() {
            self.index.instances_by_mount[inst.mount].push(i);
            self.index.instances_by_scope[inst.scope].push(i);
        }
        // httpd refuses these while reading the config.
        let unmet: Vec<ConfigError> = super::preload::unmet_preloads(self)
            .into_iter()
            .map(|(site, message)| ConfigError {
                site: site.clone(),
                message: message.to_string(),
            })
            .collect();
        self.errors.extend(unmet);
    }

    /// A vhost-level mount is one instance. A server-level mount is one per
    /// vhost whose own aliases do not take all its URLs first, plus the main
    /// server when it takes requests: when there are no vhosts, or a
    /// `Listen` port has no vhost (an IP-specific vhost counts as covering
    /// its port: the simple reading).
    fn find_instances(&self) -> Vec<Instance> {
        let vhosts: Vec<usize> = (1..self.scopes.len()).collect();
        let ports_of = |s: &Scope| -> Vec<String> {
            s.addresses
                .iter()
                .map(|a| match a.rsplit_once(':') {
                    Some((_, p)) => p.to_string(),
                    None => "*".to_string(),
                })
                .collect()
        };
        // A vhost read only under an <IfDefine> may not be there: the main
        // server may take the requests it would.
        let covered: Vec<String> = vhosts
            .iter()
            .filter(|&&v| !self.scopes[v].conditional)
            .flat_map(|&v| ports_of(&self.scopes[v]))
            .collect();
        let main_takes_requests = covered.is_empty()
            || (!covered.iter().any(|p| p == "*")
                && self.listen_ports.iter().any(|p| !covered.contains(p)));
        let reached = self.reached_mounts();
        let mut out = Vec::new();
        for (i, m) in self.mounts.iter().enumerate() {
            if !reached[i] {
                continue;
            }
            if m.site.scope != 0 {
                out.push(Instance {
                    mount: i,
                    scope: m.site.scope,
                });
                continue;
            }
            if main_takes_requests {
                out.push(Instance { mount: i, scope: 0 });
            }
            for &v in &vhosts {
                if !self.shadows(v, m) {
                    out.push(Instance { mount: i, scope: v });
                }
            }
        }
        out
    }

    /// Whether instance `inst` is a mount of several scripts
    /// ([`Mount::serves_several_scripts`]) each in a sub-interpreter of its
    /// own (`%{RESOURCE}`, the default): one interpreter for all of them
    /// would merge what is apart now. Scripts already sharing a named
    /// group are merged as it is.
    pub fn has_interpreter_per_script(&self, inst: usize) -> bool {
        self.mounts[self.instances[inst].mount].serves_several_scripts()
            && self.effective_of(inst, GroupKind::Application).value == "%{RESOURCE}"
    }

    /// Which mounts some request reaches. mod_wsgi takes the first
    /// `WSGIScriptAlias`(`Match`) of a scope that matches a URL, so a later
    /// one whose every URL an earlier one takes (`/` before `/extra`,
    /// `^/m(\d)` before `/m12`) is never used:
    /// it is no app, and a fix for it would split the app that serves it.
    /// An earlier alias counts only where it is always read with the later
    /// one (its `<IfDefine>`s are among the later one's).
    fn reached_mounts(&self) -> Vec<bool> {
        let mut earlier: Vec<HashMap<String, Vec<usize>>> =
            vec![HashMap::default(); self.scopes.len()];
        let mut patterns: Vec<Vec<usize>> = vec![Vec::new(); self.scopes.len()];
        let mut reached = vec![true; self.mounts.len()];
        for (i, m) in self.mounts.iter().enumerate() {
            let always_with = |o: &usize| self.mounts[*o].site.read_whenever(&m.site);
            match (m.kind, &m.url) {
                (MountKind::AliasMatch, Some(_)) => patterns[m.site.scope].push(i),
                (MountKind::Alias, Some(url)) => {
                    let seen = &mut earlier[m.site.scope];
                    let by_alias = coverage::covering_location_keys(url)
                        .iter()
                        .filter_map(|k| seen.get(k))
                        .any(|os| os.iter().any(always_with));
                    // `^/m(\d)` before `/m12` takes /m12 and all below it.
                    let by_pattern = patterns[m.site.scope].iter().any(|o| {
                        always_with(o)
                            && self.mounts[*o].url.as_deref().is_some_and(|p| {
                                coverage::regex::alias_match_takes_every_url(p, url)
                            })
                    });
                    reached[i] = !(by_alias || by_pattern);
                    seen.entry(coverage::location_key(url)).or_default().push(i);
                }
                _ => {}
            }
        }
        reached
    }

    /// Does vhost `v` map every URL of server-level mount `m` to one of its
    /// own aliases? (A vhost's aliases are tried before the server's.)
    fn shadows(&self, v: usize, m: &Mount) -> bool {
        let Some(url) = &m.url else { return false };
        self.index.mounts_by_scope[v].iter().any(|&o| {
            let o = &self.mounts[o];
            match (o.kind, m.kind, &o.url) {
                (MountKind::Alias, MountKind::Alias, Some(p)) => coverage::url_under(url, p),
                (MountKind::AliasMatch, MountKind::AliasMatch, Some(p)) => p == url,
                _ => false,
            }
        })
    }

    /// The instance numbers whose context is `scope`.
    pub fn instances_in_scope(&self, scope: usize) -> &[usize] {
        &self.index.instances_by_scope[scope]
    }

    /// Effective group of `kind` of instance number `inst`, worked out once.
    pub fn effective_of(&self, inst: usize, kind: GroupKind) -> &Resolved {
        let all = self.index.effective.get_or_init(|| {
            use rayon::prelude::*;
            // Every rule and every check of a fix reads these.
            self.instances
                .par_iter()
                .with_min_len(super::PARALLEL_INSTANCES)
                .map(|i| {
                    let m = &self.mounts[i.mount];
                    (
                        self.resolve_in(m, i.scope, GroupKind::Process),
                        self.resolve_in(m, i.scope, GroupKind::Application),
                    )
                })
                .collect()
        });
        match kind {
            GroupKind::Process => &all[inst].0,
            GroupKind::Application => &all[inst].1,
        }
    }

    /// The effective group of a mount in its first instance (its own scope
    /// when it has none).
    pub fn effective(&self, mount: usize, kind: GroupKind) -> Resolved {
        match self.instances_of(mount).first() {
            Some(&i) => self.effective_of(i, kind).clone(),
            None => self.resolve_in(&self.mounts[mount], self.mounts[mount].site.scope, kind),
        }
    }

    /// The effective process or application group of a mount in its first
    /// context.
    pub fn resolve(&self, mount: &Mount, kind: GroupKind) -> Resolved {
        let i = self
            .mounts
            .iter()
            .position(|m| m.site.order == mount.site.order);
        match i {
            Some(i) => self.effective(i, kind),
            None => self.resolve_in(mount, mount.site.scope, kind),
        }
    }

    /// The effective group of `mount` for requests in `scope`.
    pub fn resolve_in(&self, mount: &Mount, scope: usize, kind: GroupKind) -> Resolved {
        if let Some(opt) = mount.args.option(kind.option()) {
            return Resolved {
                value: opt.value.to_string(),
                source: Source::AliasOption,
                undecided: Vec::new(),
            };
        }
        // Only the main server's directives and the request's vhost's apply.
        let levels: &[usize] = if scope == 0 { &[0] } else { &[0, scope] };
        let candidates = levels
            .iter()
            .flat_map(|&l| self.per_dir_candidates(mount, l, kind));
        // Per-directory sections, in httpd's merge order; the last one that
        // applies wins.
        let mut best: Option<(coverage::MergeRank, usize)> = None;
        let mut unknown: Vec<(coverage::MergeRank, usize)> = Vec::new();
        // A group under an <IfDefine> the mount is not under applies only
        // when httpd is started with (or without) that name: undecided,
        // unless the two are never read together.
        let read_with_mount = |g: &GroupDirective| {
            if super::exclusive_defines(&g.site.defines, &mount.site.defines) {
                Decision::No
            } else if g.site.read_whenever(&mount.site) {
                Decision::Yes
            } else {
                Decision::Unknown
            }
        };
        for i in candidates {
            let g = &self.groups[i];
            let rank = coverage::merge_rank(&g.site);
            let covers = match (
                read_with_mount(g),
                coverage::covers_all(&g.site.sections, mount),
            ) {
                (Decision::No, _) | (_, Decision::No) => Decision::No,
                (Decision::Yes, c) => c,
                (Decision::Unknown, _) => Decision::Unknown,
            };
            match covers {
                Decision::Yes => {
                    if best.as_ref().is_none_or(|(r, _)| rank >= *r) {
                        best = Some((rank, i));
                    }
                }
                Decision::Unknown => unknown.push((rank, i)),
                Decision::No => {}
            }
        }
        let mut undecided: Vec<usize> = unknown
            .into_iter()
            .filter(|(r, _)| best.as_ref().is_none_or(|(b, _)| r > b))
            .map(|(_, i)| i)
            .collect();
        if let Some((_, i)) = best {
            return Resolved {
                value: self.groups[i].value.clone(),
                source: Source::Directive(i),
                undecided,
            };
        }
        // The vhost's own value, then the main server's (which vhosts
        // inherit); at one level the last one read wins.
        for &level in levels.iter().rev() {
            let mut found = None;
            for &i in self.index.groups_by_scope[level].iter().rev() {
                let g = &self.groups[i];
                if g.kind != kind || !g.site.at_scope_level() {
                    continue;
                }
                match read_with_mount(g) {
                    Decision::Yes => {
                        found = Some(i);
                        break;
                    }
                    Decision::Unknown => undecided.push(i),
                    Decision::No => {}
                }
            }
            if let Some(i) = found {
                return Resolved {
                    value: self.groups[i].value.clone(),
                    source: Source::Directive(i),
                    undecided,
                };
            }
        }
        Resolved {
            value: match kind {
                GroupKind::Process => String::new(),
                GroupKind::Application => "%{RESOURCE}".to_string(),
            },
            source: Source::Default,
            undecided,
        }
    }

    /// The group directives of `kind` in sections of scope `level` that may
    /// cover `mount`, in read order: every one, except that of the literal
    /// `<Location>`s a plain alias gets only those above its URL (the others
    /// cannot cover it).
    pub fn per_dir_candidates(&self, mount: &Mount, level: usize, kind: GroupKind) -> Vec<usize> {
        let groups = &self.index.per_dir[level][kind_slot(kind)];
        let mut out = groups.rest.clone();
        match (&mount.url, mount.kind, &mount.handler_section) {
            (Some(url), MountKind::Alias, None) => {
                for key in coverage::covering_location_keys(url) {
                    out.extend(groups.by_location.get(&key).into_iter().flatten());
                }
            }
            _ => out.extend(groups.by_location.values().flatten()),
        }
        out.sort_unstable();
        out
    }

    /// Group directives in the request's scopes that sit in sections which
    /// do not cover `mount`: reported so the user sees why a `%{GLOBAL}` is
    /// not effective.
    pub fn ineffective_for(&self, mount: &Mount, scope: usize, kind: GroupKind) -> Vec<usize> {
        let levels: &[usize] = if scope == 0 { &[0] } else { &[0, scope] };
        levels
            .iter()
            .flat_map(|&l| &self.index.groups_by_scope[l])
            .copied()
            .filter(|&i| {
                let g = &self.groups[i];
                g.kind == kind
                    && !g.site.at_scope_level()
                    && coverage::covers_all(&g.site.sections, mount) == Decision::No
            })
            .collect()
    }

    /// Can a request in `scope` use daemon `d`? One defined at server level
    /// serves every vhost; one defined in a vhost only vhosts with the same
    /// ServerName (mod_wsgi compares the names; ServerAlias does not count).
    pub fn accessible(&self, d: &Daemon, scope: usize) -> bool {
        let ds = d.site.scope;
        ds == 0 || ds == scope || self.server_name_of(ds) == self.server_name_of(scope)
    }

    /// The daemons requests in `scope` may use. For the main server
    /// (`scope` 0, which a server-level mount's instances share with every
    /// vhost) only the server-level ones are safe for all its instances.
    pub fn daemons_for_scope(&self, scope: usize) -> impl Iterator<Item = &Daemon> {
        let vhost_ones: Vec<usize> = if scope == 0 {
            Vec::new()
        } else {
            let name = self.server_name_of(scope).map(str::to_string);
            self.index.vhosts_by_name[&name]
                .iter()
                .flat_map(|&s| self.index.daemons_by_scope[s].iter().copied())
                .collect()
        };
        self.index.daemons_by_scope[0]
            .iter()
            .copied()
            .chain(vhost_ones)
            .map(|i| &self.daemons[i])
    }

    /// The vhosts whose requests carry ServerName `name`, in read order.
    pub fn vhosts_named(&self, name: Option<&str>) -> &[usize] {
        self.index
            .vhosts_by_name
            .get(&name.map(str::to_string))
            .map_or(&[], Vec::as_slice)
    }

    /// The definitions of daemon `name`, in read order.
    pub fn daemons_named(&self, name: &str) -> impl Iterator<Item = (usize, &Daemon)> {
        self.index
            .daemons_by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|&i| (i, &self.daemons[i]))
    }

    /// The mounts of `scope` (only its own).
    pub fn mounts_in(&self, scope: usize) -> &[usize] {
        &self.index.mounts_by_scope[scope]
    }

    /// The mounts whose instances `scope` holds: its own, and the server
    /// level's that reach it.
    pub fn mounts_reaching(&self, scope: usize) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .instances_in_scope(scope)
            .iter()
            .map(|&i| self.instances[i].mount)
            .collect();
        out.dedup();
        out
    }
}
