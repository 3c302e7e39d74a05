//! `wsgifix rules` / `--list-rules`: every rule, like `ruff rule --all`.

use std::io::{self, Write};

use serde::Serialize;

use crate::rules::RULES;

#[derive(Serialize)]
struct RuleRow {
    code: &'static str,
    name: &'static str,
    fixable: bool,
    summary: &'static str,
}

/// A table: code, name, fixable, summary.
pub fn text(out: &mut dyn Write) -> io::Result<()> {
    let width = RULES.iter().map(|r| r.name.len()).max().unwrap_or(0);
    writeln!(out, "{:<8} {:<width$} {:<7} SUMMARY", "CODE", "NAME", "FIX")?;
    for r in RULES {
        let fix = if r.has_fix { "yes" } else { "no" };
        writeln!(
            out,
            "{:<8} {:<width$} {:<7} {}",
            r.code, r.name, fix, r.summary
        )?;
    }
    Ok(())
}

/// One document: `{"schema_version":2,"rules":[{code,name,fixable,summary}]}`.
pub fn json(out: &mut dyn Write) -> io::Result<()> {
    let rows: Vec<RuleRow> = RULES
        .iter()
        .map(|r| RuleRow {
            code: r.code,
            name: r.name,
            fixable: r.has_fix,
            summary: r.summary,
        })
        .collect();
    #[derive(Serialize)]
    struct Doc {
        schema_version: u32,
        rules: Vec<RuleRow>,
    }
    let doc = Doc {
        schema_version: 2,
        rules: rows,
    };
    serde_json::to_writer(&mut *out, &doc)?;
    writeln!(out)
}
