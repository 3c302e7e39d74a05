//! A first walk over names only, before anything is read, for what a run
//! must know up front: whether a main config claims the tree (then the
//! run is a plan of servers), and which files a walk can meet twice; on
//! its way it hands each directory of taken files to the caller, to be
//! swept of leftovers before anything is read. Its cost is a directory
//! listing, a stat per link and one small read; what it keeps grows with
//! the links and the depth of the tree, not with the files.

use crate::collections::HashSet;
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
    /// Files taken, counting one reached twice twice (for progress).
    pub files: u64,
    /// What the streaming walk must remember (see [`Seen::Known`]).
    pub seen: Seen,
}

/// Walks `paths` as a run would, reading nothing but the first file that
/// is configuration, and stopping at the first main config. `each_dir` is
/// called once for every directory of a taken file (rarely twice: when
/// walk roots overlap), before the walk goes on past it.
pub fn survey(paths: &[PathBuf], filters: &Filters, each_dir: &mut dyn FnMut(&Path)) -> Survey {
    let mut s = Survey::default();
    let mut walk = Walk::new(paths, filters, Seen::Gather(HashSet::default()));
    // The directories from the walk's root down to the current one: a
    // depth-first walk never comes back to a directory it has left, so a
    // directory not on this path is new, and nothing else is kept.
    let mut open: Vec<PathBuf> = Vec::new();
    let mut file = |s: &mut Survey, p: &Path| {
        s.files += 1;
        s.has_main |= server::is_main_file(p);
        let Some(d) = p.parent() else { return };
        while open.last().is_some_and(|top| !d.starts_with(top)) {
            open.pop();
        }
        if open.last().is_none_or(|top| top != d) {
            each_dir(d);
            open.push(d.to_path_buf());
        }
    };
    // A main config ends the survey: the run then plans servers, which
    // walks and sweeps on its own, and nothing more is needed from here.
    while let Some(w) = walk.next().filter(|_| !s.has_main) {
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
        Seen::All(HashSet::default())
    }
}
