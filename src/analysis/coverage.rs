//! Does a per-directory section apply to an application? `<Location>` by URL
//! prefix, `<Directory>` by the script's file path, `<Files>` by its file
//! name; and the order in which httpd merges those sections (the last one
//! that applies wins).

pub mod regex;

use super::{Mount, MountKind, Site};

/// Which part of an `<If>` chain a section is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Branch {
    If,
    ElseIf,
    Else,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SectionKind {
    Directory,
    Files,
    Location,
    /// `<If>`, `<ElseIf>`, `<Else>`: an expression decided per request.
    If(Branch),
    /// `<Limit>`, `<LimitExcept>`: decided by the request's method.
    Limit,
    /// `<Proxy>` ...: for requests no WSGI app serves; never counted as
    /// covering an app.
    Other,
}

/// A section's name as written, for messages in httpd's words.
pub fn section_name(kind: SectionKind, regex: bool) -> &'static str {
    match (kind, regex) {
        (SectionKind::Directory, false) => "Directory",
        (SectionKind::Directory, true) => "DirectoryMatch",
        (SectionKind::Files, false) => "Files",
        (SectionKind::Files, true) => "FilesMatch",
        (SectionKind::Location, false) => "Location",
        (SectionKind::Location, true) => "LocationMatch",
        (SectionKind::If(Branch::If), _) => "If",
        (SectionKind::If(Branch::ElseIf), _) => "ElseIf",
        (SectionKind::If(Branch::Else), _) => "Else",
        (SectionKind::Limit, _) => "Limit",
        (SectionKind::Other, _) => "section",
    }
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
        "if" => (SectionKind::If(Branch::If), false, arg),
        "elseif" => (SectionKind::If(Branch::ElseIf), false, arg),
        "else" => (SectionKind::If(Branch::Else), false, arg),
        "limit" | "limitexcept" => (SectionKind::Limit, false, arg),
        _ => (SectionKind::Other, false, arg),
    }
}

pub fn is_windows_path(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'/' || b[2] == b'\\')
}

/// The bytes of a URL with each run of slashes read as one slash, which is
/// how httpd compares URL prefixes. No allocation: this runs for every
/// (section, app) pair the analysis looks at.
fn collapsed(url: &str) -> impl Iterator<Item = u8> + Clone + '_ {
    let b = url.as_bytes();
    b.iter()
        .enumerate()
        .filter(move |&(i, &c)| !(c == b'/' && i > 0 && b[i - 1] == b'/'))
        .map(|(_, &c)| c)
}

/// `url` collapsed, without its trailing slash: the key under which a
/// literal `<Location>` is found by the URLs below it.
pub fn location_key(url: &str) -> String {
    let mut bytes: Vec<u8> = collapsed(url).collect();
    let end = bytes.iter().rposition(|&c| c != b'/').map_or(0, |i| i + 1);
    bytes.truncate(end);
    // Dropping `/` bytes from UTF-8 leaves UTF-8: the buffer is the key.
    super::into_text(bytes)
}

/// Every [`location_key`] whose `<Location>` covers `url` ([`url_under`]):
/// the empty key (`/`), each whole-component prefix, and the URL itself.
pub fn covering_location_keys(url: &str) -> Vec<String> {
    let u = location_key(url);
    let mut keys = vec![String::new()];
    keys.extend(
        u.bytes()
            .enumerate()
            .filter(|&(i, c)| c == b'/' && i > 0)
            .map(|(i, _)| u[..i].to_string()),
    );
    if !u.is_empty() {
        keys.push(u);
    }
    keys
}

/// URL equality as httpd compares prefixes (runs of slashes match each other,
/// a trailing slash does not matter).
pub fn same_url(a: &str, b: &str) -> bool {
    trimmed(a).eq(trimmed(b))
}

/// The collapsed URL without its trailing slashes.
fn trimmed(url: &str) -> impl Iterator<Item = u8> + Clone + '_ {
    collapsed(url.trim_end_matches('/'))
}

/// True when every URL below `url` is also below `prefix` (whole path
/// components: `/XMLRPC` does not cover `/XMLRPC_REDIRECT`).
pub fn url_under(url: &str, prefix: &str) -> bool {
    let mut p = trimmed(prefix).peekable();
    if p.peek().is_none() {
        return true;
    }
    let mut u = collapsed(url);
    for c in p {
        if u.next() != Some(c) {
            return false;
        }
    }
    matches!(u.next(), None | Some(b'/'))
}

/// The literal start of a URL pattern (`^/cblr/svc/([^/]*)` → `/cblr/svc/`).
pub fn literal_prefix(pattern: &str) -> String {
    let p = pattern.strip_prefix('^').unwrap_or(pattern);
    p.chars()
        .take_while(|c| !".[]()*+?{}|\\$".contains(*c))
        .collect()
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
        if has_wildcard(dc) {
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

/// Whether a `<Files>` section names files by a pattern (a regex or shell
/// wildcards) rather than one literal name.
pub fn is_pattern(files: &super::SectionContext) -> bool {
    literal_name(files).is_none()
}

/// The one file name a `<Files>` section matches, if it names one: its
/// literal argument, or a regex that spells one name (`^a1\.wsgi$`).
pub fn literal_name(files: &super::SectionContext) -> Option<String> {
    if !files.regex {
        return (!has_wildcard(&files.arg)).then(|| files.arg.clone());
    }
    let inner = files.arg.strip_prefix('^')?.strip_suffix('$')?;
    let mut name = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                e @ ('.' | '-' | '_') => name.push(e),
                _ => return None,
            },
            c if c.is_alphanumeric() || c == '_' || c == '-' => name.push(c),
            _ => return None,
        }
    }
    (!name.is_empty()).then_some(name)
}

/// The innermost literal `<Directory>` around the innermost of `sections`.
pub fn enclosing_directory(sections: &[super::SectionContext]) -> Option<&super::SectionContext> {
    let (_, outer) = sections.split_last()?;
    outer
        .iter()
        .rev()
        .find(|s| s.kind == SectionKind::Directory && !s.regex)
}

/// Whether a handler mount's target is a directory whose scripts it maps:
/// a handler for a whole literal `<Directory>`, or for a `<Files>` pattern
/// inside one.
pub fn handler_maps_directory(mount: &Mount) -> bool {
    if mount.kind != MountKind::Handler {
        return false;
    }
    match mount.handler_section.as_deref() {
        // Not one script of it an Alias maps (a vhost's AddHandler).
        Some(h) if h.kind == SectionKind::Directory => mount.target == h.arg,
        Some(h) if h.kind == SectionKind::Files => {
            is_pattern(h) && enclosing_directory(&mount.site.sections).is_some()
        }
        _ => false,
    }
}

/// Does a section apply to every request of an app? Regex sections and
/// pattern mounts are not always decidable; then the answer says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Yes,
    No,
    Unknown,
}

/// All of a site's enclosing sections apply (nested sections all must).
pub fn covers_all(sections: &[super::SectionContext], mount: &Mount) -> Decision {
    let mut out = Decision::Yes;
    for s in sections {
        match covers(s, mount) {
            Decision::No => return Decision::No,
            Decision::Unknown => out = Decision::Unknown,
            Decision::Yes => {}
        }
    }
    out
}

fn yes_no(b: bool) -> Decision {
    if b {
        Decision::Yes
    } else {
        Decision::No
    }
}

/// Does the per-directory `section` apply to every request of `mount`?
pub fn covers(section: &super::SectionContext, mount: &Mount) -> Decision {
    // The section that holds a handler mount covers it by definition.
    if let Some(h) = &mount.handler_section {
        if h.order == section.order {
            return Decision::Yes;
        }
    }
    let handler_dir = handler_maps_directory(mount);
    // A `$1` in an AliasMatch target: the script path depends on the URL.
    let templated = mount.kind == MountKind::AliasMatch && mount.target.contains('$');
    match section.kind {
        SectionKind::Location => {
            let Some(url) = &mount.url else {
                return Decision::No;
            };
            match (mount.kind == MountKind::AliasMatch, section.regex) {
                (true, true) => regex::location_match_covers_pattern(&section.arg, url),
                (true, false) => regex::location_covers_pattern(&section.arg, url),
                (false, true) => regex::location_match_covers_url(&section.arg, url),
                (false, false) if has_wildcard(&section.arg) => {
                    wildcard_location(&section.arg, url)
                }
                (false, false) => literal_location(&section.arg, url),
            }
        }
        SectionKind::Directory => {
            if templated {
                return Decision::Unknown;
            }
            // A Directory applies by the script's file path, never by URL;
            // httpd matches it against the script's own name too
            // (`<Directory /srv/app.wsgi>`, `<Directory /srv/*.wsgi>`).
            let dir = mount.target.as_str();
            if section.regex {
                // httpd 2.4 matches a regex Directory against the script's
                // full path (`/one/` and `alpha\.wsgi$` apply to
                // /apps/one/alpha.wsgi, `/one$` does not), as seen with
                // real Apache in the e2e tests.
                regex::matches(&section.arg, &mount.target)
            } else {
                yes_no(path_under(dir, &section.arg))
            }
        }
        SectionKind::Files => {
            if handler_dir {
                if !section.regex && section.arg == "*" {
                    return Decision::Yes;
                }
                // Another `<Files>` than the handler's: it applies to the
                // scripts its own pattern matches, which may be some of them.
                return match mount.handler_section.as_deref() {
                    Some(h) if h.kind == SectionKind::Files => {
                        if h.regex == section.regex && h.arg == section.arg {
                            Decision::Yes
                        } else {
                            Decision::Unknown
                        }
                    }
                    _ => Decision::No,
                };
            }
            if templated {
                return Decision::Unknown;
            }
            let name = basename(&mount.target);
            if !section.regex && section.arg.contains('/') {
                return Decision::No;
            }
            if section.regex {
                regex::matches(&section.arg, name)
            } else {
                yes_no(
                    globset::Glob::new(&section.arg)
                        .is_ok_and(|g| g.compile_matcher().is_match(name)),
                )
            }
        }
        SectionKind::If(_) | SectionKind::Limit => Decision::Unknown,
        SectionKind::Other => Decision::No,
    }
}

/// A literal `<Location>` is a prefix that ends at a `/`. Written with a
/// trailing slash (`/app/`), it takes `/app/...` but not `/app` itself:
/// for the mount of `/app` it covers some of its URLs (Apache served
/// `/app` embedded and `/app/x` from the section's daemon).
fn literal_location(location: &str, url: &str) -> Decision {
    if !url_under(url, location) {
        return Decision::No;
    }
    let slash_only_below = location.ends_with('/') && !location.trim_matches('/').is_empty();
    if slash_only_below && !url.ends_with('/') && same_url(url, location) {
        Decision::Unknown
    } else {
        Decision::Yes
    }
}

/// Shell wildcards, as httpd's fnmatch sections read them.
pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// A `<Location>` with shell wildcards: httpd matches it against the whole
/// URL (`/*o` takes `/two` but not `/two/x`), so it covers some of an app's
/// URLs at most; none when its literal start and the URL part ways.
fn wildcard_location(pattern: &str, url: &str) -> Decision {
    let literal = &pattern[..pattern.find(['*', '?', '[']).unwrap_or(pattern.len())];
    let (l, u): (Vec<u8>, Vec<u8>) = (collapsed(literal).collect(), collapsed(url).collect());
    if l.starts_with(&u) || u.starts_with(&l) {
        Decision::Unknown
    } else {
        Decision::No
    }
}

/// httpd merges per-directory sections as: `<Directory>` by number of path
/// components (shortest first), regex `<Directory>`, `<Files>`, `<Location>`;
/// within each, the main server's before the vhost's, then in the order the
/// server is read (across files, Includes expanded).
pub type MergeRank = (u8, usize, bool, usize);

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
        (SectionKind::If(_) | SectionKind::Limit | SectionKind::Other, _) => (4, 0),
    };
    (category, components, site.scope != 0, site.order)
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
        assert!(url_under("/a//", "/a/"));
        assert!(url_under("/a", "///"));
        assert!(!url_under("/", "/a"));
        assert!(same_url("/a//b/", "/a/b"));
        assert!(same_url("///", ""));
        assert!(!same_url("/a/b", "/a/c"));
    }

    /// The keys stand for url_under exactly: a literal Location covers a URL
    /// iff its key is one of the URL's covering keys.
    #[test]
    fn covering_keys_agree_with_url_under() {
        let urls = [
            "", "/", "//", "/a", "/a/", "/a//b", "/a/b/", "/ab", "a", "a/b", "/a/bc/d",
        ];
        for url in urls {
            let keys = covering_location_keys(url);
            for prefix in urls {
                assert_eq!(
                    keys.contains(&location_key(prefix)),
                    url_under(url, prefix),
                    "{url:?} under {prefix:?}"
                );
            }
        }
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
        assert_eq!(literal_prefix("^/cblr/svc/([^/]*)"), "/cblr/svc/");
    }
}
