//! Unified diffs of the fixes. The diff works on bytes, not text: configs may
//! hold bytes that are not UTF-8, and CRLF or a missing final newline must
//! show exactly as they are so that the patch reproduces the fixed file.

use colored::Color;
use similar::udiff::UnifiedHunkHeader;
use similar::{Algorithm, DiffTag};

const CONTEXT: usize = 3;
const RESET: &[u8] = b"\x1b[0m";

/// The unified diff (`--- a/PATH`, `+++ b/PATH`, 3 lines of context) that
/// turns `old` into `new`; empty when they are equal.
pub fn unified(path: &str, old: &[u8], new: &[u8], color: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if old == new {
        return out;
    }
    // Lines end at `\n` only, as httpd reads them; a lone `\r` stays inside
    // its line. The terminator stays attached, so CRLF differs from LF.
    let old_lines = split_lines(old);
    let new_lines = split_lines(new);
    let ops = similar::capture_diff_slices(Algorithm::Myers, &old_lines, &new_lines);

    let paint = |out: &mut Vec<u8>, sgr: Option<&str>, body: &[u8]| match sgr {
        Some(sgr) if color => {
            out.extend_from_slice(b"\x1b[");
            out.extend_from_slice(sgr.as_bytes());
            out.push(b'm');
            out.extend_from_slice(body);
            out.extend_from_slice(RESET);
        }
        _ => out.extend_from_slice(body),
    };
    let bold = "1";
    let cyan = Color::Cyan.to_fg_str();
    let red = Color::Red.to_fg_str();
    let green = Color::Green.to_fg_str();
    // git's a/ b/ prefixes; an absolute path loses its leading slash so that
    // `patch -p1` applies the diff from `/` (not `a//etc/...`).
    let shown = path.strip_prefix('/').unwrap_or(path);
    paint(&mut out, Some(bold), format!("--- a/{shown}").as_bytes());
    out.push(b'\n');
    paint(&mut out, Some(bold), format!("+++ b/{shown}").as_bytes());
    out.push(b'\n');

    let line = |out: &mut Vec<u8>, sign: u8, sgr: Option<&str>, value: &[u8]| {
        // The colour stops before the line terminator so that a terminal (or
        // a pager) never sees an escape sequence straddle a newline.
        let (body, end) = split_terminator(value);
        let mut text = Vec::with_capacity(body.len() + 1);
        text.push(sign);
        text.extend_from_slice(body);
        paint(out, sgr, &text);
        if end.is_empty() {
            out.extend_from_slice(b"\n\\ No newline at end of file\n");
        } else {
            out.extend_from_slice(end);
        }
    };
    for group in similar::group_diff_ops(ops, CONTEXT) {
        paint(
            &mut out,
            Some(&cyan),
            UnifiedHunkHeader::new(&group).to_string().as_bytes(),
        );
        out.push(b'\n');
        for op in &group {
            let (tag, old_range, new_range) = op.as_tag_tuple();
            if tag == DiffTag::Equal {
                for l in &old_lines[old_range] {
                    line(&mut out, b' ', None, l);
                }
                continue;
            }
            for l in &old_lines[old_range] {
                line(&mut out, b'-', Some(&red), l);
            }
            for l in &new_lines[new_range] {
                line(&mut out, b'+', Some(&green), l);
            }
        }
    }
    out
}

fn split_lines(s: &[u8]) -> Vec<&[u8]> {
    s.split_inclusive(|&b| b == b'\n').collect()
}

fn split_terminator(line: &[u8]) -> (&[u8], &[u8]) {
    if line.ends_with(b"\r\n") {
        line.split_at(line.len() - 2)
    } else if line.ends_with(b"\n") {
        line.split_at(line.len() - 1)
    } else {
        (line, &[])
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    /// Applies a (colourless) unified diff produced by `unified` to `old`;
    /// a minimal applier so that the tests check what a patch tool would get.
    pub(crate) fn apply(old: &[u8], diff: &[u8]) -> Vec<u8> {
        let old_lines = lines(old);
        let diff_lines = lines(diff);
        let mut out = Vec::new();
        let mut pos = 0usize; // next old line to copy
        let mut i = 2; // skip the ---/+++ headers
        while i < diff_lines.len() {
            let header = std::str::from_utf8(diff_lines[i]).unwrap();
            assert!(header.starts_with("@@ -"), "bad hunk header {header:?}");
            let old_range = header[4..].split(' ').next().unwrap();
            let (start, count) = match old_range.split_once(',') {
                Some((s, c)) => (s.parse::<usize>().unwrap(), c.parse::<usize>().unwrap()),
                None => (old_range.parse::<usize>().unwrap(), 1),
            };
            // An empty old range `-N,0` means "insert after line N".
            let old_start = if count == 0 { start } else { start - 1 };
            while pos < old_start {
                out.extend_from_slice(old_lines[pos]);
                pos += 1;
            }
            i += 1;
            while i < diff_lines.len() && !diff_lines[i].starts_with(b"@@ ") {
                let line = diff_lines[i];
                let mut body = &line[1..];
                let no_newline = diff_lines
                    .get(i + 1)
                    .is_some_and(|n| n.starts_with(b"\\ No newline"));
                if no_newline {
                    body = &body[..body.len() - 1];
                }
                match line[0] {
                    b' ' => {
                        assert_eq!(old_lines[pos], body, "context mismatch");
                        out.extend_from_slice(body);
                        pos += 1;
                    }
                    b'-' => {
                        assert_eq!(old_lines[pos], body, "deletion mismatch");
                        pos += 1;
                    }
                    b'+' => out.extend_from_slice(body),
                    other => panic!("unexpected diff line start {other}"),
                }
                i += if no_newline { 2 } else { 1 };
            }
        }
        while pos < old_lines.len() {
            out.extend_from_slice(old_lines[pos]);
            pos += 1;
        }
        out
    }

    /// Lines split after `\n` only, terminators kept.
    fn lines(s: &[u8]) -> Vec<&[u8]> {
        let mut v = Vec::new();
        let mut start = 0;
        for (i, b) in s.iter().enumerate() {
            if *b == b'\n' {
                v.push(&s[start..=i]);
                start = i + 1;
            }
        }
        if start < s.len() {
            v.push(&s[start..]);
        }
        v
    }

    fn snap(name: &str, value: &[u8]) {
        insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name, String::from_utf8_lossy(value));
        });
    }

    #[test]
    fn absolute_paths_get_prefixes_without_a_double_slash() {
        let d = String::from_utf8(unified("/etc/apache2/x.conf", b"a\n", b"b\n", false)).unwrap();
        assert!(
            d.starts_with("--- a/etc/apache2/x.conf\n+++ b/etc/apache2/x.conf\n"),
            "{d}"
        );
        let d = String::from_utf8(unified("sites/x.conf", b"a\n", b"b\n", false)).unwrap();
        assert!(
            d.starts_with("--- a/sites/x.conf\n+++ b/sites/x.conf\n"),
            "{d}"
        );
    }

    #[test]
    fn equal_inputs_give_no_diff() {
        assert!(unified("x.conf", b"a\nb\n", b"a\nb\n", false).is_empty());
        assert!(unified("x.conf", b"", b"", true).is_empty());
    }

    #[test]
    fn plain_diff_has_headers_and_context() {
        let old = b"1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = b"1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        let d = unified("sites/app.conf", old, new, false);
        snap("diff_plain", &d);
        assert!(d.starts_with(b"--- a/sites/app.conf\n+++ b/sites/app.conf\n@@ -2,7 +2,7 @@\n"));
        assert!(!d.contains(&0x1b));
        assert_eq!(apply(old, &d), new);
    }

    #[test]
    fn crlf_lines_keep_their_terminators() {
        let old =
            b"<VirtualHost *:80>\r\n    WSGIScriptAlias / /srv/app.wsgi\r\n</VirtualHost>\r\n";
        let new = b"<VirtualHost *:80>\r\n    WSGIDaemonProcess app\r\n    WSGIScriptAlias / /srv/app.wsgi\r\n</VirtualHost>\r\n";
        let d = unified("app.conf", old, new, false);
        assert!(d
            .windows(b"+    WSGIDaemonProcess app\r\n".len())
            .any(|w| w == b"+    WSGIDaemonProcess app\r\n"));
        assert_eq!(apply(old, &d), new);
        // Only the inserted line may differ: an LF/CRLF change would show here.
        let body: Vec<&[u8]> = d.split_inclusive(|&b| b == b'\n').skip(3).collect();
        assert_eq!(body.iter().filter(|l| l.starts_with(b"+")).count(), 1);
        assert_eq!(body.iter().filter(|l| l.starts_with(b"-")).count(), 0);
    }

    #[test]
    fn line_ending_change_is_visible() {
        let d = unified("a", b"x\r\ny\n", b"x\ny\n", false);
        assert_eq!(
            d,
            b"--- a/a\n+++ b/a\n@@ -1,2 +1,2 @@\n-x\r\n+x\n y\n".to_vec()
        );
    }

    #[test]
    fn missing_final_newline_is_marked() {
        let old = b"a\nb";
        let new = b"a\nb\nc";
        let d = unified("f", old, new, false);
        snap("diff_no_newline", &d);
        assert_eq!(
            d,
            b"--- a/f\n+++ b/f\n@@ -1,2 +1,3 @@\n a\n-b\n\\ No newline at end of file\n+b\n+c\n\\ No newline at end of file\n".to_vec()
        );
        assert_eq!(apply(old, &d), new);
    }

    #[test]
    fn colour_wraps_lines_but_not_terminators() {
        let d = unified("f", b"a\r\n", b"b\r\n", true);
        let text = String::from_utf8(d).unwrap();
        assert!(text.contains("\x1b[31m-a\x1b[0m\r\n"), "{text:?}");
        assert!(text.contains("\x1b[32m+b\x1b[0m\r\n"), "{text:?}");
        assert!(text.contains("\x1b[36m@@ -1 +1 @@\x1b[0m\n"), "{text:?}");
    }

    #[test]
    fn non_utf8_bytes_pass_through() {
        let old = b"# caf\xe9\nA 1\n";
        let new = b"# caf\xe9\nA 2\n";
        let d = unified("f", old, new, false);
        assert!(d.windows(6).any(|w| w == b" # caf"));
        assert!(d.contains(&0xe9));
        assert_eq!(apply(old, &d), new);
    }

    #[test]
    fn applies_with_gnu_patch() {
        let cases: [(&[u8], &[u8]); 4] = [
            (b"a\r\nb\r\nc\r\n", b"a\r\nWSGIProcessGroup x\r\nb\r\nc\r\n"),
            (b"a\nb", b"a\nb\n"),
            (b"a\nb\n", b"a\nb"),
            (b"", b"WSGIDaemonProcess x\n"),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (i, (old, new)) in cases.into_iter().enumerate() {
            let f = dir.path().join(format!("f{i}"));
            std::fs::write(&f, old).unwrap();
            let d = unified("f", old, new, false);
            let child = std::process::Command::new("patch")
                .args(["--quiet", "--binary", "--force"])
                .arg(&f)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn();
            let Ok(mut child) = child else {
                eprintln!("patch(1) not installed; skipping");
                return;
            };
            child.stdin.take().unwrap().write_all(&d).unwrap();
            assert!(child.wait().unwrap().success(), "case {i}");
            assert_eq!(std::fs::read(&f).unwrap(), new, "case {i}");
            assert_eq!(apply(old, &d), new, "case {i}");
        }
    }

    fn config_lines() -> impl Strategy<Value = Vec<u8>> {
        let line = prop_oneof![
            Just(b"WSGIProcessGroup app\n".to_vec()),
            Just(b"WSGIApplicationGroup %{GLOBAL}\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"  # comment \\\n".to_vec()),
            Just(b"\xff\xfe raw\n".to_vec()),
            Just(b"lone\rcr\n".to_vec()),
            "[a-c ]{0,4}\n".prop_map(|s| s.into_bytes()),
        ];
        (
            prop::collection::vec(line, 0..12),
            prop::option::of("[a-z]{1,3}"),
        )
            .prop_map(|(lines, tail)| {
                let mut v = lines.concat();
                if let Some(t) = tail {
                    v.extend_from_slice(t.as_bytes());
                }
                v
            })
    }

    proptest! {
        #[test]
        fn diff_reproduces_new_exactly(old in config_lines(), new in config_lines()) {
            let d = unified("p", &old, &new, false);
            prop_assert_eq!(d.is_empty(), old == new);
            if old != new {
                prop_assert_eq!(apply(&old, &d), new);
            }
        }
    }
}
