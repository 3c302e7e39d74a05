//! `--statistics`: how many findings each rule made, like `ruff --statistics`.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::output::report::Outcome;
use crate::rules::rule_by_code;

/// Counts per rule code, in code order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statistics {
    by_code: BTreeMap<&'static str, Row>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub code: &'static str,
    pub name: &'static str,
    pub count: usize,
    /// How many of them this run fixes (or would fix).
    pub fixed: usize,
}

impl Statistics {
    pub fn add(&mut self, o: &Outcome) {
        for f in &o.findings {
            let row = self.by_code.entry(f.code).or_insert_with(|| Row {
                code: f.code,
                name: f.name,
                count: 0,
                fixed: 0,
            });
            row.count += 1;
            row.fixed += usize::from(f.fixable && o.changed);
        }
    }

    /// Most frequent first, then by code (ruff's order).
    pub fn rows(&self) -> Vec<&Row> {
        let mut rows: Vec<&Row> = self.by_code.values().collect();
        rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(b.code)));
        rows
    }

    /// `COUNT  CODE     [*] name`, `[*]` when the rule can fix; a final
    /// line counts what this run fixes.
    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let rows = self.rows();
        let width = rows
            .iter()
            .map(|r| r.count.to_string().len())
            .max()
            .unwrap_or(1);
        for r in &rows {
            let mark = if rule_by_code(r.code).is_some_and(|i| i.has_fix) {
                "[*]"
            } else {
                "[ ]"
            };
            writeln!(out, "{:>width$}\t{}\t{mark} {}", r.count, r.code, r.name)?;
        }
        let total: usize = rows.iter().map(|r| r.count).sum();
        let fixed: usize = rows.iter().map(|r| r.fixed).sum();
        if total > 0 {
            writeln!(
                out,
                "[*] the rule has a fix; {fixed} of {total} findings are fixable here"
            )?;
        }
        Ok(())
    }
}
