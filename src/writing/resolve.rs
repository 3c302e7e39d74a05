//! Paths resolved once, into held directory handles.
//!
//! A path string resolved again at each step of a write lets anyone who can
//! write to a directory on the way swap it for a symlink between the steps
//! (issue 7: root wrote into a root-only directory). Here every component is
//! opened relative to the handle of the one before with `O_NOFOLLOW`, so a
//! component that is (or becomes) a symlink makes the open fail instead of
//! leading elsewhere. Symlinks are followed only where nobody but root or
//! ourselves could have planted them: in a directory owned by root or by
//! the effective user that no one else may write to (a sticky directory
//! counts when the link itself is owned by root or by us). That keeps
//! Debian's `sites-enabled/x.conf -> ../sites-available/x.conf` working and
//! refuses a link an attacker put in a directory they own.
//!
//! rustix gives these `*at` calls safe, typed wrappers (owned fds, `Stat`,
//! flags as bitflags) instead of raw libc and errno handling.

use crate::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::fs::{openat, readlinkat, statat, AtFlags, FileType, Mode, OFlags};

/// Linux's own limit on symlinks followed in one lookup.
const MAX_LINKS: usize = 40;

/// A directory held open, with the real path it had when it was opened.
#[derive(Debug)]
pub struct HeldDir {
    /// Opened `O_RDONLY|O_DIRECTORY`, so it can be fsynced and read.
    pub fd: OwnedFd,
    pub path: PathBuf,
}

/// The last component of a path, inside its held directory.
#[derive(Debug)]
pub struct Resolved {
    pub dir: HeldDir,
    pub name: OsString,
}

impl Resolved {
    pub fn real(&self) -> PathBuf {
        self.dir.path.join(&self.name)
    }
}

fn err(kind: io::ErrorKind, msg: String) -> io::Error {
    io::Error::new(kind, msg)
}

/// Opens the directory `real` (an absolute path without symlinks, as a
/// previous [`resolve`] returned it) component by component, refusing any
/// symlink on the way.
pub fn open_dir_nofollow(real: &Path) -> io::Result<HeldDir> {
    let mut fd = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    for c in real.components() {
        match c {
            Component::RootDir => {}
            Component::Normal(name) => {
                fd = open_component(&fd, name, real)?;
            }
            _ => {
                return Err(err(
                    io::ErrorKind::InvalidInput,
                    format!("{} is not a resolved path", real.display()),
                ))
            }
        }
    }
    Ok(HeldDir {
        fd: reopen_dir(&fd)?,
        path: real.to_path_buf(),
    })
}

/// A directory changed into a symlink (ELOOP) or into something else
/// (ENOTDIR) after it was resolved: say so instead of quoting errno.
fn swapped(path: &Path, e: io::Error) -> io::Error {
    let errno = e.raw_os_error().map(rustix::io::Errno::from_raw_os_error);
    match errno {
        Some(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => err(
            io::ErrorKind::Other,
            format!(
                "a directory of {} was replaced by a symlink or a file since it was read; not followed",
                path.display()
            ),
        ),
        _ => e,
    }
}

/// An `O_PATH` handle cannot be fsynced; `.` below it is the same
/// directory, with no name lookup to race.
fn reopen_dir(fd: &OwnedFd) -> io::Result<OwnedFd> {
    Ok(openat(
        fd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Resolves `path` to its last component's held directory. The last
/// component is followed when it is a (trusted) symlink, so the result names
/// the real file.
pub fn resolve(path: &Path) -> io::Result<Resolved> {
    let (fd, path, name) = resolve_with(path, None)?;
    Ok(Resolved {
        dir: HeldDir {
            fd: reopen_dir(&fd)?,
            path,
        },
        name,
    })
}

/// The directories one run has resolved, held open (`O_PATH`) by their real
/// path: the 10 000 sites of a server sit in one directory, which is then
/// looked up once instead of once per file. A directory found here is the
/// one first resolved, even if its path has been swapped for a symlink
/// since: reads go on in the directory they started in. Only reads use it;
/// a write resolves its path afresh.
#[derive(Default)]
pub struct DirCache {
    dirs: Mutex<HashMap<PathBuf, Arc<OwnedFd>>>,
}

/// File descriptors a cache may hold: far below the usual limit of 1024.
const MAX_CACHED_DIRS: usize = 256;

impl std::fmt::Debug for DirCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.dirs.lock().map_or(0, |d| d.len());
        write!(f, "DirCache({held} directories)")
    }
}

impl DirCache {
    fn get(&self, real: &Path) -> Option<Arc<OwnedFd>> {
        self.dirs.lock().ok()?.get(real).cloned()
    }

    fn keep(&self, real: &Path, fd: OwnedFd) -> Arc<OwnedFd> {
        let fd = Arc::new(fd);
        if let Ok(mut dirs) = self.dirs.lock() {
            if dirs.len() < MAX_CACHED_DIRS {
                dirs.insert(real.to_path_buf(), Arc::clone(&fd));
            }
        }
        fd
    }
}

/// Opens a directory component below `dirfd` without following a symlink.
fn open_component(dirfd: &OwnedFd, comp: &OsStr, here: &Path) -> io::Result<OwnedFd> {
    openat(
        dirfd,
        comp,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| swapped(here, e.into()))
}

/// Resolves `path` to (its directory's `O_PATH` handle, that directory's
/// real path, the last component), looking directories up in `cache` when
/// given.
pub(crate) fn resolve_with(
    path: &Path,
    cache: Option<&DirCache>,
) -> io::Result<(Arc<OwnedFd>, PathBuf, OsString)> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut pending: Vec<OsString> = Vec::new(); // reversed: next is last
    push_components(&mut pending, &abs);
    let slash = Path::new("/");
    let root = match cache.and_then(|c| c.get(slash)) {
        Some(fd) => fd,
        None => {
            let fd = rustix::fs::open(
                "/",
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            match cache {
                Some(c) => c.keep(slash, fd),
                None => Arc::new(fd),
            }
        }
    };
    let mut stack: Vec<(Arc<OwnedFd>, PathBuf)> = vec![(root, slash.to_path_buf())];
    let mut links = 0;
    while let Some(comp) = pending.pop() {
        if comp == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let last = pending.is_empty();
        let (dirfd, dirpath) = stack.last().expect("root stays");
        let here = dirpath.join(&comp);
        if !last {
            if let Some(fd) = cache.and_then(|c| c.get(&here)) {
                stack.push((fd, here));
                continue;
            }
        }
        let st = statat(dirfd, &comp, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| with_path(&here, e.into()))?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            links += 1;
            if links > MAX_LINKS {
                return Err(err(
                    io::ErrorKind::Other,
                    format!("{}: too many levels of symbolic links", path.display()),
                ));
            }
            trusted_link(dirfd, dirpath, &here, st.st_uid)?;
            let target = readlinkat(dirfd, &comp, Vec::new())?;
            let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
            if target.is_absolute() {
                stack.truncate(1);
            }
            push_components(&mut pending, &target);
            continue;
        }
        if last {
            let (fd, dirpath) = stack.pop().expect("root stays");
            return Ok((fd, dirpath, comp));
        }
        let fd = open_component(dirfd, &comp, &here)?;
        let fd = match cache {
            Some(c) => c.keep(&here, fd),
            None => Arc::new(fd),
        };
        stack.push((fd, here));
    }
    Err(err(
        io::ErrorKind::InvalidInput,
        format!("{} does not name a file", path.display()),
    ))
}

fn with_path(p: &Path, e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::NotFound {
        err(
            e.kind(),
            format!("{}: no such file or directory", p.display()),
        )
    } else {
        e
    }
}

fn push_components(pending: &mut Vec<OsString>, p: &Path) {
    let comps: Vec<OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    pending.extend(comps.into_iter().rev());
}

/// A symlink is followed only when whoever could have created it is root
/// or ourselves.
fn trusted_link(dirfd: &OwnedFd, dir: &Path, link: &Path, link_uid: u32) -> io::Result<()> {
    let me = rustix::process::geteuid().as_raw();
    let d = rustix::fs::fstat(dirfd.as_fd())?;
    let trusted_owner = |uid: u32| uid == 0 || uid == me;
    let others_write = d.st_mode & 0o022 != 0;
    let sticky = d.st_mode & 0o1000 != 0;
    let ok = trusted_owner(d.st_uid) && (!others_write || (sticky && trusted_owner(link_uid)));
    if ok {
        Ok(())
    } else {
        Err(err(
            io::ErrorKind::PermissionDenied,
            format!(
                "refusing to follow the symlink {}: its directory {} can be written by uid {} or its group/others, who could point it anywhere",
                link.display(),
                dir.display(),
                d.st_uid
            ),
        ))
    }
}

/// Is `path` a name wsgifix itself could have left (see [`super::TEMP_PREFIX`])?
pub fn is_temp_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    b.starts_with(super::TEMP_PREFIX.as_bytes()) && b.ends_with(super::TEMP_SUFFIX.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn follows_trusted_links_and_names_the_real_file() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("avail")).unwrap();
        fs::create_dir_all(root.join("enabled")).unwrap();
        fs::write(root.join("avail/x.conf"), "x").unwrap();
        symlink("../avail/x.conf", root.join("enabled/x.conf")).unwrap();
        let r = resolve(&root.join("enabled/x.conf")).unwrap();
        assert_eq!(r.real(), root.join("avail/x.conf"));
    }

    #[test]
    fn refuses_a_link_in_a_directory_others_can_write() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("open")).unwrap();
        fs::write(root.join("x.conf"), "x").unwrap();
        fs::set_permissions(root.join("open"), fs::Permissions::from_mode(0o777)).unwrap();
        symlink("../x.conf", root.join("open/x.conf")).unwrap();
        let e = resolve(&root.join("open/x.conf")).unwrap_err();
        assert!(e.to_string().contains("refusing to follow"), "{e}");
    }

    #[test]
    fn a_cached_lookup_names_the_same_file_and_still_checks_the_last_link() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("avail")).unwrap();
        fs::create_dir_all(root.join("enabled")).unwrap();
        fs::create_dir_all(root.join("open")).unwrap();
        fs::set_permissions(root.join("open"), fs::Permissions::from_mode(0o777)).unwrap();
        for n in ["x.conf", "y.conf"] {
            fs::write(root.join("avail").join(n), n).unwrap();
            symlink(format!("../avail/{n}"), root.join("enabled").join(n)).unwrap();
        }
        fs::write(root.join("open/plain.conf"), "p").unwrap();
        let cache = DirCache::default();
        for n in ["x.conf", "y.conf"] {
            let p = root.join("enabled").join(n);
            let (_, dir, name) = resolve_with(&p, Some(&cache)).unwrap();
            assert_eq!(dir.join(&name), resolve(&p).unwrap().real());
        }
        // The second file found both directories in the cache.
        assert!(cache.get(&root.join("avail")).is_some());
        assert!(cache.get(&root.join("enabled")).is_some());
        // A directory others may write is cached like any other, and a link
        // planted in it is still refused.
        assert!(resolve_with(&root.join("open/plain.conf"), Some(&cache)).is_ok());
        symlink("../avail/x.conf", root.join("open/x.conf")).unwrap();
        let e = resolve_with(&root.join("open/x.conf"), Some(&cache)).unwrap_err();
        assert!(e.to_string().contains("refusing to follow"), "{e}");
    }

    #[test]
    fn link_loops_end() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        symlink("b", root.join("a")).unwrap();
        symlink("a", root.join("b")).unwrap();
        let e = resolve(&root.join("a")).unwrap_err();
        assert!(e.to_string().contains("too many levels"), "{e}");
    }

    #[test]
    fn held_open_refuses_a_swapped_component() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::create_dir_all(root.join("elsewhere")).unwrap();
        assert!(open_dir_nofollow(&root.join("sub")).is_ok());
        fs::remove_dir(root.join("sub")).unwrap();
        symlink("elsewhere", root.join("sub")).unwrap();
        let e = open_dir_nofollow(&root.join("sub")).unwrap_err();
        assert!(e.to_string().contains("replaced by a symlink"), "{e}");
    }
}
