//! `--show-fixes`: what each fix did, in words, from the lines it changed.
//!
//! The words come from the before/after text rather than from each rule:
//! that way they say what was really written, whichever rule (or
//! combination of rules) wrote it.

use std::io::{self, Write};

use similar::{ChangeTag, TextDiff};

use crate::output::report::Outcome;

/// One sentence per changed line, in file order: "line 4: added
/// `WSGIProcessGroup app`", "line 7: `A` became `B`", "line 9: removed `C`".
/// Line numbers are those of the fixed file, except for removals (original).
pub fn describe(old: &[u8], new: &[u8]) -> Vec<String> {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    let diff = TextDiff::from_lines(old.as_ref(), new.as_ref());
    let mut out = Vec::new();
    let mut pending_delete: Vec<(usize, String)> = Vec::new();
    for change in diff.iter_all_changes() {
        let text = change.value().trim().to_string();
        match change.tag() {
            ChangeTag::Equal => flush(&mut pending_delete, &mut out),
            ChangeTag::Delete => {
                let line = change.old_index().map_or(0, |i| i + 1);
                pending_delete.push((line, text));
            }
            ChangeTag::Insert => {
                let line = change.new_index().map_or(0, |i| i + 1);
                if text.is_empty() {
                    continue;
                }
                if pending_delete.is_empty() {
                    out.push(format!("line {line}: added `{text}`"));
                } else {
                    let (_, was) = pending_delete.remove(0);
                    out.push(format!("line {line}: `{was}` became `{text}`"));
                }
            }
        }
    }
    flush(&mut pending_delete, &mut out);
    out
}

fn flush(pending: &mut Vec<(usize, String)>, out: &mut Vec<String>) {
    for (line, text) in pending.drain(..) {
        if !text.is_empty() {
            out.push(format!("line {line}: removed `{text}`"));
        }
    }
}

/// The text block for one file, on stderr: which findings were fixed, then
/// the edits. Nothing for a file without fixes.
pub fn write_text(o: &Outcome, out: &mut dyn Write) -> io::Result<()> {
    if !o.changed || o.fix_notes.is_empty() {
        return Ok(());
    }
    let fixed: Vec<_> = o.findings.iter().filter(|f| f.fixable).collect();
    writeln!(
        out,
        "{}: fixed {} {}:",
        o.path,
        fixed.len(),
        if fixed.len() == 1 {
            "finding"
        } else {
            "findings"
        }
    )?;
    for f in fixed {
        writeln!(out, "  {}:{} {} {}", f.line, f.column, f.code, f.message)?;
    }
    writeln!(out, "  by these edits:")?;
    for n in &o.fix_notes {
        writeln!(out, "    {n}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_for_added_changed_and_removed_lines() {
        let old = b"<VirtualHost *:80>\n  WSGIScriptAlias / /a.wsgi\n  WSGIApplicationGroup app\n  Junk x\n</VirtualHost>\n";
        let new = b"<VirtualHost *:80>\n  WSGIDaemonProcess a\n  WSGIScriptAlias / /a.wsgi\n  WSGIApplicationGroup %{GLOBAL}\n</VirtualHost>\n";
        assert_eq!(
            describe(old, new),
            [
                "line 2: added `WSGIDaemonProcess a`",
                "line 4: `WSGIApplicationGroup app` became `WSGIApplicationGroup %{GLOBAL}`",
                "line 4: removed `Junk x`",
            ]
        );
        assert!(describe(b"a\n", b"a\n").is_empty());
    }
}
