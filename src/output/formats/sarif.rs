//! `--format sarif`: one SARIF 2.1.0 log (OASIS Static Analysis Results
//! Interchange Format), which code-scanning services and review tools read.
//!
//! Written by hand with serde_json rather than through `serde-sarif`: that
//! crate generates its whole type tree from the schema at build time (syn,
//! prettyplease, schemafy, typed-builder) for the dozen fields used here.
//! What keeps this honest is tests/cli_formats.rs, which validates the output
//! against the official schema.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::{Reporter, TOOL};
use crate::output::report::{FileError, Outcome, RunWrites, Summary};
use crate::rules::{Finding, RULES};

pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Results are collected and the log written at the end: SARIF is one
/// document whose results sit inside the run.
#[derive(Default)]
pub struct Sarif {
    results: Vec<Value>,
    notifications: Vec<Value>,
}

impl Reporter for Sarif {
    fn file(&mut self, _out: &mut dyn Write, o: &Outcome) -> io::Result<()> {
        let uri = uri(&o.path);
        for f in &o.findings {
            self.results.push(result(&uri, f, o.changed));
        }
        if let Some(e) = &o.error {
            self.notifications.push(notification(&uri, e));
        }
        Ok(())
    }

    fn end(
        &mut self,
        out: &mut dyn Write,
        summary: &Summary,
        _writes: &RunWrites,
    ) -> io::Result<()> {
        let rules: Vec<Value> = RULES
            .iter()
            .map(|r| {
                json!({
                    "id": r.code,
                    "name": r.name,
                    "shortDescription": {"text": r.summary},
                    "fullDescription": {"text": r.explanation},
                    "help": {"text": r.explanation},
                    "defaultConfiguration": {"level": "error"},
                    "properties": {"fixable": r.has_fix},
                })
            })
            .collect();
        let log = json!({
            "$schema": SCHEMA_URI,
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": TOOL.name,
                    "version": TOOL.version,
                    "semanticVersion": TOOL.version,
                    "rules": rules,
                }},
                "invocations": [{
                    "executionSuccessful": summary.errors == 0,
                    "exitCode": summary.exit_code,
                    "toolExecutionNotifications": std::mem::take(&mut self.notifications),
                }],
                "results": std::mem::take(&mut self.results),
            }],
        });
        serde_json::to_writer(&mut *out, &log)?;
        out.write_all(b"\n")
    }
}

fn location(uri: &str, line: Option<u32>, column: Option<u32>) -> Value {
    let mut physical = json!({"artifactLocation": {"uri": uri}});
    if let Some(l) = line {
        let mut region = json!({"startLine": l});
        if let Some(c) = column {
            region["startColumn"] = json!(c);
        }
        physical["region"] = region;
    }
    json!({"physicalLocation": physical})
}

fn result(uri: &str, f: &Finding, changed: bool) -> Value {
    let mut r = json!({
        "ruleId": f.code,
        "level": "error",
        "message": {"text": f.message},
        "locations": [location(uri, Some(f.line), Some(f.column))],
        "properties": {"name": f.name, "fixable": f.fixable, "fixedByThisRun": f.fixable && changed},
    });
    if let Some(i) = RULES.iter().position(|r| r.code == f.code) {
        r["ruleIndex"] = json!(i);
    }
    r
}

fn notification(uri: &str, e: &FileError) -> Value {
    json!({
        "level": "error",
        "message": {"text": format!("{} error: {}", e.kind, e.message)},
        "locations": [location(uri, e.line, e.column)],
    })
}

/// A path as a URI reference: relative paths stay relative (to the working
/// directory, as the other formats print them), absolute ones become
/// `file://` URIs; bytes that may not appear in a URI are %-encoded.
pub fn uri(path: &str) -> String {
    let path = path.strip_prefix("./").unwrap_or(path);
    let mut out = String::new();
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(uri("./sites/a b.conf"), "sites/a%20b.conf");
        assert_eq!(uri("/etc/apache2/x.conf"), "file:///etc/apache2/x.conf");
        assert_eq!(uri("<stdin>"), "%3Cstdin%3E");
    }
}
