//! The files of one Include walked in parallel, each into an analysis of
//! its own, then joined in read order so that the result is the one walk
//! of the server file after file would give.
//!
//! A part walks its file from the Include's context with its own numbering:
//! scope 0 is the main server (shared), read order starts at 0. Joining
//! shifts each part's vhosts and read order behind the parts before it.

use super::{PendingHandler, Walk};
use crate::analysis::{Analysis, FileId, Scope, Site};
use crate::server::vars::Vars;
use rayon::prelude::*;

/// The walk of a run of files.
struct Part {
    analysis: Analysis,
    handlers: Vec<PendingHandler>,
    /// A `Define`/`UnDefine` or `LoadModule` was read: what it decides in
    /// the parts after it, walked beside it, was not known to them.
    defines_changed: bool,
    /// The `Define`s at its end.
    vars: Vars,
    /// The modules loaded at its end.
    modules: Vec<String>,
    /// Nodes walked, Includes expanded: how far it moves the read order.
    nodes: usize,
}

/// How a part's numbering maps into the joined analysis.
struct Shift {
    /// Read order of the last node before the part.
    order: usize,
    /// Added to a part's vhost scopes (its scope 0 is the main server).
    scopes: usize,
    /// Sections around the Include: every site of the part is inside them,
    /// and they already carry the joined read order.
    enclosing: usize,
}

impl Shift {
    fn scope(&self, scope: usize) -> usize {
        if scope == 0 {
            0
        } else {
            scope + self.scopes
        }
    }

    fn site(&self, site: &mut Site) {
        site.scope = self.scope(site.scope);
        site.order += self.order;
        for s in site.sections.iter_mut().skip(self.enclosing) {
            s.order += self.order;
        }
    }
}

impl Walk<'_, '_> {
    /// Walks `files` in a few runs of consecutive files, one per task: a
    /// part per file would cost more to join than its walk saves.
    /// Returns the files still to walk, in order: those after a part that
    /// read a `Define` (the parts walked beside it did not know it).
    pub(super) fn include_in_parallel<'f>(
        &mut self,
        files: &'f [FileId],
        a: &mut Analysis,
    ) -> &'f [FileId] {
        let run = files
            .len()
            .div_ceil(4 * rayon::current_num_threads())
            .max(1);
        let parts: Vec<Part> = files.par_chunks(run).map(|r| self.part(r)).collect();
        let keep = parts
            .iter()
            .position(|p| p.defines_changed)
            .map_or(parts.len(), |i| i + 1);
        for part in parts.into_iter().take(keep) {
            self.vars = part.vars.clone();
            self.modules = part.modules.clone();
            self.join(part, a);
        }
        &files[(keep * run).min(files.len())..]
    }

    fn part(&self, files: &[FileId]) -> Part {
        let mut analysis = Analysis {
            scopes: vec![Scope::default()],
            ..Analysis::default()
        };
        let mut walk = Walk {
            view: self.view,
            file: 0,
            scope: 0,
            sections: self.sections.clone(),
            defines: self.defines.clone(),
            vars: self.vars.clone(),
            modules: self.modules.clone(),
            defines_changed: false,
            path: Vec::new(),
            order: 0,
            depth: self.depth + 1,
            handlers: Vec::new(),
            parallel: false,
        };
        for &file in files {
            if let Some(tree) = self.view.trees.get(file) {
                walk.file = file;
                walk.walk(&tree.nodes, &mut analysis);
            }
        }
        Part {
            analysis,
            defines_changed: walk.defines_changed,
            vars: walk.vars,
            modules: walk.modules,
            handlers: walk.handlers,
            nodes: walk.order,
        }
    }

    fn join(&mut self, part: Part, a: &mut Analysis) {
        let p = part.analysis;
        let shift = Shift {
            order: self.order,
            scopes: a.scopes.len() - 1,
            enclosing: self.sections.len(),
        };
        self.order += part.nodes;
        self.handlers
            .extend(part.handlers.into_iter().map(|h| PendingHandler {
                mount: h.mount + a.mounts.len(),
                aliases_seen: h.aliases_seen + a.aliases.len(),
            }));
        let mut scopes = p.scopes.into_iter().map(|mut s| {
            if s.server_name.is_some() {
                s.server_name_order += shift.order;
            }
            s
        });
        if let Some(main) = scopes.next() {
            if let Some(name) = main.server_name {
                if a.scopes[0].server_name.is_none() {
                    a.scopes[0].server_name_order = main.server_name_order;
                }
                a.scopes[0].server_name = Some(name);
            }
        }
        a.scopes.extend(scopes);
        a.daemons.extend(p.daemons.into_iter().map(|mut d| {
            shift.site(&mut d.site);
            d
        }));
        a.mounts.extend(p.mounts.into_iter().map(|mut m| {
            // The handler's section is the innermost around it: the part's
            // own when the site has more sections than the Include has.
            if m.site.sections.len() > shift.enclosing {
                if let Some(s) = &mut m.handler_section {
                    s.order += shift.order;
                }
            }
            shift.site(&mut m.site);
            m
        }));
        a.groups.extend(p.groups.into_iter().map(|mut g| {
            shift.site(&mut g.site);
            g
        }));
        a.imports.extend(p.imports.into_iter().map(|mut i| {
            shift.site(&mut i.site);
            i
        }));
        a.errors.extend(p.errors.into_iter().map(|mut e| {
            shift.site(&mut e.site);
            e
        }));
        a.restricted_scopes
            .extend(p.restricted_scopes.into_iter().map(|s| shift.scope(s)));
        a.aliases.extend(
            p.aliases
                .into_iter()
                .map(|(scope, url, target)| (shift.scope(scope), url, target)),
        );
        a.listen_ports.extend(p.listen_ports);
        if p.python_path.is_some() {
            a.python_path = p.python_path;
        }
        if p.python_home.is_some() {
            a.python_home = p.python_home;
        }
        a.windows |= p.windows;
        a.too_deep |= p.too_deep;
        a.templates.extend(p.templates.into_iter().map(|mut t| {
            t.order += shift.order;
            t
        }));
        a.scope_handlers
            .extend(p.scope_handlers.into_iter().map(|(mut site, extensions)| {
                shift.site(&mut site);
                (site, extensions)
            }));
        a.exec_cgi.extend(p.exec_cgi.into_iter().map(|mut site| {
            shift.site(&mut site);
            site
        }));
        a.macro_uses.extend(p.macro_uses.into_iter().map(|mut u| {
            shift.site(&mut u.site);
            u
        }));
    }
}
