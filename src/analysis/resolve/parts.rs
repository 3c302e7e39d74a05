//! Parts of an app that run elsewhere: the literal `<Location>`s below a
//! mount's URL that give its requests there another group.

use super::{kind_slot, Parts};
use crate::analysis::coverage::{self, Decision};
use crate::analysis::{Analysis, GroupKind, Instance, Mount, MountKind, Resolved};

impl Analysis {
    /// The parts of `mount`'s URLs that run elsewhere for requests in
    /// `scope`: the URL of each literal `<Location>` below the mount's own
    /// URL that sets its group of `kind` to another value than the mount's
    /// (mod_wsgi's documentation delegates `/admin` of a site at `/` to a
    /// daemon of its own that way), with the value there. Such a part is
    /// as much the config's intent as the app's own group: a fix that
    /// moves the app must not move it (an alias option would).
    pub fn parts_in(&self, mount: &Mount, scope: usize, kind: GroupKind) -> Parts {
        let (Some(url), MountKind::Alias, None) = (&mount.url, mount.kind, &mount.handler_section)
        else {
            return Vec::new();
        };
        let levels: &[usize] = if scope == 0 { &[0] } else { &[0, scope] };
        let keys_of = |level: usize| &self.index.per_dir[level][kind_slot(kind)].location_keys;
        if levels.iter().all(|&l| keys_of(l).is_empty()) {
            return Vec::new();
        }
        let below = format!("{}/", coverage::location_key(url));
        let mut urls: Vec<&str> = Vec::new();
        for &level in levels {
            let keys = keys_of(level);
            let from = keys.partition_point(|k| k.as_str() < below.as_str());
            urls.extend(
                keys[from..]
                    .iter()
                    .take_while(|k| k.starts_with(&below))
                    .map(String::as_str),
            );
        }
        if urls.is_empty() {
            return Vec::new();
        }
        urls.sort_unstable();
        urls.dedup();
        urls.retain(|u| !self.taken_before(mount, scope, u));
        if urls.is_empty() {
            return Vec::new();
        }
        let own = self.resolve_in(mount, scope, kind).value;
        let mut at = mount.clone();
        urls.into_iter()
            .filter_map(|u| {
                at.url = Some(u.to_string());
                let there = self.resolve_in(&at, scope, kind);
                (there.value != own).then(|| (u.to_string(), there))
            })
            .collect()
    }

    /// Whether requests for `url`, below `mount`'s URL, in `scope` go
    /// elsewhere: to a mod_alias `Alias` (its hook runs before mod_wsgi's),
    /// or to a WSGI alias tried before `mount` (the vhost's own, then the
    /// server's read before it; the first that matches takes the request).
    fn taken_before(&self, mount: &Mount, scope: usize, url: &str) -> bool {
        let levels: &[usize] = if scope == 0 { &[0] } else { &[0, scope] };
        let by_alias = (levels.iter())
            .flat_map(|&l| &self.index.aliases_by_scope[l])
            .any(|&k| coverage::url_under(url, &self.aliases[k].1));
        let takes = |&o: &usize| {
            let o = &self.mounts[o];
            match (o.kind, &o.url) {
                (MountKind::Alias, Some(p)) => coverage::url_under(url, p),
                (MountKind::AliasMatch, Some(p)) => {
                    coverage::regex::matches(p, url) != Decision::No
                }
                _ => false,
            }
        };
        let vhost_first =
            scope != mount.site.scope && self.index.mounts_by_scope[scope].iter().any(takes);
        let read_before = self.index.mounts_by_scope[mount.site.scope]
            .iter()
            .take_while(|&&o| self.mounts[o].site.order < mount.site.order)
            .any(takes);
        by_alias || vhost_first || read_before
    }

    /// [`Self::parts_in`] of instance `inst`, worked out once for all.
    pub fn parts_of(&self, inst: usize, kind: GroupKind) -> &[(String, Resolved)] {
        let all = self.index.parts.get_or_init(|| {
            let parts_of = |i: &Instance| {
                let m = &self.mounts[i.mount];
                [GroupKind::Process, GroupKind::Application].map(|k| self.parts_in(m, i.scope, k))
            };
            (self.instances.iter().enumerate())
                .map(|(k, i)| (k, parts_of(i)))
                .filter(|(_, p)| p.iter().any(|v| !v.is_empty()))
                .collect()
        });
        all.get(&inst).map_or(&[], |p| &p[kind_slot(kind)])
    }

    /// Whether some request's part of `mount` runs elsewhere ([`Self::parts_in`]),
    /// in any scope its requests come in.
    pub fn has_parts(&self, mount: &Mount, kind: GroupKind) -> bool {
        let scopes = if mount.site.scope == 0 {
            0..self.scopes.len()
        } else {
            mount.site.scope..mount.site.scope + 1
        };
        scopes
            .into_iter()
            .any(|s| !self.parts_in(mount, s, kind).is_empty())
    }
}
