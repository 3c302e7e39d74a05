//! The state directory (default `/var/lib/wsgifix`): checkpoints, the
//! journal of temp names, and the per-server lock files. Config
//! directories never get any of these: httpd reads whatever lies there.
//!
//! ```text
//! STATE/journal/<run>.journal   temp names a run may create, flocked while it lives
//! STATE/locks/<hash>.lock       one per server (or standalone file), flocked by a committing run
//! STATE/checkpoints/<ID>/       see checkpoint.rs
//! ```

use crate::collections::HashSet;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rustix::fs::{flock, statat, unlinkat, AtFlags, FileType, FlockOperation};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use super::meta::{hex, unhex};
use super::resolve::{is_temp_name, open_dir_nofollow};

pub const DEFAULT_STATE_DIR: &str = "/var/lib/wsgifix";

/// Creates `dir` (and parents) readable by its owner only: checkpoints
/// hold copies of configs, which may hold secrets.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot create the state directory {} ({e}); use --state-dir",
                    dir.display()
                ),
            )
        })
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

/// This run's journal: every temp name is written (and synced) here before
/// it can exist, so a run killed at any moment leaves only names the next
/// run finds and removes. The file stays flocked while the run lives, which
/// tells other runs it is not a leftover.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    pub fn create(state: &Path, run: &str) -> io::Result<Journal> {
        let dir = state.join("journal");
        ensure_dir(&dir)?;
        let path = dir.join(format!("{run}.journal"));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)?;
        flock(&file, FlockOperation::NonBlockingLockExclusive)?;
        Ok(Journal { file, path })
    }

    /// Records names that may appear in `dir`, durably.
    pub fn record(&mut self, entries: &[(PathBuf, OsString)]) -> io::Result<()> {
        let mut text = String::new();
        for (dir, name) in entries {
            text.push_str(&hex(dir.as_os_str().as_bytes()));
            text.push(' ');
            text.push_str(&hex(name.as_bytes()));
            text.push('\n');
        }
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()
    }

    /// After a unit: none of its names exists any more.
    pub fn clear(&mut self) -> io::Result<()> {
        self.file.set_len(0)
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn parse_journal(text: &str) -> Vec<(PathBuf, OsString)> {
    text.lines()
        .filter_map(|l| {
            let (d, n) = l.split_once(' ')?;
            Some((
                PathBuf::from(OsString::from_vec(unhex(d).ok()?)),
                OsString::from_vec(unhex(n).ok()?),
            ))
        })
        .collect()
}

/// Temp names listed by runs that are alive now; never to be swept.
#[derive(Debug, Default)]
pub struct Live(HashSet<PathBuf>);

impl Live {
    pub fn contains(&self, p: &Path) -> bool {
        self.0.contains(p)
    }
}

/// Removes what runs killed earlier left behind, as their journals say.
/// Returns the names of live runs' temps, which a sweep must leave alone.
pub fn recover(state: &Path, err: &mut dyn Write) -> Live {
    let mut live = Live::default();
    let Ok(rd) = fs::read_dir(state.join("journal")) else {
        return live;
    };
    for e in rd.flatten() {
        let path = e.path();
        let Ok(file) = File::open(&path) else {
            continue;
        };
        let text: String = io::BufReader::new(&file)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
            .join("\n");
        let entries = parse_journal(&text);
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            live.0.extend(entries.into_iter().map(|(d, n)| d.join(n)));
            continue;
        }
        for (dir, name) in entries {
            remove_leftover(&dir, &name, "an interrupted run's journal", err);
        }
        let _ = fs::remove_file(&path);
    }
    live
}

/// Removes the temp `name` in `dir` if it is there and is a regular file
/// with a name wsgifix uses. Returns whether something was removed.
fn remove_leftover(dir: &Path, name: &OsStr, why: &str, err: &mut dyn Write) -> bool {
    if !is_temp_name(name) {
        return false;
    }
    let Ok(held) = open_dir_nofollow(dir) else {
        return false;
    };
    let path = dir.join(name);
    match statat(&held.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {
            match unlinkat(&held.fd, name, AtFlags::empty()) {
                Ok(()) => {
                    let _ = writeln!(
                        err,
                        "wsgifix: removed {}, a temp file left by an interrupted wsgifix run (found via {why})",
                        super::escape_path(&path)
                    );
                    let _ = rustix::fs::fsync(&held.fd);
                    true
                }
                Err(e) => {
                    let _ = writeln!(
                        err,
                        "wsgifix: cannot remove {}, a temp file left by an interrupted wsgifix run: {e}",
                        super::escape_path(&path)
                    );
                    false
                }
            }
        }
        _ => false,
    }
}

/// Removes `.wsgifix-*.tmp` files (this version's journaled names and
/// older versions' unjournaled ones) from each of `dirs`, except those of
/// live runs. Returns what was found (removed or not: either way it is not
/// a config file to process).
pub fn sweep<'a>(
    dirs: impl IntoIterator<Item = &'a Path>,
    live: &Live,
    err: &mut dyn Write,
) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in dirs {
        let Ok(rd) = fs::read_dir(dir) else {
            continue;
        };
        let Ok(real) = dir.canonicalize() else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            if !is_temp_name(&name) || live.contains(&real.join(&name)) {
                continue;
            }
            remove_leftover(&real, &name, "a scan of its directory", err);
            found.push(dir.join(&name));
        }
    }
    found
}

/// Locks held by this process: flock locks of two open files conflict even
/// within one process, so a second lock of the same key is counted, not
/// taken again.
static HELD: Mutex<BTreeMap<PathBuf, (File, usize)>> = Mutex::new(BTreeMap::new());

/// An exclusive lock on one server (keyed by the main config's real path)
/// or standalone file, released when dropped.
#[derive(Debug)]
pub struct Lock {
    file: PathBuf,
}

/// Takes the lock of `key`, waiting (and saying so) while another run has it.
pub fn lock(state: &Path, key: &Path, err: &mut dyn Write) -> io::Result<Lock> {
    let dir = state.join("locks");
    ensure_dir(&dir)?;
    let file = dir.join(format!(
        "{}.lock",
        &sha256_hex(key.as_os_str().as_bytes())[..32]
    ));
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, n)) = held.get_mut(&file) {
        *n += 1;
        return Ok(Lock { file });
    }
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(&file)?;
    match flock(&f, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(Errno::WOULDBLOCK) => {
            let _ = writeln!(
                err,
                "wsgifix: waiting for another wsgifix run on {} to finish",
                super::escape_path(key)
            );
            flock(&f, FlockOperation::LockExclusive)?;
        }
        Err(e) => return Err(e.into()),
    }
    // For people looking at the lock files.
    let _ = f.set_len(0);
    let _ = f.write_all(key.as_os_str().as_bytes());
    held.insert(file.clone(), (f, 1));
    Ok(Lock { file })
}

impl Drop for Lock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, n)) = held.get_mut(&self.file) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.file);
            }
        }
    }
}
