//! Finding the problems: each check reads the analysis and reports issues,
//! each carrying what its fix needs.

use super::{rule_by_code, Finding};
use crate::analysis::{Analysis, GroupKind, Mount, Resolved, ServerContext, Site, Source};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone)]
pub enum IssueKind {
    /// WSGI001: the mount runs embedded.
    Embedded { mount: usize, pg: Resolved },
    /// WSGI002: the mount's app shares daemon `daemon` with an earlier app.
    Shared {
        mount: usize,
        daemon: String,
        pg: Resolved,
    },
    /// WSGI003: the mount does not run in the main interpreter.
    NotGlobal { mount: usize, ag: Resolved },
    /// WSGI004 / WSGI005: reported only.
    ReportOnly,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub kind: IssueKind,
    pub code: &'static str,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl Issue {
    fn new(code: &'static str, site: &Site, message: String, kind: IssueKind) -> Issue {
        Issue {
            kind,
            code,
            line: site.line,
            column: site.column,
            message,
        }
    }

    pub fn to_finding(&self, fixable: bool) -> Finding {
        let rule = rule_by_code(self.code).expect("issue codes are registered");
        Finding {
            code: rule.code,
            name: rule.name,
            line: self.line,
            column: self.column,
            message: self.message.clone(),
            fixable,
        }
    }

    pub fn mount(&self) -> Option<usize> {
        match self.kind {
            IssueKind::Embedded { mount, .. }
            | IssueKind::Shared { mount, .. }
            | IssueKind::NotGlobal { mount, .. } => Some(mount),
            IssueKind::ReportOnly => None,
        }
    }
}

fn describe(m: &Mount) -> String {
    match &m.url {
        Some(url) => format!("{url} ({})", m.target),
        None => m.target.clone(),
    }
}

fn source_text(a: &Analysis, r: &Resolved, kind: GroupKind) -> String {
    match &r.source {
        Source::AliasOption => format!("the alias option {}={}", kind.option(), r.value),
        Source::Directive(i) => {
            let g = &a.groups[*i];
            format!("{} {} at line {}", kind.directive(), g.value, g.site.line)
        }
        Source::Default => "the default".to_string(),
    }
}

/// Every problem in the analysed file, in file order.
pub fn check(a: &Analysis, ctx: &ServerContext) -> Vec<Issue> {
    let mut issues = Vec::new();
    let daemon_names: HashSet<&str> = a.daemons.iter().map(|d| d.name.as_str()).collect();

    let pgs: Vec<&Resolved> = (0..a.mounts.len())
        .map(|i| a.effective(i, GroupKind::Process))
        .collect();
    let ags: Vec<&Resolved> = (0..a.mounts.len())
        .map(|i| a.effective(i, GroupKind::Application))
        .collect();

    // WSGI001 embedded; daemon mode does not exist on Windows.
    if !a.windows {
        for (i, m) in a.mounts.iter().enumerate() {
            if pgs[i].is_global() {
                let how = match pgs[i].source {
                    Source::Default => "no WSGIProcessGroup applies to it".to_string(),
                    _ => format!(
                        "{} selects embedded mode",
                        source_text(a, pgs[i], GroupKind::Process)
                    ),
                };
                issues.push(Issue::new(
                    "WSGI001",
                    &m.site,
                    format!(
                        "WSGI application {} runs in embedded mode: {how}",
                        describe(m)
                    ),
                    IssueKind::Embedded {
                        mount: i,
                        pg: pgs[i].clone(),
                    },
                ));
            }
        }
    }

    // WSGI002 one daemon, several apps: the first app keeps it.
    if !a.windows {
        // Daemon → the apps that select it, in file order.
        let mut users: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, m) in a.mounts.iter().enumerate() {
            let pg = pgs[i];
            if pg.is_global() || pg.is_dynamic() || !daemon_names.contains(&pg.value.as_str()) {
                continue;
            }
            let apps = users.entry(pg.value.as_str()).or_default();
            if !apps.contains(&m.app) {
                apps.push(m.app);
            }
            if apps[0] != m.app {
                issues.push(Issue::new(
                    "WSGI002",
                    &m.site,
                    format!(
                        "WSGI application {} shares daemon process group '{}' with {}",
                        describe(m),
                        pg.value,
                        a.apps[apps[0]].1
                    ),
                    IssueKind::Shared {
                        mount: i,
                        daemon: pg.value.clone(),
                        pg: pg.clone(),
                    },
                ));
            }
        }
    }

    // WSGI003 not in the main interpreter.
    for (i, m) in a.mounts.iter().enumerate() {
        let ag = ags[i];
        if ag.is_global() || ag.is_dynamic() {
            continue;
        }
        let mut message = format!(
            "WSGI application {} runs in sub-interpreter '{}' ({}), not in the main interpreter %{{GLOBAL}}",
            describe(m),
            ag.value,
            source_text(a, ag, GroupKind::Application)
        );
        let ineffective: Vec<String> = a
            .ineffective_for(m, GroupKind::Application)
            .into_iter()
            .filter(|&g| a.groups[g].value == "%{GLOBAL}")
            .map(|g| {
                let s = a.groups[g].site.sections.last().expect("per-dir");
                format!(
                    "line {} (its <{:?} {}> does not cover the app)",
                    a.groups[g].site.line, s.kind, s.arg
                )
            })
            .collect();
        if !ineffective.is_empty() {
            message.push_str(&format!(
                "; WSGIApplicationGroup %{{GLOBAL}} at {} does not apply",
                ineffective.join(", ")
            ));
        }
        issues.push(Issue::new(
            "WSGI003",
            &m.site,
            message,
            IssueKind::NotGlobal {
                mount: i,
                ag: ag.clone(),
            },
        ));
    }

    // WSGI004 a selected daemon that is not defined.
    let defined = if daemon_names.is_empty() {
        "none is defined in this file".to_string()
    } else {
        let mut names: Vec<&str> = daemon_names.iter().copied().collect();
        names.sort();
        names.dedup();
        format!("defined: {}", names.join(", "))
    };
    let undefined = |value: &str| {
        !value.is_empty()
            && value != "%{GLOBAL}"
            && !value.contains("%{")
            && !daemon_names.contains(&value)
            && !ctx.defined_elsewhere(value)
    };
    // Every place that names a daemon: (what names it, the name, where).
    let selections = a
        .groups
        .iter()
        .filter(|g| g.kind == GroupKind::Process)
        .map(|g| {
            (
                "WSGIProcessGroup names daemon process group",
                g.value.as_str(),
                &g.site,
            )
        })
        .chain(a.mounts.iter().filter_map(|m| {
            let o = m.args.option("process-group")?;
            Some((
                "process-group= names daemon process group",
                o.value.as_str(),
                &m.site,
            ))
        }))
        .chain(a.imports.iter().filter_map(|i| {
            let o = i.args.option("process-group")?;
            Some((
                "WSGIImportScript process-group= names daemon process group",
                o.value.as_str(),
                &i.site,
            ))
        }));
    for (what, name, site) in selections {
        if undefined(name) {
            issues.push(Issue::new(
                "WSGI004",
                site,
                format!("{what} '{name}', which is not defined ({defined})"),
                IssueKind::ReportOnly,
            ));
        }
    }

    // WSGI005 the same daemon name twice (not in exclusive IfDefine branches).
    let mut seen: HashMap<&str, Vec<&crate::analysis::Daemon>> = HashMap::new();
    for d in &a.daemons {
        let same_name = seen.entry(d.name.as_str()).or_default();
        let earlier = same_name
            .iter()
            .find(|e| !exclusive(&e.site.defines, &d.site.defines))
            .copied();
        same_name.push(d);
        if earlier.is_none() {
            if let Some((file, line)) = ctx.defined_before(&d.name) {
                issues.push(Issue::new(
                    "WSGI005",
                    &d.site,
                    format!(
                        "daemon process group '{}' is already defined in {file}:{line}, which httpd reads first; httpd refuses to start: Name duplicates previous WSGI daemon definition.",
                        d.name
                    ),
                    IssueKind::ReportOnly,
                ));
            }
        }
        if let Some(e) = earlier {
            issues.push(Issue::new(
                "WSGI005",
                &d.site,
                format!(
                    "daemon process group '{}' is defined again (first at line {}); httpd refuses to start: Name duplicates previous WSGI daemon definition.",
                    d.name, e.site.line
                ),
                IssueKind::ReportOnly,
            ));
        }
    }

    issues.sort_by_key(|i| (i.line, i.column, i.code));
    issues
}

/// Two `<IfDefine>` condition sets that can never hold together.
pub fn exclusive(a: &[(String, bool)], b: &[(String, bool)]) -> bool {
    a.iter()
        .any(|(name, neg)| b.iter().any(|(n2, neg2)| n2 == name && neg2 != neg))
}
