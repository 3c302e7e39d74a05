//! `Use` of a `<Macro>`: mod_macro pastes the body in the `Use`'s place,
//! each parameter replaced by the `Use`'s value. Of an expansion the
//! analysis takes the daemons it defines and the groups it sets for the
//! `Use`'s scope, so that the apps there are seen to run where they do. The
//! body itself stays a template (reported, never rewritten), and nothing a
//! fix makes edits an expansion.

use super::{Analysis, Daemon, GroupDirective, Mount, MountKind, WsgiArgs};
use crate::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What an expansion contributes, whatever `Use` wrote it.
struct Expansion {
    /// Groups set for the whole scope the `Use` stands in.
    groups: Vec<GroupDirective>,
    /// Daemons defined in that scope: name and options.
    daemons: Vec<(String, WsgiArgs)>,
    /// Names of daemons defined inside a vhost the macro writes.
    names_in_vhosts: Vec<String>,
    /// Its `WSGIScriptAlias`(`Match`)es in the scope the `Use` stands in:
    /// apps of that scope (`Use WsgiApp one` mounts /one).
    mounts: Vec<Mount>,
}

/// Expansions already read, by their text: the same text always reads the
/// same (an expansion is analysed on its own). A fix loop analyses the
/// server once per pass and every `Use` is unchanged by fixes, so the
/// engine keeps one of these per server for all its passes.
#[derive(Default)]
pub struct MacroExpansions(Mutex<HashMap<Vec<u8>, Arc<Expansion>>>);

impl MacroExpansions {
    fn get_or_read(&self, text: Vec<u8>) -> Option<Arc<Expansion>> {
        if let Some(e) = self.0.lock().ok()?.get(&text) {
            return Some(Arc::clone(e));
        }
        let e = Arc::new(read(&text)?);
        if let Ok(mut memo) = self.0.lock() {
            memo.insert(text, Arc::clone(&e));
        }
        Some(e)
    }
}

fn read(text: &[u8]) -> Option<Expansion> {
    let tree = crate::syntax::parse(text).ok()?;
    let expansion = super::analyse(&tree);
    let mut daemons = Vec::new();
    let mut names_in_vhosts = Vec::new();
    for d in expansion.daemons {
        if d.site.scope == 0 {
            daemons.push((d.name, d.args));
        } else {
            names_in_vhosts.push(d.name);
        }
    }
    Some(Expansion {
        // Groups outside the expansion's own vhosts and sections are the
        // Use scope's (those in its sections would need sections that
        // exist nowhere in the files).
        groups: (expansion.groups.into_iter())
            .filter(|g| g.site.scope == 0 && g.site.sections.is_empty())
            .collect(),
        daemons,
        names_in_vhosts,
        mounts: (expansion.mounts.into_iter())
            .filter(|m| {
                m.site.scope == 0
                    && m.site.sections.is_empty()
                    && matches!(m.kind, MountKind::Alias | MountKind::AliasMatch)
            })
            .collect(),
    })
}

impl Analysis {
    /// Adds the daemons, groups and apps each `Use` writes for its scope,
    /// at the `Use`'s place in read order; names defined inside a vhost
    /// the macro writes are only recorded as taken. `memo` holds
    /// expansions read before.
    pub(super) fn expand_macro_daemons(&mut self, memo: Option<&MacroExpansions>) {
        if self.macro_uses.is_empty() {
            return;
        }
        let local = MacroExpansions::default();
        let memo = memo.unwrap_or(&local);
        let mut found = Vec::new();
        let mut groups = Vec::new();
        let mut mounts = Vec::new();
        for u in &self.macro_uses {
            let Some(t) = self
                .templates
                .iter()
                .rev()
                .find(|t| t.order < u.site.order && t.name.eq_ignore_ascii_case(&u.name))
            else {
                continue;
            };
            // mod_macro refuses a Use with another number of values.
            if t.params.len() != u.args.len() {
                continue;
            }
            let text = substitute(&t.tree.print(), &t.params, &u.args);
            let Some(expansion) = memo.get_or_read(text) else {
                continue;
            };
            groups.extend(expansion.groups.iter().map(|g| GroupDirective {
                site: u.site.clone(),
                by_macro: true,
                ..g.clone()
            }));
            found.extend(expansion.daemons.iter().map(|(name, args)| Daemon {
                name: name.clone(),
                site: u.site.clone(),
                args: args.clone(),
                by_macro: true,
            }));
            (self.macro_daemon_names).extend(expansion.names_in_vhosts.iter().cloned());
            mounts.extend(expansion.mounts.iter().map(|m| Mount {
                site: u.site.clone(),
                by_macro: true,
                ..m.clone()
            }));
        }
        if !mounts.is_empty() {
            self.mounts.extend(mounts);
            self.mounts.sort_by_key(|m| m.site.order);
        }
        // Read order is what "defined before", "first" and "the last one
        // wins" mean.
        if !found.is_empty() {
            self.daemons.extend(found);
            self.daemons.sort_by_key(|d| d.site.order);
        }
        if !groups.is_empty() {
            self.groups.extend(groups);
            self.groups.sort_by_key(|g| g.site.order);
        }
    }
}

/// `body` with each parameter replaced by its value, longer parameters
/// first (`$name` before `$n`), as mod_macro does.
fn substitute(body: &[u8], params: &[String], values: &[String]) -> Vec<u8> {
    let mut order: Vec<usize> = (0..params.len())
        .filter(|&i| !params[i].is_empty())
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(params[i].len()));
    // A parameter can start only where one of their first bytes is: the
    // scan jumps between those (usually every `$`).
    let mut firsts: Vec<u8> = order.iter().map(|&i| params[i].as_bytes()[0]).collect();
    firsts.sort_unstable();
    firsts.dedup();
    let next_start = |from: usize| -> Option<usize> {
        let rest = &body[from..];
        let at = match *firsts.as_slice() {
            [] => None,
            [a] => memchr::memchr(a, rest),
            [a, b] => memchr::memchr2(a, b, rest),
            [a, b, c] => memchr::memchr3(a, b, c, rest),
            _ => rest.iter().position(|b| firsts.binary_search(b).is_ok()),
        };
        at.map(|at| from + at)
    };
    let mut out = Vec::with_capacity(body.len());
    let mut copied = 0;
    let mut i = 0;
    while let Some(at) = next_start(i) {
        let hit = (order.iter()).find(|&&k| body[at..].starts_with(params[k].as_bytes()));
        match hit {
            Some(&k) => {
                out.extend_from_slice(&body[copied..at]);
                out.extend_from_slice(values[k].as_bytes());
                i = at + params[k].len();
                copied = i;
            }
            None => i = at + 1,
        }
    }
    out.extend_from_slice(&body[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::{substitute, MacroExpansions};
    use crate::analysis::View;
    use proptest::prelude::*;

    #[test]
    fn longer_parameters_are_replaced_first() {
        let params = ["$n".to_string(), "$name".to_string()];
        let values = ["N".to_string(), "NAME".to_string()];
        assert_eq!(
            substitute(b"WSGIDaemonProcess $name-$n\n", &params, &values),
            b"WSGIDaemonProcess NAME-N\n"
        );
    }

    /// mod_macro's reading, one byte at a time: at each byte the longest
    /// parameter that starts there is replaced.
    fn substitute_bytewise(body: &[u8], params: &[String], values: &[String]) -> Vec<u8> {
        let mut order: Vec<usize> = (0..params.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(params[i].len()));
        let mut out = Vec::new();
        let mut i = 0;
        'scan: while i < body.len() {
            for &k in &order {
                let p = params[k].as_bytes();
                if !p.is_empty() && body[i..].starts_with(p) {
                    out.extend_from_slice(values[k].as_bytes());
                    i += p.len();
                    continue 'scan;
                }
            }
            out.push(body[i]);
            i += 1;
        }
        out
    }

    proptest! {
        // Parameters of one to five distinct first bytes (the scan's memchr
        // cases and its table), overlapping each other and the body.
        #[test]
        fn the_scan_replaces_what_a_bytewise_reading_replaces(
            body in "[$%@ab_\n]{0,60}",
            params in proptest::collection::vec("[$%@ab_]{0,3}", 0..5),
        ) {
            let values: Vec<String> = (0..params.len()).map(|i| format!("<{i}>")).collect();
            prop_assert_eq!(
                substitute(body.as_bytes(), &params, &values),
                substitute_bytewise(body.as_bytes(), &params, &values)
            );
        }
    }

    #[test]
    fn expansions_read_before_give_the_same_analysis() {
        let config =
            b"<Macro Site $name>\n<VirtualHost *:80>\nWSGIDaemonProcess $name-vh\n</VirtualHost>\n\
WSGIDaemonProcess $name python-path=/srv/$name\nWSGIApplicationGroup %{GLOBAL}\n</Macro>\n\
Use Site one\nUse Site two\nUse Site one\nWSGIScriptAlias /x /srv/x.wsgi\n";
        let tree = crate::syntax::parse(config).unwrap();
        let fresh = crate::analysis::analyse(&tree);
        let memo = MacroExpansions::default();
        let view = View {
            trees: vec![&tree],
            includes: None,
            macros: Some(&memo),
        };
        let first = view.analyse();
        // Filled by the first analysis: two distinct texts.
        assert_eq!(memo.0.lock().unwrap().len(), 2);
        let second = view.analyse();
        for a in [&first, &second] {
            assert_eq!(format!("{:?}", a.daemons), format!("{:?}", fresh.daemons));
            assert_eq!(format!("{:?}", a.groups), format!("{:?}", fresh.groups));
            assert_eq!(a.macro_daemon_names, fresh.macro_daemon_names);
        }
        let names: Vec<&str> = fresh.daemons.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["one", "two", "one"]);
        assert_eq!(fresh.macro_daemon_names, ["one-vh", "two-vh", "one-vh"]);
        assert_eq!(fresh.groups.len(), 3);
    }
}
