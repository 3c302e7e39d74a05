//! Bounded reading of config files.
//!
//! Only regular files are read: a FIFO named on the command line (a shell
//! glob over `sites-enabled/*`) would block the read forever, and a link to
//! `/dev/zero` would read until memory runs out. The file is opened with
//! `O_NONBLOCK` (so even a FIFO swapped in after the check does not hang the
//! open), checked with `fstat` on the open handle, and read up to the cap.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{fstat, openat, statat, AtFlags, FileType, Mode, OFlags, Stat};

use super::resolve::{resolve_with, DirCache};

/// The default `--max-file-size`: far above any real config (Debian's whole
/// `/etc/apache2` is ~200 KiB), far below what would hurt when `-j` files
/// are held at once.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// What a file was when it was read; checked again just before it is
/// replaced, through the held directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIdentity {
    /// The file's real path (symlinks resolved once, at read time).
    pub real: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, u64),
    pub nlink: u64,
}

impl FileIdentity {
    pub fn of(real: PathBuf, st: &Stat) -> FileIdentity {
        FileIdentity {
            real,
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size as u64,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            nlink: st.st_nlink,
        }
    }

    /// Same inode, size and modification time.
    pub fn same_as(&self, st: &Stat) -> bool {
        self.dev == st.st_dev
            && self.ino == st.st_ino
            && self.size == st.st_size as u64
            && self.mtime == (st.st_mtime, st.st_mtime_nsec)
    }
}

#[derive(Debug)]
pub enum ReadError {
    /// Not a regular file: what it is instead.
    NotRegular(&'static str),
    TooLarge {
        size: u64,
        max: u64,
    },
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotRegular(what) => {
                write!(
                    f,
                    "not a regular file ({what}); only regular files are read"
                )
            }
            ReadError::TooLarge { size, max } => write!(
                f,
                "file is {size} bytes, larger than --max-file-size {max}; not read"
            ),
            ReadError::Io(e) => write!(f, "{}", crate::output::walk::strip_os_error(e)),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

impl From<rustix::io::Errno> for ReadError {
    fn from(e: rustix::io::Errno) -> ReadError {
        ReadError::Io(e.into())
    }
}

pub fn kind_name(t: FileType) -> &'static str {
    match t {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symlink",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        _ => "an unknown kind of file",
    }
}

/// Reads the regular file `path` (symlinks followed where they are safe, see
/// [`super::resolve`]), at most `max_size` bytes.
pub fn read_config(path: &Path, max_size: u64) -> Result<(Vec<u8>, FileIdentity), ReadError> {
    read_config_in(path, max_size, None)
}

/// [`read_config`], looking up the directories on the way in `cache`.
pub fn read_config_in(
    path: &Path,
    max_size: u64,
    cache: Option<&DirCache>,
) -> Result<(Vec<u8>, FileIdentity), ReadError> {
    let (dir, dir_path, name) = resolve_with(path, cache)?;
    let (fd, st) = open_regular(&dir, &name, max_size)?;
    let mut buf = Vec::with_capacity(st.st_size as usize);
    // One byte more than allowed tells a file that grew past the cap.
    std::fs::File::from(fd)
        .take(max_size.saturating_add(1))
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > max_size {
        return Err(ReadError::TooLarge {
            size: buf.len() as u64,
            max: max_size,
        });
    }
    Ok((buf, FileIdentity::of(dir_path.join(&name), &st)))
}

/// Opens `name` in the directory `dir` for reading, never following a link
/// there and never blocking, and checks what it is on the open handle.
pub fn open_regular(
    dir: &OwnedFd,
    name: &OsStr,
    max_size: u64,
) -> Result<(OwnedFd, Stat), ReadError> {
    // A look before opening: opening some devices has effects of its own.
    let pre = statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    check_kind(&pre, max_size)?;
    let fd = openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP => ReadError::Io(io::Error::other(
            "the file was replaced by a symlink while it was opened; not followed",
        )),
        e => e.into(),
    })?;
    let st = fstat(&fd)?;
    check_kind(&st, max_size)?;
    Ok((fd, st))
}

fn check_kind(st: &Stat, max_size: u64) -> Result<(), ReadError> {
    let t = FileType::from_raw_mode(st.st_mode);
    if t != FileType::RegularFile {
        return Err(ReadError::NotRegular(kind_name(t)));
    }
    if st.st_size as u64 > max_size {
        return Err(ReadError::TooLarge {
            size: st.st_size as u64,
            max: max_size,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reads_and_identifies() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.conf");
        fs::write(&p, "ServerName x\n").unwrap();
        let (bytes, id) = read_config(&p, 100).unwrap();
        assert_eq!(bytes, b"ServerName x\n");
        assert_eq!(id.real, p.canonicalize().unwrap());
        assert_eq!(id.size, 13);
    }

    #[test]
    fn refuses_fifo_device_and_big_files() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let e = read_config(&fifo, 100).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
        let zero = d.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let e = read_config(&zero, 100).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let big = d.path().join("big");
        fs::write(&big, vec![b'#'; 101]).unwrap();
        let e = read_config(&big, 100).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::TooLarge {
                    size: 101,
                    max: 100
                }
            ),
            "{e}"
        );
    }
}
