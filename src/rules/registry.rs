//! Rule identities, collected from the rule modules. Codes and names are
//! stable: users put them in `--select`/`--ignore` and in CI scripts.

use super::*;

#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub code: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    pub explanation: &'static str,
    pub has_fix: bool,
}

pub const RULES: &[RuleInfo] = &[
    wsgi001_embedded_mode::RULE,
    wsgi002_shared_process_group::RULE,
    wsgi003_not_global_interpreter::RULE,
    wsgi004_undefined_process_group::RULE,
    wsgi005_duplicate_daemon_name::RULE,
    wsgi006_inaccessible_process_group::RULE,
    wsgi100_unused_suppression::RULE,
];

/// Looks a rule up by code (`WSGI001`) or name (`embedded-mode`), ignoring case.
pub fn rule_by_code(code_or_name: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| {
        r.code.eq_ignore_ascii_case(code_or_name) || r.name.eq_ignore_ascii_case(code_or_name)
    })
}
