//! Preloads: a `WSGIScriptAlias` with both group options, and every
//! `WSGIImportScript`, load their script when httpd starts, so mod_wsgi
//! checks their daemon while it reads the config (modwsgi.md §2.1): it must
//! be defined before, and be one the preload's scope may use. Otherwise
//! httpd refuses to start.

use super::options::WsgiArgs;
use super::{host_of, Analysis, Site};

/// Each preload whose daemon fails mod_wsgi's check, with mod_wsgi's words:
/// defined only later; defined in a vhost of another ServerName; or one of
/// the two vhosts has no ServerName yet where the preload is read.
pub fn unmet_preloads(a: &Analysis) -> Vec<(&Site, &'static str)> {
    let mounts = a
        .mounts
        .iter()
        .map(|m| (&m.site, &m.args, m.target_takes_url_parts()));
    let imports = a.imports.iter().map(|i| (&i.site, &i.args, false));
    mounts
        .chain(imports)
        .filter_map(|(site, args, templated)| {
            let name = preloaded_daemon(args, templated)?;
            // mod_wsgi takes the first definition read so far.
            let Some((_, d)) = a
                .daemons_named(name)
                .find(|(_, d)| d.site.order < site.order)
            else {
                // Defined nowhere here: maybe in a file read before this one
                // (WSGI004 says what is known).
                a.daemons_named(name).next()?;
                return Some((site, "WSGI process group not yet configured."));
            };
            // One of the main server serves every vhost.
            if d.site.scope == 0 {
                return None;
            }
            // The ServerNames as read so far: a vhost's is unset until its
            // ServerName line.
            let name_then = |scope: usize| {
                let s = &a.scopes[scope];
                let name = s.server_name.as_deref()?;
                (s.server_name_order < site.order).then(|| host_of(name))
            };
            match (name_then(site.scope), name_then(d.site.scope)) {
                (Some(mine), Some(theirs)) if mine != theirs => {
                    Some((site, "WSGI process group not accessible."))
                }
                (None, Some(_)) | (Some(_), None) => {
                    Some((site, "WSGI process group not matchable."))
                }
                _ => None,
            }
        })
        .collect()
}

/// The daemon a preload needs: both options set, neither chosen per
/// request, and a real daemon rather than the embedded interpreters.
pub fn preloaded_daemon(args: &WsgiArgs, templated: bool) -> Option<&str> {
    let p = args.option("process-group")?;
    let g = args.option("application-group")?;
    let dynamic = |v: &str| v.contains("%{") && v != "%{GLOBAL}";
    let preloads = !(dynamic(&p.value) || dynamic(&g.value) || templated);
    let checked = !p.value.is_empty() && p.value != "%{GLOBAL}";
    (preloads && checked).then_some(p.value.as_str())
}
