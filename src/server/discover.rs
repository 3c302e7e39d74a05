//! Finding a server's files: a main file and everything its
//! `Include`/`IncludeOptional` directives pull in, in the order httpd reads
//! them (apache-syntax.md §7). Daemon names are global to a server, so each
//! file is analysed knowing what the other files of its server define and
//! select.

use crate::analysis::{analyse, GroupKind, ServerContext, ServerNames};
use crate::syntax::{self, logical, LineKind, Node};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// File names that mark a server's main config when a walk meets them.
pub const MAIN_FILE_NAMES: &[&str] = &["apache2.conf", "httpd.conf"];

/// httpd refuses deeper include nesting.
const MAX_INCLUDE_DEPTH: usize = 128;

#[derive(Debug, Clone)]
pub struct Server {
    pub main: PathBuf,
    /// Every file of the tree, main first, in httpd's reading order,
    /// canonical paths, each once.
    pub files: Vec<PathBuf>,
}

pub fn is_main_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| MAIN_FILE_NAMES.contains(&n))
}

/// Reads the tree under `main`. `trust_server_root`: follow the main file's
/// `ServerRoot` even when the main file does not lie below it (true for a
/// file named with `--config`; a tree found in a walk may be a copy from
/// another machine, whose ServerRoot would point into this machine's
/// live config).
pub fn discover(main: &Path, trust_server_root: bool) -> Server {
    let main = main.canonicalize().unwrap_or_else(|_| main.to_path_buf());
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(sr) = server_root(&main) {
        if sr.is_dir() && (trust_server_root || main.starts_with(&sr)) {
            roots.push(sr);
        }
    }
    if let Some(dir) = main.parent() {
        roots.push(dir.to_path_buf());
        if let Some(up) = dir.parent() {
            roots.push(up.to_path_buf());
        }
    }
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    follow(&main, &roots, 0, &mut files, &mut seen);
    Server { main, files }
}

fn server_root(main: &Path) -> Option<PathBuf> {
    let bytes = std::fs::read(main).ok()?;
    let tree = syntax::parse(&bytes).ok()?;
    let mut root = None;
    syntax::visit_lines(&tree.nodes, &mut |l| {
        if root.is_none() && l.kind == LineKind::Directive && l.name_is("ServerRoot") {
            root = l
                .args()
                .first()
                .map(|a| PathBuf::from(String::from_utf8_lossy(a).into_owned()));
        }
    });
    root
}

fn follow(
    file: &Path,
    roots: &[PathBuf],
    depth: usize,
    files: &mut Vec<PathBuf>,
    seen: &mut HashSet<PathBuf>,
) {
    if depth > MAX_INCLUDE_DEPTH || !seen.insert(file.to_path_buf()) {
        return;
    }
    files.push(file.to_path_buf());
    let Ok(bytes) = std::fs::read(file) else {
        return;
    };
    let Ok(tree) = syntax::parse(&bytes) else {
        return;
    };
    let mut includes = Vec::new();
    collect_includes(&tree.nodes, &mut includes);
    for pattern in includes {
        for path in resolve(&pattern, roots) {
            let path = path.canonicalize().unwrap_or(path);
            follow(&path, roots, depth + 1, files, seen);
        }
    }
}

/// Include patterns in file order; every branch of a conditional counts, as
/// its truth is unknown here. Macro bodies are not config until used.
fn collect_includes(nodes: &[Node], out: &mut Vec<String>) {
    for n in nodes {
        match n {
            Node::Line(l)
                if l.kind == LineKind::Directive
                    && (l.name_is("Include") || l.name_is("IncludeOptional")) =>
            {
                let text = l.logical();
                let (_, rest) = logical::split_name(&text);
                if let Some(w) = logical::words(rest).first() {
                    out.push(String::from_utf8_lossy(w).into_owned());
                }
            }
            Node::Section(s) if !s.name_is("Macro") => collect_includes(&s.children, out),
            _ => {}
        }
    }
}

/// What a pattern names: relative to the first root where it names anything;
/// wildcards per path component (not matching a leading `.`); a directory
/// means every file below it; results in byte order, as httpd sorts them.
fn resolve(pattern: &str, roots: &[PathBuf]) -> Vec<PathBuf> {
    let candidates: Vec<PathBuf> = if Path::new(pattern).is_absolute() {
        vec![PathBuf::from(pattern)]
    } else {
        roots.iter().map(|r| r.join(pattern)).collect()
    };
    for c in candidates {
        let found = expand(&c);
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn expand(path: &Path) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::from("/")];
    let comps: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let mut next = Vec::new();
        for base in &current {
            if has_wildcard(comp) {
                let Ok(glob) = globset::GlobBuilder::new(comp)
                    .literal_separator(true)
                    .build()
                else {
                    continue;
                };
                let m = glob.compile_matcher();
                let mut entries: Vec<PathBuf> = std::fs::read_dir(base)
                    .map(|rd| rd.flatten().map(|e| e.path()).collect())
                    .unwrap_or_default();
                entries.sort();
                for e in entries {
                    let name = e
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if name.starts_with('.') && !comp.starts_with('.') {
                        continue;
                    }
                    // A wildcard in a directory component matches only directories.
                    if m.is_match(&name) && (last || e.is_dir()) {
                        next.push(e);
                    }
                }
            } else {
                let p = base.join(comp);
                if p.exists() {
                    next.push(p);
                }
            }
        }
        current = next;
    }
    let mut out = Vec::new();
    for p in current {
        if p.is_dir() {
            all_files(&p, &mut out, 0);
        } else if p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > MAX_INCLUDE_DEPTH {
        return;
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            all_files(&e, out, depth + 1);
        } else if e.is_file() {
            out.push(e);
        }
    }
}

/// The daemon names one file defines (with lines) and selects.
#[derive(Debug, Clone, Default)]
struct FileNames {
    defined: Vec<(String, u32)>,
    selected: BTreeSet<String>,
}

fn names_of(path: &Path) -> FileNames {
    let mut out = FileNames::default();
    let Ok(bytes) = std::fs::read(path) else {
        return out;
    };
    let Ok(tree) = syntax::parse(&bytes) else {
        return out;
    };
    let a = analyse(&tree);
    out.defined = a
        .daemons
        .iter()
        .map(|d| (d.name.clone(), d.site.line))
        .collect();
    out.selected.extend(
        a.groups
            .iter()
            .filter(|g| g.kind == GroupKind::Process)
            .map(|g| g.value.clone()),
    );
    for m in &a.mounts {
        if let Some(o) = m.args.option("process-group") {
            out.selected.insert(o.value.clone());
        }
    }
    for s in &a.imports {
        if let Some(o) = s.args.option("process-group") {
            out.selected.insert(o.value.clone());
        }
    }
    out
}

/// The context of every file of `server`: one shared index of the server's
/// daemon names, and the file's place in it. Building it reads each file
/// once; its size grows with the server's names, not with files squared.
pub fn contexts(server: &Server) -> BTreeMap<PathBuf, ServerContext> {
    let mut names = ServerNames {
        files: server
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
        ..ServerNames::default()
    };
    for (i, file) in server.files.iter().enumerate() {
        let FileNames { defined, selected } = names_of(file);
        for (name, line) in defined {
            names.defined.entry(name).or_default().push((i, line));
        }
        for name in selected {
            names.selected.entry(name).or_default().push(i);
        }
    }
    let names = Arc::new(names);
    server
        .files
        .iter()
        .enumerate()
        .map(|(file, path)| {
            let ctx = ServerContext {
                names: Some(Arc::clone(&names)),
                file,
            };
            (path.clone(), ctx)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_layout_is_followed_in_httpd_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sites-enabled")).unwrap();
        std::fs::create_dir_all(root.join("conf-enabled")).unwrap();
        std::fs::write(
            root.join("apache2.conf"),
            "Include ports.conf\nIncludeOptional conf-enabled/*.conf\nIncludeOptional sites-enabled/*.conf\nIncludeOptional missing/*.conf\n",
        )
        .unwrap();
        std::fs::write(root.join("ports.conf"), "Listen 80\n").unwrap();
        std::fs::write(root.join("conf-enabled/b.conf"), "WSGIDaemonProcess b\n").unwrap();
        std::fs::write(root.join("conf-enabled/a.conf"), "WSGIDaemonProcess a\n").unwrap();
        std::fs::write(root.join("conf-enabled/.hidden.conf"), "x\n").unwrap();
        std::fs::write(root.join("sites-enabled/site.conf"), "WSGIProcessGroup b\n").unwrap();
        let s = discover(&root.join("apache2.conf"), false);
        let names: Vec<String> = s
            .files
            .iter()
            .map(|p| {
                p.strip_prefix(root.canonicalize().unwrap())
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            names,
            [
                "apache2.conf",
                "ports.conf",
                "conf-enabled/a.conf",
                "conf-enabled/b.conf",
                "sites-enabled/site.conf"
            ]
        );
        let ctx = contexts(&s);
        let site = &ctx[&s.files[4]];
        assert!(site.defined_elsewhere("a") && site.defined_elsewhere("b"));
        let a = &ctx[&s.files[2]];
        assert!(a.selected_elsewhere("b") && !a.defined_elsewhere("a"));
        assert!(a.defined_before("a").is_none());
        assert_eq!(
            ctx[&s.files[3]].defined_before("a").map(|(_, l)| l),
            Some(1)
        );
    }

    #[test]
    fn include_cycles_end() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("httpd.conf"), "Include other.conf\n").unwrap();
        std::fs::write(root.join("other.conf"), "Include httpd.conf\n").unwrap();
        let s = discover(&root.join("httpd.conf"), false);
        assert_eq!(s.files.len(), 2);
    }
}
