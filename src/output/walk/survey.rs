//! A first walk over names only, before anything is read, for what a run
//! must know up front: whether a main config claims the tree (then the
//! run is a plan of servers), which directories to sweep of leftovers
//! before they are read, and which files a walk can meet twice. Its cost
//! is a directory listing, a stat per link and one small read; what it
//! keeps grows with the directories and links, not with the files.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use super::{sniff, Filters, Item, Seen, Walk, Walked};
use crate::server;

#[derive(Debug, Default)]
pub struct Survey {
    /// A taken file is an `apache2.conf` or `httpd.conf`.
    pub has_main: bool,
    /// Something is to be reported: a file that is configuration (sniffed
    /// until one is), standard input, an explicit path or an error.
    pub anything: bool,
    pub reads_stdin: bool,
    /// The directories of the files taken.
    pub dirs: BTreeSet<PathBuf>,
    /// Files taken, counting one reached twice twice (for progress).
    pub files: u64,
    /// What the streaming walk must remember (see [`Seen::Known`]).
    pub seen: Seen,
}

/// Walks `paths` as a run would, reading nothing but the first file that
/// is configuration.
pub fn survey(paths: &[PathBuf], filters: &Filters) -> Survey {
    let mut s = Survey::default();
    let mut walk = Walk::new(paths, filters, Seen::Gather(HashSet::new()));
    fn file(s: &mut Survey, p: &Path) {
        s.files += 1;
        s.has_main |= server::is_main_file(p);
        if let Some(d) = p.parent() {
            if !s.dirs.contains(d) {
                s.dirs.insert(d.to_path_buf());
            }
        }
    }
    for w in walk.by_ref() {
        match w {
            Walked::Note(_) => {}
            Walked::File(p) => {
                file(&mut s, &p);
                s.anything = s.anything || sniff(&p).is_none();
            }
            Walked::Item(Item::File(p)) => {
                file(&mut s, &p);
                s.anything = true;
            }
            Walked::Item(i) => {
                s.anything = true;
                s.reads_stdin |= i == Item::Stdin;
            }
        }
    }
    s.seen = walk.into_known();
    s
}

impl Default for Seen {
    fn default() -> Seen {
        Seen::All(HashSet::new())
    }
}
