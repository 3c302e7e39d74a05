//! The walk as a lazy sequence, so that a fleet of any size streams into the
//! pipeline without its list of paths ever being held.
//!
//! What a run must remember per file is only whether it was already taken
//! (a file reached twice, through a link and its target, is processed
//! once). Kept for every file, that set alone grows with the fleet; so a
//! walk may be told, from a survey made before it, which files can be met
//! twice at all, and keep only those.

use crate::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::slice;

use super::{error, skipped, sniff_name, strip_os_error, Filters, Item};

/// What a walk yields, in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walked {
    /// An explicit path, standard input or an error.
    Item(Item),
    /// A file a directory walk took, whose first bytes are still to be
    /// looked at ([`super::sniff_head`]): the reader does that, with the
    /// read it makes anyway.
    File(PathBuf),
    /// A walked file skipped by its name (`x.conf.gz`).
    Note(String),
}

/// Which identities a walk remembers.
#[derive(Debug)]
pub enum Seen {
    /// Every file's: the plain walk.
    All(HashSet<PathBuf>),
    /// None are checked; those of links and explicit files are gathered,
    /// the files a later walk may meet twice ([`super::survey`]).
    Gather(HashSet<PathBuf>),
    /// Only identities that may repeat: a link's or explicit file's, one in
    /// `may_repeat` (gathered by a survey) or one below two walk roots.
    Known {
        may_repeat: HashSet<PathBuf>,
        roots: Vec<PathBuf>,
        kept: HashSet<PathBuf>,
    },
}

/// How a file was reached, which decides whether its identity is kept.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reached {
    Explicit,
    Link,
    Walked,
}

impl Seen {
    /// True when the file is met for the first time; an error when it is
    /// a link the survey did not see whose target a walk may also reach.
    fn first(&mut self, key: PathBuf, how: Reached) -> Result<bool, &'static str> {
        match self {
            Seen::All(set) => Ok(set.insert(key)),
            Seen::Gather(set) => {
                if how != Reached::Walked {
                    set.insert(key);
                }
                Ok(true)
            }
            Seen::Known {
                may_repeat,
                roots,
                kept,
            } => {
                let below = roots.iter().filter(|r| key.starts_with(r)).count();
                if how == Reached::Link && !may_repeat.contains(&key) && below > 0 {
                    return Err("appeared while this run walked the tree (run again)");
                }
                if how == Reached::Walked && below < 2 && !may_repeat.contains(&key) {
                    return Ok(true);
                }
                Ok(kept.insert(key))
            }
        }
    }
}

/// The command-line paths (`-` is standard input), expanded lazily.
pub struct Walk<'a> {
    paths: slice::Iter<'a, PathBuf>,
    filters: &'a Filters,
    seen: Seen,
    stdin_seen: bool,
    dir: Option<DirWalk<'a>>,
    /// The real path of every directory walked so far.
    real_roots: Vec<PathBuf>,
}

struct DirWalk<'a> {
    root: &'a Path,
    /// Below the root the walk enters real directories only (it follows no
    /// symlinked one), so a regular file's real path is the root's joined
    /// with the names walked: one realpath per walk instead of one per
    /// file, each a readlink for every component of the path.
    real_root: Option<PathBuf>,
    entries: walkdir::IntoIter,
}

impl<'a> Walk<'a> {
    pub fn new(paths: &'a [PathBuf], filters: &'a Filters, seen: Seen) -> Walk<'a> {
        Walk {
            paths: paths.iter(),
            filters,
            seen,
            stdin_seen: false,
            dir: None,
            real_roots: Vec::new(),
        }
    }

    /// What a second walk over the same paths must remember, from what
    /// this one gathered.
    pub fn into_known(self) -> Seen {
        match self.seen {
            Seen::Gather(may_repeat) => Seen::Known {
                may_repeat,
                roots: self.real_roots,
                kept: HashSet::default(),
            },
            other => other,
        }
    }

    fn reads_heads(&self) -> bool {
        !matches!(self.seen, Seen::Gather(_))
    }

    fn take(&mut self, path: PathBuf, key: PathBuf, how: Reached) -> Option<Walked> {
        match self.seen.first(key, how) {
            Ok(true) if how == Reached::Explicit => Some(Walked::Item(Item::File(path))),
            Ok(true) => Some(match sniff_name(&path) {
                Some(what) => Walked::Note(skipped(&path, what)),
                None => Walked::File(path),
            }),
            Ok(false) => None,
            Err(message) => Some(Walked::Item(Item::Error {
                path,
                message: message.to_string(),
            })),
        }
    }

    fn explicit(&mut self, path: &'a Path) -> Option<Walked> {
        if path.as_os_str() == "-" {
            if self.stdin_seen {
                return None;
            }
            self.stdin_seen = true;
            return Some(Walked::Item(Item::Stdin));
        }
        // A path that cannot be canonicalised is kept: reading it will say why.
        let key = || fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                let real_root = fs::canonicalize(path).ok();
                self.real_roots.extend(real_root.clone());
                self.dir = Some(DirWalk {
                    root: path,
                    real_root,
                    entries: walkdir::WalkDir::new(path)
                        .follow_links(false)
                        .sort_by_file_name()
                        .into_iter(),
                });
                None
            }
            // Named explicitly, a compressed or binary file is an error: the
            // user asked for it, and its bytes are no config. A survey, which
            // only counts what is there, does not open it to find out; the
            // walk after it does.
            Ok(m) if m.is_file() => {
                match self.reads_heads().then(|| super::sniff(path)).flatten() {
                    Some(what) => Some(Walked::Item(Item::Error {
                        path: path.to_path_buf(),
                        message: format!("{what}, not a configuration file"),
                    })),
                    None => self.take(path.to_path_buf(), key(), Reached::Explicit),
                }
            }
            // Named explicitly: taken whatever the filters say, and even when
            // it is not a regular file (`<(generate-config)`), which is
            // never read ahead to sniff it.
            Ok(_) => self.take(path.to_path_buf(), key(), Reached::Explicit),
            Err(e) => Some(Walked::Item(error(path, &e))),
        }
    }

    /// The next thing the current directory walk yields; None when it is done.
    fn walked(&mut self) -> Option<Option<Walked>> {
        let dir = self.dir.as_mut()?;
        let root = dir.root;
        let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_path_buf();
        let entry = match dir.entries.next() {
            None => {
                self.dir = None;
                return None;
            }
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                let path = e.path().unwrap_or(root).to_path_buf();
                let message = match e.io_error() {
                    Some(io) => strip_os_error(io),
                    None => e.to_string(),
                };
                return Some(Some(Walked::Item(Item::Error { path, message })));
            }
        };
        let ftype = entry.file_type();
        if ftype.is_dir() {
            // Excluded directories are not entered.
            if entry.depth() > 0 && !self.filters.enters_dir(&rel(entry.path())) {
                dir.entries.skip_current_dir();
            }
            return Some(None);
        }
        let child_rel = rel(entry.path());
        if !self.filters.takes_file(&child_rel) {
            return Some(None);
        }
        let path = entry.into_path();
        if ftype.is_file() {
            let key = match &dir.real_root {
                Some(r) => r.join(&child_rel),
                None => fs::canonicalize(&path).unwrap_or_else(|_| path.clone()),
            };
            let how = if dir.real_root.is_some() {
                Reached::Walked
            } else {
                Reached::Link
            };
            return Some(self.take(path, key, how));
        }
        if ftype.is_symlink() {
            return Some(match fs::metadata(&path) {
                Ok(m) if m.is_file() => {
                    let key = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                    self.take(path, key, Reached::Link)
                }
                // Symlinked directories and special files are not followed.
                Ok(_) => None,
                // A dangling link that the filters take is reported: httpd
                // would fail on it too.
                Err(e) => Some(Walked::Item(error(&path, &e))),
            });
        }
        // FIFOs, sockets and devices met in a walk are skipped: opening a
        // FIFO would block.
        Some(None)
    }
}

impl Iterator for Walk<'_> {
    type Item = Walked;

    fn next(&mut self) -> Option<Walked> {
        loop {
            if self.dir.is_some() {
                match self.walked() {
                    Some(Some(w)) => return Some(w),
                    Some(None) | None => continue,
                }
            }
            let path = self.paths.next()?;
            if let Some(w) = self.explicit(path) {
                return Some(w);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::survey;
    use super::*;
    use proptest::prelude::*;
    use std::os::unix::fs::symlink;

    /// Every way a file can be met twice: a link beside its target, a link
    /// to a link, a link out of one walk root into another, a symlinked
    /// root, nested roots and explicit files.
    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        for dir in ["avail", "enabled", "conf.d/sub", "other"] {
            fs::create_dir_all(p.join(dir)).unwrap();
        }
        for f in [
            "top.conf",
            "avail/a.conf",
            "avail/b.conf",
            "conf.d/z.conf",
            "conf.d/sub/x.conf",
            "other/o.conf",
        ] {
            fs::write(p.join(f), b"# x\n").unwrap();
        }
        symlink("../avail/a.conf", p.join("enabled/a.conf")).unwrap();
        symlink("a.conf", p.join("enabled/again.conf")).unwrap();
        symlink("../conf.d/sub/x.conf", p.join("other/x.conf")).unwrap();
        symlink("conf.d", p.join("conf-link")).unwrap();
        d
    }

    const ARGS: [&str; 12] = [
        ".",
        "avail",
        "enabled",
        "conf.d",
        "conf.d/sub",
        "conf-link",
        "other",
        "top.conf",
        "avail/a.conf",
        "conf.d/sub/x.conf",
        "-",
        "missing",
    ];

    fn walked(paths: &[PathBuf], seen: Seen) -> Vec<Walked> {
        let filters = Filters::new(&[], &[]).unwrap();
        Walk::new(paths, &filters, seen).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// The streaming walk remembers only what the survey said may
        /// repeat; it must take exactly what the walk that remembers every
        /// file takes, in the same order.
        #[test]
        fn a_surveyed_walk_takes_what_a_walk_remembering_everything_takes(
            picks in proptest::collection::vec(0..ARGS.len(), 1..5)
        ) {
            let d = tree();
            let paths: Vec<PathBuf> = picks
                .iter()
                .map(|&i| match ARGS[i] {
                    "-" => PathBuf::from("-"),
                    a => d.path().join(a),
                })
                .collect();
            let filters = Filters::new(&[], &[]).unwrap();
            let known = survey(&paths, &filters, &mut |_| {}).seen;
            let is_known = matches!(known, Seen::Known { .. });
            prop_assert!(is_known);
            prop_assert_eq!(walked(&paths, known), walked(&paths, Seen::default()));
        }
    }

    #[test]
    fn a_link_made_after_the_survey_is_refused_not_taken_twice() {
        let d = tree();
        let paths = vec![d.path().to_path_buf()];
        let filters = Filters::new(&[], &[]).unwrap();
        let known = survey(&paths, &filters, &mut |_| {}).seen;
        symlink("../avail/b.conf", d.path().join("enabled/b.conf")).unwrap();
        let errors: Vec<Walked> = walked(&paths, known)
            .into_iter()
            .filter(|w| matches!(w, Walked::Item(Item::Error { .. })))
            .collect();
        assert_eq!(
            errors,
            vec![Walked::Item(Item::Error {
                path: d.path().join("enabled/b.conf"),
                message: "appeared while this run walked the tree (run again)".into(),
            })]
        );
    }
}
