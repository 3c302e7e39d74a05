//! `Use` of a `<Macro>`: mod_macro pastes the body in the `Use`'s place,
//! each parameter replaced by the `Use`'s value. Of an expansion the
//! analysis takes only the daemons it defines, so that the apps selecting
//! them are seen to run in them. The body itself stays a template
//! (reported, never rewritten), and nothing a fix makes edits an expansion.

use super::{Analysis, Daemon};

impl Analysis {
    /// Adds the daemons each `Use` defines, at the `Use`'s place in read
    /// order; names defined inside a vhost the macro writes are only
    /// recorded as taken.
    pub(super) fn expand_macro_daemons(&mut self) {
        let mut found = Vec::new();
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
            for d in super::analyse(&tree).daemons {
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
        if !found.is_empty() {
            self.daemons.extend(found);
            // Read order is what "defined before" and "first" mean.
            self.daemons.sort_by_key(|d| d.site.order);
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
