//! WSGI004 undefined-process-group: a selection names no daemon.

use super::issue::{is_defined, CheckCtx, Issue, IssueKind};
use super::registry::RuleInfo;
use crate::analysis::{GroupKind, Source};

pub const RULE: RuleInfo = RuleInfo {
    code: "WSGI004",
    name: "undefined-process-group",
    summary: "WSGIProcessGroup names a daemon process group that is not defined",
    has_fix: false,
    explanation: "\
A WSGIProcessGroup directive or process-group= option names a daemon process
group that no WSGIDaemonProcess of the server defines. httpd starts anyway,
and every request to an application that uses it fails with 500 and `No WSGI
daemon process called 'X' has been configured`. When the process-group=
option of an app's alias overrides the directive, that app does not use it.

No automatic fix: the intended name cannot be guessed. The message lists the
daemon names that are defined.",
};

pub fn check(ctx: &CheckCtx) -> Vec<Issue> {
    let a = ctx.a;
    let mut names: Vec<&str> = a.daemons.iter().map(|d| d.name.as_str()).collect();
    names.sort();
    names.dedup();
    let defined = if names.is_empty() {
        let whole = if ctx.files.len() > 1 {
            "the server's files"
        } else {
            "this file"
        };
        format!("none is defined in {whole}")
    } else {
        format!("defined: {}", names.join(", "))
    };
    let undefined = |value: &str| {
        !value.is_empty()
            && value != "%{GLOBAL}"
            && !value.contains("%{")
            && !value.contains("${")
            && !is_defined(ctx, value)
    };
    let mut out = Vec::new();
    for (gi, g) in a.groups.iter().enumerate() {
        if g.kind != GroupKind::Process || !undefined(&g.value) {
            continue;
        }
        let message = format!(
            "WSGIProcessGroup names daemon process group '{}', which is not defined ({defined}){}",
            g.value,
            usage(ctx, gi, &g.value)
        );
        out.push(Issue::new(
            RULE.code,
            &g.site,
            message,
            IssueKind::ReportOnly(None),
        ));
    }
    for m in &a.mounts {
        if let Some(o) = m
            .args
            .option("process-group")
            .filter(|o| undefined(&o.value))
        {
            out.push(Issue::new(
                RULE.code,
                &m.site,
                format!(
                    "process-group= names daemon process group '{}', which is not defined ({defined}): every request to {} fails with 500",
                    o.value,
                    m.url.as_deref().unwrap_or(&m.target)
                ),
                IssueKind::ReportOnly(None),
            ));
        }
    }
    for s in &a.imports {
        if let Some(o) = s
            .args
            .option("process-group")
            .filter(|o| undefined(&o.value))
        {
            out.push(Issue::new(
                RULE.code,
                &s.site,
                format!(
                    "WSGIImportScript process-group= names daemon process group '{}', which is not defined ({defined})",
                    o.value
                ),
                IssueKind::ReportOnly(None),
            ));
        }
    }
    out
}

/// Who the dead directive hurts: the apps it is effective for fail on every
/// request; where an alias option overrides it, it is merely unused.
fn usage(ctx: &CheckCtx, gi: usize, name: &str) -> String {
    let a = ctx.a;
    let mut failing = Vec::new();
    let mut overridden = Vec::new();
    let scope = a.groups[gi].site.scope;
    let reached: Vec<usize> = match scope {
        0 => (0..a.instances.len()).collect(),
        s => a.instances_in_scope(s).to_vec(),
    };
    for i in reached {
        let inst = a.instances[i];
        let m = &a.mounts[inst.mount];
        let r = a.effective_of(i, GroupKind::Process);
        let url = m.url.clone().unwrap_or_else(|| m.target.clone());
        if r.source == Source::Directive(gi) {
            failing.push(url);
        } else if r.source == Source::AliasOption {
            let without = {
                let mut m2 = m.clone();
                m2.args.options.retain(|o| o.name != "process-group");
                a.resolve_in(&m2, inst.scope, GroupKind::Process)
            };
            if without.source == Source::Directive(gi) {
                overridden.push(url);
            }
        }
    }
    failing.dedup();
    overridden.dedup();
    if !failing.is_empty() {
        format!(
            ": every request to {} fails with 500 (No WSGI daemon process called '{name}' has been configured)",
            failing.join(", ")
        )
    } else if !overridden.is_empty() {
        format!(
            "; it is unused: the process-group= option of the alias overrides it for {}",
            overridden.join(", ")
        )
    } else {
        String::new()
    }
}
