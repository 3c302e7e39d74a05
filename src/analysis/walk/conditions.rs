//! What decides whether and how httpd reads a line, as the walk meets it:
//! `${NAME}` values, the modules `<IfModule>` asks for, the httpd version
//! `<IfVersion>` asks for, and directives refused where they stand.

use super::{lossy, Walk};
use crate::analysis::{coverage, Analysis, ConfigError};
use crate::syntax::{logical, Line};

impl Walk<'_, '_> {
    /// httpd's refusal of a directive of server and vhost context only
    /// (WSGIDaemonProcess, WSGIImportScript, WSGIScriptAlias) in a
    /// per-directory section: recorded as an error; true when refused.
    pub(super) fn refused_in_section(
        &self,
        directive: &str,
        line: &Line,
        a: &mut Analysis,
    ) -> bool {
        use coverage::SectionKind::{Directory, Files, If, Location};
        let Some(s) = (self.sections.last())
            .filter(|s| matches!(s.kind, Directory | Files | Location | If(_)))
        else {
            return false;
        };
        let context = coverage::section_name(s.kind, s.regex);
        a.errors.push(ConfigError {
            site: self.site(line),
            message: format!("{directive} not allowed in <{context}> context"),
        });
        true
    }

    /// `LoadModule ssl_module .../mod_ssl.so`: `<IfModule>` may name it
    /// `ssl_module` or `mod_ssl.c` from now on.
    pub(super) fn record_module(&mut self, rest: &[u8]) {
        let words = logical::words(rest);
        let (Some(id), Some(file)) = (words.first(), words.get(1)) else {
            return;
        };
        let id = lossy(id);
        if self.modules.is_empty() {
            self.modules
                .extend(BUILT_IN_MODULES.iter().map(|m| m.to_string()));
        }
        if let Some(short) = id.strip_suffix("_module") {
            self.modules.push(format!("mod_{short}.c"));
            // The MPMs' sources are prefork.c, worker.c, event.c.
            if let Some(mpm) = short.strip_prefix("mpm_") {
                self.modules.push(format!("{mpm}.c"));
            }
        }
        let file = lossy(file);
        let base = file.rsplit('/').next().unwrap_or(&file);
        if let Some(stem) = base.strip_suffix(".so") {
            self.modules.push(format!("{stem}.c"));
        }
        self.modules.push(id);
        // What the parts walked beside this one decided may change.
        self.defines_changed = true;
    }

    /// Whether httpd has `module` when it reads this line: unknown (`None`)
    /// until a `LoadModule` is read.
    pub(super) fn module_loaded(&self, module: &str) -> Option<bool> {
        if self.modules.is_empty() {
            return None;
        }
        Some(self.modules.iter().any(|m| m.eq_ignore_ascii_case(module)))
    }

    /// `rest` with each `${NAME}` a `Define` gave a value replaced by it
    /// (ap_resolve_env); others stay as written: the environment httpd
    /// starts with is not known here, and a value holding `${` is judged
    /// as decided at run time.
    pub(super) fn substitute(&self, rest: &[u8]) -> Vec<u8> {
        self.vars.resolve(rest, &mut Vec::new())
    }
}

/// Sections httpd refuses without an argument (core's missing_container_arg).
pub(super) const NEEDS_ARGUMENT: &[&str] = &[
    "virtualhost",
    "directory",
    "directorymatch",
    "files",
    "filesmatch",
    "location",
    "locationmatch",
    "ifdefine",
    "ifmodule",
    "iffile",
    "ifdirective",
    "ifsection",
];

/// Modules that Debian's, RHEL's and httpd's default builds compile in
/// (`apache2 -l`, `httpd -l`): loaded without a `LoadModule`.
const BUILT_IN_MODULES: &[&str] = &[
    "core.c",
    "core_module",
    "http_core.c",
    "http_module",
    "mod_so.c",
    "so_module",
    "mod_watchdog.c",
    "watchdog_module",
    "mod_log_config.c",
    "log_config_module",
    "mod_logio.c",
    "logio_module",
    "mod_version.c",
    "version_module",
    "mod_unixd.c",
    "unixd_module",
];

/// `!NAME` of `<IfDefine>`/`<IfModule>`: (negated, NAME).
pub(super) fn negation(arg: &str) -> (bool, &str) {
    match arg.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, arg),
    }
}

/// Whether `s` holds a `${`: one byte search, most lines have no `$`.
pub(super) fn has_variable(s: &[u8]) -> bool {
    memchr::memchr_iter(b'$', s).any(|i| s.get(i + 1) == Some(&b'{'))
}

/// The 2.4 releases there have been and may be: wsgifix reads configs for
/// httpd 2.4, whose patch level it does not know.
const PATCH_LEVELS: std::ops::RangeInclusive<u32> = 0..=99;

/// `<IfVersion [[!]op] version>` for httpd 2.4: decided only when every
/// 2.4 patch level answers alike (`< 2.4`, `>= 2.4`, `~ ^2\.2` are; `>=
/// 2.4.10` is not). `None` when undecided or not understood.
pub(super) fn if_version(args: &[String]) -> Option<bool> {
    let (op, version) = match args {
        [version] => ("=", version.as_str()),
        [op, version] => (op.as_str(), version.as_str()),
        _ => return None,
    };
    let (negated, op) = match op.strip_prefix('!') {
        Some(rest) => (true, if rest.is_empty() { "=" } else { rest }),
        None => (false, op),
    };
    let pattern = match (
        op,
        version.strip_prefix('/').and_then(|v| v.strip_suffix('/')),
    ) {
        (_, Some(p)) => Some(p),
        ("~", _) => Some(version),
        _ => None,
    };
    let answer = |patch: u32| -> Option<bool> {
        let ours = format!("2.4.{patch}");
        if let Some(p) = pattern {
            return ::regex::Regex::new(p).ok().map(|r| r.is_match(&ours));
        }
        let theirs = parse_version(version)?;
        let ord = (2, 4, patch).cmp(&(theirs.0, theirs.1, theirs.2.unwrap_or(0)));
        use std::cmp::Ordering::*;
        match op {
            // A version without its patch level names every one of them.
            "=" | "==" => Some(match theirs.2 {
                Some(p) => (2, 4, patch) == (theirs.0, theirs.1, p),
                None => (2, 4) == (theirs.0, theirs.1),
            }),
            ">" => Some(ord == Greater),
            ">=" => Some(ord != Less),
            "<" => Some(ord == Less),
            "<=" => Some(ord != Greater),
            _ => None,
        }
    };
    let first = answer(*PATCH_LEVELS.start())?;
    let uniform = PATCH_LEVELS.map(answer).all(|a| a == Some(first));
    uniform.then_some(first != negated)
}

/// `2`, `2.4` or `2.4.10`.
fn parse_version(v: &str) -> Option<(u32, u32, Option<u32>)> {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = match parts.next() {
        Some(p) => Some(p?),
        None => None,
    };
    parts.next().is_none().then_some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::if_version;

    fn decide(args: &str) -> Option<bool> {
        let words: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        if_version(&words)
    }

    #[test]
    fn versions_every_2_4_release_agrees_on_are_decided() {
        assert_eq!(decide("< 2.4"), Some(false));
        assert_eq!(decide(">= 2.4"), Some(true));
        assert_eq!(decide("> 2.2"), Some(true));
        assert_eq!(decide("<= 2.2.34"), Some(false));
        assert_eq!(decide("2.4"), Some(true));
        assert_eq!(decide("= 2.2"), Some(false));
        assert_eq!(decide("!= 2.2"), Some(true));
        assert_eq!(decide("~ ^2\\.2"), Some(false));
        assert_eq!(decide("/^2\\.4/"), Some(true));
        assert_eq!(decide("!~ ^2\\.4"), Some(false));
        // The patch level decides these: undecided.
        assert_eq!(decide(">= 2.4.10"), None);
        assert_eq!(decide("= 2.4.7"), None);
        assert_eq!(decide("~ ^2\\.4\\.[0-9]$"), None);
        assert_eq!(decide("garbage here"), None);
    }
}
