//! `--format github`: GitHub Actions workflow commands, one line per finding
//! and per error, which the Actions runner shows as annotations on the
//! changed files: `::error file=F,line=L,col=C,title=CODE name::message`.

use std::io::{self, Write};

use super::Reporter;
use crate::output::report::{Outcome, RunWrites, Summary};

pub struct Github;

impl Reporter for Github {
    fn file(&mut self, out: &mut dyn Write, o: &Outcome) -> io::Result<()> {
        let file = property(o.path.strip_prefix("./").unwrap_or(&o.path));
        if let Some(e) = &o.error {
            let place = match (e.line, e.column) {
                (Some(l), Some(c)) => format!(",line={l},col={c}"),
                _ => String::new(),
            };
            writeln!(
                out,
                "::error file={file}{place},title={}::{}",
                property(&format!("wsgifix {} error", e.kind)),
                data(&e.message)
            )?;
        }
        for f in &o.findings {
            // What this run fixes is a notice; what stays is an error.
            let level = if f.fixable && o.changed {
                "warning"
            } else {
                "error"
            };
            writeln!(
                out,
                "::{level} file={file},line={},col={},title={}::{}",
                f.line,
                f.column,
                property(&format!("{} {}", f.code, f.name)),
                data(&f.message)
            )?;
        }
        Ok(())
    }

    fn end(
        &mut self,
        _out: &mut dyn Write,
        _summary: &Summary,
        _writes: &RunWrites,
    ) -> io::Result<()> {
        Ok(())
    }
}

/// The message part: `%`, CR and LF are escaped (the runner's rules).
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A `key=value` part: also `:` and `,`, which end a value.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::report::FileError;
    use crate::rules::Finding;

    #[test]
    fn one_escaped_line_per_finding_and_error() {
        let o = Outcome {
            path: "./a,b:c.conf".into(),
            findings: vec![Finding {
                code: "WSGI004",
                name: "undefined-process-group",
                line: 3,
                column: 5,
                message: "50% of\nrequests".into(),
                fixable: false,
                not_fixed: None,
            }],
            error: Some(FileError {
                kind: "syntax",
                line: Some(9),
                column: Some(1),
                message: "<VirtualHost> was not closed.".into(),
            }),
            ..Outcome::default()
        };
        let mut out = Vec::new();
        Github.file(&mut out, &o).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "::error file=a%2Cb%3Ac.conf,line=9,col=1,title=wsgifix syntax error::<VirtualHost> was not closed.\n\
             ::error file=a%2Cb%3Ac.conf,line=3,col=5,title=WSGI004 undefined-process-group::50%25 of%0Arequests\n"
        );
    }
}
