//! mod_wsgi's own argument syntax for RAW_ARGS directives
//! (`WSGIScriptAlias`, `WSGIDaemonProcess`, `WSGIImportScript`): leading
//! words read by `ap_getword_conf`, then `name=value` options whose value is
//! read by `ap_getword_conf` starting right after `=` (modwsgi.md §2.1, §2.3;
//! apache-syntax.md §3).

use crate::syntax::logical::{is_space, is_templated, next_word_ref};
use compact_str::CompactString;
use smallvec::SmallVec;

/// A word of a directive: nearly always short enough to be held inline.
pub type Word = CompactString;
/// A word's bytes as written, quotes included.
pub type WordText = SmallVec<[u8; 24]>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsgiOption {
    pub name: Word,
    pub value: Word,
    /// The option exactly as written in the logical line (`name=value`,
    /// quotes included), used to find it in the raw text when editing.
    pub text: WordText,
    /// Written as `name=value` with a name, as mod_wsgi's option reader
    /// requires; any other word makes httpd refuse the directive (unless
    /// it is a template's token, which may stand for several options).
    pub well_formed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WsgiArgs {
    /// The leading positional words (URL and target; or the daemon name).
    pub words: Vec<Word>,
    /// Raw text of each positional word as written.
    pub word_texts: Vec<WordText>,
    pub options: Vec<WsgiOption>,
}

impl WsgiArgs {
    pub fn option(&self, name: &str) -> Option<&WsgiOption> {
        self.options.iter().rev().find(|o| o.name == name)
    }
}

/// Reads `positional` leading words, then options, from the raw argument text
/// after the directive name.
pub fn parse(args: &[u8], positional: usize) -> WsgiArgs {
    // Sized to fit: an analysis holds these for every mount and daemon of
    // the server, and one is held per fix pass.
    let mut out = WsgiArgs {
        words: Vec::with_capacity(positional),
        word_texts: Vec::with_capacity(positional),
        options: Vec::new(),
    };
    let mut pos = 0;
    for _ in 0..positional {
        let start = skip_space(args, pos);
        match next_word_ref(args, &mut pos) {
            Some(w) => {
                let end = trim_end_space(args, start, pos);
                out.words.push(word(&w));
                out.word_texts.push(SmallVec::from_slice(&args[start..end]));
            }
            None => return out,
        }
    }
    loop {
        let start = skip_space(args, pos);
        if start >= args.len() {
            break;
        }
        let name_end = args[start..]
            .iter()
            .position(|&b| b == b'=' || is_space(b))
            .map_or(args.len(), |i| start + i);
        if name_end >= args.len() || args[name_end] != b'=' {
            // Not an option (mod_wsgi would refuse the line); keep it visible
            // as a valueless option so callers can tell.
            let mut p = start;
            next_word_ref(args, &mut p);
            let end = trim_end_space(args, start, p);
            out.options.push(WsgiOption {
                name: word(&args[start..end]),
                value: Word::default(),
                well_formed: false,
                text: SmallVec::from_slice(&args[start..end]),
            });
            pos = p;
            continue;
        }
        let mut p = name_end + 1;
        let value = if p < args.len() && !is_space(args[p]) {
            next_word_ref(args, &mut p).unwrap_or_default()
        } else {
            Default::default()
        };
        let end = trim_end_space(args, start, p);
        out.options.push(WsgiOption {
            name: word(&args[start..name_end]),
            value: word(&value),
            well_formed: name_end > start,
            text: SmallVec::from_slice(&args[start..end]),
        });
        pos = p;
    }
    out.options.shrink_to_fit();
    out
}

/// What mod_wsgi says when it refuses a `WSGIScriptAlias(Match)`'s options
/// at start-up, in every version since 3.0 (modwsgi.md §2.1, §6): a word
/// that is not `name=value`, an unknown option, an empty group or callable
/// name, a `pass-authorization` other than On or Off. The first such option
/// is the one reported, as httpd stops there. What a version may refuse
/// (group options on `...Match` before 4.6) is not judged here.
pub fn alias_refusal(args: &WsgiArgs) -> Option<&'static str> {
    const INVALID: &str = "Invalid option to WSGI script alias definition.";
    args.options
        .iter()
        .filter(|o| !is_templated(&o.text))
        .find_map(|o| match o.name.as_str() {
            _ if !o.well_formed => Some(INVALID),
            "application-group" if o.value.is_empty() => {
                Some("Invalid name for WSGI application group.")
            }
            "process-group" if o.value.is_empty() => Some("Invalid name for WSGI process group."),
            "callable-object" if o.value.is_empty() => {
                Some("Invalid name for WSGI callable object.")
            }
            "pass-authorization"
                if !o.value.eq_ignore_ascii_case("on") && !o.value.eq_ignore_ascii_case("off") =>
            {
                Some("Invalid value for authorization flag.")
            }
            "application-group" | "process-group" | "callable-object" | "pass-authorization" => {
                None
            }
            _ => Some(INVALID),
        })
}

/// What mod_wsgi says when it refuses a `WSGIDaemonProcess` at start-up
/// whatever its version: no name, or an option word that is not
/// `name=value`. Which option names exist depends on the version, so an
/// unknown name is not judged.
pub fn daemon_refusal(args: &WsgiArgs) -> Option<&'static str> {
    if args.words.first().is_none_or(|w| w.is_empty()) {
        return Some("Name of WSGI daemon process not supplied.");
    }
    if (args.options.iter()).any(|o| !o.well_formed && !is_templated(&o.text)) {
        return Some("Invalid option to WSGI daemon process definition.");
    }
    args.options.iter().find_map(count_refusal)
}

/// mod_wsgi reads these counts with `atoi` and refuses an empty one or one
/// below the least it takes, in every version that knows the option (one
/// that does not refuses the option itself): the count's own message.
const COUNTS: &[(&str, i64, &str)] = &[
    (
        "processes",
        1,
        "Invalid process count for WSGI daemon process.",
    ),
    (
        "threads",
        0,
        "Invalid thread count for WSGI daemon process.",
    ),
    (
        "maximum-requests",
        0,
        "Invalid request count for WSGI daemon process.",
    ),
    (
        "startup-timeout",
        0,
        "Invalid startup timeout for WSGI daemon process.",
    ),
    (
        "shutdown-timeout",
        0,
        "Invalid shutdown timeout for WSGI daemon process.",
    ),
    (
        "deadlock-timeout",
        0,
        "Invalid deadlock timeout for WSGI daemon process.",
    ),
    (
        "inactivity-timeout",
        0,
        "Invalid inactivity timeout for WSGI daemon process.",
    ),
    (
        "request-timeout",
        0,
        "Invalid request timeout for WSGI daemon process.",
    ),
    (
        "graceful-timeout",
        0,
        "Invalid graceful timeout for WSGI daemon process.",
    ),
    (
        "eviction-timeout",
        0,
        "Invalid eviction timeout for WSGI daemon process.",
    ),
    (
        "restart-interval",
        0,
        "Invalid restart interval for WSGI daemon process.",
    ),
    (
        "connect-timeout",
        0,
        "Invalid connect timeout for WSGI daemon process.",
    ),
    (
        "socket-timeout",
        0,
        "Invalid socket timeout for WSGI daemon process.",
    ),
    (
        "queue-timeout",
        0,
        "Invalid queue timeout for WSGI daemon process.",
    ),
    (
        "listen-backlog",
        0,
        "Invalid listen backlog for WSGI daemon process.",
    ),
];

fn count_refusal(o: &WsgiOption) -> Option<&'static str> {
    let (_, least, message) = COUNTS
        .iter()
        .find(|(name, _, _)| *name == o.name.as_str())?;
    if is_templated(o.value.as_bytes()) {
        return None;
    }
    (o.value.is_empty() || atoi(&o.value) < *least).then_some(*message)
}

/// C's `atoi`: leading blanks, a sign, then digits as far as they go.
fn atoi(s: &str) -> i64 {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = (digits.bytes())
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if negative {
        -n
    } else {
        n
    }
}

/// Bytes as text, invalid UTF-8 replaced (as everywhere in the analysis).
fn word(bytes: &[u8]) -> Word {
    match std::str::from_utf8(bytes) {
        Ok(s) => Word::new(s),
        Err(_) => Word::from(String::from_utf8_lossy(bytes)),
    }
}

fn skip_space(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    i
}

fn trim_end_space(s: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && is_space(s[end - 1]) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_words_and_quoted_options() {
        let a = parse(
            br#"/ipa "/usr/share/ipa/wsgi.py" process-group=ipa application-group='%{GLOBAL}'"#,
            2,
        );
        assert_eq!(a.words, ["/ipa", "/usr/share/ipa/wsgi.py"]);
        assert_eq!(&a.word_texts[1][..], br#""/usr/share/ipa/wsgi.py""#);
        assert_eq!(a.option("process-group").unwrap().value, "ipa");
        let ag = a.option("application-group").unwrap();
        assert_eq!(ag.value, "%{GLOBAL}");
        assert_eq!(&ag.text[..], b"application-group='%{GLOBAL}'");
    }

    #[test]
    fn daemon_name_and_options() {
        let a = parse(b"fas  processes=2 display-name=%{GROUP}", 1);
        assert_eq!(a.words, ["fas"]);
        assert_eq!(a.options.len(), 2);
        assert_eq!(a.option("display-name").unwrap().value, "%{GROUP}");
    }
}
