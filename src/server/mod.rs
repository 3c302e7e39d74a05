//! A server is one httpd configuration: a main file and every file its
//! `Include`/`IncludeOptional` directives reach, read the way httpd reads
//! them (apache-syntax.md §7). httpd builds one tree of `ap_directive_t`
//! nodes for it, each knowing its file and line; here the per-file lossless
//! trees stay the storage and the server is a view over them: every Include
//! directive is mapped to the files it reads, so a walk of the server expands
//! each Include where it stands and every node it meets is still addressed
//! by (file, path in that file's tree), where edits go back to.

pub mod discover;
pub mod fs;
pub mod names;
pub mod vars;

pub use discover::{
    default_server_root, discover_server, Diagnostic, DiscoverOptions, Discovery, Read,
};
pub use names::contexts;

use crate::analysis::NodePath;
use crate::collections::HashMap;
use crate::syntax::SyntaxTree;
use std::path::{Path, PathBuf};

/// Index of a file in [`ServerModel::files`].
pub type FileId = usize;

/// One file of a server, parsed.
#[derive(Debug, Clone)]
pub struct ServerFile {
    /// The path as the user sees it (as named, or as an Include reached it).
    pub path: PathBuf,
    /// Where the bytes really are (symlinks resolved); what a write replaces.
    pub real: PathBuf,
    /// The bytes read, shared with the tree's lines.
    pub source: crate::syntax::SharedBytes,
    /// Shared with the engine's copy of the server, which edits a tree only
    /// by replacing it: an unedited file is held once.
    pub tree: std::sync::Arc<SyntaxTree>,
}

/// A whole server as httpd reads it.
#[derive(Debug, Clone, Default)]
pub struct ServerModel {
    /// The main config first; each file once, however often it is included.
    pub files: Vec<ServerFile>,
    /// Each `Include`/`IncludeOptional` directive, by (file, node path), to
    /// the files it reads, in httpd's order. A file included from two places
    /// is listed under both directives.
    pub includes: HashMap<(FileId, NodePath), Vec<FileId>>,
}

impl ServerModel {
    /// A file on its own: a server of one file whose Includes are not followed.
    pub fn single(
        path: PathBuf,
        source: crate::syntax::SharedBytes,
        tree: SyntaxTree,
    ) -> ServerModel {
        ServerModel {
            files: vec![ServerFile {
                real: path.clone(),
                path,
                source,
                tree: std::sync::Arc::new(tree),
            }],
            includes: HashMap::default(),
        }
    }

    /// The files an Include directive at (file, path) reads, if it was followed.
    pub fn included_by(&self, file: FileId, path: &[usize]) -> &[FileId] {
        self.includes
            .get(&(file, path.to_vec()))
            .map_or(&[], Vec::as_slice)
    }
}

/// File names that mark a server's main config when a walk meets them.
pub const MAIN_FILE_NAMES: &[&str] = &["apache2.conf", "httpd.conf"];

pub fn is_main_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| MAIN_FILE_NAMES.contains(&n))
}

/// The main config of a system configuration directory: `apache2.conf`
/// (Debian), `conf/httpd.conf` (RHEL's /etc/httpd, upstream's prefix) or
/// `httpd.conf` (upstream's conf/ itself).
pub fn main_config_in(dir: &Path) -> Option<PathBuf> {
    ["apache2.conf", "conf/httpd.conf", "httpd.conf"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}
