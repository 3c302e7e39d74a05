//! Which files a run takes: explicit paths, directory walks, standard input.
//!
//! The order is deterministic (command-line order, then sorted names within a
//! directory) so that diffs and reports are reproducible across a fleet.
//! The walk itself is walkdir's (well kept, handles read errors per entry and
//! deep trees without recursion); the policy is ours.
//! Symlinked directories are not followed (no loops, no escaping the tree);
//! symlinked files are taken (Debian's `sites-enabled/`), and a file reached
//! twice (link and target) is processed once, under the first path seen.

use crate::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

mod stream;
mod survey;

pub use stream::{Seen, Walk, Walked};
pub use survey::{survey, Survey};

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
        if name
            .as_ref()
            .is_some_and(|n| n.starts_with(TEMP_PREFIX) && n.ends_with(TEMP_SUFFIX))
        {
            return false;
        }
        // wsgifix's own settings file sits in the trees it checks.
        if name.as_deref() == Some(crate::settings::FILE_NAME) {
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
    collect_noted(paths, filters, &mut Vec::new())
}

/// Like [`collect`]; also says, in `notes`, which files a walk skipped as
/// compressed or binary (`sites/x.conf.gz: skipped: gzip-compressed`).
pub fn collect_noted(paths: &[PathBuf], filters: &Filters, notes: &mut Vec<String>) -> Vec<Item> {
    let mut out = Vec::new();
    for w in Walk::new(paths, filters, Seen::All(HashSet::default())) {
        match w {
            Walked::Item(i) => out.push(i),
            Walked::Note(n) => notes.push(n),
            Walked::File(p) => match sniff(&p) {
                Some(what) => notes.push(skipped(&p, what)),
                None => out.push(Item::File(p)),
            },
        }
    }
    out
}

/// The note for a walked file that is no configuration.
pub fn skipped(path: &Path, what: &str) -> String {
    format!("{}: skipped: {what}", path.display())
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

/// Why a file is not text configuration, if it is not: a compressed file
/// (by name or by magic number) or binary data (a NUL byte in its first
/// block). httpd would choke on either; parsing one would only print its
/// bytes back as a "syntax error".
pub fn sniff(path: &Path) -> Option<&'static str> {
    if let Some(what) = sniff_name(path) {
        return Some(what);
    }
    let mut head = [0u8; SNIFF_LEN];
    let n = fs::File::open(path)
        .and_then(|mut f| io::Read::read(&mut f, &mut head))
        .ok()?;
    sniff_head(&head[..n])
}

/// How many leading bytes [`sniff_head`] looks at.
pub const SNIFF_LEN: usize = 512;

/// A compressed file by its name.
pub fn sniff_name(path: &Path) -> Option<&'static str> {
    const BY_NAME: &[(&str, &str)] = &[
        ("gz", "gzip-compressed"),
        ("tgz", "gzip-compressed"),
        ("bz2", "bzip2-compressed"),
        ("xz", "xz-compressed"),
        ("lzma", "lzma-compressed"),
        ("zst", "zstd-compressed"),
        ("lz4", "lz4-compressed"),
        ("br", "brotli-compressed"),
        ("zip", "a zip archive"),
        ("7z", "a 7-zip archive"),
    ];
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    BY_NAME
        .iter()
        .find(|(e, _)| ext.eq_ignore_ascii_case(e))
        .map(|(_, what)| *what)
}

/// A compressed file by its magic number, or binary data, by the file's
/// first bytes (at most [`SNIFF_LEN`] of them are looked at).
pub fn sniff_head(bytes: &[u8]) -> Option<&'static str> {
    const BY_MAGIC: &[(&[u8], &str)] = &[
        (b"\x1f\x8b", "gzip-compressed"),
        (b"BZh", "bzip2-compressed"),
        (b"\xfd7zXZ\x00", "xz-compressed"),
        (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
        (b"\x04\x22\x4d\x18", "lz4-compressed"),
        (b"PK\x03\x04", "a zip archive"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-zip archive"),
    ];
    let head = &bytes[..bytes.len().min(SNIFF_LEN)];
    if let Some((_, what)) = BY_MAGIC.iter().find(|(m, _)| head.starts_with(m)) {
        return Some(what);
    }
    head.contains(&0).then_some("binary data (NUL bytes)")
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
    fn a_file_met_again_through_another_spelling_of_its_root_is_taken_once() {
        // The walk derives a file's identity from its root's real path, not
        // a realpath per file: a root given through a symlink or with `..`
        // must still meet the files already taken.
        let d = tree();
        let outer = tempfile::tempdir().unwrap();
        let link = outer.path().join("etc-link");
        symlink(d.path(), &link).unwrap();
        let items = collect(
            &[
                d.path().join("b.conf"),
                link.clone(),
                d.path().join("conf.d/.."),
                link.join("conf.d/z.conf"),
            ],
            &Filters::default(),
        );
        let files: Vec<&Path> = items
            .iter()
            .filter_map(|i| match i {
                Item::File(p) => Some(p.as_path()),
                _ => None,
            })
            .collect();
        assert_eq!(files.len(), 8, "{files:?}");
        assert_eq!(files[0], d.path().join("b.conf"));
        assert!(files[1..].iter().all(|p| p.starts_with(&link)), "{files:?}");
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
    fn compressed_and_binary_files_are_skipped_in_walks_with_a_note() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        fs::write(p.join("a.conf"), b"ServerName a\n").unwrap();
        fs::write(p.join("b.conf.gz"), b"ServerName b\n").unwrap();
        fs::write(p.join("c.conf"), b"\x1f\x8b\x08\x00rest").unwrap();
        fs::write(p.join("d.conf"), b"ServerName d\n\x00\x01").unwrap();
        fs::write(p.join("e.old"), b"\xfd7zXZ\x00...").unwrap();
        let mut notes = Vec::new();
        let items = collect_noted(&[p.to_path_buf()], &Filters::default(), &mut notes);
        assert_eq!(names(p, &items), ["a.conf"]);
        let notes: Vec<String> = notes
            .iter()
            .map(|n| n.replace(&format!("{}/", p.display()), ""))
            .collect();
        assert_eq!(
            notes,
            [
                "b.conf.gz: skipped: gzip-compressed",
                "c.conf: skipped: gzip-compressed",
                "d.conf: skipped: binary data (NUL bytes)",
                "e.old: skipped: xz-compressed",
            ]
        );
        // Named explicitly: an error, not a silent skip.
        let items = collect(&[p.join("b.conf.gz")], &Filters::default());
        assert!(
            matches!(&items[0], Item::Error { message, .. } if message == "gzip-compressed, not a configuration file"),
            "{items:?}"
        );
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
