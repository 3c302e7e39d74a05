//! Replacing one file inside its held directory.
//!
//! 1. `prepare`: open the target by name in the held directory (never
//!    following a link), check it is the inode that was read (dev, ino,
//!    size, mtime) and still holds the bytes that were fixed, refuse hard
//!    links and immutable/append-only files, and capture its metadata.
//! 2. `replace`: write the new bytes to an unnamed `O_TMPFILE` in the same
//!    directory, give it the old metadata, fsync it; check the target again;
//!    link the temp under a name recorded in the journal beforehand; swap it
//!    with the target in one `renameat2(RENAME_EXCHANGE)`; check that what
//!    came out is still the inode and bytes we checked (an editor's save in
//!    the last microseconds would show here: then swap back and report the
//!    conflict); unlink the old inode; fsync the directory.
//!
//! Without RENAME_EXCHANGE (NFS, old kernels) a plain `renameat` follows the
//! last check; without O_TMPFILE the temp is created under its journaled
//! name. Hard links are refused rather than written in place: an in-place
//! write is not atomic, and a replacement would split the link silently.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

use rustix::fs::{
    fstat, fsync, linkat, openat, renameat, renameat_with, statat, unlinkat, AtFlags, FileType,
    Mode, OFlags, RenameFlags, Stat, CWD,
};
use rustix::io::Errno;

use super::fault;
use super::meta::{self, Meta};
use super::read::{kind_name, FileIdentity};
use super::resolve::HeldDir;

#[derive(Debug)]
pub enum WriteError {
    /// The file no longer holds what was read and fixed.
    ChangedOnDisk(PathBuf),
    HardLink {
        path: PathBuf,
        nlink: u64,
    },
    /// Immutable or append-only; the message says which.
    Flags(String),
    Io {
        path: PathBuf,
        error: io::Error,
    },
    /// The new bytes are in place, but the directory fsync failed: the
    /// change may not survive a crash.
    NotDurable {
        path: PathBuf,
        error: io::Error,
    },
    /// Not written (or written and restored) because of the rest of the
    /// transaction: the message says why.
    Transaction(String),
}

impl WriteError {
    pub fn kind(&self) -> &'static str {
        match self {
            WriteError::ChangedOnDisk(_) => "changed-on-disk",
            WriteError::HardLink { .. } => "hard-link",
            WriteError::Flags(_) => "immutable",
            WriteError::Io { .. } => "write",
            WriteError::NotDurable { .. } => "not-durable",
            WriteError::Transaction(_) => "transaction",
        }
    }

    pub fn io(path: &std::path::Path, error: impl Into<io::Error>) -> WriteError {
        WriteError::Io {
            path: path.to_path_buf(),
            error: error.into(),
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::ChangedOnDisk(p) => write!(
                f,
                "not written: {} changed on disk since it was read (conflict); run wsgifix again to fix the new content",
                p.display()
            ),
            WriteError::HardLink { path, nlink } => write!(
                f,
                "not written: {} has {nlink} hard links, and replacing it would split them (the other names would keep the old content); make the other names symlinks to it",
                path.display()
            ),
            WriteError::Flags(m) => write!(f, "{m}"),
            WriteError::Io { path, error } => write!(f, "not written: {}: {error}", path.display()),
            WriteError::NotDurable { path, error } => write!(
                f,
                "written, but not durable: the fsync of the directory of {} failed ({error}); the new content is in place but may not survive a crash",
                path.display()
            ),
            WriteError::Transaction(m) => write!(f, "{m}"),
        }
    }
}

/// A target checked and ready to be replaced.
#[derive(Debug)]
pub struct Prepared {
    orig: OwnedFd,
    st: Stat,
    pub meta: Meta,
    pub real: PathBuf,
}

/// What `replace` left in place.
#[derive(Debug)]
pub struct Replaced {
    /// The new file, as a later restore expects to find it.
    pub identity: FileIdentity,
    /// Err when the directory fsync failed after the swap.
    pub durable: Result<(), io::Error>,
}

fn errno_io(e: Errno) -> io::Error {
    e.into()
}

/// Opens and checks the target `name` in `dir` against what was read.
pub fn prepare(
    dir: &HeldDir,
    name: &OsStr,
    expected: &FileIdentity,
    old: &[u8],
) -> Result<Prepared, WriteError> {
    let real = dir.path.join(name);
    let e = |err: Errno| WriteError::io(&real, errno_io(err));
    let orig = match openat(
        &dir.fd,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        // Replaced by a symlink, or gone: not what was read.
        Err(Errno::LOOP) | Err(Errno::NOENT) => return Err(WriteError::ChangedOnDisk(real)),
        Err(err) => return Err(e(err)),
    };
    let st = fstat(&orig).map_err(e)?;
    let t = FileType::from_raw_mode(st.st_mode);
    if t != FileType::RegularFile {
        return Err(WriteError::io(
            &real,
            io::Error::other(format!("now {}", kind_name(t))),
        ));
    }
    if !expected.same_as(&st) || !holds(&orig, old).map_err(|x| WriteError::io(&real, x))? {
        return Err(WriteError::ChangedOnDisk(real));
    }
    if st.st_nlink > 1 {
        return Err(WriteError::HardLink {
            path: real,
            nlink: st.st_nlink,
        });
    }
    meta::refuse_flags(&orig, &real.display().to_string()).map_err(WriteError::Flags)?;
    meta::refuse_flags(&dir.fd, &format!("the directory {}", dir.path.display()))
        .map_err(WriteError::Flags)?;
    let meta = meta::capture(&orig).map_err(|x| WriteError::io(&real, x))?;
    Ok(Prepared {
        orig,
        st,
        meta,
        real,
    })
}

/// Does the open file hold exactly `bytes`? Read and compared a window at
/// a time: a whole copy would be one more file's worth of memory beside
/// the source and the fix, and a mismatch early on stops the read there.
fn holds(fd: &OwnedFd, bytes: &[u8]) -> io::Result<bool> {
    const WINDOW: usize = 256 * 1024;
    let st = fstat(fd)?;
    if st.st_size as u64 != bytes.len() as u64 {
        return Ok(false);
    }
    // One byte more than is left, so that a file grown since the fstat
    // shows as longer.
    let mut buf = vec![0u8; bytes.len().min(WINDOW) + 1];
    let mut off = 0usize;
    loop {
        let want = (bytes.len() - off).min(WINDOW) + 1;
        let n = rustix::io::pread(fd, &mut buf[..want], off as u64)?;
        if n == 0 {
            return Ok(off == bytes.len());
        }
        if off + n > bytes.len() || buf[..n] != bytes[off..off + n] {
            return Ok(false);
        }
        off += n;
    }
}

/// The target is still the inode `prepare` checked, unchanged.
fn unchanged(p: &Prepared, old: &[u8]) -> io::Result<bool> {
    let now = fstat(&p.orig)?;
    // Not ctime: the swap itself changes the displaced inode's ctime.
    let same = now.st_size == p.st.st_size
        && (now.st_mtime, now.st_mtime_nsec) == (p.st.st_mtime, p.st.st_mtime_nsec);
    Ok(same && holds(&p.orig, old)?)
}

fn is_ino(dir: &HeldDir, name: &OsStr, st: &Stat) -> bool {
    statat(&dir.fd, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|s| s.st_dev == st.st_dev && s.st_ino == st.st_ino)
}

/// A new file's content, written and given its metadata, not yet in place.
#[derive(Debug)]
pub struct Temp {
    fd: OwnedFd,
    /// Linked under `name` (the journaled temp name) already.
    named: bool,
    name: OsString,
    st: Stat,
}

impl Temp {
    /// Makes the content durable before it is swapped in.
    pub fn sync(&self) -> io::Result<()> {
        fault::check("fsync-file")?;
        Ok(fsync(&self.fd)?)
    }

    pub fn dev(&self) -> u64 {
        self.st.st_dev
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Removes the temp (an unnamed one goes with its fd).
    pub fn discard(self, dir: &HeldDir) {
        if self.named {
            let _ = unlinkat(&dir.fd, &self.name, AtFlags::empty());
        }
    }
}

/// Writes `new` with `meta` into a temp in `dir`: unnamed where the
/// filesystem allows, else under the journaled name `temp`.
pub fn write_temp(
    dir: &HeldDir,
    prep: &Prepared,
    new: &[u8],
    meta: &Meta,
    temp: &OsStr,
) -> Result<Temp, WriteError> {
    let ioe = |x: io::Error| WriteError::io(&prep.real, x);
    let (fd, named) = create_temp(dir, temp).map_err(ioe)?;
    let t = (|| -> io::Result<Stat> {
        write_all(&fd, new)?;
        meta::apply(&fd, meta)?;
        Ok(fstat(&fd)?)
    })();
    match t {
        Ok(st) => Ok(Temp {
            fd,
            named,
            name: temp.to_os_string(),
            st,
        }),
        Err(x) => {
            if named {
                let _ = unlinkat(&dir.fd, temp, AtFlags::empty());
            }
            Err(ioe(x))
        }
    }
}

/// Swaps the synced temp `t` in for the prepared target `name`, after a
/// last check. The directory is not fsynced here (see [`sync_dir`]).
pub fn swap(
    dir: &HeldDir,
    name: &OsStr,
    prep: &Prepared,
    old: &[u8],
    mut t: Temp,
) -> Result<FileIdentity, WriteError> {
    let real = &prep.real;
    let ioe = |x: io::Error| WriteError::io(real, x);
    fault::sleep();
    // The last look before the swap, through the same handles.
    if !is_ino(dir, name, &prep.st) || !unchanged(prep, old).map_err(ioe)? {
        t.discard(dir);
        return Err(WriteError::ChangedOnDisk(real.clone()));
    }
    if !t.named {
        link_tmpfile(&t.fd, dir, &t.name).map_err(ioe)?;
        t.named = true;
    }
    let temp = t.name.clone();
    let exchanged = if fault::on("no-exchange") {
        Err(Errno::INVAL)
    } else {
        renameat_with(&dir.fd, &temp, &dir.fd, name, RenameFlags::EXCHANGE)
    };
    match exchanged {
        Ok(()) => {
            // `temp` now names what was the target. It must be the inode we
            // checked, unchanged; an editor's save since the last look is
            // put back and reported, not lost.
            let ok = is_ino(dir, &temp, &prep.st) && unchanged(prep, old).unwrap_or(false);
            if !ok {
                swap_back(dir, name, &temp, &t.st);
                return Err(WriteError::ChangedOnDisk(real.clone()));
            }
            unlinkat(&dir.fd, &temp, AtFlags::empty()).map_err(|x| ioe(x.into()))?;
        }
        Err(Errno::INVAL) | Err(Errno::NOSYS) | Err(Errno::NOTSUP) => {
            if let Err(x) = renameat(&dir.fd, &temp, &dir.fd, name) {
                t.discard(dir);
                return Err(ioe(x.into()));
            }
        }
        Err(x) => {
            t.discard(dir);
            return Err(ioe(x.into()));
        }
    }
    Ok(FileIdentity::of(real.clone(), &t.st))
}

/// Makes the renames in `dir` durable.
pub fn sync_dir(dir: &HeldDir) -> io::Result<()> {
    fault::check("fsync-dir")?;
    Ok(fsync(&dir.fd)?)
}

/// One file, start to end: temp, fsync, swap, directory fsync.
#[allow(clippy::too_many_arguments)]
pub fn replace(
    dir: &HeldDir,
    name: &OsStr,
    prep: &Prepared,
    old: &[u8],
    new: &[u8],
    meta: &Meta,
    temp: &OsStr,
) -> Result<Replaced, WriteError> {
    let t = write_temp(dir, prep, new, meta, temp)?;
    if let Err(e) = t.sync() {
        t.discard(dir);
        return Err(WriteError::io(&prep.real, e));
    }
    let identity = swap(dir, name, prep, old, t)?;
    Ok(Replaced {
        identity,
        durable: sync_dir(dir),
    })
}

/// Undoes an exchange that displaced someone else's save: whatever the
/// temp name holds now goes back under the real name, unless it is our new
/// file, which is then removed.
fn swap_back(dir: &HeldDir, name: &OsStr, temp: &OsStr, ours: &Stat) {
    if renameat_with(&dir.fd, temp, &dir.fd, name, RenameFlags::EXCHANGE).is_ok() {
        if is_ino(dir, temp, ours) {
            let _ = unlinkat(&dir.fd, temp, AtFlags::empty());
        } else {
            // A second save landed between the swaps: the newest wins.
            let _ = renameat(&dir.fd, temp, &dir.fd, name);
        }
    }
}

/// An unnamed file in `dir`; `(fd, false)`. Where the filesystem has no
/// O_TMPFILE, the journaled name `temp` is created instead: `(fd, true)`.
fn create_temp(dir: &HeldDir, temp: &OsStr) -> io::Result<(OwnedFd, bool)> {
    if !fault::on("no-tmpfile") {
        match openat(
            &dir.fd,
            ".",
            OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => return Ok((fd, false)),
            Err(Errno::OPNOTSUPP) | Err(Errno::ISDIR) | Err(Errno::INVAL) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let fd = openat(
        &dir.fd,
        temp,
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?;
    Ok((fd, true))
}

/// Gives the O_TMPFILE a name. AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH;
/// without it, the fd's /proc link does the same.
fn link_tmpfile(tmp: &OwnedFd, dir: &HeldDir, temp: &OsStr) -> io::Result<()> {
    match linkat(tmp, "", &dir.fd, temp, AtFlags::EMPTY_PATH) {
        Ok(()) => Ok(()),
        Err(Errno::NOENT) | Err(Errno::PERM) | Err(Errno::ACCESS) => {
            let proc = format!("/proc/self/fd/{}", tmp.as_raw_fd());
            linkat(CWD, proc.as_str(), &dir.fd, temp, AtFlags::SYMLINK_FOLLOW).map_err(Into::into)
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes all of `bytes`; with SIGXFSZ ignored, `ulimit -f` shows as EFBIG.
fn write_all(fd: impl AsFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(&fd, bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The name under which the temp of file `n` of unit `unit` of run `run`
/// may appear. Never `*.conf`; a dotfile, as httpd's globs skip those.
pub fn temp_name(run: &str, unit: usize, n: usize) -> OsString {
    OsString::from(format!(
        "{}{run}-{unit}-{n}{}",
        super::TEMP_PREFIX,
        super::TEMP_SUFFIX
    ))
}

#[cfg(test)]
mod tests {
    use super::holds;
    use std::os::fd::OwnedFd;

    fn open(bytes: &[u8]) -> (tempfile::TempDir, OwnedFd) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.conf");
        std::fs::write(&p, bytes).unwrap();
        (dir, std::fs::File::open(&p).unwrap().into())
    }

    #[test]
    fn holds_compares_every_window_of_a_big_file() {
        // Three windows and a bit: a difference in any of them counts.
        let bytes: Vec<u8> = (0..800_017u32).map(|i| (i % 251) as u8).collect();
        let (_d, fd) = open(&bytes);
        assert!(holds(&fd, &bytes).unwrap());
        for at in [0, 262_143, 262_144, 600_000, bytes.len() - 1] {
            let mut other = bytes.clone();
            other[at] ^= 1;
            assert!(!holds(&fd, &other).unwrap(), "difference at {at}");
        }
        assert!(!holds(&fd, &bytes[..bytes.len() - 1]).unwrap());
        let mut longer = bytes.clone();
        longer.push(b'\n');
        assert!(!holds(&fd, &longer).unwrap());
    }

    #[test]
    fn holds_an_empty_file() {
        let (_d, fd) = open(b"");
        assert!(holds(&fd, b"").unwrap());
        assert!(!holds(&fd, b"x").unwrap());
    }
}
