//! Names for the daemons fixes create: taken from the app's mount or
//! script, unique in the server, the same for the same input.

use super::Fixer;
use crate::analysis::{Mount, MountKind};
use crate::syntax::logical;
use std::collections::BTreeSet;

impl Fixer<'_> {
    fn is_taken(&self, taken: &BTreeSet<String>, n: &str) -> bool {
        taken.contains(n) || self.ext.defined_elsewhere(n) || self.ext.selected_elsewhere(n)
    }

    /// A daemon name derived from the mount (`/my_app` → `my_app`) or, for
    /// `/` and patterns, from the script (`graphite.wsgi` → `graphite`);
    /// unique in the server; the same input always gives the same name.
    /// `None` for a mount of a template (see [`Fixer::new_name_from`]).
    pub fn new_name(&self, m: &Mount) -> Option<String> {
        let url = match (&m.url, m.kind) {
            (Some(u), MountKind::Alias | MountKind::Handler) => u.as_str(),
            _ => "",
        };
        let url = url_without_script(url);
        let base = if sanitize(&url).is_empty() {
            // What a pattern's `$1` adds after the script is its PATH_INFO.
            let target = match (m.kind, m.target.find('$')) {
                (MountKind::AliasMatch, Some(at)) => &m.target[..at],
                _ => m.target.as_str(),
            };
            let mut parts = target.trim_end_matches('/').rsplit('/');
            let stem = script_stem(parts.next().unwrap_or(""));
            // `wsgi.py`, `app.wsgi`...: the directory says more about the app.
            if is_generic_script(stem) {
                parts.next().filter(|d| !d.is_empty()).unwrap_or(stem)
            } else {
                stem
            }
        } else {
            &url
        };
        self.new_name_from(base, m.site.scope)
    }

    /// `base` if free, else qualified by the vhost's host name (the same
    /// mount in another vhost is common: `shop_admin`), else numbered.
    /// `None` when `base` holds a template's token: every rendering of the
    /// template would get the one name made from it, and two daemons of one
    /// name keep httpd from starting.
    pub fn new_name_from(&self, base: &str, scope: usize) -> Option<String> {
        if logical::is_templated(base.as_bytes()) {
            return self.refuse(
                "a new daemon's name would come from a template's token, the same in every rendering",
            );
        }
        let base = match sanitize(base) {
            b if b.is_empty() => "wsgi".to_string(),
            b => b,
        };
        let mut taken = self.taken.borrow_mut();
        let host = self.a.scopes[scope]
            .server_name
            .as_deref()
            .and_then(|n| n.split('.').next())
            .map(sanitize)
            .filter(|h| !h.is_empty() && *h != base);
        let name = match host.map(|h| format!("{h}_{base}")) {
            _ if !self.is_taken(&taken, &base) => base,
            Some(qualified) if !self.is_taken(&taken, &qualified) => qualified,
            _ => {
                let mut next = self.next_suffix.borrow_mut();
                let n = next.entry(base.clone()).or_insert(2);
                loop {
                    let candidate = format!("{base}-{n}");
                    *n += 1;
                    if !self.is_taken(&taken, &candidate) {
                        break candidate;
                    }
                }
            }
        };
        taken.insert(name.clone());
        Some(name)
    }
}

/// A script's file name without its `.wsgi` / `.py`.
fn script_stem(file: &str) -> &str {
    file.strip_suffix(".wsgi")
        .or_else(|| file.strip_suffix(".py"))
        .unwrap_or(file)
}

fn is_generic_script(stem: &str) -> bool {
    GENERIC_SCRIPT_NAMES.contains(&stem.to_ascii_lowercase().as_str())
}

/// A URL that ends in a script's file name (a handler for one `<Files>`
/// in an aliased directory): without the extension, and without the
/// script itself where its name says nothing the directory does not
/// (`/app/app.wsgi` and `/site/wsgi.py` name `app` and `site`).
fn url_without_script(url: &str) -> std::borrow::Cow<'_, str> {
    let (dir, file) = url.rsplit_once('/').unwrap_or(("", url));
    let stem = script_stem(file);
    if stem.len() == file.len() {
        return url.into();
    }
    let parent = dir.rsplit('/').next().unwrap_or("");
    if !sanitize(dir).is_empty() && (is_generic_script(stem) || stem == parent) {
        dir.into()
    } else {
        format!("{dir}/{stem}").into()
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

/// Daemon names mod_wsgi and httpd read without surprises.
pub fn sanitize(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_mounts() {
        assert_eq!(sanitize("/my_app"), "my_app");
        assert_eq!(sanitize("/cblr/svc"), "cblr_svc");
        assert_eq!(sanitize("/"), "");
        assert_eq!(sanitize("ironic-api-wsgi"), "ironic-api-wsgi");
        assert_eq!(super::super::quote_if_needed("/a b"), "\"/a b\"");
    }

    #[test]
    fn a_script_ending_a_url_names_by_what_it_adds() {
        assert_eq!(url_without_script("/app/app.wsgi"), "/app");
        assert_eq!(url_without_script("/site/wsgi.py"), "/site");
        assert_eq!(url_without_script("/tools/report.wsgi"), "/tools/report");
        assert_eq!(url_without_script("/report.wsgi"), "/report");
        assert_eq!(url_without_script("/app.wsgi"), "/app");
        assert_eq!(url_without_script("/my_app"), "/my_app");
    }
}
