//! From raw bytes to what httpd actually sees: continuation joining, trimming
//! and `ap_getword_conf` tokenizing (apache-syntax.md §1 and §3).
//!
//! Everything here works on bytes: httpd never decodes its config, and a file
//! that is not UTF-8 must still round-trip byte for byte.

use std::borrow::Cow;

/// C `isspace()` in the "C" locale, which is what httpd uses (it never calls
/// setlocale). Bytes >= 0x80 are never whitespace.
#[inline]
pub const fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The result of replaying httpd's line reader over one logical line's raw
/// bytes.
pub struct Joined<'a> {
    /// The logical line, continuations removed, cut at the first NUL, trimmed.
    pub text: Cow<'a, [u8]>,
    /// True when httpd would treat the raw text's final newline as a
    /// continuation too, i.e. the logical line goes on into the next raw line.
    pub continues: bool,
}

/// Replays `ap_cfg_getline_core` + `cfg_trim_line` on `raw`, which holds one or
/// more physical lines (each ending in `\n`, except possibly the last).
///
/// The continuation test runs on the *joined* buffer: a physical line is
/// continued when the joined bytes before its `\n` (skipping one `\r`) end in
/// a backslash, and the backslash, `\r` and `\n` are then removed. So a blank
/// physical line after `\\`-newline continues as well, eating one backslash.
pub fn join(raw: &[u8]) -> Joined<'_> {
    // Fast path: without a backslash or NUL there is nothing to join or cut.
    if memchr::memchr2(b'\\', 0, raw).is_none() {
        return Joined {
            text: Cow::Borrowed(trim(raw)),
            continues: false,
        };
    }
    let mut joiner = Joiner::default();
    let continues = joiner.feed(raw);
    Joined {
        text: Cow::Owned(joiner.text().to_vec()),
        continues,
    }
}

/// httpd's line reader kept open across calls, so that a logical line that
/// arrives in pieces is joined in time linear in its length (re-joining the
/// whole line for every piece would be quadratic).
#[derive(Debug, Default)]
pub struct Joiner {
    /// The joined, untrimmed buffer httpd has built so far.
    buf: Vec<u8>,
    /// Set once a physical line ended the logical line.
    ended: bool,
}

impl Joiner {
    /// Reads the next raw bytes of the logical line (whole physical lines,
    /// the last one possibly without its newline). Returns true when the
    /// logical line goes on past them. Bytes after the line has ended are
    /// ignored.
    pub fn feed(&mut self, raw: &[u8]) -> bool {
        let mut rest = raw;
        while !rest.is_empty() && !self.ended {
            let (phys, after) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..=i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = after;
            let start = self.buf.len();
            self.buf.extend_from_slice(phys);
            // strlen(): a NUL ends what httpd sees of this physical line, and
            // with it the logical line (the check below then never sees `\n`).
            if let Some(nul) = self.buf[start..].iter().position(|&b| b == 0) {
                self.buf.truncate(start + nul);
                self.ended = true;
                break;
            }
            let buf = &mut self.buf;
            let mut cp = buf.len();
            if cp > 0 && buf[cp - 1] == b'\n' {
                cp -= 1;
                if cp > 0 && buf[cp - 1] == b'\r' {
                    cp -= 1;
                }
                if cp > 0 && buf[cp - 1] == b'\\' {
                    buf.truncate(cp - 1);
                    continue;
                }
            }
            self.ended = true;
        }
        !self.ended
    }

    /// The logical line so far, trimmed.
    pub fn text(&self) -> &[u8] {
        trim(&self.buf)
    }
}

/// Strips leading and trailing C whitespace.
pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_space(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_space(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Reads one word the way `ap_getword_conf` does, starting at `*pos`, and
/// advances `*pos` past it and the whitespace after it. Returns `None` at the
/// end of the text.
///
/// A word that starts with `"` or `'` runs to the next unescaped same quote
/// (or to the end: an unterminated quote is not an error); inside it only
/// `\<quote>` and `\\` are escapes. An unquoted word runs to whitespace; in it
/// `\\` still collapses to `\`.
///
/// One departure from httpd: a template placeholder (`{{ name }}`,
/// `{% if x %}`, `{# note #}`, as Jinja writes them for Ansible and Salt) is
/// part of the word it stands in, spaces and all. httpd never reads one (the
/// template is rendered first, and the placeholder becomes one value), while
/// its halves read as words would invent URLs, scripts and options.
pub fn next_word(s: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    next_word_ref(s, pos).map(Cow::into_owned)
}

/// [`next_word`], borrowed from `s` when reading changes nothing (no
/// backslash in the word): the analysis reads every mod_wsgi word.
pub fn next_word_ref<'s>(s: &'s [u8], pos: &mut usize) -> Option<Cow<'s, [u8]>> {
    let mut i = *pos;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    if i >= s.len() {
        *pos = i;
        return None;
    }
    let word;
    let quote = s[i];
    if quote == b'"' || quote == b'\'' {
        let start = i + 1;
        let mut end = start;
        while end < s.len() && s[end] != quote {
            if s[end] == b'\\' && end + 1 < s.len() && (s[end + 1] == quote || s[end + 1] == b'\\')
            {
                end += 2;
            } else {
                end += 1;
            }
        }
        word = unescape(
            &s[start..end.min(s.len())],
            Some(quote),
            s.get(end).copied(),
        );
        i = if end < s.len() { end + 1 } else { end };
    } else {
        let start = i;
        loop {
            i = s[i..]
                .iter()
                .position(|&b| CLASS[b as usize] & (SPACE | BRACE) != 0)
                .map_or(s.len(), |n| i + n);
            match s.get(i) {
                Some(b'{') => i = placeholder_end(s, i).unwrap_or(i + 1),
                _ => break,
            }
        }
        word = unescape(&s[start..i], None, s.get(i).copied());
    }
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    *pos = i;
    Some(word)
}

/// Where a template placeholder opening at `s[i]` ends (past its closer):
/// `{{ … }}`, `{% … %}` or `{# … #}`. `None` when none opens there, or it is
/// never closed (then the braces are plain bytes, as httpd reads them).
fn placeholder_end(s: &[u8], i: usize) -> Option<usize> {
    if s.get(i) != Some(&b'{') {
        return None;
    }
    let closer: &[u8] = match s.get(i + 1)? {
        b'{' => b"}}",
        b'%' => b"%}",
        b'#' => b"#}",
        _ => return None,
    };
    let body = i + 2;
    memchr::memmem::find(&s[body..], closer).map(|n| body + n + closer.len())
}

/// Whether `s` holds a template placeholder (see [`next_word`]): such a
/// file is not yet a config httpd reads, and what stands in a placeholder
/// is not judged.
pub fn has_placeholder(s: &[u8]) -> bool {
    memchr::memchr_iter(b'{', s).any(|i| placeholder_end(s, i).is_some())
}

/// Whether `s` holds a token that something replaces before mod_wsgi reads
/// it: a Jinja placeholder, httpd's own `${VAR}` (or a shell's `$VAR`), or a
/// `%TOKEN%` / `@@TOKEN@@` that installers such as devstack substitute
/// (modwsgi.md §9), or an autoconf-style `@token@` (Review Board's rb-site
/// renders its apache-wsgi.conf.in from `@sitedir@`, `@siteroot_noslash@`). One such token may stand for a value, a path or several
/// options, so what holds one is neither judged nor used to make a name.
pub fn is_templated(s: &[u8]) -> bool {
    let token_char = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let wrapped = |marker: &[u8]| {
        let mut rest = s;
        while let Some(at) = memchr::memmem::find(rest, marker) {
            let body = &rest[at + marker.len()..];
            let len = body.iter().take_while(|b| token_char(b)).count();
            if len > 0 && body[len..].starts_with(marker) {
                return true;
            }
            rest = body;
        }
        false
    };
    has_placeholder(s)
        || s.windows(2)
            .any(|w| w[0] == b'$' && (w[1] == b'{' || w[1].is_ascii_alphabetic() || w[1] == b'_'))
        || wrapped(b"%")
        || wrapped(b"@")
}

/// httpd's `substring_conf`: `\\` (and `\<quote>` inside quotes) lose their
/// backslash. `after` is the byte just past the word, which httpd's loop may
/// peek at for a word's final backslash.
fn unescape(word: &[u8], quote: Option<u8>, after: Option<u8>) -> Cow<'_, [u8]> {
    // Every escape starts with a backslash.
    if memchr::memchr(b'\\', word).is_none() {
        return Cow::Borrowed(word);
    }
    let mut out = Vec::with_capacity(word.len());
    let mut i = 0;
    while i < word.len() {
        let next = word.get(i + 1).copied().or(after);
        if word[i] == b'\\' && (next == Some(b'\\') || (quote.is_some() && next == quote)) {
            if i + 1 < word.len() {
                out.push(word[i + 1]);
                i += 2;
            } else {
                // httpd copies the peeked byte, which lies outside the word;
                // only reachable at a quoted word's end, where it is the quote.
                if let Some(b) = next {
                    out.push(b);
                }
                i += 1;
            }
        } else {
            out.push(word[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// All words of `s`, as `ap_getword_conf` would return them one by one.
pub fn words(s: &[u8]) -> Vec<Vec<u8>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while let Some(w) = next_word(s, &mut pos) {
        out.push(w);
    }
    out
}

/// The first word of `s` as `next_word` reads it, and where the text after it
/// (and its trailing whitespace) starts, borrowed: only when reading changes
/// nothing, i.e. the word is unquoted and holds no backslash (nor a
/// placeholder, see [`next_word`]). `None` otherwise (or at the end of the
/// text); the caller then uses `next_word`.
pub fn plain_word(s: &[u8]) -> Option<(&[u8], usize)> {
    let (start, end) = plain_span(s, SPACE | BACKSLASH | BRACE)?;
    let rest = s[end..]
        .iter()
        .position(|&b| CLASS[b as usize] & SPACE == 0)
        .map_or(s.len(), |n| end + n);
    Some((&s[start..end], rest))
}

/// A directive's name read straight from its raw line, when joining the
/// line could not change it: unquoted and ended by a space before any
/// backslash or NUL (the only bytes the join rewrites). `None` otherwise:
/// the caller then joins the line and uses [`split_name`].
pub fn raw_name(raw: &[u8]) -> Option<&[u8]> {
    let (start, end) = plain_span(raw, SPACE | BACKSLASH | BRACE | NUL)?;
    Some(&raw[start..end])
}

/// Byte classes for the borrowed readers, which every line of every
/// analysis goes through: one table lookup a byte.
const SPACE: u8 = 1;
const BACKSLASH: u8 = 2;
const BRACE: u8 = 4;
const NUL: u8 = 8;
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        if is_space(b as u8) {
            t[b] = SPACE;
        }
        b += 1;
    }
    t[b'\\' as usize] = BACKSLASH;
    t[b'{' as usize] = BRACE;
    t[0] = NUL;
    t
};

/// The first word of `s` (after whitespace), as a range, when it is
/// unquoted, ends at a space or the end, and holds no byte of `stops` but
/// spaces and braces that open no placeholder.
fn plain_span(s: &[u8], stops: u8) -> Option<(usize, usize)> {
    let start = s.iter().position(|&b| CLASS[b as usize] & SPACE == 0)?;
    if matches!(s[start], b'"' | b'\'') {
        return None;
    }
    let mut end = start;
    loop {
        end = s[end..]
            .iter()
            .position(|&b| CLASS[b as usize] & stops != 0)
            .map_or(s.len(), |n| end + n);
        match s.get(end) {
            None => return Some((start, end)),
            Some(&b) if CLASS[b as usize] & SPACE != 0 => return Some((start, end)),
            Some(b'{') if !matches!(s.get(end + 1), Some(b'{' | b'%' | b'#')) => end += 1,
            Some(_) => return None,
        }
    }
}

/// Splits a logical directive line into its first word (the name, as
/// httpd tokenizes it) and the raw remainder httpd hands to RAW_ARGS
/// handlers and prints in DUMP_CONFIG.
/// The name is borrowed when written plainly, as nearly every one is: the
/// analysis reads every directive's name.
pub fn split_name(logical: &[u8]) -> (Cow<'_, [u8]>, &[u8]) {
    if let Some((word, rest)) = plain_word(logical) {
        return (Cow::Borrowed(word), &logical[rest..]);
    }
    let mut pos = 0;
    let name = next_word(logical, &mut pos).unwrap_or_default();
    (Cow::Owned(name), &logical[pos..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(s: &str) -> String {
        String::from_utf8(words(s.as_bytes()).remove(0)).unwrap()
    }

    #[test]
    fn getword_conf_table_from_apache_syntax_md() {
        assert_eq!(word(r#""a\"b""#), r#"a"b"#);
        assert_eq!(word(r"'it\'s'"), "it's");
        assert_eq!(word(r#""a\\b""#), r"a\b");
        assert_eq!(word(r#""a\nb""#), r"a\nb");
        assert_eq!(word(r#""it\'s""#), r"it\'s");
        assert_eq!(word(r#"'a\"b'"#), r#"a\"b"#);
        assert_eq!(word(r"a\\b"), r"a\b");
        assert_eq!(word(r#"a\"b"#), r#"a\"b"#);
        assert_eq!(word(r"a\b"), r"a\b");
        assert_eq!(word(r#""unterminated"#), "unterminated");
        assert_eq!(word(r#""a\\\"b""#), r#"a\"b"#);
        assert_eq!(word(r#""a\\\\b""#), r"a\\b");
        assert_eq!(word(r#""x"   "#), "x");
        let w = |s: &str| -> Vec<String> {
            words(s.as_bytes())
                .into_iter()
                .map(|w| String::from_utf8(w).unwrap())
                .collect()
        };
        assert_eq!(w(r#""a"b"#), ["a", "b"]);
        assert_eq!(w(r#"foo"bar baz""#), [r#"foo"bar"#, r#"baz""#]);
        assert_eq!(w("''x"), ["", "x"]);
    }

    #[test]
    fn plain_word_agrees_with_next_word() {
        for s in [
            "",
            "  ",
            "a",
            " a b ",
            "<If x>",
            "\"q\" r",
            "a\\\\b c",
            "\tx\x0b\ty",
            "'s' t",
            "a\"b c",
        ] {
            let s = s.as_bytes();
            let mut pos = 0;
            let slow = next_word(s, &mut pos);
            if let Some((w, rest)) = plain_word(s) {
                assert_eq!(Some(w.to_vec()), slow, "{s:?}");
                assert_eq!(rest, pos, "{s:?}");
            } else {
                assert!(
                    slow.is_none()
                        || matches!(s.iter().find(|b| !is_space(**b)), Some(b'"' | b'\''))
                        || s.contains(&b'\\')
                );
            }
        }
    }

    #[test]
    fn raw_name_is_the_joined_lines_name() {
        let mut read = 0;
        for raw in [
            "Alias /a /b\n",
            "  \tServerName x\r\n",
            "Listen",
            "Listen\n",
            "Alias\\\n /a /b\n",
            "Ali\\\nas /a /b\n",
            "\"Alias\" /a\n",
            "Ali\0as /a\n",
            "\x0bInclude\x0cx\n",
            "Alias /a\\\n /b\n",
            "WSGIScriptAlias / /srv/a.wsgi \\\n  process-group=x\n",
        ] {
            let joined = join(raw.as_bytes()).text;
            let (name, _) = split_name(&joined);
            match raw_name(raw.as_bytes()) {
                Some(n) => {
                    assert_eq!(n, &*name, "{raw:?}");
                    read += 1;
                }
                None => assert!(raw.contains(['\\', '"', '\0']), "{raw:?}"),
            }
        }
        assert_eq!(read, 7);
    }

    #[test]
    fn join_follows_httpd_reader() {
        let j = |s: &str| String::from_utf8(join(s.as_bytes()).text.into_owned()).unwrap();
        assert_eq!(j("Alias /a /tmp/\\\n    a\n"), "Alias /a /tmp/    a");
        assert_eq!(j("Alias /b\\\n/tmp/b\n"), "Alias /b/tmp/b");
        assert_eq!(j("Alias /a /tmp/a\\\\\n/more\n"), "Alias /a /tmp/a\\/more");
        assert_eq!(j("Alias /a /tmp/a\\"), "Alias /a /tmp/a\\");
        assert_eq!(j("Alias /a\\\r\n /b\r\n"), "Alias /a /b");
        assert_eq!(j("Alias /a /tmp/a\0 garbage\n"), "Alias /a /tmp/a");
        assert_eq!(j("\x0bAlias\x0c/a \r\n"), "Alias\x0c/a");
        // A blank physical line after `\\`-newline continues and eats a backslash.
        let r = join(b"ab\\\\\n\n");
        assert!(r.continues);
        assert_eq!(&*r.text, b"ab");
        assert!(!join(b"ab\\\n\n").continues);
    }

    #[test]
    fn a_placeholder_is_part_of_its_word() {
        let all = |s: &str| -> Vec<String> {
            words(s.as_bytes())
                .into_iter()
                .map(|w| String::from_utf8(w).unwrap())
                .collect()
        };
        assert_eq!(
            all("/{{ name }} {{ root }}/{{ name }}.wsgi x={% if a %}b{% endif %}"),
            [
                "/{{ name }}",
                "{{ root }}/{{ name }}.wsgi",
                "x={% if a %}b{% endif %}"
            ]
        );
        // Not a placeholder: httpd's own reading.
        assert_eq!(
            all("%{GLOBAL} ${X} a{b c}"),
            ["%{GLOBAL}", "${X}", "a{b", "c}"]
        );
        assert_eq!(all("{{ never closed"), ["{{", "never", "closed"]);
        // The borrowed readers leave such words to next_word.
        assert_eq!(plain_word(b"{{ name }} x"), None);
        assert_eq!(raw_name(b"{{ directive }} x"), None);
        assert_eq!(plain_word(b"%{GLOBAL} x"), Some((&b"%{GLOBAL}"[..], 10)));
    }

    #[test]
    fn templated_words_are_told_apart() {
        for t in [
            "{{ x }}",
            "a{# c #}",
            "%VIRTUALENV%",
            "@@PORT@@",
            "@sitedir@/htdocs",
            "${APACHE_LOG_DIR}/x",
            "$HOME",
        ] {
            assert!(is_templated(t.as_bytes()), "{t}");
        }
        for t in [
            "%{GLOBAL}",
            "/srv/$1.wsgi",
            "100%",
            "a@@b",
            "webmaster@localhost",
            "processes=2",
            "{{",
        ] {
            assert!(!is_templated(t.as_bytes()), "{t}");
        }
    }
}
