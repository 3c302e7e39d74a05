//! The Ansible collection (`ansible/`) against a fleet: real
//! `ansible-playbook` drives the `migrate` playbook over 20 local hosts, each
//! with its own config tree and its own Apache + mod_wsgi serving on a
//! loopback port (SPEC.md §7).
//!
//! The fleet mixes fixable single-file and multi-file servers, correct ones,
//! one whose config has a syntax error (its Apache still runs the config it
//! started with), one whose configtest rejects the fix, and one whose app
//! breaks once it is moved into a daemon. Every Apache is stopped at the end,
//! also when an assertion fails (the `Server` guards).
//!
//! Without ansible-playbook or Apache the tests print why and pass, unless
//! `WSGIFIX_REQUIRE_ANSIBLE=1` / `WSGIFIX_REQUIRE_APACHE=1` say this machine
//! must have them.

mod ansible_support;
mod common;
mod e2e_support;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use ansible_support::{inventory_yaml, Run};
use e2e_support::{Lab, Server};
use serde_json::{json, Value};

const SERVE_MODULES: &[&str] = &["authz_core", "alias", "mime", "wsgi"];

/// Small process pools: 20 servers share two cores with everything else.
const MPM_TUNING: &str = "StartServers 1\nServerLimit 4\nThreadsPerChild 4\nThreadLimit 4\nMaxRequestWorkers 8\nMinSpareThreads 1\nMaxSpareThreads 8\n";

/// An app that works embedded but fails in a daemon (it keeps per-child state
/// that a daemon does not have): the smoke test catches it after the fix.
const DAEMON_HOSTILE_APP: &str = r#"def application(environ, start_response):
    if environ.get("mod_wsgi.process_group"):
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"this app only works embedded\n"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One embedded app, everything in the main config.
    SingleOne,
    /// Two apps in one daemon, in the main config.
    SingleShared,
    /// A daemon in a sub-interpreter, in the main config.
    SingleSub,
    /// sites/*.conf (a vhost, two apps) + conf/*.conf (a server-level app).
    Multi,
    /// Already daemon mode, own group, %{GLOBAL}.
    Correct,
    /// Multi, then a file with a syntax error appears (Apache still runs).
    Syntax,
    /// The configtest also defines the daemon name the fix picks.
    VerifyFails,
    /// The fix is fine for Apache, but the app fails in a daemon.
    SmokeFails,
}

impl Kind {
    fn fixable(self) -> bool {
        matches!(
            self,
            Kind::SingleOne | Kind::SingleShared | Kind::SingleSub | Kind::Multi
        )
    }
}

/// The fleet, in inventory order. With `serial: [1, 25%]` over the 19
/// hosts left after the audit (batches of 1, 4, 4, 4, 4, 2), each batch
/// holds at most one host that fails.
const FLEET: &[Kind] = &[
    Kind::SingleOne, // the canary
    Kind::SingleShared,
    Kind::Multi,
    Kind::VerifyFails,
    Kind::Correct,
    Kind::SingleSub,
    Kind::Multi,
    Kind::Correct,
    Kind::SingleOne,
    Kind::SmokeFails,
    Kind::Multi,
    Kind::Syntax,
    Kind::SingleShared,
    Kind::Correct,
    Kind::Multi,
    Kind::SingleSub,
    Kind::Correct,
    Kind::Multi,
    Kind::SingleShared,
    Kind::SingleOne,
];

struct Host {
    name: String,
    kind: Kind,
    lab: Lab,
    conf: PathBuf,
    mounts: Vec<&'static str>,
    verify_cmd: Option<String>,
}

fn vhost(lines: &str) -> String {
    format!("<VirtualHost *>\n    ServerName web.test\n{lines}</VirtualHost>\n")
}

fn new_host(apache: &e2e_support::Apache, i: usize, kind: Kind) -> Host {
    let lab = Lab::new(apache);
    let a = lab.path("apps").display().to_string();
    let d = lab.dir().display().to_string();
    let mut main = lab.base_config(SERVE_MODULES, &[]);
    main.push_str(MPM_TUNING);
    let mut verify_cmd = None;
    let mounts: Vec<&'static str> = match kind {
        Kind::SingleOne => {
            lab.write_app("app.wsgi");
            main.push_str(&vhost(&format!("    WSGIScriptAlias /app {a}/app.wsgi\n")));
            vec!["/app"]
        }
        Kind::SingleShared => {
            lab.write_app("shop.wsgi");
            lab.write_app("blog.wsgi");
            main.push_str(&vhost(&format!(
                "    WSGIDaemonProcess shared processes=1 threads=2\n    WSGIProcessGroup shared\n    WSGIScriptAlias /shop {a}/shop.wsgi\n    WSGIScriptAlias /blog {a}/blog.wsgi\n"
            )));
            vec!["/shop", "/blog"]
        }
        Kind::SingleSub => {
            lab.write_app("app.wsgi");
            main.push_str(&vhost(&format!(
                "    WSGIDaemonProcess solo processes=1 threads=2\n    WSGIProcessGroup solo\n    WSGIScriptAlias /app {a}/app.wsgi\n"
            )));
            vec!["/app"]
        }
        Kind::Multi | Kind::Syntax => {
            lab.write_app("shop.wsgi");
            lab.write_app("blog.wsgi");
            lab.write_app("reports.wsgi");
            lab.write(
                "sites/main.conf",
                vhost(&format!(
                    "    WSGIScriptAlias /shop {a}/shop.wsgi\n    WSGIScriptAlias /blog {a}/blog.wsgi\n"
                ))
                .as_bytes(),
            );
            lab.write(
                "conf/reports.conf",
                format!("WSGIScriptAlias /reports {a}/reports.wsgi\n<Directory {a}>\n    Require all granted\n</Directory>\n").as_bytes(),
            );
            main.push_str(&format!(
                "IncludeOptional {d}/conf/*.conf\nIncludeOptional {d}/sites/*.conf\n"
            ));
            vec!["/shop", "/blog", "/reports"]
        }
        Kind::Correct => {
            lab.write_app("app.wsgi");
            main.push_str(&vhost(&format!(
                "    WSGIDaemonProcess app processes=1 threads=2\n    WSGIProcessGroup app\n    WSGIApplicationGroup %{{GLOBAL}}\n    WSGIScriptAlias /app {a}/app.wsgi\n"
            )));
            vec!["/app"]
        }
        Kind::VerifyFails => {
            lab.write_app("legacy.wsgi");
            main.push_str(&vhost(&format!(
                "    WSGIScriptAlias /legacy {a}/legacy.wsgi\n"
            )));
            // Directives after the config (`-c`, as APACHE_ARGUMENTS can
            // carry) that wsgifix never sees: the daemon name it picks for
            // /legacy is taken.
            verify_cmd = Some(format!(
                "{} -d {d} -f {d}/apache2.conf -t -c 'WSGIDaemonProcess legacy'",
                lab.apache.bin.display()
            ));
            vec!["/legacy"]
        }
        Kind::SmokeFails => {
            lab.write("apps/cache.wsgi", DAEMON_HOSTILE_APP.as_bytes());
            main.push_str(&vhost(&format!(
                "    WSGIScriptAlias /cache {a}/cache.wsgi\n"
            )));
            vec!["/cache"]
        }
    };
    let conf = lab.write("apache2.conf", main.as_bytes());
    lab.assert_syntax_ok(&conf, &format!("host {i} ({kind:?})"));
    let tag = format!("{kind:?}").to_lowercase();
    Host {
        name: format!("web{i:02}-{tag}"),
        kind,
        lab,
        conf,
        mounts,
        verify_cmd,
    }
}

/// Every file of a host's config tree (what Apache reads), by path: not
/// logs, pids, sockets, checkpoints or the installed binary.
fn config_tree(h: &Host) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![h.lab.dir().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read a host dir").flatten() {
            let p = e.path();
            let top = p.strip_prefix(h.lab.dir()).unwrap();
            let first = top.components().next().unwrap().as_os_str();
            if ["log", "run", "lock", "state", "bin"]
                .iter()
                .any(|s| first == *s)
            {
                continue;
            }
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// What `wsgifix --check` itself finds on a host, by rule (in the files it
/// could read), and the errors of the files it could not.
fn findings_by_rule(h: &Host) -> (BTreeMap<String, u64>, Vec<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_wsgifix"))
        .args(["--check", "--format", "json", "--config"])
        .arg(&h.conf)
        .output()
        .expect("run wsgifix");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("wsgifix JSON");
    let mut by_rule = BTreeMap::new();
    let mut errors = Vec::new();
    for f in doc["files"].as_array().unwrap() {
        if !f["error"].is_null() {
            errors.push(f["error"]["message"].to_string());
        }
        for x in f["findings"].as_array().unwrap() {
            *by_rule
                .entry(x["code"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
    }
    (by_rule, errors)
}

/// The binary the role copies to each host: stripped when `strip` is
/// there (a debug build is ~50 MB, copied to every host).
fn binary_to_install(work: &Path) -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_wsgifix"));
    let small = work.join("wsgifix");
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&small)
        .arg(&bin)
        .status()
        .is_ok_and(|s| s.success());
    if stripped {
        small
    } else {
        bin
    }
}

fn inventory(hosts: &[Host], work: &Path) -> PathBuf {
    let bin = binary_to_install(work);
    let python = if Path::new("/usr/bin/python3").is_file() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let entries: Vec<(String, Vec<(&str, Value)>)> = hosts
        .iter()
        .map(|h| {
            let d = h.lab.dir().display().to_string();
            let port = h.lab.port();
            let mut vars = vec![
                ("ansible_connection", json!("local")),
                ("ansible_python_interpreter", json!(python)),
                ("wsgifix_binary_src", json!(bin)),
                ("wsgifix_binary", json!(format!("{d}/bin/wsgifix"))),
                ("wsgifix_state_dir", json!(format!("{d}/state"))),
                ("wsgifix_config", json!(h.conf)),
                (
                    "wsgifix_reload_cmd",
                    json!(format!(
                        "{} -d {d} -f {} -k graceful",
                        h.lab.apache.bin.display(),
                        h.conf.display()
                    )),
                ),
                (
                    "wsgifix_smoke_urls",
                    json!(h
                        .mounts
                        .iter()
                        .map(|m| format!("http://127.0.0.1:{port}{m}"))
                        .collect::<Vec<_>>()),
                ),
            ];
            vars.push((
                "wsgifix_verify_cmd",
                json!(h.verify_cmd.clone().unwrap_or_else(|| format!(
                    "{} -d {d} -f {} -t",
                    h.lab.apache.bin.display(),
                    h.conf.display()
                ))),
            ));
            (h.name.clone(), vars)
        })
        .collect();
    let p = work.join("hosts.yml");
    std::fs::write(&p, inventory_yaml(&entries)).unwrap();
    p
}

fn report(dir: &Path) -> Value {
    let p = dir.join("fleet-report.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("the fleet report is JSON")
}

/// The report's rule totals per host equal what wsgifix finds on each host
/// now, and its fleet totals are their sums.
fn assert_report_matches_hosts(rep: &Value, hosts: &[Host], run: &Run) {
    let mut fleet: BTreeMap<String, u64> = BTreeMap::new();
    for h in hosts {
        let entry = &rep["hosts"][&h.name];
        let (expected, errors) = findings_by_rule(h);
        assert_eq!(
            errors.is_empty(),
            h.kind != Kind::Syntax,
            "{}: errors {errors:?}",
            h.name
        );
        let got: BTreeMap<String, u64> = serde_json::from_value(entry["by_rule"].clone()).unwrap();
        assert_eq!(
            got,
            expected,
            "{}: by_rule in the report\n{}",
            h.name,
            run.tail()
        );
        for (k, v) in expected {
            *fleet.entry(k).or_insert(0) += v;
        }
    }
    let totals: BTreeMap<String, u64> =
        serde_json::from_value(rep["totals"]["by_rule"].clone()).unwrap();
    assert_eq!(
        totals,
        fleet,
        "fleet totals by rule; report:\n{}",
        serde_json::to_string_pretty(rep).unwrap()
    );
    assert_eq!(
        rep["totals"]["findings"].as_u64().unwrap(),
        fleet.values().sum::<u64>()
    );
    assert_eq!(rep["totals"]["hosts"].as_u64().unwrap(), hosts.len() as u64);
}

fn failed_reason(rep: &Value, host: &str) -> String {
    rep["failed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["host"] == host)
        .unwrap_or_else(|| panic!("{host} is not among the failed hosts: {}", rep["failed"]))
        ["reason"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The failed hosts are exactly the hosts of `kinds`, each with its reason
/// in the report.
fn assert_failures(rep: &Value, hosts: &[Host], run: &Run, kinds: &[Kind]) {
    for h in hosts {
        let expect_fail = kinds.contains(&h.kind);
        assert_eq!(
            run.count(&h.name, "failed") > 0,
            expect_fail,
            "{}: failed in the recap\n{}",
            h.name,
            run.tail()
        );
        if !expect_fail {
            continue;
        }
        let why = failed_reason(rep, &h.name);
        let must: &[&str] = match h.kind {
            Kind::Syntax => &["audit failed", "broken.conf:", "was not closed"],
            Kind::VerifyFails => &[
                "configtest failed",
                "restored",
                "duplicates previous WSGI daemon definition",
            ],
            Kind::SmokeFails => &["smoke test failed", "/cache", "rolled back"],
            _ => &[],
        };
        for m in must {
            assert!(why.contains(m), "{}: reason {why:?} lacks {m:?}", h.name);
        }
    }
    let n = rep["failed"].as_array().unwrap().len();
    let expected = hosts.iter().filter(|h| kinds.contains(&h.kind)).count();
    assert_eq!(n, expected, "failed hosts: {}", rep["failed"]);
}

/// Each app reports its own daemon and the main interpreter.
fn assert_apps_fixed(h: &Host, server: &Server) {
    let infos: Vec<_> = h.mounts.iter().map(|m| server.app(m)).collect();
    for i in &infos {
        assert!(!i.process_group.is_empty(), "{}: {i:?} embedded", h.name);
        assert_eq!(i.application_group, "", "{}: {i:?}", h.name);
    }
    let groups: HashSet<&str> = infos.iter().map(|i| i.process_group.as_str()).collect();
    assert_eq!(
        groups.len(),
        infos.len(),
        "{}: shared groups {infos:#?}",
        h.name
    );
}

#[test]
fn fleet_migration_with_ansible_playbook() {
    let Some(apache) = e2e_support::require_or_skip("fleet_migration_with_ansible_playbook") else {
        return;
    };
    let Some(ansible) = ansible_support::require_or_skip("fleet_migration_with_ansible_playbook")
    else {
        return;
    };
    let work = tempfile::Builder::new()
        .prefix("wsgifix-fleet-")
        .tempdir()
        .unwrap();
    let report_dir = work.path().join("report");
    let hosts: Vec<Host> = FLEET
        .iter()
        .enumerate()
        .map(|(i, k)| new_host(&apache, i, *k))
        .collect();
    let servers: Vec<Server> = hosts.iter().map(|h| h.lab.start(&h.conf)).collect();
    for (h, s) in hosts.iter().zip(&servers) {
        match h.kind {
            // The broken state really is broken before anything runs.
            k if k.fixable() || k == Kind::VerifyFails => {
                let infos: Vec<_> = h.mounts.iter().map(|m| s.app(m)).collect();
                assert!(
                    infos
                        .iter()
                        .any(|i| i.process_group.is_empty() || !i.application_group.is_empty())
                        || infos[0].process_group == infos[infos.len() - 1].process_group
                            && infos.len() > 1,
                    "{}: nothing to fix? {infos:#?}",
                    h.name
                );
            }
            Kind::Syntax => {
                // Edited on disk after Apache started: Apache still serves
                // the old config, wsgifix must refuse the new one.
                h.lab.write(
                    "sites/broken.conf",
                    b"<VirtualHost *>\n    ServerName broken.test\n",
                );
            }
            _ => {}
        }
    }
    let inv = inventory(&hosts, work.path());
    let originals: Vec<_> = hosts.iter().map(config_tree).collect();
    let extra = [
        "-e",
        "wsgifix_max_fail_percentage=30",
        "-e",
        "{\"wsgifix_serial\": [1, \"25%\"]}",
    ];

    // 1. Review: --check --diff changes no byte and shows the diffs.
    let mut args = vec!["--check", "--diff"];
    args.extend(extra);
    let check = ansible.migrate(&inv, &report_dir, work.path(), &args);
    assert!(!check.recap.is_empty(), "no PLAY RECAP\n{}", check.tail());
    for (h, before) in hosts.iter().zip(&originals) {
        assert_eq!(
            &config_tree(h),
            before,
            "{}: --check changed a file",
            h.name
        );
        assert!(
            h.lab.path("bin/wsgifix").is_file(),
            "{}: not installed",
            h.name
        );
    }
    let multi = hosts.iter().find(|h| h.kind == Kind::Multi).unwrap();
    let site = multi.lab.path("sites/main.conf");
    for needle in [
        format!("--- before: {}", site.display()),
        format!("+++ after: {}", site.display()),
        "+    WSGIDaemonProcess shop".to_string(),
        "+    WSGIApplicationGroup %{GLOBAL}".to_string(),
    ] {
        assert!(
            check.stdout.contains(&needle),
            "no {needle:?} in\n{}",
            check.tail()
        );
    }
    let rep = report(&report_dir);
    assert_eq!(rep["check_mode"], true);
    assert_report_matches_hosts(&rep, &hosts, &check);
    assert_failures(&rep, &hosts, &check, &[Kind::Syntax]);
    for h in hosts.iter().filter(|h| h.kind.fixable()) {
        assert_eq!(rep["hosts"][&h.name]["status"], "would-fix", "{}", h.name);
    }

    // 2. The migration.
    let real = ansible.migrate(&inv, &report_dir, work.path(), &extra);
    let rep = report(&report_dir);
    assert_eq!(rep["check_mode"], false);
    assert_failures(
        &rep,
        &hosts,
        &real,
        &[Kind::Syntax, Kind::VerifyFails, Kind::SmokeFails],
    );
    for ((h, before), server) in hosts.iter().zip(&originals).zip(&servers) {
        let now = config_tree(h);
        if h.kind.fixable() {
            assert_ne!(&now, before, "{}: not fixed\n{}", h.name, real.tail());
            assert_eq!(rep["hosts"][&h.name]["status"], "fixed", "{}", h.name);
            assert_apps_fixed(h, server);
        } else {
            // Correct, refused, rolled back: byte for byte what it was.
            assert_eq!(&now, before, "{}: changed\n{}", h.name, real.tail());
        }
        match h.kind {
            Kind::SmokeFails => {
                assert!(
                    h.lab.path("state/ansible-hold").is_file(),
                    "{}: not held",
                    h.name
                );
                assert_eq!(rep["hosts"][&h.name]["rolled_back"], true);
                // Reloaded with the restored config: embedded and healthy.
                let (status, _) = server.get_raw("/cache").unwrap();
                assert_eq!(status, 200, "{}: not healthy after the rollback", h.name);
            }
            Kind::VerifyFails => {
                assert_eq!(rep["hosts"][&h.name]["verify"]["result"], "failed");
                assert_eq!(server.app("/legacy").process_group, "", "{}", h.name);
            }
            _ => {}
        }
    }

    // 3. Nothing left to do: a second run changes nothing anywhere.
    let again = ansible.migrate(&inv, &report_dir, work.path(), &extra);
    for h in &hosts {
        assert_eq!(
            again.count(&h.name, "changed"),
            0,
            "{}\n{}",
            h.name,
            again.tail()
        );
    }
    let rep = report(&report_dir);
    assert_report_matches_hosts(&rep, &hosts, &again);
    // The host rolled back after its smoke test is held, not broken again.
    assert_failures(&rep, &hosts, &again, &[Kind::Syntax, Kind::VerifyFails]);
    for h in hosts.iter().filter(|h| h.kind == Kind::SmokeFails) {
        assert_eq!(rep["hosts"][&h.name]["status"], "held", "{}", h.name);
    }

    // httpd's `-k stop` reads the config too: let it read a good one.
    for h in hosts.iter().filter(|h| h.kind == Kind::Syntax) {
        std::fs::remove_file(h.lab.path("sites/broken.conf")).unwrap();
    }
    for s in servers {
        s.stop();
    }
}

/// The module's own unit tests (argument spec against its documentation,
/// check mode, diff output, verify failure, rollback), run with the Python
/// that runs ansible, against this build of wsgifix.
#[test]
fn module_unit_tests() {
    let Some(ansible) = ansible_support::require_or_skip("module_unit_tests") else {
        return;
    };
    let dir = ansible_support::ansible_dir();
    let out = Command::new(&ansible.python)
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(dir.join("ansible_collections/wsgifix/fleet/tests/unit"))
        .env("PYTHONPATH", ansible_support::collection_pythonpath())
        .env("WSGIFIX_BIN", env!("CARGO_BIN_EXE_wsgifix"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run python -m unittest");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "module unit tests failed:\n{err}");
    assert!(err.contains("\nOK"), "no tests ran?\n{err}");
}
