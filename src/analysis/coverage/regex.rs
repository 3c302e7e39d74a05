//! Regex sections (`<LocationMatch>`, `<DirectoryMatch>`, `<FilesMatch>`,
//! the `~` forms) and `WSGIScriptAliasMatch` patterns: whether a section
//! covers every URL of a mount, provably not, or cannot be decided. httpd
//! matches these with PCRE by search (`ap_regexec`), so an anchored `^X`
//! matches every URL that has a prefix matching it.
//!
//! "Can pattern P match a URL starting with s?" is answered exactly by
//! walking P's lazy DFA over s: a dead state means no such URL exists.
//! Patterns the regex crate cannot read (PCRE-only syntax) are Unknown.

use super::{literal_prefix, Decision};
use crate::collections::HashMap;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::{Anchored, Input};
use std::cell::RefCell;

/// Which question a remembered answer is for.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Question {
    Matches,
    LocationMatchCoversUrl,
    LocationCoversPattern,
    LocationMatchCoversPattern,
    AliasMatchTakesEveryUrl,
}

thread_local! {
    /// Answers already worked out: every analysis of a fix loop asks the same
    /// (section, mount) questions again, and each answer compiles a regex or
    /// a DFA (a server-level pattern reaching 2 000 vhosts asked them
    /// thousands of times per analysis).
    static ANSWERS: RefCell<HashMap<(Question, String, String), Decision>> =
        RefCell::new(HashMap::default());
}

/// Bounds the memory the answers may take on configs with many patterns.
const MAX_ANSWERS: usize = 1 << 16;

fn remembered(q: Question, a: &str, b: &str, work: impl FnOnce() -> Decision) -> Decision {
    let key = (q, a.to_string(), b.to_string());
    if let Some(d) = ANSWERS.with(|m| m.borrow().get(&key).copied()) {
        return d;
    }
    let d = work();
    ANSWERS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_ANSWERS {
            m.clear();
        }
        m.insert(key, d);
    });
    d
}

/// A regex tested against one exact text (a script's directory or name).
pub fn matches(pattern: &str, text: &str) -> Decision {
    remembered(
        Question::Matches,
        pattern,
        text,
        || match ::regex::Regex::new(pattern) {
            Ok(r) if r.is_match(text) => Decision::Yes,
            Ok(_) => Decision::No,
            Err(_) => Decision::Unknown,
        },
    )
}

/// What an anchored pattern can do with URLs that start with a given text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// A prefix of the text already matches: so does every URL starting with it.
    All,
    /// The text itself matches, as a whole.
    Exact,
    /// No URL starting with the text matches.
    None,
    /// Some continuation may match.
    Open,
}

struct Anchored_ {
    dfa: DFA,
    cache: Cache,
}

impl Anchored_ {
    /// Only for patterns anchored at the start (`^...`, no top-level `|`):
    /// otherwise a prefix walk would not be httpd's search.
    fn new(pattern: &str) -> Option<Anchored_> {
        if !is_anchored(pattern) {
            return None;
        }
        // PCRE as httpd builds it reads bytes: `.` takes any byte but a
        // line feed, and classes are ASCII.
        let syntax = regex_automata::util::syntax::Config::new()
            .utf8(false)
            .unicode(false);
        let dfa = DFA::builder().syntax(syntax).build(pattern).ok()?;
        let cache = dfa.create_cache();
        Some(Anchored_ { dfa, cache })
    }

    fn reach(&mut self, text: impl AsRef<[u8]>) -> Option<Reach> {
        let text = text.as_ref();
        let input = Input::new(text).anchored(Anchored::Yes);
        let mut sid = self.dfa.start_state_forward(&mut self.cache, &input).ok()?;
        for &b in text {
            sid = self.dfa.next_state(&mut self.cache, sid, b).ok()?;
            // Matches are reported one byte late: a match here ended
            // before this byte, without needing the end of the text.
            if sid.is_match() {
                return Some(Reach::All);
            }
            if sid.is_dead() {
                return Some(Reach::None);
            }
            if sid.is_quit() {
                return None;
            }
        }
        let eoi = self.dfa.next_eoi_state(&mut self.cache, sid).ok()?;
        Some(if eoi.is_match() {
            Reach::Exact
        } else {
            Reach::Open
        })
    }
}

impl Anchored_ {
    /// Does every URL that starts with `text` match, `$` and all? From the
    /// state after `text`, every state a URL's bytes can reach must match
    /// at the URL's end (`^/api(/.*)?$` after `/api/v2`). The walk is
    /// bounded; past the bound the answer is no.
    fn all_continuations_match(&mut self, text: &str) -> bool {
        const MAX_STATES: usize = 512;
        let input = Input::new(text.as_bytes()).anchored(Anchored::Yes);
        let Ok(mut sid) = self.dfa.start_state_forward(&mut self.cache, &input) else {
            return false;
        };
        for &b in text.as_bytes() {
            match self.dfa.next_state(&mut self.cache, sid, b) {
                Ok(next) => sid = next,
                Err(_) => return false,
            }
        }
        let mut seen = vec![sid];
        let mut todo = vec![sid];
        while let Some(s) = todo.pop() {
            if s.is_dead() || s.is_quit() {
                return false;
            }
            match self.dfa.next_eoi_state(&mut self.cache, s) {
                Ok(e) if e.is_match() || s.is_match() => {}
                _ => return false,
            }
            // A URL holds no raw line feed (httpd refuses such a request).
            for b in (0u8..=255).filter(|&b| b != b'\n') {
                let Ok(next) = self.dfa.next_state(&mut self.cache, s, b) else {
                    return false;
                };
                if !seen.contains(&next) {
                    if seen.len() >= MAX_STATES {
                        return false;
                    }
                    seen.push(next);
                    todo.push(next);
                }
            }
        }
        true
    }

    /// Does the pattern match every URL that starts with `text`? Either a
    /// prefix already matched, or `text` matches and nothing that may follow
    /// (no `$`) undoes it: then every next byte reports the match.
    fn covers_prefix(&mut self, text: &str) -> bool {
        match self.reach(text) {
            Some(Reach::All) => true,
            Some(Reach::Exact) => (0u8..=255).all(|b| {
                let mut t = text.as_bytes().to_vec();
                t.push(b);
                self.reach(&t) == Some(Reach::All)
            }),
            _ => false,
        }
    }
}

/// `^...` with no `|` outside brackets and parentheses.
pub fn is_anchored(pattern: &str) -> bool {
    pattern.starts_with('^') && !top_level_alternation(pattern)
}

fn top_level_alternation(p: &str) -> bool {
    let (mut depth, mut class, mut escaped) = (0i32, false, false);
    for c in p.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' if !class => class = true,
            ']' if class => class = false,
            '(' if !class => depth += 1,
            ')' if !class => depth -= 1,
            '|' if !class && depth == 0 => return true,
            _ => {}
        }
    }
    false
}

/// The literal text every URL a pattern matches starts with ("" when the
/// pattern is not anchored); a quantified last character is not part of it.
pub fn sure_prefix(pattern: &str) -> String {
    if !is_anchored(pattern) {
        return String::new();
    }
    let mut lit = literal_prefix(pattern);
    let rest = &pattern[1 + lit.len()..];
    if rest.starts_with(['?', '*', '{']) {
        lit.pop();
    }
    lit
}

/// The pattern with its capturing parentheses dropped, when that does not
/// change what it matches: no alternation, no quantified group, no `(?`.
fn without_plain_groups(p: &str) -> Option<String> {
    let b = p.as_bytes();
    let mut out = String::new();
    let (mut class, mut escaped) = (false, false);
    for (i, c) in p.char_indices() {
        match c {
            _ if escaped => {
                escaped = false;
                out.push(c);
                continue;
            }
            '\\' => escaped = true,
            '[' if !class => class = true,
            ']' if class => class = false,
            '|' if !class => return None,
            '(' if !class => {
                if b.get(i + 1) == Some(&b'?') {
                    return None;
                }
                continue;
            }
            ')' if !class => {
                if matches!(b.get(i + 1), Some(b'?' | b'*' | b'+' | b'{')) {
                    return None;
                }
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    Some(out)
}

/// Patterns that match every URL.
fn matches_everything(p: &str) -> bool {
    matches!(p, "" | "^" | "/" | "^/" | ".*" | "^.*" | "^/.*" | ".")
}

/// Assertions that look at what follows a match: with none of them, a
/// match found in a URL is still there in every longer URL.
fn end_sensitive(p: &str) -> bool {
    p.contains('$')
        || p.contains("\\b")
        || p.contains("\\B")
        || p.contains("\\z")
        || p.contains("\\Z")
}

/// Does a `WSGIScriptAliasMatch R` take every URL a `WSGIScriptAlias u`
/// read after it would serve (`u` and everything below it)? mod_wsgi tries
/// a scope's aliases in order, so that alias is then never used.
pub fn alias_match_takes_every_url(pattern: &str, url: &str) -> bool {
    let answer = remembered(Question::AliasMatchTakesEveryUrl, pattern, url, || {
        if alias_match_takes_every_url_uncached(pattern, url) {
            Decision::Yes
        } else {
            Decision::No
        }
    });
    answer == Decision::Yes
}

fn alias_match_takes_every_url_uncached(pattern: &str, url: &str) -> bool {
    // An anchored pattern whose literal start parts from the URL matches
    // none of its URLs: no regex to build (most patterns of a server).
    let sure = sure_prefix(pattern);
    if !url.starts_with(&sure) && !sure.starts_with(url) {
        return false;
    }
    let Ok(r) = ::regex::Regex::new(pattern) else {
        return false;
    };
    let base = match url.trim_end_matches('/') {
        "" => "/",
        b => b,
    };
    if r.is_match(base) && !end_sensitive(pattern) {
        return true;
    }
    Anchored_::new(pattern).is_some_and(|mut a| a.all_continuations_match(base))
}

/// `<LocationMatch R>` for `WSGIScriptAlias u`: the app serves `u` and
/// everything below it (`u/...`).
pub fn location_match_covers_url(section: &str, url: &str) -> Decision {
    remembered(Question::LocationMatchCoversUrl, section, url, || {
        location_match_covers_url_uncached(section, url)
    })
}

fn location_match_covers_url_uncached(section: &str, url: &str) -> Decision {
    if matches_everything(section) {
        return Decision::Yes;
    }
    let Ok(r) = ::regex::Regex::new(section) else {
        return Decision::Unknown;
    };
    let base = match url.trim_end_matches('/') {
        "" => "/",
        b => b,
    };
    // A match inside the mount's URL that nothing after it can undo holds
    // for every URL below it (`gamma` for /beta/gamma, `^/app`).
    if r.is_match(base) && !end_sensitive(section) {
        return Decision::Yes;
    }
    if let Some(mut a) = Anchored_::new(section) {
        let at = a.reach(base);
        if matches!(at, Some(Reach::All) | Some(Reach::Exact)) {
            // `^/alpha(/|$)`: the URL itself and every URL below it.
            let below = format!("{}/", base.trim_end_matches('/'));
            if a.covers_prefix(&below) {
                return Decision::Yes;
            }
        }
    }
    let sub = base.trim_end_matches('/');
    let probes = [
        base.to_string(),
        format!("{sub}/"),
        format!("{sub}/zq9"),
        format!("{sub}/zq9/x8.y"),
    ];
    let hits: Vec<bool> = probes.iter().map(|p| r.is_match(p)).collect();
    // Written for exactly the mount's URL (`^/settings$` for /settings):
    // the app's own requests.
    if hits[0] && section.ends_with('$') && hits[1..].iter().all(|h| !h) {
        return Decision::Yes;
    }
    // Matches none of the app's URLs we can name: at most deeper ones
    // (`^/app/admin`), which are not the app's own requests.
    if hits.iter().all(|h| !h) {
        return Decision::No;
    }
    Decision::Unknown
}

/// `<Location L>` for `WSGIScriptAliasMatch P`.
pub fn location_covers_pattern(location: &str, pattern: &str) -> Decision {
    remembered(Question::LocationCoversPattern, location, pattern, || {
        location_covers_pattern_uncached(location, pattern)
    })
}

fn location_covers_pattern_uncached(location: &str, pattern: &str) -> Decision {
    let l = location.trim_end_matches('/');
    if l.is_empty() {
        return Decision::Yes;
    }
    let Some(mut p) = Anchored_::new(pattern) else {
        return Decision::Unknown;
    };
    let lit = sure_prefix(pattern);
    // Every URL of the mount starts with `lit`; below `l` when `lit` is.
    if lit.starts_with(&format!("{l}/")) {
        return Decision::Yes;
    }
    if lit.starts_with(l) {
        // Past `l` only `/` or the end may follow.
        let mut others_dead = true;
        for b in (0u8..128).filter(|&b| b != b'/') {
            let t = format!("{l}{}", b as char);
            if p.reach(&t) != Some(Reach::None) {
                others_dead = false;
                break;
            }
        }
        if others_dead && p.reach(l) != Some(Reach::All) {
            return Decision::Yes;
        }
    }
    let under = p.reach(format!("{l}/"));
    let at = p.reach(l);
    if under == Some(Reach::None) && matches!(at, Some(Reach::None) | Some(Reach::Open)) {
        return Decision::No;
    }
    Decision::Unknown
}

/// `<LocationMatch R>` for `WSGIScriptAliasMatch P`.
pub fn location_match_covers_pattern(section: &str, pattern: &str) -> Decision {
    remembered(
        Question::LocationMatchCoversPattern,
        section,
        pattern,
        || location_match_covers_pattern_uncached(section, pattern),
    )
}

fn location_match_covers_pattern_uncached(section: &str, pattern: &str) -> Decision {
    if section == pattern || matches_everything(section) {
        return Decision::Yes;
    }
    // `^/([0-9]+)/delete$` and `^/[0-9]+/delete$`: the same URLs.
    if let (Some(a), Some(b)) = (without_plain_groups(section), without_plain_groups(pattern)) {
        if a == b {
            return Decision::Yes;
        }
    }
    let (lit_r, lit_p) = (sure_prefix(section), sure_prefix(pattern));
    // `^/set` covers every URL of `^/settings$`: a pure literal prefix.
    if is_anchored(section)
        && format!("^{lit_r}") == section
        && is_anchored(pattern)
        && lit_p.starts_with(&lit_r)
    {
        return Decision::Yes;
    }
    // Every URL of the mount starts with `lit_p`, and the section matches
    // every URL that does (`^/(manager|settings)` for `^/settings(/.*)?$`).
    if is_anchored(pattern) && !lit_p.is_empty() {
        if let Some(mut r) = Anchored_::new(section) {
            if r.covers_prefix(&lit_p) {
                return Decision::Yes;
            }
        }
    }
    // No URL of one can start the way every URL of the other starts.
    if is_anchored(section) {
        if let Some(mut p) = Anchored_::new(pattern) {
            if p.reach(&lit_r) == Some(Reach::None) {
                return Decision::No;
            }
        }
    }
    if is_anchored(pattern) {
        if let Some(mut r) = Anchored_::new(section) {
            if r.reach(&lit_p) == Some(Reach::None) {
                return Decision::No;
            }
        }
    }
    Decision::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_patterns_are_disjoint() {
        assert_eq!(
            location_match_covers_pattern("^/settings$", "^/[0-9]+/delete$"),
            Decision::No
        );
        assert_eq!(
            location_match_covers_pattern("^/[0-9]+/delete$", "^/settings$"),
            Decision::No
        );
        assert_eq!(
            location_match_covers_pattern("^/settings$", "^/settings$"),
            Decision::Yes
        );
        assert_eq!(
            location_match_covers_pattern("^/[0-9]+/delete$", "^/([0-9]+)/delete$"),
            Decision::Yes
        );
        assert_eq!(
            location_match_covers_pattern("^/a(b)?$", "^/ab$"),
            Decision::Unknown
        );
        assert_eq!(
            location_match_covers_pattern("^/set", "^/settings$"),
            Decision::Yes
        );
        assert_eq!(
            location_match_covers_pattern("^/(a|b)", "^/a/x$"),
            Decision::Yes
        );
        assert_eq!(
            location_match_covers_pattern("^/(manager|settings)", "^/settings(/.*)?$"),
            Decision::Yes
        );
        assert_eq!(
            location_match_covers_pattern("^/(manager|settings)$", "^/settings(/.*)?$"),
            Decision::Unknown
        );
        assert_eq!(
            location_match_covers_pattern("^/(manager|stats)", "^/settings(/.*)?$"),
            Decision::No
        );
    }

    #[test]
    fn locations_against_patterns() {
        assert_eq!(
            location_covers_pattern("/cblr", "^/cblr/svc/([^/]*)"),
            Decision::Yes
        );
        assert_eq!(
            location_covers_pattern("/settings", "^/settings$"),
            Decision::Yes
        );
        assert_eq!(location_covers_pattern("/set", "^/settings$"), Decision::No);
        assert_eq!(
            location_covers_pattern("/other", "^/[0-9]+/delete$"),
            Decision::No
        );
        assert_eq!(
            location_covers_pattern("/12", "^/[0-9]+/delete$"),
            Decision::Unknown
        );
        assert_eq!(location_covers_pattern("/", "anything"), Decision::Yes);
    }

    #[test]
    fn location_matches_against_urls() {
        assert_eq!(location_match_covers_url("^/app", "/app"), Decision::Yes);
        assert_eq!(location_match_covers_url("^/other", "/app"), Decision::No);
        assert_eq!(location_match_covers_url("^/app$", "/app"), Decision::Yes);
        assert_eq!(
            location_match_covers_url("^/app/?$", "/app"),
            Decision::Unknown
        );
        assert_eq!(location_match_covers_url("\\.py$", "/app"), Decision::No);
        assert_eq!(
            location_match_covers_url("gamma", "/beta/gamma"),
            Decision::Yes
        );
        assert_eq!(location_match_covers_url("gamma", "/alpha"), Decision::No);
        assert_eq!(
            location_match_covers_url("^/alpha(/|$)", "/alpha"),
            Decision::Yes
        );
        assert_eq!(
            location_match_covers_url("^/alpha(/|$)", "/alphabet"),
            Decision::No
        );
        assert_eq!(sure_prefix("^/settings?/x"), "/setting");
        assert_eq!(sure_prefix("/a"), "");
    }

    #[test]
    fn a_pattern_that_takes_a_url_and_all_below_it_shadows_an_alias() {
        assert!(alias_match_takes_every_url("^/m(\\d)", "/m12"));
        assert!(alias_match_takes_every_url("^/api(/.*)?$", "/api/v2"));
        assert!(!alias_match_takes_every_url("^/api$", "/api/v2"));
        assert!(!alias_match_takes_every_url("^/m(\\d)$", "/m12"));
    }
}
