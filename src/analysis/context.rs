//! What the other files of a server define and select, for a file that is
//! processed on its own (`engine::process_in`): daemon names are global to a
//! server. The server analysis (`analyse_server`) sees all of this itself;
//! this is for callers that still process one file at a time.

use crate::collections::HashMap;
use std::sync::Arc;

/// Daemon names across the files of one server (an httpd config tree),
/// built once per server and shared by all its files.
#[derive(Debug, Default)]
pub struct ServerNames {
    /// The server's files, in httpd's reading order, as shown to users.
    pub files: Vec<String>,
    /// Name → its definitions as (file index, line), in reading order.
    pub defined: HashMap<String, Vec<(usize, u32)>>,
    /// Name → the files that select it (WSGIProcessGroup, process-group=).
    pub selected: HashMap<String, Vec<usize>>,
}

/// One file's view of its server. The default is a file on its own.
#[derive(Debug, Clone, Default)]
pub struct ServerContext {
    pub names: Option<Arc<ServerNames>>,
    /// This file's index in `names.files`.
    pub file: usize,
}

impl ServerContext {
    /// Is `name` defined by another file of the server?
    pub fn defined_elsewhere(&self, name: &str) -> bool {
        self.names.as_ref().is_some_and(|n| {
            n.defined
                .get(name)
                .is_some_and(|d| d.iter().any(|(f, _)| *f != self.file))
        })
    }

    /// The first definition of `name` in a file httpd reads before this one.
    pub fn defined_before(&self, name: &str) -> Option<(&str, u32)> {
        let n = self.names.as_ref()?;
        let &(f, line) = n.defined.get(name)?.iter().find(|(f, _)| *f < self.file)?;
        Some((n.files[f].as_str(), line))
    }

    /// Does another file of the server select `name`?
    pub fn selected_elsewhere(&self, name: &str) -> bool {
        self.names.as_ref().is_some_and(|n| {
            n.selected
                .get(name)
                .is_some_and(|f| f.iter().any(|f| *f != self.file))
        })
    }
}
