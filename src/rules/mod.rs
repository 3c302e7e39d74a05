//! The rules: stable codes, names, explanations, and which of them can fix.

pub mod checks;
pub mod edit;
pub mod fixes;
pub mod registry;

pub use registry::{rule_by_code, RuleInfo, RULES};

/// One problem found in a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub name: &'static str,
    /// 1-based physical line of the directive the finding is about.
    pub line: u32,
    /// 1-based byte column of that directive's first byte.
    pub column: u32,
    pub message: String,
    /// True when wsgifix will rewrite the config for it.
    pub fixable: bool,
}
