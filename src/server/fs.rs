//! The file system as the server sees it.
//!
//! httpd names files by absolute paths on its own machine. With `--root DIR`
//! the tree is a collected copy of another machine, so every such path (and
//! every absolute symlink met on the way) must resolve inside DIR, the way a
//! chroot would resolve it; otherwise `/etc/apache2/...` would silently read
//! (and a write would replace) this machine's live config. Without a root the
//! operating system resolves paths itself.
//!
//! Also here: httpd's wildcard matching (apr_fnmatch with APR_FNM_PERIOD) and
//! its lexical path merge (apr_filepath_merge), both small enough that
//! matching them exactly beats approximating them with a glob library.

use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Linux gives up after 40 symbolic links in one path; so does [`Fs::locate`].
const MAX_SYMLINKS: usize = 40;

#[derive(Debug, Clone, Default)]
pub struct Fs {
    /// The directory that stands for `/`, canonical; `None`: the real `/`.
    root: Option<PathBuf>,
}

impl Fs {
    pub fn new(root: Option<&Path>) -> io::Result<Fs> {
        let root = match root {
            Some(r) => Some(fs::canonicalize(r)?),
            None => None,
        };
        Ok(Fs { root })
    }

    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Where the server path `path` (absolute, as httpd names it) is on this
    /// machine. Inside a root every symlink is resolved here, absolute
    /// targets against the root, and `..` never climbs out of it; a missing
    /// tail is kept as named.
    pub fn locate(&self, path: &Path) -> io::Result<PathBuf> {
        let Some(root) = &self.root else {
            return Ok(path.to_path_buf());
        };
        let mut done: Vec<OsString> = Vec::new();
        let mut todo: Vec<OsString> = components(path);
        todo.reverse();
        let mut links = 0;
        while let Some(c) = todo.pop() {
            if c == ".." {
                done.pop();
                continue;
            }
            let here = join(root, &done).join(&c);
            match fs::symlink_metadata(&here) {
                Ok(m) if m.file_type().is_symlink() => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(io::Error::from(rustix::io::Errno::LOOP));
                    }
                    let target = fs::read_link(&here)?;
                    if target.is_absolute() {
                        done.clear();
                    }
                    let mut more = components(&target);
                    more.reverse();
                    todo.extend(more);
                }
                Ok(_) => done.push(c),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Nothing below a missing entry exists either; keep the
                    // name so errors can say what was looked for.
                    done.push(c);
                    while let Some(c) = todo.pop() {
                        if c == ".." {
                            done.pop();
                        } else {
                            done.push(c);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(join(root, &done))
    }

    /// `stat` of a server path (symlinks followed).
    pub fn metadata(&self, path: &Path) -> io::Result<Metadata> {
        fs::metadata(self.locate(path)?)
    }

    /// The entries of a server directory: (name, is a directory itself — not
    /// through a symlink, as apr_dir_read reports d_type).
    pub fn read_dir(&self, path: &Path) -> io::Result<Vec<(OsString, bool)>> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.locate(path)?)? {
            let e = e?;
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            out.push((e.file_name(), is_dir));
        }
        Ok(out)
    }

    /// The real path of a server path on this machine: what a write replaces.
    pub fn real(&self, path: &Path) -> io::Result<PathBuf> {
        match &self.root {
            Some(_) => self.locate(path),
            None => fs::canonicalize(path),
        }
    }

    /// The server path of a path on this machine (inverse of `locate` for
    /// paths inside the root).
    pub fn server_path(&self, host: &Path) -> Option<PathBuf> {
        match &self.root {
            None => Some(host.to_path_buf()),
            Some(r) => host
                .strip_prefix(r)
                .ok()
                .map(|rest| Path::new("/").join(rest)),
        }
    }
}

/// Reads a config file as httpd's ap_pcfg_openfile accepts it: a regular file
/// (or `/dev/null`), never blocking on a FIFO, at most `max` bytes. Returns
/// the bytes and the (device, inode) that identify the file.
pub fn read_regular(host: &Path, max: u64) -> Result<(Vec<u8>, (u64, u64)), String> {
    use std::os::unix::fs::MetadataExt;
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(host)
        .map_err(|e| strip_os_error(&e))?;
    let m = f.metadata().map_err(|e| strip_os_error(&e))?;
    if !m.is_file() {
        if host == Path::new("/dev/null") {
            return Ok((Vec::new(), (m.dev(), m.ino())));
        }
        return Err("not a regular file".to_string());
    }
    if m.len() > max {
        return Err(format!(
            "larger than {max} bytes (--max-file-size); not read"
        ));
    }
    let mut bytes = Vec::with_capacity(m.len() as usize);
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| strip_os_error(&e))?;
    if bytes.len() as u64 > max {
        return Err(format!("larger than {max} bytes; not read"));
    }
    Ok((bytes, (m.dev(), m.ino())))
}

/// "No such file or directory (os error 2)" → "No such file or directory",
/// the way httpd prints errno text.
pub fn strip_os_error(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `(device, inode)` of a directory, to catch symlink loops.
pub fn dir_identity(m: &Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

fn components(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn join(root: &Path, parts: &[OsString]) -> PathBuf {
    let mut p = root.to_path_buf();
    for c in parts {
        p.push(c);
    }
    p
}

/// apr_filepath_merge as ap_server_root_relative uses it: `path` against
/// `base` unless absolute, then `.`, `..` and doubled slashes removed
/// lexically (`..` at `/` stays at `/`).
pub fn merge(base: &Path, path: &Path) -> PathBuf {
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    let mut out: Vec<OsString> = Vec::new();
    for c in components(&full) {
        if c == ".." {
            out.pop();
        } else {
            out.push(c);
        }
    }
    join(Path::new("/"), &out)
}

/// A path from the bytes of a config argument (paths are bytes on Unix).
pub fn path_from_bytes(b: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(b.to_vec()))
}

pub fn name_bytes(p: &std::ffi::OsStr) -> &[u8] {
    p.as_bytes()
}

/// apr_fnmatch_test: does the pattern hold a wildcard (`*`, `?`, or a `[`
/// with a matching `]`)? A backslash escapes the next byte.
pub fn has_wildcard(pat: &[u8]) -> bool {
    let mut nesting = 0;
    let mut i = 0;
    while i < pat.len() {
        match pat[i] {
            b'?' | b'*' => return true,
            b'\\' => {
                i += 1;
                if i >= pat.len() {
                    return false;
                }
            }
            b'[' => nesting += 1,
            b']' if nesting > 0 => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// apr_fnmatch(pattern, name, APR_FNM_PERIOD) on one path component: `*`,
/// `?`, `[...]` (`!`/`^` negate, ranges), `\` escapes; a leading `.` in the
/// name must be matched by a literal `.`.
pub fn fnmatch(pat: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') {
        let literal_dot = pat.first() == Some(&b'.')
            || (pat.first() == Some(&b'\\') && pat.get(1) == Some(&b'.'));
        if !literal_dot {
            return false;
        }
    }
    glob(pat, name)
}

fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, name index).
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        let step = if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star = Some((p + 1, i));
                    p += 1;
                    continue;
                }
                b'?' => Some(p + 1),
                b'[' => match class(&pat[p..], s[i]) {
                    Some((true, len)) => Some(p + len),
                    Some((false, _)) => None,
                    // No closing `]`: the `[` is an ordinary byte.
                    None => (s[i] == b'[').then_some(p + 1),
                },
                b'\\' if p + 1 < pat.len() => (pat[p + 1] == s[i]).then_some(p + 2),
                c => (c == s[i]).then_some(p + 1),
            }
        } else {
            None
        };
        match step {
            Some(np) => {
                p = np;
                i += 1;
            }
            None => match star {
                Some((sp, si)) => {
                    p = sp;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// A bracket expression at the start of `pat`: (does `c` match, its length),
/// or None when it has no closing `]`.
fn class(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pat.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let mut lo = *pat.get(i)?;
        if lo == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if lo == b'\\' {
            i += 1;
            lo = *pat.get(i)?;
        }
        i += 1;
        let mut hi = lo;
        if pat.get(i) == Some(&b'-') && pat.get(i + 1).is_some_and(|&b| b != b']') {
            hi = pat[i + 1];
            if hi == b'\\' {
                hi = *pat.get(i + 2)?;
                i += 1;
            }
            i += 2;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_as_apr_matches_them() {
        assert!(fnmatch(b"*.conf", b"a.conf"));
        assert!(!fnmatch(b"*.conf", b".hidden.conf"));
        assert!(fnmatch(b".*.conf", b".hidden.conf"));
        assert!(!fnmatch(b"*.conf", b"a.conf~"));
        assert!(fnmatch(b"[c]onf.d", b"conf.d"));
        assert!(fnmatch(b"[!a]*", b"b"));
        assert!(!fnmatch(b"[!a]*", b"a"));
        assert!(fnmatch(b"0[0-9]-*.conf", b"00-base.conf"));
        assert!(fnmatch(b"a?c", b"abc") && !fnmatch(b"a?c", b"ac"));
        assert!(fnmatch(b"*a*b", b"xxaybzb"));
        assert!(fnmatch(b"\\*", b"*") && !fnmatch(b"\\*", b"x"));
        assert!(fnmatch(b"[ab", b"[ab"));
        assert!(has_wildcard(b"conf.d/*.conf") && has_wildcard(b"[c]onf"));
        assert!(!has_wildcard(b"plain[") && !has_wildcard(b"a\\*"));
    }

    #[test]
    fn merge_is_lexical() {
        let b = Path::new("/etc/apache2");
        assert_eq!(
            merge(b, Path::new("ports.conf")),
            Path::new("/etc/apache2/ports.conf")
        );
        assert_eq!(merge(b, Path::new("../x//./y")), Path::new("/etc/x/y"));
        assert_eq!(merge(b, Path::new("/a/../../b")), Path::new("/b"));
    }

    #[test]
    fn locate_keeps_absolute_links_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("etc/apache2/sites-available")).unwrap();
        fs::create_dir_all(r.join("etc/apache2/sites-enabled")).unwrap();
        fs::write(r.join("etc/apache2/sites-available/a.conf"), "x").unwrap();
        std::os::unix::fs::symlink(
            "/etc/apache2/sites-available/a.conf",
            r.join("etc/apache2/sites-enabled/a.conf"),
        )
        .unwrap();
        std::os::unix::fs::symlink("../../../..", r.join("etc/apache2/up")).unwrap();
        std::os::unix::fs::symlink("loop", r.join("etc/loop")).unwrap();
        let fs = Fs::new(Some(r)).unwrap();
        let root = fs.root().unwrap().to_path_buf();
        assert_eq!(
            fs.locate(Path::new("/etc/apache2/sites-enabled/a.conf"))
                .unwrap(),
            root.join("etc/apache2/sites-available/a.conf")
        );
        assert_eq!(
            fs.locate(Path::new("/etc/apache2/up/etc")).unwrap(),
            root.join("etc")
        );
        let e = fs.locate(Path::new("/etc/loop/x")).unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(rustix::io::Errno::LOOP.raw_os_error())
        );
        assert_eq!(
            fs.server_path(&root.join("etc/x")).unwrap(),
            Path::new("/etc/x")
        );
    }
}
