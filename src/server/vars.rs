//! `Define` variables and `${VAR}` substitution (apache-syntax.md §6), and
//! Debian's `envvars`, which apache2ctl sources before it starts httpd: the
//! stock apache2.conf reads `${APACHE_LOG_DIR}` and friends from it.

use crate::collections::HashMap;
use std::path::Path;

/// What `${NAME}` can stand for at one point of the read.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    /// `Define NAME VALUE` so far (and `-D`), which win over the environment.
    defined: HashMap<Vec<u8>, Vec<u8>>,
    /// Names defined (with or without a value), for `<IfDefine>`.
    names: Vec<Vec<u8>>,
    /// The process environment httpd would start with.
    env: HashMap<Vec<u8>, Vec<u8>>,
}

impl Vars {
    pub fn new(env: HashMap<Vec<u8>, Vec<u8>>) -> Vars {
        Vars {
            env,
            ..Vars::default()
        }
    }

    /// This process's environment.
    pub fn process_env() -> HashMap<Vec<u8>, Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
        std::env::vars_os()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    /// `Define NAME [VALUE]`: a name without a value is defined for
    /// `<IfDefine>` only; `${NAME}` stays undefined (core.c set_define).
    pub fn define(&mut self, name: &[u8], value: Option<&[u8]>) {
        if !self.names.iter().any(|n| n == name) {
            self.names.push(name.to_vec());
        }
        if let Some(v) = value {
            self.defined.insert(name.to_vec(), v.to_vec());
        }
    }

    pub fn undefine(&mut self, name: &[u8]) {
        self.names.retain(|n| n != name);
        self.defined.remove(name);
    }

    pub fn is_defined(&self, name: &[u8]) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// ap_resolve_env on one logical line: each `${NAME}` (NAME up to the
    /// first `}`) becomes its Define value, else its environment value; an
    /// unknown one stays as written and its name is pushed to `undefined`
    /// (httpd warns AH00111), except names with `:` (RewriteMap lookups).
    pub fn resolve(&self, line: &[u8], undefined: &mut Vec<String>) -> Vec<u8> {
        let mut out = Vec::with_capacity(line.len());
        let mut i = 0;
        while i < line.len() {
            if line[i] == b'$' && line.get(i + 1) == Some(&b'{') {
                if let Some(len) = line[i + 2..].iter().position(|&b| b == b'}') {
                    let name = &line[i + 2..i + 2 + len];
                    match self.defined.get(name).or_else(|| self.env.get(name)) {
                        Some(v) => out.extend_from_slice(v),
                        None => {
                            out.extend_from_slice(&line[i..i + 3 + len]);
                            if !name.contains(&b':') {
                                undefined.push(String::from_utf8_lossy(name).into_owned());
                            }
                        }
                    }
                    i += 3 + len;
                    continue;
                }
            }
            out.push(line[i]);
            i += 1;
        }
        out
    }
}

/// The variables Debian's `envvars` exports, read the way `apache2ctl`
/// sources it: `APACHE_CONFDIR` is the config directory and `SUFFIX` is what
/// follows `apache2-` in its name (multiple instances), which is what the
/// stock file's one `if` computes; top-level `[export] NAME=VALUE` and
/// `unset NAME` lines are then applied in order, `$NAME`/`${NAME}` in values
/// expanded. Anything inside `if`/`case` blocks other than that is skipped:
/// this is not a shell.
pub fn envvars(text: &[u8], confdir: &Path, env: &mut HashMap<Vec<u8>, Vec<u8>>) {
    use std::os::unix::ffi::OsStrExt;
    let dir = confdir.as_os_str().as_bytes();
    env.insert(b"APACHE_CONFDIR".to_vec(), dir.to_vec());
    let suffix = confdir
        .file_name()
        .and_then(|n| n.as_bytes().strip_prefix(b"apache2-"))
        .map(|s| [b"-".as_slice(), s].concat())
        .unwrap_or_default();
    env.insert(b"SUFFIX".to_vec(), suffix);
    let mut depth = 0usize;
    for raw in text.split(|&b| b == b'\n') {
        let line = trim(raw);
        let first = line
            .split(|b| b.is_ascii_whitespace())
            .next()
            .unwrap_or(b"");
        match first {
            b"if" | b"case" => depth += 1,
            b"fi" | b"esac" => depth = depth.saturating_sub(1),
            _ if depth > 0 || line.starts_with(b"#") => {}
            b"unset" => {
                for name in line[5..].split(|b| b.is_ascii_whitespace()) {
                    env.remove(name);
                }
            }
            _ => {
                let assign = line.strip_prefix(b"export ").map(trim).unwrap_or(line);
                if let Some(eq) = assign.iter().position(|&b| b == b'=') {
                    let name = &assign[..eq];
                    if !name.is_empty()
                        && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
                    {
                        let value = shell_value(&assign[eq + 1..], env);
                        env.insert(name.to_vec(), value);
                    }
                }
            }
        }
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// One shell word: quotes removed, `$NAME` and `${NAME}` expanded (unset →
/// empty) except inside single quotes.
fn shell_value(s: &[u8], env: &HashMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < s.len() {
        let c = s[i];
        match (c, quote) {
            (b'\'' | b'"', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            (b' ' | b'\t', None) => break,
            (b'$', q) if q != Some(b'\'') => {
                let (name, len) = if s.get(i + 1) == Some(&b'{') {
                    match s[i + 2..].iter().position(|&b| b == b'}') {
                        Some(n) => (&s[i + 2..i + 2 + n], n + 3),
                        None => (&s[i + 1..i + 1], 1),
                    }
                } else {
                    let n = s[i + 1..]
                        .iter()
                        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                        .count();
                    (&s[i + 1..i + 1 + n], n + 1)
                };
                if name.is_empty() {
                    out.push(b'$');
                } else if let Some(v) = env.get(name) {
                    out.extend_from_slice(v);
                }
                i += len;
                continue;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_like_httpd() {
        let mut v = Vars::new(HashMap::from_iter([(b"HOME".to_vec(), b"/root".to_vec())]));
        v.define(b"D", Some(b"/srv/d"));
        v.define(b"ONLY", None);
        let mut undef = Vec::new();
        let out = v.resolve(
            b"Include ${D}/x ${HOME} ${ONLY} ${map:k} $${D} ${open",
            &mut undef,
        );
        assert_eq!(
            out,
            b"Include /srv/d/x /root ${ONLY} ${map:k} $/srv/d ${open"
        );
        assert_eq!(undef, ["ONLY"]);
        assert!(v.is_defined(b"ONLY"));
        v.undefine(b"D");
        assert_eq!(v.resolve(b"${D}", &mut undef), b"${D}");
    }

    #[test]
    fn debian_envvars() {
        let text = b"unset HOME\nif [ \"${APACHE_CONFDIR##/etc/apache2-}\" != \"${APACHE_CONFDIR}\" ] ; then\n\tSUFFIX=\"-${APACHE_CONFDIR##/etc/apache2-}\"\nelse\n\tSUFFIX=\nfi\nexport APACHE_RUN_USER=www-data\nexport APACHE_RUN_DIR=/var/run/apache2$SUFFIX\nexport APACHE_LOG_DIR='/var/log/apache2'${SUFFIX}\n";
        let mut env = HashMap::from_iter([(b"HOME".to_vec(), b"/root".to_vec())]);
        envvars(text, Path::new("/etc/apache2-web"), &mut env);
        assert_eq!(env[b"APACHE_RUN_USER".as_slice()], b"www-data");
        assert_eq!(env[b"APACHE_RUN_DIR".as_slice()], b"/var/run/apache2-web");
        assert_eq!(env[b"APACHE_LOG_DIR".as_slice()], b"/var/log/apache2-web");
        assert!(!env.contains_key(b"HOME".as_slice()));
    }
}
