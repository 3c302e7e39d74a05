//! What a file has besides its bytes, carried over to its replacement.
//!
//! A replacement is a new inode, so everything the old one had must be put
//! on it again: owner, mode, and every extended attribute. POSIX ACLs are
//! the xattrs `system.posix_acl_access`/`_default` and the SELinux label is
//! `security.selinux`, so copying all xattrs keeps them. Attributes the new
//! inode got by itself (a default ACL inherited from the directory, a label
//! from the policy) but the old one lacked are removed, and the mode is set
//! last: with an ACL, the group bits of the mode are the ACL mask, so the
//! mode written last makes the mask the old one, never wider.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use rustix::fs::{fchmod, fchown, fstat, Gid, IFlags, Mode, Uid, XattrFlags};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits including set-id and sticky.
    pub mode: u32,
    /// (name, value), names as bytes; hex-encoded in manifests.
    #[serde(with = "xattr_hex")]
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Reads owner, mode and all xattrs of an open file.
pub fn capture(fd: impl AsFd) -> io::Result<Meta> {
    let st = fstat(&fd)?;
    let mut xattrs = Vec::new();
    for name in list(&fd)? {
        match get(&fd, &name) {
            Ok(v) => xattrs.push((name.into_vec(), v)),
            // Removed between the list and the read: it is not there.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NODATA.raw_os_error()) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Meta {
        uid: st.st_uid,
        gid: st.st_gid,
        mode: st.st_mode & 0o7777,
        xattrs,
    })
}

fn list(fd: &impl AsFd) -> io::Result<Vec<OsString>> {
    let mut buf = vec![0u8; 1024];
    loop {
        match rustix::fs::flistxattr(fd, &mut buf[..]) {
            Ok(n) => {
                return Ok(buf[..n]
                    .split(|b| *b == 0)
                    .filter(|n| !n.is_empty())
                    .map(|n| OsString::from_vec(n.to_vec()))
                    .collect())
            }
            Err(rustix::io::Errno::RANGE) => buf.resize(buf.len() * 4, 0),
            // The filesystem has no xattrs: there is nothing to keep.
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    }
}

fn get(fd: &impl AsFd, name: &OsString) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    loop {
        match rustix::fs::fgetxattr(fd, name.as_os_str(), &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(rustix::io::Errno::RANGE) => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Puts `meta` on `fd` (a new file we created): owner first (a chown clears
/// set-id bits and file capabilities), then xattrs, then the mode.
pub fn apply(fd: &OwnedFd, meta: &Meta) -> io::Result<()> {
    let st = fstat(fd)?;
    if (st.st_uid, st.st_gid) != (meta.uid, meta.gid) {
        let (u, g) = (Uid::from_raw(meta.uid), Gid::from_raw(meta.gid));
        fchown(fd, Some(u), Some(g)).map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!(
                    "cannot keep owner {}:{} (run as root or as its owner): {e}",
                    meta.uid, meta.gid
                ),
            )
        })?;
    }
    for name in list(fd)? {
        if !meta
            .xattrs
            .iter()
            .any(|(n, _)| n.as_slice() == name.as_bytes())
        {
            rustix::fs::fremovexattr(fd, name.as_os_str()).map_err(|e| {
                io::Error::other(format!(
                    "cannot remove the attribute {} the new file inherited: {e}",
                    name.to_string_lossy()
                ))
            })?;
        }
    }
    for (name, value) in &meta.xattrs {
        let n = std::ffi::OsStr::from_bytes(name);
        rustix::fs::fsetxattr(fd, n, value, XattrFlags::empty()).map_err(|e| {
            io::Error::other(format!(
                "cannot keep the attribute {}: {e}",
                n.to_string_lossy()
            ))
        })?;
    }
    fchmod(fd, Mode::from_raw_mode(meta.mode))?;
    Ok(())
}

/// `chattr +i` / `+a` make a file impossible to replace; say so plainly.
pub fn refuse_flags(fd: impl AsFd, what: &str) -> Result<(), String> {
    match rustix::fs::ioctl_getflags(fd) {
        Ok(f) if f.contains(IFlags::IMMUTABLE) => Err(format!(
            "{what} is immutable (chattr +i); not written. `chattr -i` it to let wsgifix fix it"
        )),
        Ok(f) if f.contains(IFlags::APPEND) => Err(format!(
            "{what} is append-only (chattr +a); not written. `chattr -a` it to let wsgifix fix it"
        )),
        // No such flags on this filesystem.
        _ => Ok(()),
    }
}

mod xattr_hex {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[(Vec<u8>, Vec<u8>)], s: S) -> Result<S::Ok, S::Error> {
        let pairs: Vec<(String, String)> = v.iter().map(|(n, x)| (hex(n), hex(x))).collect();
        pairs.serialize(s)
    }

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Pairs, D::Error> {
        let pairs: Vec<(String, String)> = Vec::deserialize(d)?;
        pairs
            .iter()
            .map(|(n, x)| Ok((unhex(n)?, unhex(x)?)))
            .collect::<Result<_, String>>()
            .map_err(serde::de::Error::custom)
    }

    pub fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
        if s.len() % 2 != 0 {
            return Err("odd hex length".into());
        }
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string()))
            .collect()
    }
}

pub use xattr_hex::{hex, unhex};
