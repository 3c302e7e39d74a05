//! Does a per-directory section apply to an application? `<Location>` by URL
//! prefix, `<Directory>` by the script's file path, `<Files>` by its file
//! name; and the order in which httpd merges those sections (the last one
//! that applies wins).

use super::{Mount, MountKind, NodePath, Site};
use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SectionKind {
    Directory,
    Files,
    Location,
    /// `<If>`, `<Proxy>`, `<Limit>` ...: decided per request or unrelated;
    /// never counted as covering an app.
    Other,
}

/// Reads a section's name and arguments into its kind, regex flag and argument.
pub fn classify_section(lower_name: &str, args: &[Vec<u8>]) -> (SectionKind, bool, String) {
    let words: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let (tilde, arg) = match words.as_slice() {
        [t, a, ..] if t == "~" => (true, a.clone()),
        [a, ..] => (false, a.clone()),
        [] => (false, String::new()),
    };
    match lower_name {
        "directory" => (SectionKind::Directory, tilde, arg),
        "directorymatch" => (SectionKind::Directory, true, arg),
        "files" => (SectionKind::Files, tilde, arg),
        "filesmatch" => (SectionKind::Files, true, arg),
        "location" => (SectionKind::Location, tilde, arg),
        "locationmatch" => (SectionKind::Location, true, arg),
        _ => (SectionKind::Other, false, arg),
    }
}

pub fn is_windows_path(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'/' || b[2] == b'\\')
}

fn normalize(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    out
}

/// URL equality as httpd compares prefixes (runs of slashes match each other,
/// a trailing slash does not matter).
pub fn same_url(a: &str, b: &str) -> bool {
    let (a, b) = (normalize(a), normalize(b));
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// True when every URL below `url` is also below `prefix` (whole path
/// components: `/XMLRPC` does not cover `/XMLRPC_REDIRECT`).
pub fn url_under(url: &str, prefix: &str) -> bool {
    let (url, prefix) = (normalize(url), normalize(prefix));
    if prefix == "/" || prefix.is_empty() {
        return true;
    }
    let p = prefix.trim_end_matches('/');
    url == p || url.starts_with(&format!("{p}/"))
}

/// The literal start of a URL pattern (`^/cblr/svc/([^/]*)` → `/cblr/svc/`).
pub fn literal_prefix(pattern: &str) -> String {
    let p = pattern.strip_prefix('^').unwrap_or(pattern);
    p.chars()
        .take_while(|c| !".[]()*+?{}|\\$".contains(*c))
        .collect()
}

fn regex_matches(pattern: &str, text: &str) -> bool {
    // httpd uses PCRE; patterns the regex crate cannot read are treated as
    // not covering, so nothing is concluded from them.
    Regex::new(pattern).is_ok_and(|r| r.is_match(text))
}

/// Path-component prefix test with shell wildcards per component, as
/// `<Directory /var/www/*/cgi>` matches.
fn path_under(path: &str, dir: &str) -> bool {
    let comps = |s: &str| -> Vec<String> {
        s.split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (p, d) = (comps(path), comps(dir));
    if d.len() > p.len() {
        return false;
    }
    d.iter().zip(&p).all(|(dc, pc)| {
        if dc.contains(['*', '?', '[']) {
            globset::GlobBuilder::new(dc)
                .literal_separator(true)
                .build()
                .is_ok_and(|g| g.compile_matcher().is_match(pc))
        } else {
            dc == pc
        }
    })
}

fn basename(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

fn parent(path: &str) -> &str {
    let t = path.trim_end_matches('/');
    match t.rfind('/') {
        Some(0) => "/",
        Some(i) => &t[..i],
        None => "",
    }
}

/// Does the per-directory `section` apply to every request of `mount`?
pub fn covers(section: &super::SectionContext, mount: &Mount) -> bool {
    // The section that holds a handler mount covers it by definition.
    if let Some(h) = &mount.handler_section {
        if h.path == section.path {
            return true;
        }
    }
    let handler_dir = mount.kind == MountKind::Handler
        && mount
            .handler_section
            .as_ref()
            .is_some_and(|h| h.kind == SectionKind::Directory);
    match section.kind {
        SectionKind::Location => {
            let Some(url) = &mount.url else { return false };
            if mount.kind == MountKind::AliasMatch {
                if section.regex {
                    return section.arg == *url;
                }
                return url_under(&literal_prefix(url), &section.arg)
                    && literal_prefix(url).len() > 1
                    || section.arg == "/";
            }
            if section.regex {
                regex_matches(&section.arg, url)
            } else {
                url_under(url, &section.arg)
            }
        }
        SectionKind::Directory => {
            // A Directory applies by the script's file path, never by URL.
            let dir = if handler_dir {
                mount.target.as_str()
            } else {
                parent(&mount.target)
            };
            if section.regex {
                regex_matches(&section.arg, dir)
            } else {
                path_under(dir, &section.arg)
            }
        }
        SectionKind::Files => {
            if handler_dir {
                return !section.regex && section.arg == "*";
            }
            let name = basename(&mount.target);
            if section.regex {
                regex_matches(&section.arg, name)
            } else {
                globset::Glob::new(&section.arg).is_ok_and(|g| g.compile_matcher().is_match(name))
            }
        }
        SectionKind::Other => false,
    }
}

/// httpd merges per-directory sections as: `<Directory>` by number of path
/// components (shortest first), regex `<Directory>`, `<Files>`, `<Location>`;
/// the main server's before the vhost's; then in file order.
pub type MergeRank = (u8, usize, bool, NodePath);

pub fn merge_rank(site: &Site) -> MergeRank {
    let inner = site
        .sections
        .last()
        .expect("per-directory site has a section");
    let (category, components) = match (inner.kind, inner.regex) {
        (SectionKind::Directory, false) => {
            (0, inner.arg.split('/').filter(|c| !c.is_empty()).count())
        }
        (SectionKind::Directory, true) => (1, 0),
        (SectionKind::Files, _) => (2, 0),
        (SectionKind::Location, _) => (3, 0),
        (SectionKind::Other, _) => (4, 0),
    };
    (category, components, site.scope != 0, site.path.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_prefixes_are_whole_components() {
        assert!(url_under("/XMLRPC", "/XMLRPC"));
        assert!(!url_under("/XMLRPC_REDIRECT", "/XMLRPC"));
        assert!(url_under("/ipa/wsgi", "/ipa"));
        assert!(url_under("/anything", "/"));
        assert!(!url_under("/ipa", "/ipa/session"));
        assert!(url_under("//a//b", "/a"));
    }

    #[test]
    fn directory_paths_with_wildcards() {
        assert!(path_under("/usr/local/bin", "/usr/local/bin"));
        assert!(!path_under(
            "/usr/local/bin",
            "/opt/stack/ironic/ironic/api"
        ));
        assert!(path_under("/var/www/site/cgi", "/var/www/*/cgi"));
        assert!(!path_under("/var/www", "/var/www/*"));
        assert_eq!(parent("/usr/local/bin/ironic-api-wsgi"), "/usr/local/bin");
        assert_eq!(literal_prefix("^/cblr/svc/([^/]*)"), "/cblr/svc/");
    }
}
