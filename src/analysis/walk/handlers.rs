//! Handler mounts (`SetHandler`/`AddHandler wsgi-script`): their URL and
//! script, known once every `Alias` of the server is read.

use super::PendingHandler;
use crate::analysis::coverage::{self, SectionKind};
use crate::analysis::options::WsgiArgs;
use crate::analysis::{Analysis, Mount, MountKind, SectionContext};

impl Analysis {
    /// Fills in each handler mount's URL and script from the `Alias`es read
    /// before it.
    pub(super) fn resolve_handlers(&mut self, pending: &[PendingHandler]) {
        for p in pending {
            let m = &self.mounts[p.mount];
            let Some(section) = &m.handler_section else {
                continue;
            };
            let seen = &self.aliases[..p.aliases_seen];
            let (url, target) = handler_target(seen, m.site.scope, section, &m.site.sections);
            let m = &mut self.mounts[p.mount];
            m.url = url;
            m.target = target;
        }
    }

    /// An `AddHandler wsgi-script` for a whole scope (outside every
    /// section) makes the matching files of every `<Directory>` that allows
    /// ExecCGI scripts: one handler mount per such directory the scope
    /// reaches (its own and the main server's; all of them for a handler
    /// of the main server), unless a handler in that directory is one
    /// already.
    pub(super) fn add_scope_handler_mounts(&mut self) {
        if self.scope_handlers.is_empty() {
            return;
        }
        // (directory, scope) pairs that have their handler mount.
        let mut known: crate::collections::HashSet<(usize, usize)> = self
            .mounts
            .iter()
            .filter_map(|m| Some((m.handler_section.as_deref()?.order, m.site.scope)))
            .collect();
        let mut by_scope: Vec<Vec<&crate::analysis::Site>> = vec![Vec::new(); self.scopes.len()];
        for opt in &self.exec_cgi {
            by_scope[opt.scope].push(opt);
        }
        let mut added = Vec::new();
        for (h, extensions) in &self.scope_handlers {
            let reached: Vec<&crate::analysis::Site> = if h.scope == 0 {
                self.exec_cgi.iter().collect()
            } else {
                by_scope[h.scope]
                    .iter()
                    .chain(&by_scope[0])
                    .copied()
                    .collect()
            };
            for opt in reached {
                let Some(dir) = opt.sections.last() else {
                    continue;
                };
                let scope = if h.scope == 0 { opt.scope } else { h.scope };
                // One mount per directory and scope, however many handlers
                // reach it, and none where a handler in it is one already.
                if !known.insert((dir.order, scope)) {
                    continue;
                }
                // The Options line stands for the app: its place is inside
                // the directory, where a fix's lines go.
                let mut site = opt.clone();
                site.scope = scope;
                for (url, target) in reached_through(&self.aliases, scope, &dir.arg, extensions) {
                    added.push(Mount {
                        kind: MountKind::Handler,
                        site: site.clone(),
                        url,
                        target,
                        args: WsgiArgs::default(),
                        handler_section: Some(Box::new(dir.clone())),
                        by_scope_handler: true,
                        by_macro: false,
                        app: 0,
                    });
                }
            }
        }
        self.mounts.extend(added);
    }
}

/// What a scope's handler makes of directory `dir`: each `Alias` of one
/// of its scripts (a file with one of `extensions`) is that one app at that
/// URL; an `Alias` of the directory, or none at all, is the directory's
/// scripts as one mount.
fn reached_through(
    aliases: &[(usize, String, String)],
    scope: usize,
    dir: &str,
    extensions: &[String],
) -> Vec<(Option<String>, String)> {
    let dir_slash = format!("{}/", dir.trim_end_matches('/'));
    let mut scripts = Vec::new();
    let mut whole = None;
    for (_, url, target) in aliases.iter().filter(|(s, _, _)| *s == scope || *s == 0) {
        if coverage::same_url(target, dir) {
            whole.get_or_insert_with(|| url.clone());
        } else if target.starts_with(&dir_slash) && has_extension(target, extensions) {
            scripts.push((Some(url.clone()), target.clone()));
        }
    }
    if whole.is_some() || scripts.is_empty() {
        scripts.push((whole, dir.to_string()));
    }
    scripts
}

/// mod_mime's test: any dot-separated part of the file's name after the
/// first is the extension (`app.wsgi`, `app.wsgi.bak`), case aside.
fn has_extension(path: &str, extensions: &[String]) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.split('.').skip(1).any(|part| {
        extensions
            .iter()
            .any(|e| e.trim_start_matches('.').eq_ignore_ascii_case(part))
    })
}

/// The URL and script of a wsgi-script handler set in `section`, the
/// innermost of `sections`.
fn handler_target(
    aliases: &[(usize, String, String)],
    scope: usize,
    section: &SectionContext,
    sections: &[SectionContext],
) -> (Option<String>, String) {
    match section.kind {
        SectionKind::Location if !section.regex => {
            let target = alias_visible(aliases, scope, |url, _| {
                coverage::same_url(url, &section.arg)
            })
            .map(|(_, target)| target.to_string())
            .unwrap_or_else(|| section.arg.clone());
            (Some(section.arg.clone()), target)
        }
        SectionKind::Directory if !section.regex => {
            // The URL is the one an Alias maps onto this directory.
            let url = alias_visible(aliases, scope, |_, target| {
                coverage::same_url(target, &section.arg)
            })
            .map(|(url, _)| url.to_string());
            if url.is_some() {
                return (url, section.arg.clone());
            }
            // Else an Alias of one script in it is the way in (koji-hub's
            // kojiapp.py): that script is the app. Without one, the
            // directory (served by DocumentRoot) stands for all its scripts.
            let dir = format!("{}/", section.arg.trim_end_matches('/'));
            let mut scripts = (aliases.iter())
                .filter(|(s, _, t)| {
                    (*s == scope || *s == 0)
                        && t.starts_with(&dir)
                        && !t[dir.len()..].contains('/')
                        && t.len() > dir.len()
                })
                .map(|(_, u, t)| (u, t));
            match (scripts.next(), scripts.next()) {
                (Some((url, target)), None) => (Some(url.clone()), target.clone()),
                _ => (None, section.arg.clone()),
            }
        }
        SectionKind::Files => match coverage::enclosing_directory(sections) {
            Some(dir) => files_handler_target(aliases, scope, section, &dir.arg),
            None => (None, section.arg.clone()),
        },
        _ => (None, section.arg.clone()),
    }
}

/// A handler in a `<Files>` inside `<Directory dir>` (the usual way to make
/// one script of a directory an app): a literal name is that one script,
/// reached through an `Alias` of it or of its directory; a pattern stands
/// for every matching script of the directory, as a handler for the whole
/// directory does.
fn files_handler_target(
    aliases: &[(usize, String, String)],
    scope: usize,
    files: &SectionContext,
    dir: &str,
) -> (Option<String>, String) {
    let dir_url = || {
        alias_visible(aliases, scope, |_, target| coverage::same_url(target, dir))
            .map(|(url, _)| url.to_string())
    };
    let Some(name) = coverage::literal_name(files) else {
        return (dir_url(), dir.to_string());
    };
    let script = format!("{}/{}", dir.trim_end_matches('/'), name);
    let url = alias_visible(aliases, scope, |_, target| {
        coverage::same_url(target, &script)
    })
    .map(|(url, _)| url.to_string())
    .or_else(|| dir_url().map(|u| format!("{}/{}", u.trim_end_matches('/'), name)));
    (url, script)
}

/// The last of `aliases` in `scope` or the main server (which vhosts
/// inherit) whose (URL, target) satisfies `pred`.
fn alias_visible(
    aliases: &[(usize, String, String)],
    scope: usize,
    pred: impl Fn(&str, &str) -> bool,
) -> Option<(&str, &str)> {
    aliases
        .iter()
        .rev()
        .find(|(s, u, t)| (*s == scope || *s == 0) && pred(u, t))
        .map(|(_, u, t)| (u.as_str(), t.as_str()))
}
