//! The rules, one module each (code, name, explanation, check, fix), the
//! placement logic their fixes share, and the edits they make.

pub mod edit;
pub mod issue;
pub mod placement;
pub mod registry;
pub mod wsgi001_embedded_mode;
pub mod wsgi002_shared_process_group;
pub mod wsgi003_not_global_interpreter;
pub mod wsgi004_undefined_process_group;
pub mod wsgi005_duplicate_daemon_name;
pub mod wsgi006_inaccessible_process_group;
pub mod wsgi100_unused_suppression;

pub use issue::{check, CheckCtx, Issue, IssueKind};
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
    /// Why a finding of a rule that has a fix is not fixed, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_fixed: Option<&'static str>,
}
