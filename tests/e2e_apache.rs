//! End to end against real Apache httpd + mod_wsgi serving on 127.0.0.1
//! (SPEC.md §1 "Apache agrees").
//!
//! Each scenario first serves the broken config and checks that the broken
//! behaviour really happens (so the test cannot pass by asserting on a setup
//! that was never wrong), then fixes it with wsgifix, has `apache2 -t`
//! accept the result, serves it again and checks what every app reports
//! about itself: its own non-empty `mod_wsgi.process_group`, a process of
//! its own, and `mod_wsgi.application_group == ''` (the main interpreter).
//!
//! Without Apache or mod_wsgi the tests print why and pass, unless
//! `WSGIFIX_REQUIRE_APACHE=1` says this machine must have them.

mod common;
mod e2e_support;

use e2e_support::{require_or_skip, AppInfo, Lab};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use wsgifix::engine::{self, Options};

/// What the serving scenarios load: an MPM comes with every base config.
const SERVE_MODULES: &[&str] = &["authz_core", "alias", "mime", "wsgi"];

/// Runs the engine on a config that must need fixing; the fix must be
/// clean and idempotent (a second run on the output changes nothing).
fn fix(what: &str, source: &str) -> String {
    let r = engine::process(source.as_bytes(), &Options::default());
    assert!(
        r.error.is_none(),
        "{what}: engine error {:?} on:\n{source}",
        r.error
    );
    let fixed = r.fixed.unwrap_or_else(|| {
        panic!(
            "{what}: the engine changed nothing; findings {:#?} on:\n{source}",
            r.findings
        )
    });
    let again = engine::process(&fixed, &Options::default());
    assert!(
        again.error.is_none() && again.fixed.is_none(),
        "{what}: not idempotent: a second run gives error {:?}, changes {:?}, findings {:#?} on:\n{}",
        again.error,
        again.fixed.as_deref().map(String::from_utf8_lossy),
        again.findings,
        String::from_utf8_lossy(&fixed)
    );
    String::from_utf8(fixed).expect("the scenario configs are ASCII")
}

/// Serves `conf` and asks every mount in turn what it is; the server is
/// stopped (and checked to be gone) before returning.
fn serve(lab: &Lab, conf: &Path, mounts: &[&str]) -> Vec<AppInfo> {
    let server = lab.start(conf);
    let infos: Vec<AppInfo> = mounts
        .iter()
        .map(|m| {
            let info = server.app(m);
            assert_eq!(
                info.script_name, *m,
                "GET {m} was answered by another mount: {info:?}"
            );
            info
        })
        .collect();
    server.stop();
    infos
}

/// What the PyMongo layout promises each app (SPEC.md §1).
fn assert_pymongo_layout(what: &str, infos: &[AppInfo], fixed: &str) {
    for i in infos {
        assert!(
            !i.process_group.is_empty(),
            "{what}: {} still runs embedded: {i:?}\n--- fixed config ---\n{fixed}",
            i.script_name
        );
        assert_eq!(
            i.application_group, "",
            "{what}: {} is not in the main interpreter: {i:?}\n--- fixed config ---\n{fixed}",
            i.script_name
        );
    }
    let groups: HashSet<&str> = infos.iter().map(|i| i.process_group.as_str()).collect();
    assert_eq!(
        groups.len(),
        infos.len(),
        "{what}: apps share a daemon process group: {infos:#?}\n--- fixed config ---\n{fixed}"
    );
    let pids: HashSet<u64> = infos.iter().map(|i| i.pid).collect();
    assert_eq!(
        pids.len(),
        infos.len(),
        "{what}: apps share a process: {infos:#?}\n--- fixed config ---\n{fixed}"
    );
}

/// Writes `site` as `name` in the lab, includes it from a base config and
/// has `apache2 -t` accept it; returns the base config's path.
fn install(lab: &Lab, name: &str, site: &str) -> PathBuf {
    let site_path = lab.write(name, site.as_bytes());
    let base = lab.write_base(&format!("httpd-{name}"), SERVE_MODULES, &[&site_path]);
    lab.assert_syntax_ok(&base, name);
    base
}

/// PyMongo's starting point: two apps mounted in one vhost, nothing else.
fn two_embedded_apps(lab: &Lab) -> String {
    let apps = lab.path("apps");
    lab.write_app("app.wsgi");
    lab.write_app("other_app.wsgi");
    format!(
        "<VirtualHost *>\n    WSGIScriptAlias /my_app {a}/app.wsgi\n    WSGIScriptAlias /my_other_app {a}/other_app.wsgi\n</VirtualHost>\n",
        a = apps.display()
    )
}

fn assert_two_embedded(infos: &[AppInfo]) {
    for i in infos {
        assert_eq!(i.process_group, "", "expected embedded mode: {i:?}");
        assert_ne!(
            i.application_group, "",
            "expected a sub-interpreter by default: {i:?}"
        );
    }
    assert_ne!(
        infos[0].application_group, infos[1].application_group,
        "each mount gets its own sub-interpreter by default: {infos:#?}"
    );
}

#[test]
fn two_embedded_apps_get_a_daemon_each() {
    let Some(apache) = require_or_skip("two_embedded_apps_get_a_daemon_each") else {
        return;
    };
    let lab = Lab::new(&apache);
    let mounts = ["/my_app", "/my_other_app"];
    let before = two_embedded_apps(&lab);

    let conf = install(&lab, "site.conf", &before);
    assert_two_embedded(&serve(&lab, &conf, &mounts));

    let fixed = fix("two embedded apps", &before);
    let conf = install(&lab, "site.conf", &fixed);
    let after = serve(&lab, &conf, &mounts);
    assert_pymongo_layout("two embedded apps", &after, &fixed);
}

#[test]
fn two_apps_sharing_a_daemon_are_split() {
    let Some(apache) = require_or_skip("two_apps_sharing_a_daemon_are_split") else {
        return;
    };
    let lab = Lab::new(&apache);
    lab.write_app("app.wsgi");
    lab.write_app("other_app.wsgi");
    let a = lab.path("apps");
    // aiida's `one.conf` shape: one pool for both apps, kept apart only by
    // their default sub-interpreters.
    let before = format!(
        "<VirtualHost *>\n    WSGIDaemonProcess shared processes=1 threads=2\n    WSGIProcessGroup shared\n    WSGIScriptAlias /my_app {a}/app.wsgi\n    WSGIScriptAlias /my_other_app {a}/other_app.wsgi\n</VirtualHost>\n",
        a = a.display()
    );
    let mounts = ["/my_app", "/my_other_app"];

    let conf = install(&lab, "site.conf", &before);
    let b = serve(&lab, &conf, &mounts);
    assert_eq!(b[0].process_group, "shared", "{b:#?}");
    assert_eq!(b[1].process_group, "shared", "{b:#?}");
    assert_eq!(b[0].pid, b[1].pid, "one daemon process serves both: {b:#?}");

    let fixed = fix("shared daemon", &before);
    let conf = install(&lab, "site.conf", &fixed);
    let after = serve(&lab, &conf, &mounts);
    assert_pymongo_layout("shared daemon", &after, &fixed);
}

#[test]
fn sub_interpreter_moves_to_the_main_interpreter() {
    let Some(apache) = require_or_skip("sub_interpreter_moves_to_the_main_interpreter") else {
        return;
    };
    let lab = Lab::new(&apache);
    lab.write_app("app.wsgi");
    let before = format!(
        "<VirtualHost *>\n    WSGIDaemonProcess solo processes=1 threads=2\n    WSGIProcessGroup solo\n    WSGIScriptAlias /my_app {}/app.wsgi\n</VirtualHost>\n",
        lab.path("apps").display()
    );
    let mounts = ["/my_app"];

    let conf = install(&lab, "site.conf", &before);
    let b = serve(&lab, &conf, &mounts);
    assert_eq!(b[0].process_group, "solo", "{b:#?}");
    assert_ne!(
        b[0].application_group, "",
        "expected a sub-interpreter: {b:#?}"
    );

    let fixed = fix("sub-interpreter", &before);
    let conf = install(&lab, "site.conf", &fixed);
    let after = serve(&lab, &conf, &mounts);
    assert_pymongo_layout("sub-interpreter", &after, &fixed);
}

/// A Debian `conf-available/*.conf` snippet mounts one app outside every
/// vhost; the site's vhost mounts another, unrelated one. Server-level
/// directives are inherited by every vhost, so the fix for the snippet must
/// not pull the site's app into the snippet's daemon or interpreter.
#[test]
fn server_level_snippet_does_not_capture_other_vhosts() {
    let Some(apache) = require_or_skip("server_level_snippet_does_not_capture_other_vhosts") else {
        return;
    };
    let lab = Lab::new(&apache);
    lab.write_app("app.wsgi");
    lab.write_app("other_app.wsgi");
    let a = lab.path("apps").display().to_string();
    let snippet = format!(
        "# conf-available/snippet.conf\nWSGIScriptAlias /snippet {a}/app.wsgi\n<Directory {a}>\n    Require all granted\n</Directory>\n"
    );
    let site = format!(
        "<VirtualHost *>\n    WSGIScriptAlias /vhost_app {a}/other_app.wsgi\n</VirtualHost>\n"
    );
    let site_path = lab.write("site.conf", site.as_bytes());
    let snippet_path = lab.write("snippet.conf", snippet.as_bytes());
    let mounts = ["/snippet", "/vhost_app"];

    // The site comes after the snippet, as sites-enabled follows
    // conf-enabled in Debian's apache2.conf.
    let base = lab.write_base("httpd.conf", SERVE_MODULES, &[&snippet_path, &site_path]);
    lab.assert_syntax_ok(&base, "snippet + site");
    let b = serve(&lab, &base, &mounts);
    for i in &b {
        assert_eq!(i.process_group, "", "expected embedded mode: {i:?}");
        assert_ne!(i.application_group, "", "expected a sub-interpreter: {i:?}");
    }

    let fixed = fix("server-level snippet", &snippet);
    lab.write("snippet.conf", fixed.as_bytes());
    lab.assert_syntax_ok(&base, "fixed snippet + site");
    let after = serve(&lab, &base, &mounts);
    let (snip, other) = (&after[0], &after[1]);
    assert_pymongo_layout("server-level snippet", std::slice::from_ref(snip), &fixed);
    assert_ne!(
        other.process_group, snip.process_group,
        "the snippet's daemon captured the vhost's app: {after:#?}\n--- fixed snippet ---\n{fixed}"
    );
    assert_eq!(
        other, &AppInfo { pid: other.pid, ..b[1].clone() },
        "fixing the snippet changed how the vhost's unrelated app runs: before {:?}, after {other:?}\n--- fixed snippet ---\n{fixed}",
        b[1]
    );
}

/// `wsgifix --write FILE` rewrites the file exactly as the library does, and
/// the written file serves the PyMongo layout.
#[test]
fn cli_write_fixes_a_served_config() {
    let Some(apache) = require_or_skip("cli_write_fixes_a_served_config") else {
        return;
    };
    let lab = Lab::new(&apache);
    let mounts = ["/my_app", "/my_other_app"];
    let before = two_embedded_apps(&lab);
    let conf = install(&lab, "site.conf", &before);
    assert_two_embedded(&serve(&lab, &conf, &mounts));

    let site = lab.path("site.conf");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsgifix"))
        .arg("--write")
        .arg(&site)
        .env("NO_COLOR", "1")
        .output()
        .expect("run wsgifix");
    assert!(
        out.status.success(),
        "wsgifix --write failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&site).expect("read the written config");
    let expected = fix("two embedded apps", &before);
    assert_eq!(
        written, expected,
        "--write wrote something other than the library's fix"
    );
    lab.assert_syntax_ok(&conf, "the config written by wsgifix --write");
    let after = serve(&lab, &conf, &mounts);
    assert_pymongo_layout("wsgifix --write", &after, &written);
}

/// "Apache agrees" over the real-world corpus: every config httpd accepts
/// before the fix, it accepts after.
///
/// Many corpus files name things this machine does not have (certificates,
/// users like `apache` or `keystone`, modules such as auth_gssapi), so httpd
/// rejects them before any fix and they prove nothing here; they are
/// reported and skipped rather than patched up, since inventing paths and
/// users would test the lab, not the fixer. What remains must still be a
/// real sample, hence the lower bound on how many were checked.
#[test]
fn corpus_configs_apache_accepted_stay_accepted() {
    let Some(apache) = require_or_skip("corpus_configs_apache_accepted_stay_accepted") else {
        return;
    };
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/wsgi");
    if !corpus.is_dir() {
        assert!(
            std::env::var("WSGIFIX_REQUIRE_CORPUS").as_deref() != Ok("1"),
            "corpus {} is absent and WSGIFIX_REQUIRE_CORPUS=1",
            corpus.display()
        );
        eprintln!(
            "corpus_configs_apache_accepted_stay_accepted: skipped: no corpus at {}",
            corpus.display()
        );
        return;
    }
    let mut lab = Lab::new(&apache);
    lab.set_debian_env();
    let modules = loadable_modules(&lab);
    let module_refs: Vec<&str> = modules.iter().map(String::as_str).collect();
    assert!(
        module_refs.contains(&"wsgi"),
        "mod_wsgi does not load: {modules:?}"
    );

    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("read the corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();

    let mut checked = Vec::new();
    let mut unchanged = Vec::new();
    let mut rejected_before = Vec::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read(path).expect("read a corpus file");
        let copy = lab.write(&format!("corpus/{name}"), &source);
        let base = lab.write_base(&format!("base-{name}"), &module_refs, &[&copy]);
        let out = lab.check(&base);
        if !out.ok {
            rejected_before.push(format!("{name}: {}", first_error(&out.stderr)));
            continue;
        }
        let r = engine::process(&source, &Options::default());
        let Some(fixed) = r.fixed else {
            unchanged.push(name);
            continue;
        };
        lab.write(&format!("corpus/{name}"), &fixed);
        let out = lab.check(&base);
        if out.ok {
            checked.push(name);
        } else {
            failures.push(format!(
                "{name}: apache2 -t rejects the fixed file:\n{}\n{}",
                out.stderr.trim(),
                unified_diff(&source, &fixed, &name)
            ));
        }
    }

    eprintln!(
        "corpus: {} files; {} accepted by apache2 -t before the fix: {} fixed and re-checked ({}), {} needed no fix ({}); {} rejected before the fix:",
        files.len(),
        checked.len() + unchanged.len() + failures.len(),
        checked.len() + failures.len(),
        checked.join(", "),
        unchanged.len(),
        unchanged.join(", "),
        rejected_before.len()
    );
    for r in &rejected_before {
        eprintln!("  {r}");
    }
    assert!(
        failures.is_empty(),
        "apache2 -t accepted these corpus files before the fix but not after:\n\n{}",
        failures.join("\n\n")
    );
    assert!(
        checked.len() >= 5,
        "only {} corpus files were fixed and re-checked by Apache ({checked:?}); too few to mean anything",
        checked.len()
    );
}

/// Every module in the modules directory that httpd will load together with
/// the others (one MPM comes from the base config). Loading as many as
/// possible lets corpus files that use their directives pass `-t`, and
/// makes `<IfModule>` blocks take effect as on a full server. A module that
/// fails is first retried at the end (it may need one loaded after it, e.g.
/// `authnz_ldap` needs `ldap`), then dropped.
fn loadable_modules(lab: &Lab) -> Vec<String> {
    let mut set: Vec<String> = std::fs::read_dir(&lab.apache.modules_dir)
        .expect("read the modules directory")
        .flatten()
        .filter_map(|e| {
            let f = e.file_name().into_string().ok()?;
            let short = f.strip_prefix("mod_")?.strip_suffix(".so")?.to_string();
            (!short.starts_with("mpm_")).then_some(short)
        })
        .collect();
    set.sort();
    let mut deferred: HashSet<String> = HashSet::new();
    for _ in 0..=2 * set.len() {
        let refs: Vec<&str> = set.iter().map(String::as_str).collect();
        let conf = lab.write_base("probe-modules.conf", &refs, &[]);
        let out = lab.check(&conf);
        if out.ok {
            return set;
        }
        let text = std::fs::read_to_string(&conf).unwrap();
        let bad = error_line(&out.stderr, &conf)
            .and_then(|n| text.lines().nth(n - 1))
            .and_then(|l| l.strip_prefix("LoadModule "))
            .and_then(|l| l.split('"').nth(1))
            .and_then(|p| Path::new(p).file_name()?.to_str())
            .and_then(|f| f.strip_prefix("mod_")?.strip_suffix(".so"))
            .map(str::to_string)
            .unwrap_or_else(|| {
                panic!(
                    "httpd rejects the module set, not for one module:\n{}",
                    out.stderr
                )
            });
        set.retain(|m| *m != bad);
        if deferred.insert(bad.clone()) {
            set.push(bad);
        } else {
            eprintln!("note: not loading mod_{bad}: {}", first_error(&out.stderr));
        }
    }
    panic!("the module probe did not settle")
}

/// The line number in `... on line N of CONF:` from httpd's error.
fn error_line(stderr: &str, conf: &Path) -> Option<usize> {
    let needle = format!(" of {}", conf.display());
    stderr.lines().find_map(|l| {
        let at = l.find(&needle)?;
        l[..at].rsplit(' ').next()?.parse().ok()
    })
}

fn first_error(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.contains(":warn]") && !l.trim().is_empty())
        .take(2)
        .collect::<Vec<_>>()
        .join(" / ")
}

fn unified_diff(before: &[u8], after: &[u8], name: &str) -> String {
    let a = String::from_utf8_lossy(before);
    let b = String::from_utf8_lossy(after);
    similar::TextDiff::from_lines(a.as_ref(), b.as_ref())
        .unified_diff()
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}
