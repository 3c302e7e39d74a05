//! wsgifix.toml: found by walking up from the PATH and at the system
//! location; the nearer file wins key by key, the command line wins over
//! both; --show-settings says where each value came from.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

const APP: &str = "\
<VirtualHost *:80>
    ServerName a
    WSGIScriptAlias / /srv/app/app.wsgi
    WSGIProcessGroup nope
</VirtualHost>
";

/// The system file is `system` (absent when None), never the real /etc one.
fn wsgifix(system: Option<&Path>) -> Command {
    let mut c = Command::cargo_bin("wsgifix").unwrap();
    c.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("WSGIFIX_STATE_DIR")
        .env(
            "WSGIFIX_SYSTEM_CONFIG",
            system.map_or("/nonexistent/wsgifix.toml".into(), |p| p.to_path_buf()),
        );
    c
}

fn stdout(c: &mut Command) -> String {
    String::from_utf8(c.output().unwrap().stdout).unwrap()
}

/// tree/wsgifix.toml ignores WSGI003 and sets a relative state dir;
/// sys.toml selects WSGI003,WSGI004 and sets the format.
fn layout() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("tree/sites")).unwrap();
    fs::write(d.path().join("tree/sites/a.conf"), APP).unwrap();
    fs::write(
        d.path().join("tree/wsgifix.toml"),
        "ignore = [\"not-global-interpreter\"]\nstate-dir = \"state\"\n",
    )
    .unwrap();
    fs::write(
        d.path().join("sys.toml"),
        "select = [\"WSGI003\", \"WSGI004\"]\nformat = \"github\"\nignore = []\n",
    )
    .unwrap();
    d
}

#[test]
fn discovered_by_walking_up_and_the_nearer_file_wins() {
    let d = layout();
    let sys = d.path().join("sys.toml");
    let out = stdout(
        wsgifix(Some(&sys))
            .current_dir(d.path())
            .args(["--show-settings", "tree/sites/a.conf"]),
    );
    let tree = d.path().join("tree/wsgifix.toml");
    for want in [
        format!("select = [\"WSGI003\", \"WSGI004\"]  # {}", sys.display()),
        format!("ignore = [\"WSGI003\"]  # {}", tree.display()),
        format!(
            "state-dir = \"{}\"  # {}",
            d.path().join("tree/state").display(),
            tree.display()
        ),
        format!("format = \"github\"  # {}", sys.display()),
        "include = []  # default".to_string(),
        "max-file-size = 67108864  # default".to_string(),
    ] {
        assert!(out.contains(&want), "{want:?} not in:\n{out}");
    }
    // And it is what the run does: WSGI003 ignored, WSGI004 reported as a
    // GitHub annotation.
    let run = stdout(
        wsgifix(Some(&sys))
            .current_dir(d.path())
            .args(["--check", "tree/sites"]),
    );
    assert_eq!(run.lines().count(), 1, "{run}");
    assert!(
        run.starts_with("::error file=tree/sites/a.conf,line=4"),
        "{run}"
    );
}

#[test]
fn the_command_line_wins_over_every_file() {
    let d = layout();
    let sys = d.path().join("sys.toml");
    let out = stdout(wsgifix(Some(&sys)).current_dir(d.path()).args([
        "--show-settings",
        "--format",
        "text",
        "--ignore",
        "WSGI004",
        "--state-dir",
        "/x",
        "tree",
    ]));
    assert!(out.contains("format = \"text\"  # command line"), "{out}");
    assert!(
        out.contains("ignore = [\"WSGI004\"]  # command line"),
        "{out}"
    );
    assert!(out.contains("state-dir = \"/x\"  # command line"), "{out}");
    assert!(out.contains(&format!(
        "select = [\"WSGI003\", \"WSGI004\"]  # {}",
        sys.display()
    )));
    // An environment variable clap reads counts as the command line.
    let out = stdout(
        wsgifix(Some(&sys))
            .current_dir(d.path())
            .env("WSGIFIX_STATE_DIR", "/y")
            .args(["--show-settings", "tree"]),
    );
    assert!(out.contains("state-dir = \"/y\"  # command line"), "{out}");
}

#[test]
fn without_files_everything_is_default_and_the_file_is_not_checked_as_config() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.conf"), "ServerName a\n").unwrap();
    let out = stdout(
        wsgifix(None)
            .current_dir(d.path())
            .args(["--show-settings", "a.conf"]),
    );
    assert!(out.lines().all(|l| l.ends_with("# default")), "{out}");
    fs::write(d.path().join("wsgifix.toml"), "select = [\"WSGI001\"]\n").unwrap();
    wsgifix(None)
        .current_dir(d.path())
        .arg(".")
        .assert()
        .code(0)
        .stderr(predicate::str::contains("1 file checked"));
}

#[test]
fn a_bad_file_is_an_error_with_its_place() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.conf"), "ServerName a\n").unwrap();
    let toml = d.path().join("wsgifix.toml");
    fs::write(&toml, "# policy\nselct = [\"WSGI001\"]\n").unwrap();
    wsgifix(None)
        .current_dir(d.path())
        .arg("a.conf")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::starts_with(format!(
            "wsgifix: error: {}:2:1: unknown field `selct`",
            toml.display()
        )));
    fs::write(&toml, "select = [\"WSGI999\"]\n").unwrap();
    wsgifix(None)
        .current_dir(d.path())
        .arg("a.conf")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("select: unknown rule \"WSGI999\""));
    fs::write(&toml, "format = \"xml\"\n").unwrap();
    wsgifix(None)
        .current_dir(d.path())
        .arg("a.conf")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "format: \"xml\" is not one of text, json",
        ));
}
