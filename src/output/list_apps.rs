//! `--list-apps`: what each app instance of each server really gets, the way
//! `apachectl -S` shows vhosts. Operators use it to see, before any fix,
//! which daemon and interpreter an app runs in and which line decides it.
//!
//! Listing is not judging: the exit status is 0 unless a file could not be
//! read or parsed (2), so scripts can tell "no apps" from "broken config".

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::report::FileError;
use super::units::Unit;
use super::walk::Item;
use crate::analysis::apps::{instances, AppInstance, Effective};
use crate::cli::Format;
use crate::server::ServerModel;

/// The apps of one unit: a server (named by its main config) or a file
/// read on its own.
struct Listed {
    unit: String,
    apps: Vec<AppInstance>,
}

/// Lists the apps of every unit on `out`, errors on `err`; returns the exit
/// status.
pub fn run(
    units: &[Unit],
    format: Format,
    max_file_size: u64,
    color_err: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut listed = Vec::new();
    let mut failed = false;
    for unit in units {
        match collect(unit, max_file_size) {
            Ok(Some(l)) => listed.push(l),
            Ok(None) => {}
            Err((path, e)) => {
                failed = true;
                let _ = writeln!(err, "{}", e.render(&path, color_err));
            }
        }
    }
    let written = match format {
        Format::Json => json(&listed, out),
        Format::JsonLines => json_lines(&listed, out),
        // Annotation formats describe findings; a listing has none, so
        // they get the table people read.
        Format::Text | Format::Sarif | Format::Github => text(&listed, out),
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            let _ = writeln!(err, "wsgifix: error: cannot write to standard output: {e}");
            2
        }
        _ if failed => 2,
        _ => 0,
    }
}

fn collect(unit: &Unit, max_file_size: u64) -> Result<Option<Listed>, (String, FileError)> {
    match unit {
        Unit::Server(s) => {
            let d = &s.discovery;
            if let Some(e) = &d.error {
                return Err((
                    e.path.display().to_string(),
                    FileError {
                        kind: "syntax",
                        line: e.line,
                        column: e.column,
                        message: format!("{} (httpd refuses to start this server)", e.message),
                    },
                ));
            }
            let main = d
                .model
                .files
                .first()
                .map_or_else(|| d.main.clone(), |f| f.path.clone());
            Ok(Some(Listed {
                unit: main.display().to_string(),
                apps: instances(&d.model),
            }))
        }
        Unit::Item(Item::File(p)) => {
            let shown = p.display().to_string();
            let (bytes, _) = crate::writing::read_config(p, max_file_size)
                .map_err(|e| (shown.clone(), FileError::io("io", e.to_string())))?;
            let bytes = std::sync::Arc::new(bytes);
            let tree = crate::syntax::parse_shared(std::sync::Arc::clone(&bytes)).map_err(|e| {
                (
                    shown.clone(),
                    FileError::from_engine(&crate::engine::EngineError::Syntax(e)),
                )
            })?;
            let model = ServerModel::single(p.clone(), bytes, tree);
            Ok(Some(Listed {
                unit: shown,
                apps: instances(&model),
            }))
        }
        Unit::Item(Item::Error { path, message }) => Err((
            path.display().to_string(),
            FileError::io("io", message.clone()),
        )),
        // A listing of standard input would have nothing to name its rows by
        // that a later run could find again; it is refused with the reason.
        Unit::Item(Item::Stdin) => Err((
            super::STDIN_NAME.to_string(),
            FileError::io("io", "--list-apps reads files, not standard input"),
        )),
    }
}

fn place(p: &(PathBuf, u32)) -> String {
    format!("{}:{}", p.0.display(), p.1)
}

/// What a process group means to a reader: a daemon (and its user), or
/// embedded mode.
fn process_group_text(e: &Effective) -> String {
    let mut s = if e.value.is_empty() {
        "(embedded)".to_string()
    } else {
        e.value.clone()
    };
    if let Some(u) = &e.user {
        s.push_str(&format!(" user={u}"));
    }
    s
}

fn application_group_text(e: &Effective) -> String {
    if e.value.is_empty() {
        "%{GLOBAL}".to_string()
    } else {
        e.value.clone()
    }
}

fn source_text(e: &Effective) -> String {
    let s = e
        .source
        .as_ref()
        .map_or_else(|| "default".to_string(), place);
    if e.certain {
        s
    } else {
        format!("{s}, undecided: a regex section may change it")
    }
}

fn text(listed: &[Listed], out: &mut dyn Write) -> io::Result<()> {
    for (k, l) in listed.iter().enumerate() {
        if k > 0 {
            writeln!(out)?;
        }
        let n = l.apps.len();
        let apps = if n == 1 { "app" } else { "apps" };
        writeln!(out, "{}: {n} {apps}", l.unit)?;
        for a in &l.apps {
            let vhost = a.vhost.as_deref().unwrap_or("(main server)");
            writeln!(out, "  {vhost} {} -> {}", a.mount, a.script)?;
            writeln!(out, "    mounted at        {}", place(&a.mount_source))?;
            writeln!(
                out,
                "    process group     {}  ({})",
                process_group_text(&a.process_group),
                source_text(&a.process_group)
            )?;
            writeln!(
                out,
                "    application group {}  ({})",
                application_group_text(&a.application_group),
                source_text(&a.application_group)
            )?;
        }
    }
    Ok(())
}

fn source_json(p: &Option<(PathBuf, u32)>) -> serde_json::Value {
    match p {
        Some((path, line)) => serde_json::json!({ "path": path_str(path), "line": line }),
        None => serde_json::Value::Null,
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn effective_json(e: &Effective) -> serde_json::Value {
    serde_json::json!({
        "value": e.value,
        "user": e.user,
        "source": source_json(&e.source),
        "certain": e.certain,
    })
}

fn app_json(unit: &str, a: &AppInstance) -> serde_json::Value {
    serde_json::json!({
        "server": unit,
        "vhost": a.vhost,
        "vhost_source": source_json(&a.vhost_source),
        "mount": a.mount,
        "script": a.script,
        "mount_source": source_json(&Some(a.mount_source.clone())),
        "process_group": effective_json(&a.process_group),
        "application_group": effective_json(&a.application_group),
    })
}

fn json(listed: &[Listed], out: &mut dyn Write) -> io::Result<()> {
    let apps: Vec<serde_json::Value> = listed
        .iter()
        .flat_map(|l| l.apps.iter().map(|a| app_json(&l.unit, a)))
        .collect();
    let doc = serde_json::json!({
        "schema_version": super::formats::SCHEMA_VERSION,
        "tool": super::formats::TOOL,
        "mode": "list-apps",
        "servers": listed.iter().map(|l| l.unit.as_str()).collect::<Vec<_>>(),
        "apps": apps,
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

fn json_lines(listed: &[Listed], out: &mut dyn Write) -> io::Result<()> {
    for l in listed {
        for a in &l.apps {
            serde_json::to_writer(&mut *out, &app_json(&l.unit, a))?;
            writeln!(out)?;
        }
    }
    Ok(())
}
