//! Preloads: a `WSGIScriptAlias` with both group options, and every
//! `WSGIImportScript`, load their script when httpd starts, so mod_wsgi
//! checks their daemon while it reads the config (modwsgi.md §2.1): it must
//! be defined before, and be one the preload's scope may use. Otherwise
//! httpd refuses to start.

use super::options::WsgiArgs;
use super::{Analysis, MountKind, Site};

/// Each preload whose daemon fails mod_wsgi's check, with mod_wsgi's words:
/// defined only later, or only in vhosts the preload's may not use.
pub fn unmet_preloads(a: &Analysis) -> Vec<(&Site, &'static str)> {
    let mounts = a.mounts.iter().map(|m| {
        let templated = m.kind == MountKind::AliasMatch && m.target.contains('$');
        (&m.site, &m.args, templated)
    });
    let imports = a.imports.iter().map(|i| (&i.site, &i.args, false));
    mounts
        .chain(imports)
        .filter_map(|(site, args, templated)| {
            let name = preloaded_daemon(args, templated)?;
            let earlier: Vec<_> = a
                .daemons_named(name)
                .map(|(_, d)| d)
                .filter(|d| d.site.order < site.order)
                .collect();
            let usable = |scope: usize| {
                scope == 0
                    || scope == site.scope
                    || (site.scope != 0 && a.server_name_of(scope) == a.server_name_of(site.scope))
            };
            if earlier.iter().any(|d| usable(d.site.scope)) {
                None
            } else if earlier.is_empty() {
                // Defined nowhere here: maybe in a file read before this one
                // (WSGI004 says what is known).
                a.daemons_named(name).next()?;
                Some((site, "WSGI process group not yet configured."))
            } else {
                Some((site, "WSGI process group not accessible."))
            }
        })
        .collect()
}

/// The daemon a preload needs: both options set, neither chosen per
/// request, and a real daemon rather than the embedded interpreters.
fn preloaded_daemon(args: &WsgiArgs, templated: bool) -> Option<&str> {
    let p = args.option("process-group")?;
    let g = args.option("application-group")?;
    let dynamic = |v: &str| v.contains("%{") && v != "%{GLOBAL}";
    let preloads = !(dynamic(&p.value) || dynamic(&g.value) || templated);
    let checked = !p.value.is_empty() && p.value != "%{GLOBAL}";
    (preloads && checked).then_some(p.value.as_str())
}
