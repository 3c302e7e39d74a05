//! Checkpoints, like certbot's reverter: before the first byte of a unit is
//! written, the originals of every file about to change are copied into
//! the state directory with a manifest, so that any run (even one killed by
//! SIGKILL) can be undone with `wsgifix rollback`.
//!
//! ```text
//! STATE/checkpoints/<ID>/run.json        id, time, command line, pid
//! STATE/checkpoints/<ID>/unit-<n>/<k>     the original bytes of file k of unit n
//! STATE/checkpoints/<ID>/unit-<n>.json   that unit's manifest (written last, atomically)
//! STATE/checkpoints/<ID>/rolled-back     present once `rollback` restored it
//! ```
//! One checkpoint per run; IDs sort by time (`20261201T201500Z-<pid>`). A
//! unit directory without its manifest is from a run killed while copying:
//! nothing of that unit had been written, and it is ignored.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fault;
use super::meta::Meta;
use super::state::{ensure_dir, sha256_hex};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: String,
    pub created: String,
    pub command_line: Vec<String>,
    pub pid: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    /// As the user saw it.
    pub path: PathBuf,
    /// What was replaced.
    pub real: PathBuf,
    pub meta: Meta,
    pub old_sha256: String,
    pub new_sha256: String,
    pub size: u64,
    /// The copy of the original, relative to the checkpoint directory.
    pub copy: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitManifest {
    pub main_config: Option<PathBuf>,
    pub files: Vec<FileEntry>,
}

pub fn checkpoints_dir(state: &Path) -> PathBuf {
    state.join("checkpoints")
}

/// `20261201T201500Z`, from the system clock, in UTC.
pub fn utc_stamp() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    (
        format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s:02}Z"),
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
    )
}

/// This run's checkpoint, created on the first unit that writes.
#[derive(Debug)]
pub struct Checkpoint {
    pub id: String,
    pub dir: PathBuf,
    units: usize,
}

/// One file as the checkpoint records it.
pub struct Original<'a> {
    pub path: &'a Path,
    pub real: &'a Path,
    pub meta: &'a Meta,
    pub old: &'a [u8],
    pub new: &'a [u8],
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Checkpoint {
    pub fn create(state: &Path, run: &str, command_line: &[String]) -> io::Result<Checkpoint> {
        let (_, created) = utc_stamp();
        let top = checkpoints_dir(state);
        ensure_dir(&top)?;
        let dir = top.join(run);
        fs::create_dir(&dir)?;
        let info = RunInfo {
            id: run.to_string(),
            created,
            command_line: command_line.to_vec(),
            pid: std::process::id(),
        };
        write_synced(&dir.join("run.json"), &serde_json::to_vec_pretty(&info)?)?;
        sync_dir(&dir)?;
        sync_dir(&top)?;
        Ok(Checkpoint {
            id: run.to_string(),
            dir,
            units: 0,
        })
    }

    /// Records one unit's originals, durably, before any of them is written.
    pub fn add_unit(&mut self, main: Option<&Path>, files: &[Original]) -> io::Result<()> {
        fault::check("checkpoint")?;
        let n = self.units;
        let rel = PathBuf::from(format!("unit-{n}"));
        let udir = self.dir.join(&rel);
        fs::create_dir(&udir)?;
        let mut entries = Vec::new();
        for (k, f) in files.iter().enumerate() {
            let copy = rel.join(k.to_string());
            let mut out = OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o600)
                .open(self.dir.join(&copy))?;
            out.write_all(f.old)?;
            entries.push(FileEntry {
                path: f.path.to_path_buf(),
                real: f.real.to_path_buf(),
                meta: f.meta.clone(),
                old_sha256: sha256_hex(f.old),
                new_sha256: sha256_hex(f.new),
                size: f.old.len() as u64,
                copy,
            });
        }
        // One syncfs for all copies instead of one fsync each.
        let d = File::open(&udir)?;
        rustix::fs::syncfs(&d)?;
        let manifest = UnitManifest {
            main_config: main.map(Path::to_path_buf),
            files: entries,
        };
        let tmp = self.dir.join(format!(".unit-{n}.json.tmp"));
        write_synced(&tmp, &serde_json::to_vec_pretty(&manifest)?)?;
        fs::rename(&tmp, self.dir.join(format!("unit-{n}.json")))?;
        sync_dir(&self.dir)?;
        self.units += 1;
        Ok(())
    }
}

/// A checkpoint as read back.
#[derive(Debug)]
pub struct Stored {
    pub info: RunInfo,
    pub dir: PathBuf,
    pub units: Vec<UnitManifest>,
    pub rolled_back: bool,
}

impl Stored {
    pub fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.units.iter().flat_map(|u| u.files.iter())
    }
}

pub fn load(dir: &Path) -> io::Result<Stored> {
    let info: RunInfo = serde_json::from_slice(&fs::read(dir.join("run.json"))?)?;
    let mut units = Vec::new();
    for n in 0.. {
        match fs::read(dir.join(format!("unit-{n}.json"))) {
            Ok(b) => units.push(serde_json::from_slice(&b)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            Err(e) => return Err(e),
        }
    }
    Ok(Stored {
        info,
        dir: dir.to_path_buf(),
        units,
        rolled_back: dir.join("rolled-back").exists(),
    })
}

/// Every checkpoint with at least one unit, oldest first.
pub fn list(state: &Path) -> io::Result<Vec<Stored>> {
    let top = checkpoints_dir(state);
    let mut ids: Vec<PathBuf> = match fs::read_dir(&top) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("run.json").is_file())
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    ids.sort();
    Ok(ids
        .iter()
        .filter_map(|p| load(p).ok())
        .filter(|s| !s.units.is_empty())
        .collect())
}

pub fn mark_rolled_back(s: &Stored) -> io::Result<()> {
    let (_, when) = utc_stamp();
    fs::write(s.dir.join("rolled-back"), when)?;
    sync_dir(&s.dir)
}
