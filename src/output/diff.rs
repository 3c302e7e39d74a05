//! Unified diffs of the fixes. The diff works on bytes, not text: configs may
//! hold bytes that are not UTF-8, and CRLF or a missing final newline must
//! show exactly as they are so that the patch reproduces the fixed file.
//!
//! Myers' algorithm costs O((N + M) · D) for D changed lines: fine for a
//! small file, quadratic for a large file with a fix in every vhost (50 000
//! vhosts took a minute). So small inputs keep Myers over the whole text, and
//! large ones are split first (`anchor`): common prefix and suffix trimmed,
//! then lines that occur exactly once on each side and in the same order
//! (patience anchors) cut the rest into gaps, each diffed the same way, with
//! Myers only on small gaps. Fixes leave most lines alone, and a config's
//! lines are mostly unique (names, paths), so this is near-linear there. The
//! result is always an exact diff; only its choice among equally short diffs
//! may differ from Myers on large inputs, and it is deterministic.

mod anchor;

use colored::Color;
use similar::udiff::UnifiedHunkHeader;
use similar::{DiffOp, DiffTag};

const CONTEXT: usize = 3;
const RESET: &[u8] = b"\x1b[0m";

/// The unified diff (`--- a/PATH`, `+++ b/PATH`, 3 lines of context) that
/// turns `old` into `new`; empty when they are equal.
pub fn unified(path: &str, old: &[u8], new: &[u8], color: bool) -> Vec<u8> {
    unified_tuned(path, old, new, color, anchor::Tuning::DEFAULT)
}

/// `unified` with the anchored algorithm forced even on tiny inputs, for the
/// tests that hold it to the reference; not part of the API.
#[doc(hidden)]
pub fn unified_anchored(path: &str, old: &[u8], new: &[u8], color: bool) -> Vec<u8> {
    unified_tuned(path, old, new, color, anchor::Tuning::TINY)
}

fn unified_tuned(
    path: &str,
    old: &[u8],
    new: &[u8],
    color: bool,
    tuning: anchor::Tuning,
) -> Vec<u8> {
    let mut out = Vec::new();
    if old == new {
        return out;
    }
    // Only the part between the untouched head and tail is split into lines
    // and diffed: on a large file with one fix, the line lists of both whole
    // texts would cost more memory than the file itself.
    let (skipped, old, new) = untouched_ends(old, new);
    // Lines end at `\n` only, as httpd reads them; a lone `\r` stays inside
    // its line. The terminator stays attached, so CRLF differs from LF.
    let old_lines = split_lines(old);
    let new_lines = split_lines(new);
    let ops = anchor::diff_lines(&old_lines, &new_lines, tuning);
    out.reserve(diff_size_hint(&ops, &old_lines, &new_lines));

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
        match sgr {
            Some(sgr) if color => {
                out.extend_from_slice(b"\x1b[");
                out.extend_from_slice(sgr.as_bytes());
                out.push(b'm');
                out.push(sign);
                out.extend_from_slice(body);
                out.extend_from_slice(RESET);
            }
            _ => {
                out.push(sign);
                out.extend_from_slice(body);
            }
        }
        if end.is_empty() {
            out.extend_from_slice(b"\n\\ No newline at end of file\n");
        } else {
            out.extend_from_slice(end);
        }
    };
    for group in similar::group_diff_ops(ops, CONTEXT) {
        // The header counts lines of the whole texts, past the skipped head.
        let (_, first_old, first_new) = group[0].as_tag_tuple();
        let numbered: Vec<DiffOp> = anchor::renumber(
            group.clone(),
            first_old.start + skipped,
            first_new.start + skipped,
        )
        .collect();
        paint(
            &mut out,
            Some(&cyan),
            UnifiedHunkHeader::new(&numbered).to_string().as_bytes(),
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

/// About how many bytes the changed lines and their context take, so the
/// output grows once or twice rather than by doubling from empty.
fn diff_size_hint(ops: &[DiffOp], old: &[&[u8]], new: &[&[u8]]) -> usize {
    let mut n = 0;
    for op in ops {
        let (tag, o, w) = op.as_tag_tuple();
        if tag != DiffTag::Equal {
            n += old[o]
                .iter()
                .chain(&new[w])
                .map(|l| l.len() + 1)
                .sum::<usize>()
                + 80;
        }
    }
    n * 2
}

/// The texts less their common head and tail, each cut at a line start and
/// leaving the `CONTEXT` lines a hunk shows, with the number of lines the
/// head held. The line diff of what is left, moved down by that many lines,
/// is the line diff of the whole texts: a common line at either end is
/// always matched as equal.
fn untouched_ends<'a>(old: &'a [u8], new: &'a [u8]) -> (usize, &'a [u8], &'a [u8]) {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let line_start_before = |end: usize| {
        old[..end]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
    };
    let mut head = line_start_before(prefix);
    for _ in 0..CONTEXT {
        if head == 0 {
            break;
        }
        head = line_start_before(head - 1);
    }
    // The tail may not reach into the common prefix, or one text's middle
    // would start after it ends.
    let room = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    // A line start inside the common suffix is a line start in both texts.
    let line_start_after = |from: usize| {
        old[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(old.len(), |i| from + i + 1)
    };
    let mut tail = line_start_after(old.len() - suffix);
    for _ in 0..CONTEXT {
        if tail == old.len() {
            break;
        }
        tail = line_start_after(tail);
    }
    let tail_len = old.len() - tail;
    let skipped = old[..head].iter().filter(|&&b| b == b'\n').count();
    (
        skipped,
        &old[head..old.len() - tail_len],
        &new[head..new.len() - tail_len],
    )
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
pub(crate) mod tests;
