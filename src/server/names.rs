//! The daemon names of a whole server, for the per-file engine: httpd keeps
//! one name space per server, so each file is checked knowing what the other
//! files define and select. Built from the trees discovery already parsed.

use super::ServerModel;
use crate::analysis::{analyse, GroupKind, ServerContext, ServerNames};
use std::sync::Arc;

/// The context of every file of `model`, by [`super::FileId`]: one shared
/// index of the server's daemon names and the file's place in it.
pub fn contexts(model: &ServerModel) -> Vec<ServerContext> {
    let mut names = ServerNames {
        files: model
            .files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect(),
        ..ServerNames::default()
    };
    for (i, file) in model.files.iter().enumerate() {
        // Only mod_wsgi directives define or select daemons.
        if !file
            .source
            .windows(4)
            .any(|w| w.eq_ignore_ascii_case(b"wsgi"))
        {
            continue;
        }
        let a = analyse(&file.tree);
        for d in &a.daemons {
            names
                .defined
                .entry(d.name.clone())
                .or_default()
                .push((i, d.site.line));
        }
        let mut selected: Vec<String> = a
            .groups
            .iter()
            .filter(|g| g.kind == GroupKind::Process)
            .map(|g| g.value.clone())
            .collect();
        for args in a
            .mounts
            .iter()
            .map(|m| &m.args)
            .chain(a.imports.iter().map(|s| &s.args))
        {
            if let Some(o) = args.option("process-group") {
                selected.push(o.value.to_string());
            }
        }
        selected.sort();
        selected.dedup();
        for name in selected {
            names.selected.entry(name).or_default().push(i);
        }
    }
    let names = Arc::new(names);
    (0..model.files.len())
        .map(|file| ServerContext {
            names: Some(Arc::clone(&names)),
            file,
        })
        .collect()
}
