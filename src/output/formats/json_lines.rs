//! `--format json-lines`: one JSON object per line, written as each file is
//! done, so a fleet's report can be streamed, grepped and concatenated:
//! `{"type":"file",...}` per file (the same fields as a file of the JSON
//! document), then one `{"type":"summary",...}`.

use std::io::{self, Write};

use serde::Serialize;

use super::statistics::{Row, Statistics};
use super::{Extras, Reporter, Tool, SCHEMA_VERSION, TOOL};
use crate::cli::Mode;
use crate::output::report::{JsonFile, Outcome, RunWrites, Summary};

pub struct JsonLines {
    mode: Mode,
    extras: Extras,
    statistics: Statistics,
}

impl JsonLines {
    pub fn new(mode: Mode, extras: Extras) -> JsonLines {
        JsonLines {
            mode,
            extras,
            statistics: Statistics::default(),
        }
    }
}

#[derive(Serialize)]
struct FileRecord<'a> {
    r#type: &'static str,
    #[serde(flatten)]
    file: JsonFile<'a>,
}

#[derive(Serialize)]
struct SummaryRecord<'a> {
    r#type: &'static str,
    schema_version: u32,
    tool: Tool,
    mode: &'static str,
    summary: &'a Summary,
    #[serde(flatten)]
    writes: &'a RunWrites,
    #[serde(skip_serializing_if = "Option::is_none")]
    statistics: Option<Vec<&'a Row>>,
}

impl Reporter for JsonLines {
    fn file(&mut self, out: &mut dyn Write, o: &Outcome) -> io::Result<()> {
        self.statistics.add(o);
        let record = FileRecord {
            r#type: "file",
            file: JsonFile::of(o, self.extras),
        };
        serde_json::to_writer(&mut *out, &record)?;
        out.write_all(b"\n")
    }

    fn end(
        &mut self,
        out: &mut dyn Write,
        summary: &Summary,
        writes: &RunWrites,
    ) -> io::Result<()> {
        let record = SummaryRecord {
            r#type: "summary",
            schema_version: SCHEMA_VERSION,
            tool: TOOL,
            mode: self.mode.as_str(),
            summary,
            writes,
            statistics: self.extras.statistics.then(|| self.statistics.rows()),
        };
        serde_json::to_writer(&mut *out, &record)?;
        out.write_all(b"\n")
    }
}
