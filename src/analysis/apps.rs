//! The app instances of a server, for users (`--list-apps`): like
//! `apachectl -S` for WSGI, each value with the file:line it comes from.

use super::{analyse_server, Analysis, GroupKind, Resolved, Site, Source};
use crate::server::ServerModel;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppInstance {
    /// "ServerName:port"; `None` for the main server.
    pub vhost: Option<String>,
    pub vhost_source: Option<(PathBuf, u32)>,
    pub mount: String,
    pub script: String,
    pub mount_source: (PathBuf, u32),
    pub process_group: Effective,
    pub application_group: Effective,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Effective {
    /// "" = embedded (process group) / main interpreter (application group).
    pub value: String,
    /// The daemon's `user=`, for a process group.
    pub user: Option<String>,
    /// The file:line giving the value; `None` = the default.
    pub source: Option<(PathBuf, u32)>,
    /// False when a regex section might change the value and whether it
    /// does could not be worked out: the value is then only the likeliest.
    pub certain: bool,
}

/// One row per instance, in the order httpd reads the server.
pub fn instances(model: &ServerModel) -> Vec<AppInstance> {
    instances_of(&analyse_server(model), model)
}

pub(crate) fn instances_of(a: &Analysis, model: &ServerModel) -> Vec<AppInstance> {
    let place = |site: &Site| -> (PathBuf, u32) {
        let path = model
            .files
            .get(site.file)
            .map(|f| f.path.clone())
            .unwrap_or_default();
        (path, site.line)
    };
    let effective = |r: &Resolved, m: &Site, kind: GroupKind, scope: usize| -> Effective {
        let value = if r.is_global() {
            String::new()
        } else {
            r.value.clone()
        };
        let source = match &r.source {
            Source::AliasOption => Some(place(m)),
            Source::Directive(g) => Some(place(&a.groups[*g].site)),
            Source::Default => None,
        };
        let user = (kind == GroupKind::Process)
            .then(|| {
                a.daemons_named(&r.value)
                    .map(|(_, d)| d)
                    .find(|d| a.accessible(d, scope))
                    .and_then(|d| d.args.option("user"))
                    .map(|o| o.value.to_string())
            })
            .flatten();
        Effective {
            value,
            user,
            source,
            certain: r.is_certain(),
        }
    };
    a.instances
        .iter()
        .enumerate()
        .map(|(i, inst)| {
            let m = &a.mounts[inst.mount];
            let s = &a.scopes[inst.scope];
            let vhost_source = s.is_vhost.then(|| {
                let path = model
                    .files
                    .get(s.file)
                    .map(|f| f.path.clone())
                    .unwrap_or_default();
                (path, s.line)
            });
            AppInstance {
                vhost: a.scope_label(inst.scope),
                vhost_source,
                mount: m.url.clone().unwrap_or_default(),
                script: m.target.clone(),
                mount_source: place(&m.site),
                process_group: effective(
                    a.effective_of(i, GroupKind::Process),
                    &m.site,
                    GroupKind::Process,
                    inst.scope,
                ),
                application_group: effective(
                    a.effective_of(i, GroupKind::Application),
                    &m.site,
                    GroupKind::Application,
                    inst.scope,
                ),
            }
        })
        .collect()
}
