//! What one file came to, and how it is reported: text lines for people,
//! one JSON document for programs.

use std::io::{self, Write};

use serde::Serialize;

use super::formats::statistics::Statistics;
use super::formats::{Extras, Reporter, SCHEMA_VERSION, TOOL};
use crate::cli::Mode;
use crate::engine::EngineError;
use crate::rules::Finding;

/// Why a file could not be (fully) handled. Any of them makes the exit status 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileError {
    /// `io`, `syntax`, `fix-discarded`, `changed-on-disk` or `write`.
    pub kind: &'static str,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
}

impl FileError {
    pub fn io(kind: &'static str, message: impl Into<String>) -> FileError {
        FileError {
            kind,
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn from_engine(e: &EngineError) -> FileError {
        match e {
            EngineError::Syntax(s) => FileError {
                kind: "syntax",
                line: Some(s.line),
                column: Some(s.column),
                message: s.message.clone(),
            },
            EngineError::FixDiscarded {
                line,
                column,
                message,
            } => FileError {
                kind: "fix-discarded",
                line: Some(*line),
                column: Some(*column),
                message: message.clone(),
            },
        }
    }

    /// `wsgifix: error: PATH:LINE:COL: message`, or without `LINE:COL:`
    /// when there is no position.
    pub fn render(&self, path: &str, color: bool) -> String {
        let path = crate::writing::escape_bytes(path.as_bytes());
        let message = crate::writing::escape_bytes(self.message.as_bytes());
        let place = match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{path}:{l}:{c}:"),
            _ => format!("{path}:"),
        };
        let place = if color {
            format!("\x1b[1m{place}\x1b[0m")
        } else {
            place
        };
        error_line(&format!("{place} {message}"), color)
    }
}

/// `wsgifix: error: MESSAGE`: every error line starts so, so that it can be
/// told from findings and found with grep in a fleet's logs.
pub fn error_line(message: &str, color: bool) -> String {
    if color {
        format!("wsgifix: \x1b[1;31merror:\x1b[0m {message}")
    } else {
        format!("wsgifix: error: {message}")
    }
}

/// `wsgifix: warning: MESSAGE`.
pub fn warning_line(message: &str, color: bool) -> String {
    if color {
        format!("wsgifix: \x1b[1;33mwarning:\x1b[0m {message}")
    } else {
        format!("wsgifix: warning: {message}")
    }
}

/// One file's result, as the reports need it.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The path as the user named it (or as the walk found it).
    pub path: String,
    pub findings: Vec<Finding>,
    /// The fixes change the file (with `--write`: they were meant to).
    pub changed: bool,
    /// The fixed file was written in place.
    pub written: bool,
    pub diff: Option<Vec<u8>>,
    pub error: Option<FileError>,
    /// Bytes for standard output when `-` is fixed with `--write`.
    pub stdout: Option<Vec<u8>>,
    /// `--show-fixes`: what the fixes did, one sentence per edited line.
    pub fix_notes: Vec<String>,
    /// The path's bytes when they are not UTF-8 (`path` is then lossy).
    pub path_bytes: Option<Vec<u8>>,
    /// Where the bytes really are (symlinks resolved), once known.
    pub real_path: Option<String>,
    /// The fixed content is on disk (written by this run, or found already
    /// written by a concurrent one).
    pub in_place: bool,
    /// With `--write`: what to commit (see `crate::writing`).
    pub pending: Option<crate::writing::FileChange>,
}

/// One file in the JSON formats.
#[derive(Serialize)]
pub struct JsonFile<'a> {
    path: &'a str,
    /// Only for names that are not UTF-8: the exact bytes (`path` is lossy).
    #[serde(skip_serializing_if = "Option::is_none")]
    path_bytes: Option<&'a [u8]>,
    real_path: Option<&'a str>,
    changed: bool,
    written: bool,
    findings: &'a [Finding],
    diff: Option<String>,
    error: Option<&'a FileError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixes: Option<&'a [String]>,
}

impl<'a> JsonFile<'a> {
    pub fn of(o: &'a Outcome, extras: Extras) -> JsonFile<'a> {
        JsonFile {
            path: &o.path,
            path_bytes: o.path_bytes.as_deref(),
            real_path: o.real_path.as_deref(),
            changed: o.changed,
            written: o.written,
            findings: &o.findings,
            // JSON strings are Unicode; bytes that are not UTF-8 become U+FFFD.
            diff: o
                .diff
                .as_ref()
                .map(|d| String::from_utf8_lossy(d).into_owned()),
            error: o.error.as_ref(),
            fixes: extras.show_fixes.then_some(o.fix_notes.as_slice()),
        }
    }
}

/// Totals over all files, for the stderr summary and the JSON document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub mode: &'static str,
    pub files: usize,
    pub changed: usize,
    pub written: usize,
    pub findings: usize,
    pub fixable: usize,
    pub errors: usize,
    /// Findings still there after the run (with `--write`: the ones it
    /// could not fix; otherwise all).
    pub remaining: usize,
    pub exit_code: i32,
}

impl Summary {
    pub fn add(&mut self, o: &Outcome) {
        self.files += 1;
        self.changed += usize::from(o.changed);
        self.written += usize::from(o.written);
        self.findings += o.findings.len();
        self.fixable += o.findings.iter().filter(|f| f.fixable).count();
        self.errors += usize::from(o.error.is_some());
        self.remaining += if o.in_place {
            o.findings.iter().filter(|f| !f.fixable).count()
        } else {
            o.findings.len()
        };
    }

    /// One line for stderr.
    pub fn line(&self) -> String {
        let files = plural(self.files, "file");
        let what = match self.mode {
            "write" => format!("{} fixed", self.written),
            "check" => String::new(),
            _ => format!("{} would be changed", self.changed),
        };
        let mut parts = vec![format!("{files} checked")];
        if !what.is_empty() {
            parts.push(what);
        }
        parts.push(format!(
            "{} ({} fixable)",
            plural(self.findings, "finding"),
            self.fixable
        ));
        parts.push(plural(self.errors, "error"));
        format!("wsgifix: {}", parts.join(", "))
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `-v`: `wsgifix: checked PATH: 2 findings (1 fixable), changed`.
pub fn verbose_line(o: &Outcome) -> String {
    let state = if o.error.is_some() {
        "error"
    } else if o.written {
        "written"
    } else if o.changed {
        "would change"
    } else {
        "unchanged"
    };
    format!(
        "wsgifix: checked {}: {} ({} fixable), {state}",
        o.path,
        plural(o.findings.len(), "finding"),
        o.findings.iter().filter(|f| f.fixable).count()
    )
}

/// `FILE:LINE:COL CODE message`, the `--check` line, with `(not fixed:
/// WHY)` after the message of a finding wsgifix leaves for a known reason.
pub fn finding_line(path: &str, f: &Finding, color: bool) -> String {
    // Names and messages carry bytes from file names and configs: no
    // terminal escape from them reaches the terminal.
    let path = &crate::writing::escape_bytes(path.as_bytes());
    let mut message = crate::writing::escape_bytes(f.message.as_bytes());
    if let Some(why) = f.not_fixed {
        message.push_str(&format!(" (not fixed: {why})"));
    }
    if color {
        format!(
            "\x1b[1m{path}:{}:{}\x1b[0m \x1b[{}m{}\x1b[0m {message}",
            f.line,
            f.column,
            colored::Color::Red.to_fg_str(),
            f.code,
        )
    } else {
        format!("{path}:{}:{} {} {message}", f.line, f.column, f.code)
    }
}

/// What a whole run did to the disk, for the end of the JSON document.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunWrites {
    /// Real paths of the files written, in order.
    pub written: Vec<String>,
    pub checkpoint: Option<String>,
    pub verify: Option<crate::writing::VerifyReport>,
}

/// Streams the JSON document one file at a time, so that memory follows the
/// largest file rather than the fleet.
pub struct JsonWriter {
    first: bool,
    extras: Extras,
    statistics: Statistics,
}

impl JsonWriter {
    pub fn begin(out: &mut dyn Write, mode: Mode, extras: Extras) -> io::Result<JsonWriter> {
        write!(out, "{{\"schema_version\":{SCHEMA_VERSION},\"tool\":")?;
        serde_json::to_writer(&mut *out, &TOOL)?;
        write!(out, ",\"mode\":\"{}\",\"files\":[", mode.as_str())?;
        Ok(JsonWriter {
            first: true,
            extras,
            statistics: Statistics::default(),
        })
    }
}

impl Reporter for JsonWriter {
    fn file(&mut self, out: &mut dyn Write, o: &Outcome) -> io::Result<()> {
        if !self.first {
            out.write_all(b",")?;
        }
        self.first = false;
        self.statistics.add(o);
        serde_json::to_writer(&mut *out, &JsonFile::of(o, self.extras))?;
        Ok(())
    }

    fn end(&mut self, out: &mut dyn Write, summary: &Summary, w: &RunWrites) -> io::Result<()> {
        out.write_all(b"]")?;
        if self.extras.statistics {
            out.write_all(b",\"statistics\":")?;
            serde_json::to_writer(&mut *out, &self.statistics.rows())?;
        }
        out.write_all(b",\"written\":")?;
        serde_json::to_writer(&mut *out, &w.written)?;
        out.write_all(b",\"checkpoint\":")?;
        serde_json::to_writer(&mut *out, &w.checkpoint)?;
        out.write_all(b",\"verify\":")?;
        serde_json::to_writer(&mut *out, &w.verify)?;
        out.write_all(b",\"summary\":")?;
        serde_json::to_writer(&mut *out, summary)?;
        out.write_all(b"}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding() -> Finding {
        Finding {
            code: "WSGI001",
            name: "embedded-mode",
            line: 3,
            column: 5,
            message: "app / runs in embedded mode".into(),
            fixable: true,
            not_fixed: None,
        }
    }

    #[test]
    fn check_line_format() {
        assert_eq!(
            finding_line("a.conf", &finding(), false),
            "a.conf:3:5 WSGI001 app / runs in embedded mode"
        );
        assert!(finding_line("a.conf", &finding(), true).contains("\x1b[31mWSGI001\x1b[0m"));
    }

    #[test]
    fn error_rendering() {
        let e = FileError {
            kind: "syntax",
            line: Some(4),
            column: Some(1),
            message: "<VirtualHost> was not closed.".into(),
        };
        assert_eq!(
            e.render("x.conf", false),
            "wsgifix: error: x.conf:4:1: <VirtualHost> was not closed."
        );
        assert_eq!(
            FileError::io("io", "gone").render("y", false),
            "wsgifix: error: y: gone"
        );
        assert_eq!(
            FileError::io("io", "gone").render("y", true),
            "wsgifix: \x1b[1;31merror:\x1b[0m \x1b[1my:\x1b[0m gone"
        );
    }

    #[test]
    fn json_document_is_one_valid_value() {
        let mut out = Vec::new();
        let mut w = JsonWriter::begin(&mut out, Mode::DryRun, Extras::default()).unwrap();
        let mut summary = Summary {
            mode: "dry-run",
            ..Summary::default()
        };
        let a = Outcome {
            path: "a.conf".into(),
            findings: vec![finding()],
            changed: true,
            diff: Some(b"--- a/a.conf\n\xff".to_vec()),
            ..Outcome::default()
        };
        let b = Outcome {
            path: "b.conf".into(),
            error: Some(FileError::io("io", "denied")),
            ..Outcome::default()
        };
        for o in [&a, &b] {
            summary.add(o);
            w.file(&mut out, o).unwrap();
        }
        w.end(&mut out, &summary, &RunWrites::default()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["schema_version"], 2);
        assert_eq!(v["tool"]["name"], "wsgifix");
        assert_eq!(v["mode"], "dry-run");
        assert_eq!(v["files"].as_array().unwrap().len(), 2);
        assert_eq!(v["files"][0]["findings"][0]["code"], "WSGI001");
        assert_eq!(v["files"][0]["diff"], "--- a/a.conf\n\u{fffd}");
        assert_eq!(v["files"][1]["error"]["kind"], "io");
        assert!(v["files"][1]["diff"].is_null());
        assert_eq!(v["summary"]["findings"], 1);
        assert_eq!(v["summary"]["errors"], 1);
        assert_eq!(v["summary"]["changed"], 1);
    }

    #[test]
    fn summary_line_wording() {
        let s = Summary {
            mode: "dry-run",
            files: 2,
            changed: 1,
            findings: 1,
            fixable: 1,
            ..Summary::default()
        };
        assert_eq!(
            s.line(),
            "wsgifix: 2 files checked, 1 would be changed, 1 finding (1 fixable), 0 errors"
        );
    }
}
