//! `Use` of a `<Macro>`: mod_macro pastes the body in the `Use`'s place,
//! each parameter replaced by the `Use`'s value. Of an expansion the
//! analysis takes the daemons it defines and the groups it sets for the
//! `Use`'s scope, so that the apps there are seen to run where they do. The
//! body itself stays a template (reported, never rewritten), and nothing a
//! fix makes edits an expansion.

use super::{Analysis, Daemon, GroupDirective};

impl Analysis {
    /// Adds the daemons each `Use` defines, at the `Use`'s place in read
    /// order; names defined inside a vhost the macro writes are only
    /// recorded as taken.
    pub(super) fn expand_macro_daemons(&mut self) {
        let mut found = Vec::new();
        let mut groups = Vec::new();
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
            let Ok(tree) = crate::syntax::parse(&text) else {
                continue;
            };
            let expansion = super::analyse(&tree);
            // Groups outside the expansion's own vhosts and sections are
            // the Use scope's (those in its sections would need sections
            // that exist nowhere in the files).
            groups.extend(
                expansion
                    .groups
                    .into_iter()
                    .filter(|g| g.site.scope == 0 && g.site.sections.is_empty())
                    .map(|g| GroupDirective {
                        site: u.site.clone(),
                        by_macro: true,
                        ..g
                    }),
            );
            for d in expansion.daemons {
                if d.site.scope == 0 {
                    found.push(Daemon {
                        name: d.name,
                        site: u.site.clone(),
                        args: d.args,
                        by_macro: true,
                    });
                } else {
                    self.macro_daemon_names.push(d.name);
                }
            }
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
    let mut order: Vec<usize> = (0..params.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(params[i].len()));
    let mut out = Vec::with_capacity(body.len());
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

#[cfg(test)]
mod tests {
    use super::substitute;

    #[test]
    fn longer_parameters_are_replaced_first() {
        let params = ["$n".to_string(), "$name".to_string()];
        let values = ["N".to_string(), "NAME".to_string()];
        assert_eq!(
            substitute(b"WSGIDaemonProcess $name-$n\n", &params, &values),
            b"WSGIDaemonProcess NAME-N\n"
        );
    }
}
