//! Report formats for programs, one module each, behind one interface the
//! run loop calls per file and once at the end; and the listings that are
//! not about files (`wsgifix rules`).
//!
//! Text output stays in the run loop (diffs and `--check` lines); every other
//! format writes only through a [`Reporter`], so the run loop needs to know
//! nothing about them.

pub mod fixes;
pub mod github;
pub mod json_lines;
pub mod rules;
pub mod sarif;
pub mod statistics;

use std::io::{self, Write};

use super::report::{JsonWriter, Outcome, RunWrites, Summary};
use crate::cli::{Format, Mode};

/// What the report is asked to add on top of the format's own records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extras {
    /// `--statistics`: counts per rule.
    pub statistics: bool,
    /// `--show-fixes`: what each fix did.
    pub show_fixes: bool,
}

/// A machine-readable report, written as the files come.
pub trait Reporter {
    /// One file's outcome, in input order.
    fn file(&mut self, out: &mut dyn Write, o: &Outcome) -> io::Result<()>;
    /// After the last file, with what `--write` did to the disk.
    fn end(&mut self, out: &mut dyn Write, summary: &Summary, writes: &RunWrites)
        -> io::Result<()>;
}

/// The reporter for `format`, having written whatever comes before the
/// first file; None for text, which the run loop writes itself.
pub fn reporter(
    format: Format,
    mode: Mode,
    extras: Extras,
    out: &mut dyn Write,
) -> io::Result<Option<Box<dyn Reporter>>> {
    Ok(match format {
        Format::Text => None,
        Format::Json => Some(Box::new(JsonWriter::begin(out, mode, extras)?)),
        Format::JsonLines => Some(Box::new(json_lines::JsonLines::new(mode, extras))),
        Format::Sarif => Some(Box::new(sarif::Sarif::default())),
        Format::Github => Some(Box::new(github::Github)),
    })
}

/// `{"name": "wsgifix", "version": "..."}`, in every JSON format.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

pub const TOOL: Tool = Tool {
    name: "wsgifix",
    version: env!("CARGO_PKG_VERSION"),
};

/// The version of the JSON formats' layout; bumped when a field changes
/// meaning (fields are only ever added within one version).
pub const SCHEMA_VERSION: u32 = 2;
