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

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

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
                fd = openat(
                    &fd,
                    name,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| swapped(real, e.into()))?;
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
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut pending: Vec<OsString> = Vec::new(); // reversed: next is last
    push_components(&mut pending, &abs);
    let root = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut stack: Vec<(OwnedFd, PathBuf)> = vec![(root, PathBuf::from("/"))];
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
        let st = statat(dirfd, &comp, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| with_path(&dirpath.join(&comp), e.into()))?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            links += 1;
            let here = dirpath.join(&comp);
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
            return Ok(Resolved {
                dir: HeldDir {
                    fd: reopen_dir(&fd)?,
                    path: dirpath,
                },
                name: comp,
            });
        }
        let here = dirpath.join(&comp);
        let fd = openat(
            dirfd,
            &comp,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| swapped(&here, e.into()))?;
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
