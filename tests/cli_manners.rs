//! What an operator meets first: nothing found is not "all clear", every
//! error line says it is one, compressed files are skipped with a note.

use std::fs;

use assert_cmd::Command;
use predicates::prelude::*;

fn wsgifix() -> Command {
    let mut c = Command::cargo_bin("wsgifix").unwrap();
    c.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR");
    c
}

#[test]
fn no_configuration_found_warns_and_exits_2() {
    let d = tempfile::tempdir().unwrap();
    // An empty directory, and one whose files the filters all leave out.
    wsgifix()
        .arg(d.path())
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "wsgifix: warning: no configuration file found; nothing was checked",
        ));
    fs::write(d.path().join("notes.txt"), "x\n").unwrap();
    wsgifix()
        .args(["--include", "*.conf"])
        .arg(d.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no configuration file found"));
    // Every format, every mode: the same status.
    for args in [&["--check"][..], &["--format", "json"], &["--write"]] {
        wsgifix()
            .args(args)
            .args(["--include", "*.conf"])
            .arg(d.path())
            .assert()
            .code(2);
    }
}

#[test]
fn compressed_files_are_skipped_in_walks_with_a_note() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.conf"), "ServerName a\n").unwrap();
    // A logrotate-style leftover: real gzip bytes.
    fs::write(
        d.path().join("old.conf.1.gz"),
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x0b\xce\xcf",
    )
    .unwrap();
    wsgifix()
        .current_dir(d.path())
        .arg(".")
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "wsgifix: note: ./old.conf.1.gz: skipped: gzip-compressed",
        ))
        .stderr(predicate::str::contains("1 file checked"))
        .stderr(predicate::str::contains("syntax").not());
    // -q drops the note.
    wsgifix()
        .current_dir(d.path())
        .args(["-q", "."])
        .assert()
        .code(0)
        .stderr("");
    // Named explicitly, it is an error.
    wsgifix()
        .current_dir(d.path())
        .arg("old.conf.1.gz")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "wsgifix: error: old.conf.1.gz: gzip-compressed, not a configuration file",
        ));
}

#[test]
fn binary_files_are_skipped_by_their_bytes_with_or_without_a_server() {
    let d = tempfile::tempdir().unwrap();
    let conf = d.path().join("conf");
    fs::create_dir(&conf).unwrap();
    // Only binary bytes: as good as an empty directory.
    fs::write(conf.join("blob.conf"), b"ServerName a\n\0\0\x01").unwrap();
    fs::write(conf.join("packed.conf"), b"\x1f\x8b\x08\x00rest").unwrap();
    wsgifix()
        .current_dir(d.path())
        .arg("conf")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no configuration file found"));
    // Beside real config, in a run that streams (no main config in the
    // tree) and in one that plans a server (apache2.conf).
    fs::write(conf.join("site.conf"), "ServerName a\n").unwrap();
    for main in [false, true] {
        if main {
            fs::write(conf.join("apache2.conf"), "Include site.conf\n").unwrap();
        }
        wsgifix()
            .current_dir(d.path())
            .arg("conf")
            .assert()
            .code(0)
            .stderr(predicate::str::contains(
                "wsgifix: note: conf/blob.conf: skipped: binary data (NUL bytes)",
            ))
            .stderr(predicate::str::contains(
                "wsgifix: note: conf/packed.conf: skipped: gzip-compressed",
            ))
            .stderr(predicate::str::contains(if main {
                "2 files checked"
            } else {
                "1 file checked"
            }));
    }
}

#[test]
fn diffs_and_stderr_lines_interleave_in_file_order_into_one_pipe() {
    let d = tempfile::tempdir().unwrap();
    let app = "<VirtualHost *:80>\nWSGIScriptAlias / /srv/app.wsgi\n</VirtualHost>\n";
    fs::write(d.path().join("a.conf"), app).unwrap();
    fs::write(d.path().join("b.conf"), "<VirtualHost *:80>\n").unwrap();
    fs::write(d.path().join("c.conf"), app).unwrap();
    // `2>&1 | less`: both streams into one file, as a pager would see them.
    let log = d.path().join("log");
    let both = fs::File::create(&log).unwrap();
    let status = std::process::Command::new(assert_cmd::cargo::cargo_bin("wsgifix"))
        .current_dir(d.path())
        .args(["--dry-run", "a.conf", "b.conf", "c.conf"])
        .stdout(both.try_clone().unwrap())
        .stderr(both)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
    let text = fs::read_to_string(&log).unwrap();
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing from:\n{text}"))
    };
    assert!(at("+++ b/a.conf") < at("wsgifix: error: b.conf"), "{text}");
    assert!(at("wsgifix: error: b.conf") < at("+++ b/c.conf"), "{text}");
    assert!(at("+++ b/c.conf") < at("files checked"), "{text}");
}

#[test]
fn leftovers_in_every_walked_directory_are_swept_before_the_walk_reads() {
    let d = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let tree = d.path().join("tree");
    // `x/` is met again after its subdirectory `m/` (a.conf, m/, z.conf):
    // each is swept once, and a directory with no config is not read.
    for dir in ["x/m", "empty"] {
        fs::create_dir_all(tree.join(dir)).unwrap();
    }
    for f in ["x/a.conf", "x/m/b.conf", "x/z.conf"] {
        fs::write(tree.join(f), "ServerName a\n").unwrap();
    }
    let leftovers = [
        "x/.wsgifix-1.tmp",
        "x/m/.wsgifix-2.tmp",
        "empty/.wsgifix-3.tmp",
    ];
    for f in leftovers {
        fs::write(tree.join(f), "half a write\n").unwrap();
    }
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("wsgifix"))
        .env("WSGIFIX_STATE_DIR", state.path())
        .arg("--check")
        .arg(&tree)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for f in &leftovers[..2] {
        assert!(!tree.join(f).exists(), "{f} left: {err}");
        let said = format!("removed {}", tree.join(f).display());
        assert_eq!(err.matches(&said).count(), 1, "{err}");
    }
    assert!(tree.join(leftovers[2]).exists());
    assert!(err.contains("3 files checked"), "{err}");
}

#[test]
fn every_error_line_has_the_prefix() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("bad.conf"), "<VirtualHost *:80>\n").unwrap();
    let out = wsgifix()
        .current_dir(d.path())
        .args(["missing.conf", "bad.conf"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let text = String::from_utf8(out).unwrap();
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("wsgifix: 2 files"))
        .collect();
    assert_eq!(
        errors,
        [
            "wsgifix: error: missing.conf: No such file or directory",
            "wsgifix: error: bad.conf:1:1: <VirtualHost> was not closed.",
        ]
    );
    wsgifix()
        .args(["--explain", "nope"])
        .assert()
        .code(2)
        // clap's usage errors carry its own `error:` prefix.
        .stderr(predicate::str::starts_with("error: invalid value 'nope'"));
}
