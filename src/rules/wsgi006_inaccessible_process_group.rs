//! WSGI006 inaccessible-process-group: an app selects a daemon that its
//! vhost may not use.

use super::issue::{accessible_daemon, describe, CheckCtx, Issue, IssueKind};
use super::registry::RuleInfo;
use crate::analysis::GroupKind;

pub const RULE: RuleInfo = RuleInfo {
    code: "WSGI006",
    name: "inaccessible-process-group",
    summary: "an application selects a daemon process group its vhost cannot use",
    has_fix: false,
    explanation: "\
A daemon process group defined inside a <VirtualHost> may be used only by
vhosts with the same ServerName (ServerAlias does not count); one defined
outside every vhost may be used by all. An app whose effective process group
names a daemon of a vhost with another ServerName gets 500 on every request,
and mod_wsgi logs `Daemon process called 'X' cannot be accessed by this WSGI
application`. httpd starts anyway.

No automatic fix: define the daemon outside every vhost, or in the app's own
vhost under another name, and select that.",
};

pub fn check(ctx: &CheckCtx) -> Vec<Issue> {
    let a = ctx.a;
    let mut out = Vec::new();
    for v in ctx.daemon_views() {
        let (pg, m) = (v.pg, v.mount);
        if pg.is_global() || pg.is_dynamic() {
            continue;
        }
        let Some((_, d)) = a.daemons_named(&pg.value).next() else {
            continue;
        };
        // A preload of it is what httpd refuses to start with: an error.
        let preloads =
            crate::analysis::preload::preloaded_daemon(&m.args, m.target_takes_url_parts())
                .is_some();
        if preloads || accessible_daemon(a, &pg.value, v.scope).is_some() {
            continue;
        }
        let from = m.site.file;
        let owner = a.server_name_of(d.site.scope).unwrap_or("(none)");
        let mine = a.server_name_of(v.scope).unwrap_or("(none)");
        out.push(Issue::new(
            RULE.code,
            &m.site,
            format!(
                "WSGI application {}{} selects daemon process group '{}' ({}), defined at {} in a <VirtualHost> of ServerName {owner}, while the app's ServerName is {mine}: every request fails with 500: Daemon process called '{}' cannot be accessed by this WSGI application",
                describe(m),
                ctx.where_text(m, v.scope),
                pg.value,
                ctx.source_text(from, pg, GroupKind::Process),
                ctx.at(from, &d.site),
                pg.value
            ),
            IssueKind::ReportOnly(None),
        ));
    }
    out
}
