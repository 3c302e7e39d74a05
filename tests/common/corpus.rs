//! The shared corpus (`../shared/corpus`), kept byte for byte: where tests
//! read it, and what they do when it is absent.

use std::path::{Path, PathBuf};

/// The files of `../shared/corpus/SUB` (every subfolder when `sub` is
/// empty), sorted, without the `.tsv` indexes. `None` (after saying so)
/// when the corpus is absent; a failure instead when
/// `WSGIFIX_REQUIRE_CORPUS=1` says this machine must have it.
pub fn files(sub: &str) -> Option<Vec<PathBuf>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(sub);
    if !root.is_dir() {
        assert!(
            std::env::var("WSGIFIX_REQUIRE_CORPUS").as_deref() != Ok("1"),
            "corpus {} is absent and WSGIFIX_REQUIRE_CORPUS=1",
            root.display()
        );
        eprintln!("SKIP: corpus {} is absent", root.display());
        return None;
    }
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&root)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_none_or(|x| x != "tsv"))
        .collect();
    files.sort();
    Some(files)
}

/// Corpus files httpd refuses to start with, and where and how wsgifix
/// says so (in mod_wsgi's words): Weblate's example puts `request-timeout=`,
/// a daemon option, on its `WSGIScriptAlias` (modwsgi.md §8.11;
/// `tests/rules_templates.rs` has real Apache refuse the same option).
pub const REFUSED_BY_HTTPD: &[(&str, &str)] = &[(
    "weblate-example-apache.conf",
    "31:5: Invalid option to WSGI script alias definition.",
)];

/// The error wsgifix must give for the corpus file at `path`, if any.
pub fn refusal_of(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?;
    REFUSED_BY_HTTPD
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, error)| *error)
}
