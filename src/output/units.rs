//! A run is a list of units: a server (a main config and every file it
//! reaches, read as httpd reads it) or a standalone file. Which files make a
//! server is httpd's decision, not the walk's: a directory walk that meets a
//! main config leaves the files of that tree the server does not read
//! (disabled sites, `*.dpkg-old`, backups) unchanged, and says so.

use crate::collections::{HashMap, HashSet};
use crate::writing::units::CommitUnits;
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::report::{FileError, Outcome};
use super::walk::Item;
use super::{finish, process_item, Settings};
use crate::engine;
use crate::server::{self, fs as sfs, fs::Fs, DiscoverOptions, Discovery};

/// One unit of work.
#[derive(Debug)]
pub enum Unit {
    Item(Item),
    Server(Box<ServerUnit>),
}

impl Unit {
    /// How many files the unit stands for (for progress).
    pub fn file_count(&self) -> usize {
        match self {
            Unit::Item(_) => 1,
            Unit::Server(s) => s.discovery.model.files.len().max(1),
        }
    }
}

#[derive(Debug)]
pub struct ServerUnit {
    pub discovery: Discovery,
    /// Files below the server's tree that a walk met and the server does not
    /// read: listed, never checked or changed.
    pub unreached: Vec<PathBuf>,
}

/// What one unit came to: notes for stderr, then one outcome per file.
#[derive(Debug, Default)]
pub struct UnitResult {
    pub notes: Vec<String>,
    pub outcomes: Vec<Outcome>,
}

/// The main configs of a run: those named (`--config`, the system's;
/// `true`: their ServerRoot is trusted), then every `apache2.conf` or
/// `httpd.conf` the walk met.
pub fn mains(named: &[PathBuf], items: &[Item]) -> Vec<(PathBuf, bool)> {
    let named_keys: HashSet<PathBuf> = named.iter().map(|p| canon(p)).collect();
    let mut out: Vec<(PathBuf, bool)> = named.iter().map(|p| (p.clone(), true)).collect();
    for item in items {
        if let Item::File(p) = item {
            if server::is_main_file(p) && !named_keys.contains(&canon(p)) {
                out.push((p.clone(), false));
            }
        }
    }
    out
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Turns the servers of `mains` and the walked items into units, in a
/// deterministic order: named servers first, then the walk's order, a
/// server where its main config (or its first file) was met. `explicit`:
/// canonical paths of files named on the command line, which are processed
/// even when no server reads them.
pub fn plan(
    mains: &[(PathBuf, bool)],
    items: Vec<Item>,
    explicit: &HashSet<PathBuf>,
    opts: &DiscoverOptions,
) -> Vec<Unit> {
    let named_count = mains.iter().take_while(|(_, t)| *t).count();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let discoveries: Vec<Discovery> = mains
        .par_iter()
        .map(|(main, trusted)| {
            // A tree a walk met may be a copy: keep it to itself.
            let trusted = *trusted || opts.root.is_some();
            let confine =
                (!trusted).then(|| canon(&server::default_server_root(&sfs::merge(&cwd, main))));
            let o = DiscoverOptions {
                trust_server_root: trusted,
                confine,
                ..opts.clone()
            };
            server::discover_server(main, &o)
        })
        .collect();
    // Which server reads each file, and which tree each server owns: the
    // directory its relative paths start from by default.
    let mut reached: HashMap<PathBuf, usize> = HashMap::default();
    let mut trees: Vec<PathBuf> = Vec::new();
    for (k, d) in discoveries.iter().enumerate() {
        for f in &d.model.files {
            // `real` is already resolved, by the reader that opened the file:
            // canonicalizing it again cost a readlink per path component.
            reached.entry(f.real.clone()).or_insert(k);
        }
        let tree =
            d.fs.locate(&server::default_server_root(&d.main))
                .map(|p| canon(&p))
                .unwrap_or_default();
        trees.push(tree);
    }
    let mut units: Vec<Option<ServerUnit>> = discoveries
        .into_iter()
        .map(|discovery| {
            Some(ServerUnit {
                discovery,
                unreached: Vec::new(),
            })
        })
        .collect();
    // Named servers come first; a walked one where it was first met.
    let mut placed = vec![false; units.len()];
    let mut slots: Vec<Slot> = Vec::new();
    for (k, p) in placed.iter_mut().enumerate().take(named_count) {
        *p = true;
        slots.push(Slot::Server(k));
    }
    for item in items {
        let Item::File(p) = &item else {
            slots.push(Slot::Item(item));
            continue;
        };
        if units.is_empty() {
            // No server to claim the file: it is its own unit.
            slots.push(Slot::Item(item));
            continue;
        }
        let key = canon(p);
        if let Some(&k) = reached.get(&key) {
            if !placed[k] {
                placed[k] = true;
                slots.push(Slot::Server(k));
            }
            continue;
        }
        // The innermost server tree holding the file, if any.
        let owner = trees
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.as_os_str().is_empty() && key.starts_with(t))
            .max_by_key(|(_, t)| t.as_os_str().len())
            .map(|(k, _)| k);
        match (owner, &item) {
            (Some(k), Item::File(p)) if !explicit.contains(&key) => {
                if let Some(u) = units[k].as_mut() {
                    u.unreached.push(p.clone());
                }
            }
            _ => slots.push(Slot::Item(item)),
        }
    }
    slots
        .into_iter()
        .filter_map(|s| match s {
            Slot::Item(i) => Some(Unit::Item(i)),
            Slot::Server(k) => units[k].take().map(|u| Unit::Server(Box::new(u))),
        })
        .collect()
}

enum Slot {
    Item(Item),
    Server(usize),
}

/// Every directory a run reads: of the standalone files and of each
/// server's files.
pub fn dirs(units: &[Unit]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for u in units {
        match u {
            Unit::Item(Item::File(p)) => {
                if let Some(d) = p.parent() {
                    out.insert(d.to_path_buf());
                }
            }
            Unit::Server(s) => {
                for f in &s.discovery.model.files {
                    if let Some(d) = f.real.parent() {
                        out.insert(d.to_path_buf());
                    }
                }
            }
            Unit::Item(_) => {}
        }
    }
    out
}

/// Each server file's real path → its main config's: the unit its changes
/// are committed with (the first server that reads it).
pub fn commit_units(units: &[Unit]) -> CommitUnits {
    let mut out = CommitUnits::default();
    for u in units {
        if let Unit::Server(s) = u {
            let Some(main) = s.discovery.model.files.first() else {
                continue;
            };
            for id in &s.discovery.identities {
                out.entry(id.real.clone())
                    .or_insert_with(|| main.real.clone());
            }
        }
    }
    out
}

/// Processes one unit: a server's files in parallel, each with the context
/// of its server.
pub fn process_unit(
    unit: &Unit,
    stdin: Option<&io::Result<Vec<u8>>>,
    settings: &Settings,
) -> UnitResult {
    match unit {
        Unit::Item(item) => UnitResult {
            notes: Vec::new(),
            outcomes: vec![process_item(item, stdin, settings)],
        },
        Unit::Server(s) => process_server(s, settings),
    }
}

fn process_server(s: &ServerUnit, settings: &Settings) -> UnitResult {
    let d = &s.discovery;
    let mut r = UnitResult::default();
    let main_shown = d
        .model
        .files
        .first()
        .map_or_else(|| d.main.clone(), |f| f.path.clone());
    for w in &d.warnings {
        let place = match (w.line, w.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", w.path.display()),
            _ => w.path.display().to_string(),
        };
        r.notes.push(format!("{place}: warning: {}", w.message));
    }
    if !s.unreached.is_empty() {
        r.notes.push(format!(
            "wsgifix: {} not read by the server {} (not checked, not changed):",
            plural(s.unreached.len()),
            main_shown.display()
        ));
        for p in &s.unreached {
            r.notes.push(format!("  {}", shown(&d.fs, p).display()));
        }
    }
    if let Some(e) = &d.error {
        // httpd refuses to start this server; what was read so far would be
        // analysed without the rest, so nothing is checked or changed.
        let kind = if e.message.starts_with("Could not open")
            || e.message.starts_with("No matches")
            || e.message.starts_with("Access to file")
        {
            "io"
        } else {
            "syntax"
        };
        r.outcomes.push(Outcome {
            path: e.path.display().to_string(),
            error: Some(FileError {
                kind,
                line: e.line,
                column: e.column,
                message: format!(
                    "{} (httpd refuses to start this server; none of its files were checked)",
                    e.message
                ),
            }),
            ..Outcome::default()
        });
        return r;
    }
    let result = engine::process_server(&d.model, &settings.options);
    let discarded = result.error.as_ref().map(FileError::from_engine);
    r.outcomes = d
        .model
        .files
        .iter()
        .zip(result.files)
        .enumerate()
        .map(|(id, (f, mut fr))| {
            if discarded.is_some() {
                // The server's fixes stand or fall together.
                fr.fixed = None;
            }
            // The diff names the file itself, not a symlink to it: GNU
            // patch refuses to patch through a symlink (sites-enabled/).
            let real_shown = d.fs.server_path(&f.real).unwrap_or_else(|| f.real.clone());
            let named = match (d.fs.root(), f.path.parent(), f.path.file_name()) {
                (Some(_), Some(dir), Some(name)) => {
                    d.fs.locate(dir).map(|h| h.join(name)).unwrap_or_default()
                }
                _ => f.path.clone(),
            };
            let is_link =
                std::fs::symlink_metadata(&named).is_ok_and(|m| m.file_type().is_symlink());
            let diff_name = if is_link { real_shown } else { f.path.clone() };
            let mut o = finish(
                diff_name.display().to_string(),
                &f.source,
                Some(&f.real),
                fr,
                settings,
            );
            o.path = f.path.display().to_string();
            let identity = &d.identities[id];
            o.real_path = Some(identity.real.to_string_lossy().into_owned());
            if let Some(c) = &mut o.pending {
                c.old = f.source.clone();
                c.identity = Some(identity.clone());
            }
            if id == 0 && o.error.is_none() {
                o.error = discarded.clone();
            }
            o
        })
        .collect();
    r
}

/// A path as the server names it when it lies inside `--root`.
fn shown(fs: &Fs, p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .ok()
        .filter(|_| fs.root().is_some())
        .and_then(|c| fs.server_path(&c))
        .unwrap_or_else(|| p.to_path_buf())
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 file is".to_string()
    } else {
        format!("{n} files are")
    }
}
