//! Running the engine on one config text, and reading what it found.

use wsgifix::engine::{process, FileResult, Options};

pub fn run(input: &str) -> FileResult {
    process(input.as_bytes(), &Options::default())
}

/// `(code, line, fixable)` of each finding, in order.
pub fn codes(r: &FileResult) -> Vec<(&'static str, u32, bool)> {
    r.findings
        .iter()
        .map(|f| (f.code, f.line, f.fixable))
        .collect()
}

/// The fixed text, or nothing when the engine changed nothing.
pub fn fixed_text(r: &FileResult) -> String {
    r.fixed
        .as_ref()
        .map(|f| String::from_utf8(f.clone()).expect("UTF-8 fixtures"))
        .unwrap_or_default()
}
