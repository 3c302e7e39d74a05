//! Atomic in-place writing (SPEC.md §5, anchors.md §5).
//!
//! A half-written vhost takes a web server down at its next reload, so the new
//! content goes to a temp file next to the real target and is renamed over it.
//! The temp file's name never ends in `.conf`: `Include dir/` reads every file
//! in a directory, and a stray `*.conf` would be read even by `Include *.conf`.

use std::fmt;
use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const TEMP_PREFIX: &str = ".wsgifix-";
pub const TEMP_SUFFIX: &str = ".tmp";

#[derive(Debug)]
pub enum WriteError {
    /// The file no longer holds what was read and fixed; writing would lose
    /// someone else's edit.
    ChangedOnDisk(PathBuf),
    Io {
        path: PathBuf,
        error: io::Error,
    },
}

impl WriteError {
    /// The short kind used in reports.
    pub fn kind(&self) -> &'static str {
        match self {
            WriteError::ChangedOnDisk(_) => "changed-on-disk",
            WriteError::Io { .. } => "write",
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::ChangedOnDisk(p) => write!(
                f,
                "not written: {} changed on disk since it was read",
                p.display()
            ),
            WriteError::Io { path, error } => {
                write!(f, "not written: {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for WriteError {}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |error| WriteError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Replaces the file at `path` (following symlinks: the link stays, its
/// target gets the new content) with `new`, provided it still holds
/// `expected_old`. Keeps mode and owner; fsyncs the file and its directory.
/// Returns the path that was really written.
pub fn write_atomic(path: &Path, expected_old: &[u8], new: &[u8]) -> Result<PathBuf, WriteError> {
    let real = fs::canonicalize(path).map_err(io_err(path))?;
    let dir = real.parent().ok_or_else(|| WriteError::Io {
        path: real.clone(),
        error: io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"),
    })?;
    let meta = fs::metadata(&real).map_err(io_err(&real))?;
    if !meta.is_file() {
        return Err(WriteError::Io {
            path: real.clone(),
            error: io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
        });
    }

    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(io_err(dir))?;
    // From here on, an early return drops `tmp`, which deletes the temp file.
    keep_owner(tmp.as_file(), &meta).map_err(io_err(&real))?;
    // After chown: chown clears set-id bits, chmod restores them.
    tmp.as_file()
        .set_permissions(Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(io_err(tmp.path()))?;
    tmp.write_all(new).map_err(io_err(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;

    // As late as possible: someone (or a config-management run) may have
    // edited the file while we were fixing it.
    let now = fs::read(&real).map_err(io_err(&real))?;
    if now != expected_old {
        return Err(WriteError::ChangedOnDisk(path.to_path_buf()));
    }

    tmp.persist(&real).map_err(|e| WriteError::Io {
        path: real.clone(),
        error: e.error,
    })?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    Ok(real)
}

/// The temp file is created by us; give it the original's owner. Only root
/// can give a file away; anyone else keeps the file only when it is theirs
/// already, otherwise the rewrite would silently change its owner.
fn keep_owner(file: &File, orig: &fs::Metadata) -> io::Result<()> {
    let mine = file.metadata()?;
    if mine.uid() == orig.uid() && mine.gid() == orig.gid() {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(orig.uid()), Some(orig.gid())).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot keep owner {}:{} of the file (run as root or as its owner): {e}",
                orig.uid(),
                orig.gid()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(TEMP_PREFIX))
            .collect()
    }

    #[test]
    fn writes_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.conf");
        fs::write(&p, b"old\r\n").unwrap();
        fs::set_permissions(&p, Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"old\r\n", b"new\r\nline").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new\r\nline");
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o640);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn keeps_owner() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.conf");
        fs::write(&p, b"x\n").unwrap();
        let before = fs::metadata(&p).unwrap();
        // As root, hand the file to another user so that keeping the owner is
        // a real act; otherwise the owner is already ours.
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
        }
        write_atomic(&p, b"x\n", b"y\n").unwrap();
        let after = fs::metadata(&p).unwrap();
        if root {
            assert_eq!((after.uid(), after.gid()), (65534, 65534));
        } else {
            assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
        }
        assert_eq!(fs::read(&p).unwrap(), b"y\n");
    }

    #[test]
    fn writes_through_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let avail = dir.path().join("sites-available");
        let enabled = dir.path().join("sites-enabled");
        fs::create_dir_all(&avail).unwrap();
        fs::create_dir_all(&enabled).unwrap();
        let target = avail.join("app.conf");
        fs::write(&target, b"a\n").unwrap();
        let link = enabled.join("app.conf");
        symlink("../sites-available/app.conf", &link).unwrap();
        let real = write_atomic(&link, b"a\n", b"b\n").unwrap();
        assert_eq!(real, fs::canonicalize(&target).unwrap());
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"b\n");
        assert!(leftovers(&avail).is_empty());
        assert!(leftovers(&enabled).is_empty());
    }

    #[test]
    fn refuses_file_changed_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.conf");
        fs::write(&p, b"edited by someone else\n").unwrap();
        let err = write_atomic(&p, b"what we read\n", b"fixed\n").unwrap_err();
        assert!(matches!(err, WriteError::ChangedOnDisk(_)), "{err}");
        assert_eq!(err.kind(), "changed-on-disk");
        assert_eq!(fs::read(&p).unwrap(), b"edited by someone else\n");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(&dir.path().join("nope"), b"", b"x").unwrap_err();
        assert_eq!(err.kind(), "write");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn temp_names_are_never_conf() {
        assert!(!TEMP_SUFFIX.ends_with(".conf"));
        assert!(TEMP_PREFIX.starts_with('.'));
    }
}
