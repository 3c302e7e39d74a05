//! Which files a run takes: explicit paths, directory walks, standard input.
//!
//! The order is deterministic (command-line order, then sorted names within a
//! directory) so that diffs and reports are reproducible across a fleet.
//! Symlinked directories are not followed (no loops, no escaping the tree);
//! symlinked files are taken (Debian's `sites-enabled/`), and a file reached
//! twice (link and target) is processed once, under the first path seen.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::writing::{TEMP_PREFIX, TEMP_SUFFIX};

/// One thing to process, in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Stdin,
    File(PathBuf),
    /// A path that could not be listed or does not exist.
    Error {
        path: PathBuf,
        message: String,
    },
}

/// `--include` / `--exclude`, applied only inside directory walks.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl Filters {
    pub fn new(include: &[Glob], exclude: &[Glob]) -> Result<Filters, globset::Error> {
        fn set(globs: &[Glob]) -> Result<Option<GlobSet>, globset::Error> {
            if globs.is_empty() {
                return Ok(None);
            }
            let mut b = GlobSetBuilder::new();
            for g in globs {
                b.add(g.clone());
            }
            b.build().map(Some)
        }
        Ok(Filters {
            include: set(include)?,
            exclude: set(exclude)?,
        })
    }

    /// `rel` is the path below the walked directory; a glob may name either
    /// that or just the file name (`*.conf`, `sites-enabled/*`).
    fn matches(set: &GlobSet, rel: &Path) -> bool {
        set.is_match(rel) || rel.file_name().is_some_and(|n| set.is_match(n))
    }

    fn takes_file(&self, rel: &Path) -> bool {
        let name = rel.file_name().map(|n| n.to_string_lossy());
        // Our own temp files, left by a crash or being written by a
        // concurrent run, are never configuration.
        if name.is_some_and(|n| n.starts_with(TEMP_PREFIX) && n.ends_with(TEMP_SUFFIX)) {
            return false;
        }
        self.include.as_ref().is_none_or(|s| Self::matches(s, rel))
            && !self.exclude.as_ref().is_some_and(|s| Self::matches(s, rel))
    }

    fn enters_dir(&self, rel: &Path) -> bool {
        !self.exclude.as_ref().is_some_and(|s| Self::matches(s, rel))
    }
}

/// Expands the command-line paths (`-` is standard input) into items.
pub fn collect(paths: &[PathBuf], filters: &Filters) -> Vec<Item> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stdin_seen = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if !stdin_seen {
                out.push(Item::Stdin);
                stdin_seen = true;
            }
            continue;
        }
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => walk_dir(path, Path::new(""), filters, &mut seen, &mut out),
            // Named explicitly: taken whatever the filters say, and even when
            // it is not a regular file (`<(generate-config)`).
            Ok(_) => push_file(path.clone(), &mut seen, &mut out),
            Err(e) => out.push(error(path, &e)),
        }
    }
    out
}

fn error(path: &Path, e: &io::Error) -> Item {
    Item::Error {
        path: path.to_path_buf(),
        message: strip_os_error(e),
    }
}

/// "No such file or directory (os error 2)" → "No such file or directory".
pub fn strip_os_error(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn push_file(path: PathBuf, seen: &mut HashSet<PathBuf>, out: &mut Vec<Item>) {
    // A path that cannot be canonicalised is kept: reading it will report why.
    let key = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
    if seen.insert(key) {
        out.push(Item::File(path));
    }
}

fn walk_dir(
    root: &Path,
    rel: &Path,
    filters: &Filters,
    seen: &mut HashSet<PathBuf>,
    out: &mut Vec<Item>,
) {
    let dir = root.join(rel);
    let mut entries: Vec<fs::DirEntry> = match fs::read_dir(&dir) {
        Ok(rd) => {
            let mut v = Vec::new();
            for e in rd {
                match e {
                    Ok(e) => v.push(e),
                    Err(e) => out.push(error(&dir, &e)),
                }
            }
            v
        }
        Err(e) => {
            out.push(error(&dir, &e));
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let child_rel = rel.join(entry.file_name());
        let path = root.join(&child_rel);
        let ftype = match entry.file_type() {
            Ok(t) => t,
            Err(e) => {
                out.push(error(&path, &e));
                continue;
            }
        };
        if ftype.is_dir() {
            if filters.enters_dir(&child_rel) {
                walk_dir(root, &child_rel, filters, seen, out);
            }
        } else if ftype.is_file() {
            if filters.takes_file(&child_rel) {
                push_file(path, seen, out);
            }
        } else if ftype.is_symlink() {
            match fs::metadata(&path) {
                Ok(m) if m.is_file() => {
                    if filters.takes_file(&child_rel) {
                        push_file(path, seen, out);
                    }
                }
                // Symlinked directories and special files are not followed.
                Ok(_) => {}
                // A dangling link that the filters take is reported: httpd
                // would fail on it too.
                Err(e) => {
                    if filters.takes_file(&child_rel) {
                        out.push(error(&path, &e));
                    }
                }
            }
        }
        // FIFOs, sockets and devices met in a walk are skipped: opening a
        // FIFO would block.
    }
}

/// The system's Apache configuration directory: the first of `candidates`
/// that is a directory.
pub fn system_config_dir(candidates: &[&Path]) -> Option<PathBuf> {
    candidates
        .iter()
        .find(|p| p.is_dir())
        .map(|p| p.to_path_buf())
}

pub const SYSTEM_DIRS: &[&str] = &["/etc/apache2", "/etc/httpd", "/usr/local/apache2/conf"];

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        for dir in ["sites-available", "sites-enabled", "conf.d/sub", "mods"] {
            fs::create_dir_all(p.join(dir)).unwrap();
        }
        for f in [
            "apache2.conf",
            "b.conf",
            "a.txt",
            "conf.d/z.conf",
            "conf.d/sub/x.conf",
            "sites-available/app.conf",
            "sites-available/other.conf",
            "mods/wsgi.load",
            ".wsgifix-abc.tmp",
        ] {
            fs::write(p.join(f), b"# x\n").unwrap();
        }
        symlink(
            "../sites-available/app.conf",
            p.join("sites-enabled/app.conf"),
        )
        .unwrap();
        symlink(
            "../sites-available/gone.conf",
            p.join("sites-enabled/gone.conf"),
        )
        .unwrap();
        symlink("../mods", p.join("sites-enabled/mods-link")).unwrap();
        d
    }

    fn names(root: &Path, items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                Item::Stdin => "-".to_string(),
                Item::File(p) => p.strip_prefix(root).unwrap().display().to_string(),
                Item::Error { path, .. } => {
                    format!("ERR {}", path.strip_prefix(root).unwrap().display())
                }
            })
            .collect()
    }

    fn globs(g: &[&str]) -> Vec<Glob> {
        g.iter().map(|s| Glob::new(s).unwrap()).collect()
    }

    #[test]
    fn walk_is_sorted_deduped_and_skips_symlinked_dirs() {
        let d = tree();
        let items = collect(&[d.path().to_path_buf()], &Filters::default());
        assert_eq!(
            names(d.path(), &items),
            [
                "a.txt",
                "apache2.conf",
                "b.conf",
                "conf.d/sub/x.conf",
                "conf.d/z.conf",
                "mods/wsgi.load",
                "sites-available/app.conf",
                "sites-available/other.conf",
                // sites-enabled/app.conf is the same file as sites-available/app.conf
                "ERR sites-enabled/gone.conf",
            ]
        );
    }

    #[test]
    fn include_and_exclude() {
        let d = tree();
        let f = Filters::new(
            &globs(&["*.conf"]),
            &globs(&["conf.d", "sites-*/other.conf"]),
        )
        .unwrap();
        let items = collect(&[d.path().to_path_buf()], &f);
        assert_eq!(
            names(d.path(), &items),
            [
                "apache2.conf",
                "b.conf",
                "sites-available/app.conf",
                "ERR sites-enabled/gone.conf",
            ]
        );
    }

    #[test]
    fn explicit_paths_bypass_filters_and_keep_order() {
        let d = tree();
        let f = Filters::new(&globs(&["*.conf"]), &globs(&["*.txt"])).unwrap();
        let items = collect(
            &[
                d.path().join("a.txt"),
                PathBuf::from("-"),
                d.path().join("missing"),
                d.path().join("b.conf"),
                d.path().join("a.txt"),
                PathBuf::from("-"),
            ],
            &f,
        );
        assert_eq!(
            names(d.path(), &items[..1]),
            ["a.txt"],
            "explicit file taken despite --exclude"
        );
        assert_eq!(items[1], Item::Stdin);
        assert!(
            matches!(&items[2], Item::Error { message, .. } if message == "No such file or directory")
        );
        assert_eq!(items.len(), 4, "{items:?}");
    }

    #[test]
    fn system_dir_choice() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("apache2");
        let b = d.path().join("httpd");
        fs::create_dir(&b).unwrap();
        assert_eq!(system_config_dir(&[&a, &b]), Some(b.clone()));
        fs::create_dir(&a).unwrap();
        assert_eq!(system_config_dir(&[&a, &b]), Some(a));
        assert_eq!(system_config_dir(&[&d.path().join("none")]), None);
    }
}
