//! Grammar → syntax tree: the lossless front end.
//!
//! `grammar/httpd.pest` splits the input into logical lines; `build` nests
//! them into sections; `logical` holds httpd's own rules for joining lines and
//! reading words; `tree` is the editable result.

pub mod build;
pub mod logical;
pub mod tree;

// Public only so that benches/throughput.rs can time the grammar on its own;
// not part of the API.
#[doc(hidden)]
pub mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "grammar/httpd.pest"]
    pub struct HttpdGrammar;
}

pub use build::{parse, parse_from_line, parse_in_chunks, parse_shared, MAX_DEPTH};
pub use tree::{visit_lines, Line, LineKind, Node, Section, SharedBytes, SyntaxTree};

use std::fmt;

/// A syntax error at a 1-based line and byte column, worded like httpd's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl SyntaxError {
    pub fn new(line: u32, column: u32, message: String) -> SyntaxError {
        SyntaxError {
            line,
            column,
            message,
        }
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for SyntaxError {}
