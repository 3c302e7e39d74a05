//! `wsgifix.toml`: per-tree policy, so that select/ignore, walk filters,
//! the configtest and the state directory need not be repeated on every
//! command line.
//!
//! Two files are read, the nearer winning key by key: `/etc/wsgifix.toml`
//! (the machine's; `WSGIFIX_SYSTEM_CONFIG` names another, for tests and
//! for hosts that keep it elsewhere) and the first `wsgifix.toml` found by
//! walking up from the first PATH (from the working directory when there
//! is none). Whatever the command line (or an environment variable clap
//! reads) sets wins over both. `--show-settings` prints the result and where
//! each value came from.
//!
//! The file holds only policy: no mode (--write stays a decision made on
//! the command line), no paths to check.
//!
//! ```toml
//! select = ["WSGI001", "not-global-interpreter"]
//! ignore = []
//! include = ["*.conf"]
//! exclude = ["*.dpkg-old"]
//! verify-cmd = "apache2ctl -t"
//! state-dir = "/var/lib/wsgifix"     # relative paths: to the file's directory
//! format = "text"
//! max-file-size = 67108864
//! ```

use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, ValueEnum};
use serde::Deserialize;

use crate::cli::{Cli, Format};
use crate::rules::rule_by_code;

pub const FILE_NAME: &str = "wsgifix.toml";
pub const SYSTEM_FILE: &str = "/etc/wsgifix.toml";
pub const SYSTEM_ENV: &str = "WSGIFIX_SYSTEM_CONFIG";

/// What a `wsgifix.toml` may say. Unknown keys are errors: a typo must not
/// silently leave a policy out.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileSettings {
    pub select: Option<Vec<String>>,
    pub ignore: Option<Vec<String>>,
    pub include: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub verify_cmd: Option<String>,
    pub state_dir: Option<PathBuf>,
    pub format: Option<String>,
    pub max_file_size: Option<u64>,
}

/// One setting in effect and where it came from, for `--show-settings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: &'static str,
    pub value: String,
    /// `command line`, `default`, or the file's path.
    pub source: String,
}

/// A file that could not be used: `PATH:LINE:COL: message` when the place
/// is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub String);

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The files that apply, farthest first (system, then the tree's).
pub fn find_files(cli: &Cli) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let system = std::env::var_os(SYSTEM_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SYSTEM_FILE));
    if system.is_file() {
        out.push(system.clone());
    }
    let start = cli
        .config
        .iter()
        .chain(cli.paths.iter())
        .find(|p| p.as_os_str() != "-")
        .cloned()
        .or_else(|| std::env::current_dir().ok());
    if let Some(start) = start {
        if let Some(found) = walk_up(&start) {
            let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
            if !same(&found, &system) {
                out.push(found);
            }
        }
    }
    out
}

/// The first `wsgifix.toml` in `start`'s directory or above it.
pub fn walk_up(start: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(start).ok()?;
    let mut dir = if abs.is_dir() {
        Some(abs.as_path())
    } else {
        abs.parent()
    };
    while let Some(d) = dir {
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = d.parent();
    }
    None
}

/// Reads one file.
pub fn read(path: &Path) -> Result<FileSettings, SettingsError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SettingsError(format!("{}: {}", path.display(), e)))?;
    toml::from_str(&text).map_err(|e| {
        let place = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("{line}:{column}:")
            })
            .unwrap_or_default();
        SettingsError(format!("{}:{place} {}", path.display(), e.message().trim()))
    })
}

/// Applies the files to `cli` wherever the command line left a setting at
/// its default, and returns every setting with its source.
pub fn apply(cli: &mut Cli, matches: &ArgMatches) -> Result<Vec<Entry>, SettingsError> {
    let mut layers = Vec::new();
    for path in find_files(cli) {
        layers.push((read(&path)?, path));
    }
    let from_cli = |id: &str| {
        matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    // The nearest file that sets `key`, with its directory for relative paths.
    fn nearest<'a, T>(
        layers: &'a [(FileSettings, PathBuf)],
        get: impl Fn(&'a FileSettings) -> Option<&'a T>,
    ) -> Option<(&'a T, &'a Path)> {
        layers
            .iter()
            .rev()
            .find_map(|(s, p)| get(s).map(|v| (v, p.as_path())))
    }
    let mut entries = Vec::new();
    let mut source = |key: &'static str, value: String, file: Option<&Path>, cli_set: bool| {
        let source = if cli_set {
            "command line".to_string()
        } else {
            file.map_or("default".to_string(), |p| p.display().to_string())
        };
        entries.push(Entry { key, value, source });
    };
    let bad = |file: &Path, key: &str, msg: String| {
        SettingsError(format!("{}: {key}: {msg}", file.display()))
    };

    for (key, id) in [("select", "select"), ("ignore", "ignore")] {
        let cli_set = from_cli(id);
        let mut file = None;
        if !cli_set {
            let got = nearest(&layers, |s| {
                if key == "select" {
                    s.select.as_ref()
                } else {
                    s.ignore.as_ref()
                }
            });
            if let Some((codes, path)) = got {
                let mut parsed = Vec::new();
                for c in codes {
                    match rule_by_code(c.trim()) {
                        Some(r) => parsed.push(r.code),
                        None => return Err(bad(path, key, format!("unknown rule {c:?}"))),
                    }
                }
                if key == "select" {
                    cli.select = parsed;
                } else {
                    cli.ignore = parsed;
                }
                file = Some(path);
            }
        }
        let list = if key == "select" {
            &cli.select
        } else {
            &cli.ignore
        };
        source(key, list.join(","), file, cli_set);
    }

    for (key, id) in [("include", "include"), ("exclude", "exclude")] {
        let cli_set = from_cli(id);
        let mut file = None;
        if !cli_set {
            let got = nearest(&layers, |s| {
                if key == "include" {
                    s.include.as_ref()
                } else {
                    s.exclude.as_ref()
                }
            });
            if let Some((globs, path)) = got {
                let mut parsed = Vec::new();
                for g in globs {
                    parsed.push(
                        globset::GlobBuilder::new(g)
                            .build()
                            .map_err(|e| bad(path, key, format!("{g:?}: {}", e.kind())))?,
                    );
                }
                if key == "include" {
                    cli.include = parsed;
                } else {
                    cli.exclude = parsed;
                }
                file = Some(path);
            }
        }
        let list = if key == "include" {
            &cli.include
        } else {
            &cli.exclude
        };
        let shown: Vec<&str> = list.iter().map(|g| g.glob()).collect();
        source(key, shown.join(","), file, cli_set);
    }

    let cli_set = from_cli("verify_cmd");
    let mut file = None;
    if !cli_set {
        if let Some((cmd, path)) = nearest(&layers, |s| s.verify_cmd.as_ref()) {
            cli.verify_cmd = Some(cmd.clone());
            file = Some(path);
        }
    }
    source(
        "verify-cmd",
        cli.verify_cmd.clone().unwrap_or_default(),
        file,
        cli_set,
    );

    let cli_set = from_cli("state_dir");
    let mut file = None;
    if !cli_set {
        if let Some((dir, path)) = nearest(&layers, |s| s.state_dir.as_ref()) {
            // Relative to the file, not to wherever wsgifix happens to run.
            cli.state_dir = path.parent().unwrap_or(Path::new("/")).join(dir);
            file = Some(path);
        }
    }
    source(
        "state-dir",
        cli.state_dir.display().to_string(),
        file,
        cli_set,
    );

    let cli_set = from_cli("format");
    let mut file = None;
    if !cli_set {
        if let Some((f, path)) = nearest(&layers, |s| s.format.as_ref()) {
            cli.format = Format::from_str(f, true).map_err(|_| {
                let known: Vec<String> = Format::value_variants()
                    .iter()
                    .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
                    .collect();
                bad(
                    path,
                    "format",
                    format!("{f:?} is not one of {}", known.join(", ")),
                )
            })?;
            file = Some(path);
        }
    }
    let format = cli
        .format
        .to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default();
    source("format", format, file, cli_set);

    let cli_set = from_cli("max_file_size");
    let mut file = None;
    if !cli_set {
        if let Some((n, path)) = nearest(&layers, |s| s.max_file_size.as_ref()) {
            cli.max_file_size = *n;
            file = Some(path);
        }
    }
    source(
        "max-file-size",
        cli.max_file_size.to_string(),
        file,
        cli_set,
    );
    Ok(entries)
}

/// `--show-settings`: `KEY = VALUE  # SOURCE`, one per line, in TOML.
pub fn render(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        let value = match e.key {
            "select" | "ignore" | "include" | "exclude" => {
                let items: Vec<String> = e
                    .value
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| format!("{s:?}"))
                    .collect();
                format!("[{}]", items.join(", "))
            }
            "max-file-size" => e.value.clone(),
            _ => format!("{:?}", e.value),
        };
        out.push_str(&format!("{} = {value}  # {}\n", e.key, e.source));
    }
    out
}
