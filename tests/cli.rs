//! The command line as users and CI scripts see it: exit status, streams,
//! formats, and what `--write` does to files on disk.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

const CLEAN: &str =
    "ServerName example.org\n<Directory /srv>\n    Require all granted\n</Directory>\n";
const BROKEN: &str = "ServerName example.org\n<VirtualHost *:80>\n    ServerName a\n";
const EMBEDDED: &str = "\
<VirtualHost *:80>
    ServerName app.example.org
    WSGIScriptAlias / /srv/app/app.wsgi
    <Directory /srv/app>
        Require all granted
    </Directory>
</VirtualHost>
";

fn wsgifix() -> Command {
    // Checkpoints and locks of --write go to a state dir of this test run,
    // never to the machine's /var/lib/wsgifix.
    static STATE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let state = STATE.get_or_init(|| tempfile::tempdir().unwrap());
    let mut c = Command::cargo_bin("wsgifix").unwrap();
    c.env("WSGIFIX_STATE_DIR", state.path());
    // The user's environment must not decide colour in tests that do not ask.
    c.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR");
    c
}

fn snap(name: &str, value: &str) {
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, value);
    });
}

fn temp_leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".wsgifix-") {
            found.push(e.path());
        }
        if e.file_type().unwrap().is_dir() {
            found.extend(temp_leftovers(&e.path()));
        }
    }
    found
}

#[test]
fn clean_file_exits_0_with_empty_stdout() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("clean.conf"), CLEAN).unwrap();
    for mode in ["--dry-run", "--check", "--write"] {
        wsgifix()
            .arg(mode)
            .arg(d.path().join("clean.conf"))
            .assert()
            .code(0)
            .stdout("");
    }
}

#[test]
fn syntax_error_exits_2_and_other_files_are_still_processed() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a-broken.conf"), BROKEN).unwrap();
    fs::write(d.path().join("b-clean.conf"), CLEAN).unwrap();
    let out = wsgifix()
        .current_dir(d.path())
        .args(["--format", "json", "."])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "wsgifix: error: ./a-broken.conf:2:1: <VirtualHost> was not closed.",
        ))
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["error"]["kind"], "syntax");
    assert_eq!(files[1]["path"], "./b-clean.conf");
    assert!(files[1]["error"].is_null());

    // Same status whatever the format or mode.
    for args in [
        &["--check"][..],
        &["--dry-run"],
        &["--write"],
        &["--format", "text"],
    ] {
        wsgifix()
            .current_dir(d.path())
            .args(args)
            .arg(".")
            .assert()
            .code(2);
    }
}

#[test]
fn file_with_syntax_error_is_never_written() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("broken.conf");
    // CRLF and no final newline: any rewrite at all would show.
    let bytes = b"<VirtualHost *:80>\r\n  WSGIScriptAlias / /srv/a.wsgi\r\n  ServerName a";
    fs::write(&p, bytes).unwrap();
    let before = fs::metadata(&p).unwrap();
    wsgifix().arg("--write").arg(&p).assert().code(2);
    let after = fs::metadata(&p).unwrap();
    assert_eq!(fs::read(&p).unwrap(), bytes);
    assert_eq!(before.ino(), after.ino());
    assert!(temp_leftovers(d.path()).is_empty());
}

#[test]
fn usage_errors_exit_2() {
    wsgifix()
        .args(["--select", "WSGI999", "x.conf"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("WSGI999"));
    wsgifix()
        .args(["--ignore", "WSGI001,nope", "x.conf"])
        .assert()
        .code(2);
    wsgifix().arg("--no-such-flag").assert().code(2);
    wsgifix()
        .args(["--write", "--check", "x.conf"])
        .assert()
        .code(2);
    wsgifix()
        .args(["--format", "xml", "x.conf"])
        .assert()
        .code(2);
    wsgifix().args(["--jobs", "0", "x.conf"]).assert().code(2);
    wsgifix()
        .args(["--include", "a{b", "x.conf"])
        .assert()
        .code(2);
}

#[test]
fn select_accepts_codes_and_names() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.conf"), CLEAN).unwrap();
    wsgifix()
        .args([
            "--check",
            "--select",
            "wsgi001,shared-process-group",
            "--ignore",
            "WSGI005",
        ])
        .arg(d.path().join("a.conf"))
        .assert()
        .code(0);
}

#[test]
fn missing_file_is_an_io_error() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.conf"), CLEAN).unwrap();
    wsgifix()
        .current_dir(d.path())
        .args(["missing.conf", "a.conf"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "wsgifix: error: missing.conf: No such file or directory",
        ))
        .stderr(predicate::str::contains("2 files checked"));
}

#[test]
fn stdin_is_read_with_dash() {
    wsgifix()
        .arg("-")
        .write_stdin(CLEAN)
        .assert()
        .code(0)
        .stdout("");
    wsgifix()
        .args(["--check", "-"])
        .write_stdin(BROKEN)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "wsgifix: error: <stdin>:2:1: <VirtualHost> was not closed.",
        ));
}

#[test]
fn stdin_write_prints_the_config_byte_for_byte() {
    let input = b"ServerName a\r\n# caf\xe9 \\\r\n  continued\r\nListen 80".to_vec();
    wsgifix()
        .args(["--write", "-"])
        .write_stdin(input.clone())
        .assert()
        .code(0)
        .stdout(input);
}

#[test]
fn stdin_write_counts_the_printed_fix_as_fixed() {
    // A sweep read "0 fixed" under the fixed config it had just printed.
    wsgifix()
        .args(["--write", "-"])
        .write_stdin("WSGIScriptAlias / /srv/a.wsgi\n")
        .assert()
        .stdout(predicates::str::contains("WSGIDaemonProcess a\n"))
        .stderr(predicates::str::contains("1 file checked, 1 fixed,"));
}

#[test]
fn explain_prints_the_rule() {
    let out = wsgifix()
        .args(["--explain", "WSGI001"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("WSGI001 (embedded-mode): WSGI application runs in embedded mode\n"));
    assert!(text.contains("WSGIDaemonProcess"));
    snap("cli_explain_wsgi001", &text);

    // By name too, and an unknown rule is a usage error.
    wsgifix()
        .args(["--explain", "duplicate-daemon-name"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("WSGI005 "));
    wsgifix().args(["--explain", "WSGI042"]).assert().code(2);
}

#[test]
fn json_is_one_document_with_the_documented_keys() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir(d.path().join("sites")).unwrap();
    fs::write(d.path().join("sites/app.conf"), EMBEDDED).unwrap();
    fs::write(d.path().join("sites/broken.conf"), BROKEN).unwrap();
    fs::write(d.path().join("clean.conf"), CLEAN).unwrap();
    let out = wsgifix()
        .current_dir(d.path())
        .args(["--format", "json", "--check", "clean.conf", "sites"])
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("one JSON document");
    let obj = v.as_object().unwrap();
    assert_eq!(
        obj.keys().collect::<Vec<_>>(),
        [
            "checkpoint",
            "files",
            "mode",
            "schema_version",
            "summary",
            "tool",
            "verify",
            "written"
        ]
    );
    let files = v["files"].as_array().unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["clean.conf", "sites/app.conf", "sites/broken.conf"]);
    for f in files {
        for key in ["path", "changed", "findings", "diff", "error"] {
            assert!(f.get(key).is_some(), "missing {key} in {f}");
        }
        assert!(f["findings"].is_array());
        for finding in f["findings"].as_array().unwrap() {
            for key in ["code", "name", "line", "column", "message", "fixable"] {
                assert!(finding.get(key).is_some(), "missing {key} in {finding}");
            }
        }
    }
    assert_eq!(files[2]["error"]["line"], 2);
    assert_eq!(v["summary"]["files"], 3);
    assert_eq!(v["summary"]["errors"], 1);
    assert_eq!(v["summary"]["exit_code"], 2);
}

#[test]
fn json_snapshot_of_clean_and_broken_files() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("broken.conf"), BROKEN).unwrap();
    fs::write(d.path().join("clean.conf"), CLEAN).unwrap();
    let out = wsgifix()
        .current_dir(d.path())
        .args(["--format", "json", "clean.conf", "broken.conf"])
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    // real_path is absolute: the temp dir is not part of the snapshot.
    let tmp = d.path().canonicalize().unwrap();
    let text = serde_json::to_string_pretty(&v)
        .unwrap()
        .replace(tmp.to_str().unwrap(), "TMP");
    snap("cli_json_clean_and_broken", &text);
}

#[test]
fn colour_follows_the_flag_and_the_environment() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("broken.conf"), BROKEN).unwrap();
    let esc = predicate::str::contains("\x1b[");
    // Not a terminal: no colour by default.
    wsgifix()
        .arg(d.path().join("broken.conf"))
        .assert()
        .code(2)
        .stderr(esc.clone().not());
    wsgifix()
        .args(["--explain", "WSGI001"])
        .assert()
        .stdout(esc.clone().not());
    // Forced on by the flag or by CLICOLOR_FORCE.
    wsgifix()
        .args(["--color", "always"])
        .arg(d.path().join("broken.conf"))
        .assert()
        .code(2)
        .stderr(esc.clone());
    wsgifix()
        .args(["--color", "always", "--explain", "WSGI001"])
        .assert()
        .stdout(esc.clone());
    wsgifix()
        .env("CLICOLOR_FORCE", "1")
        .args(["--explain", "WSGI001"])
        .assert()
        .stdout(esc.clone());
    // --color never beats CLICOLOR_FORCE; NO_COLOR keeps auto off.
    wsgifix()
        .env("CLICOLOR_FORCE", "1")
        .args(["--color", "never", "--explain", "WSGI001"])
        .assert()
        .stdout(esc.clone().not());
    wsgifix()
        .env("NO_COLOR", "1")
        .arg(d.path().join("broken.conf"))
        .assert()
        .stderr(esc.clone().not());
}

#[test]
fn json_is_never_coloured() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("broken.conf"), BROKEN).unwrap();
    let out = wsgifix()
        .args(["--color", "always", "--format", "json"])
        .arg(d.path().join("broken.conf"))
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    assert!(!out.contains(&0x1b));
    serde_json::from_slice::<serde_json::Value>(&out).unwrap();
}

#[test]
fn write_through_symlink_keeps_link_mode_and_leaves_no_temp_files() {
    let d = tempfile::tempdir().unwrap();
    let avail = d.path().join("sites-available");
    let enabled = d.path().join("sites-enabled");
    fs::create_dir_all(&avail).unwrap();
    fs::create_dir_all(&enabled).unwrap();
    let target = avail.join("app.conf");
    fs::write(&target, EMBEDDED).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
    let owner = fs::metadata(&target).unwrap();
    let link = enabled.join("app.conf");
    std::os::unix::fs::symlink("../sites-available/app.conf", &link).unwrap();

    let expected = fixed_via_stdin(EMBEDDED.as_bytes());
    wsgifix().arg("--write").arg(&enabled).assert().code(0);
    assert_eq!(fs::read(&target).unwrap(), expected);
    assert_ne!(expected, EMBEDDED.as_bytes());

    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("../sites-available/app.conf")
    );
    let meta = fs::metadata(&target).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o640);
    assert_eq!((meta.uid(), meta.gid()), (owner.uid(), owner.gid()));
    assert!(temp_leftovers(d.path()).is_empty());
    // Whatever was fixed, the result is stable: a second look finds no change.
    wsgifix().arg("--dry-run").arg(&link).assert().stdout("");
}

/// What `--write -` makes of `input`: the reference for the other modes.
fn fixed_via_stdin(input: &[u8]) -> Vec<u8> {
    wsgifix()
        .args(["--write", "-"])
        .write_stdin(input.to_vec())
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone()
}

#[test]
fn dry_run_diff_write_and_stdin_agree() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("app.conf");
    // CRLF and no final newline: the diff and the write must keep both.
    let input = EMBEDDED.replace('\n', "\r\n").trim_end().to_string();
    fs::write(&p, &input).unwrap();
    let expected = fixed_via_stdin(input.as_bytes());
    assert_ne!(expected, input.as_bytes(), "an embedded app must be fixed");
    assert!(!String::from_utf8_lossy(&expected).contains("\r\r"));

    let diff = wsgifix()
        .current_dir(d.path())
        .arg("app.conf")
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(diff.clone()).unwrap();
    assert!(
        text.starts_with("--- a/app.conf\n+++ b/app.conf\n@@ -"),
        "{text}"
    );
    assert!(
        text.contains("\r\n"),
        "CRLF lines keep their CR in the diff"
    );
    assert!(!text.contains('\x1b'));

    // The JSON diff is the text diff.
    let json = wsgifix()
        .current_dir(d.path())
        .args(["--format", "json", "app.conf"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["files"][0]["diff"], text.as_str());
    assert_eq!(v["files"][0]["changed"], true);

    // patch(1) turns the original into exactly what --write produces.
    let copy = d.path().join("copy.conf");
    fs::write(&copy, &input).unwrap();
    if let Ok(mut child) = std::process::Command::new("patch")
        .args(["--quiet", "--binary", "--force"])
        .arg(&copy)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&diff).unwrap();
        assert!(child.wait().unwrap().success());
        assert_eq!(fs::read(&copy).unwrap(), expected);
    }

    wsgifix()
        .current_dir(d.path())
        .args(["--write", "app.conf"])
        .assert()
        .code(0)
        .stdout("")
        .stderr(predicate::str::contains("fixed app.conf"));
    assert_eq!(fs::read(&p).unwrap(), expected);
    // Idempotent: nothing left to change.
    wsgifix()
        .current_dir(d.path())
        .arg("app.conf")
        .assert()
        .code(0)
        .stdout("");
}

#[test]
fn check_lists_findings_one_per_line() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("app.conf"), EMBEDDED).unwrap();
    let out = wsgifix()
        .current_dir(d.path())
        .args(["--check", "app.conf"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.is_empty());
    for line in text.lines() {
        let (place, rest) = line.split_once(' ').unwrap();
        let parts: Vec<&str> = place.split(':').collect();
        assert_eq!(parts[0], "app.conf", "{line}");
        assert!(
            parts[1].parse::<u32>().is_ok() && parts[2].parse::<u32>().is_ok(),
            "{line}"
        );
        assert!(rest.starts_with("WSGI0"), "{line}");
    }
    assert!(text.contains(" WSGI001 "), "{text}");
    // --ignore removes them from the report and from the status.
    wsgifix()
        .current_dir(d.path())
        .args([
            "--check",
            "--ignore",
            "WSGI001,WSGI002,WSGI003,WSGI004,WSGI005",
        ])
        .arg("app.conf")
        .assert()
        .code(0)
        .stdout("");
}

#[test]
fn diff_is_coloured_only_when_asked() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("app.conf"), EMBEDDED).unwrap();
    let run = |args: &[&str], env: Option<(&str, &str)>| -> String {
        let mut c = wsgifix();
        c.current_dir(d.path()).args(args).arg("app.conf");
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        String::from_utf8(c.assert().code(1).get_output().stdout.clone()).unwrap()
    };
    assert!(!run(&[], None).contains('\x1b'));
    assert!(!run(&["--color", "auto"], Some(("NO_COLOR", "1"))).contains('\x1b'));
    let always = run(&["--color", "always"], None);
    assert!(always.contains("\x1b[32m+"), "{always:?}");
    assert!(run(&[], Some(("CLICOLOR_FORCE", "1"))).contains("\x1b[32m+"));
    assert!(run(&["--check", "--color", "always"], None).contains("\x1b["));
}

#[test]
fn write_leaves_unchanged_files_untouched() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("clean.conf");
    fs::write(&p, CLEAN).unwrap();
    let before = fs::metadata(&p).unwrap();
    wsgifix().arg("--write").arg(d.path()).assert().code(0);
    let after = fs::metadata(&p).unwrap();
    assert_eq!(before.ino(), after.ino());
    assert_eq!(before.mtime_nsec(), after.mtime_nsec());
    assert_eq!(fs::read_to_string(&p).unwrap(), CLEAN);
}

#[test]
fn walk_order_filters_and_explicit_paths() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    fs::create_dir_all(root.join("conf.d")).unwrap();
    fs::create_dir_all(root.join("skip")).unwrap();
    for f in [
        "z.conf",
        "a.conf",
        "notes.txt",
        "conf.d/m.conf",
        "skip/s.conf",
    ] {
        fs::write(root.join(f), CLEAN).unwrap();
    }
    let paths = |args: &[&str]| -> Vec<String> {
        let out = wsgifix()
            .current_dir(root)
            .args(["--format", "json"])
            .args(args)
            .assert()
            .code(0)
            .get_output()
            .stdout
            .clone();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        paths(&["."]),
        [
            "./a.conf",
            "./conf.d/m.conf",
            "./notes.txt",
            "./skip/s.conf",
            "./z.conf"
        ]
    );
    assert_eq!(
        paths(&["--include", "*.conf", "--exclude", "skip", "."]),
        ["./a.conf", "./conf.d/m.conf", "./z.conf"]
    );
    // Named explicitly: processed despite --exclude; -j does not change order.
    assert_eq!(
        paths(&["-j", "1", "--exclude", "*.txt", "notes.txt", "."]),
        [
            "notes.txt",
            "./a.conf",
            "./conf.d/m.conf",
            "./skip/s.conf",
            "./z.conf"
        ]
    );
    assert_eq!(
        paths(&["-j", "2", "--exclude", "*.txt", "notes.txt", "."]),
        [
            "notes.txt",
            "./a.conf",
            "./conf.d/m.conf",
            "./skip/s.conf",
            "./z.conf"
        ]
    );
}

#[test]
fn config_file_is_processed() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("httpd.conf"), BROKEN).unwrap();
    wsgifix()
        .current_dir(d.path())
        .args(["--check", "--config", "httpd.conf"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("httpd.conf:2:1:"));
}

#[test]
fn help_documents_modes_and_includes_caveat() {
    wsgifix()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("--dry-run"))
        .stdout(predicate::str::contains("--write"))
        .stdout(predicate::str::contains("Include"))
        .stdout(predicate::str::contains("Exit status"));
}

#[test]
fn corpus_wsgi_configs_keep_the_exit_status_contract() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/wsgi");
    if !corpus.is_dir() {
        assert!(
            std::env::var("WSGIFIX_REQUIRE_CORPUS").as_deref() != Ok("1"),
            "corpus {} is absent and WSGIFIX_REQUIRE_CORPUS=1",
            corpus.display()
        );
        eprintln!("skipping: {} not present", corpus.display());
        return;
    }
    // Whatever the engine finds, the status follows the report: 2 with
    // errors, else 1 with findings, else 0 — identical in text and JSON.
    let out = wsgifix()
        .args(["--check", "--format", "json", "--include", "*.conf"])
        .arg(&corpus)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["summary"];
    let expected = if s["errors"].as_u64().unwrap() > 0 {
        2
    } else if s["findings"].as_u64().unwrap() > 0 {
        1
    } else {
        0
    };
    assert_eq!(out.status.code(), Some(expected));
    assert_eq!(s["exit_code"], expected);
    assert!(s["files"].as_u64().unwrap() >= 30);
    let text = wsgifix()
        .args(["--check", "--include", "*.conf"])
        .arg(&corpus)
        .output()
        .unwrap();
    assert_eq!(text.status.code(), Some(expected));
    let lines = String::from_utf8(text.stdout).unwrap().lines().count() as u64;
    assert_eq!(lines, s["findings"].as_u64().unwrap());
}

#[test]
fn write_over_the_wsgi_corpus_is_idempotent_and_touches_only_what_changes() {
    use std::os::unix::fs::MetadataExt;
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/wsgi");
    if !corpus.is_dir() {
        assert!(
            std::env::var("WSGIFIX_REQUIRE_CORPUS").as_deref() != Ok("1"),
            "corpus {} is absent and WSGIFIX_REQUIRE_CORPUS=1",
            corpus.display()
        );
        eprintln!("skipping: {} not present", corpus.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut originals = Vec::new();
    for e in std::fs::read_dir(&corpus).unwrap().flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().ends_with(".conf") {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap();
        let copy = dir.path().join(&name);
        std::fs::write(&copy, &bytes).unwrap();
        let meta = std::fs::metadata(&copy).unwrap();
        originals.push((copy, bytes, meta.ino(), meta.mtime_nsec(), meta.mtime()));
    }
    assert!(originals.len() >= 30);

    // A file httpd refuses is an error (2), left as it is; the others are
    // fixed, and unfixable findings (WSGI004) remain.
    let write_all = || {
        let run = wsgifix().arg("--write").arg(dir.path()).assert().code(2);
        let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
        for (file, error) in common::corpus::REFUSED_BY_HTTPD {
            assert!(stderr.contains(&format!("{file}:{error}")), "{stderr}");
        }
    };
    write_all();
    let mut changed = 0;
    for (path, before, ino, mtime_ns, mtime) in &originals {
        let after = std::fs::read(path).unwrap();
        let meta = std::fs::metadata(path).unwrap();
        if after == *before {
            assert_eq!(
                (meta.ino(), meta.mtime(), meta.mtime_nsec()),
                (*ino, *mtime, *mtime_ns),
                "{} did not change but was rewritten",
                path.display()
            );
        } else {
            changed += 1;
            let tree = wsgifix::syntax::parse(&after).expect("fixed file parses");
            assert_eq!(tree.to_bytes(), after);
        }
    }
    assert!(changed >= 10, "only {changed} files changed");
    let first: Vec<Vec<u8>> = originals
        .iter()
        .map(|o| std::fs::read(&o.0).unwrap())
        .collect();

    // The second run has nothing left to do (but the unfixable findings).
    write_all();
    for (o, first) in originals.iter().zip(&first) {
        assert_eq!(
            &std::fs::read(&o.0).unwrap(),
            first,
            "{} changed again",
            o.0.display()
        );
    }
    // No temporary file is left beside them.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".wsgifix-"))
        .collect();
    assert!(leftovers.is_empty());
}
