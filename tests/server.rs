//! A server's files are checked together for daemon names: httpd keeps one
//! name space per server, so a name one file defines is taken in all.

use assert_cmd::Command;
use std::path::Path;
use wsgifix::engine::{process_in, Options};
use wsgifix::server;

/// A Debian-style tree: apache2.conf including conf-enabled/ and
/// sites-enabled/.
fn debian_tree(root: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(root.join("conf-enabled")).unwrap();
    std::fs::create_dir_all(root.join("sites-enabled")).unwrap();
    std::fs::write(
        root.join("apache2.conf"),
        "IncludeOptional conf-enabled/*.conf\nIncludeOptional sites-enabled/*.conf\n",
    )
    .unwrap();
    for (name, text) in files {
        std::fs::write(root.join(name), text).unwrap();
    }
}

fn run_in(root: &Path, file: &str) -> wsgifix::engine::FileResult {
    let s = server::discover(&root.join("apache2.conf"), false);
    let ctx = server::contexts(&s);
    let path = root.join(file).canonicalize().unwrap();
    let source = std::fs::read(&path).unwrap();
    process_in(&source, &Options::default(), &ctx[&path])
}

#[test]
fn new_daemon_names_avoid_names_of_other_files() {
    let dir = tempfile::tempdir().unwrap();
    debian_tree(
        dir.path(),
        &[
            (
                "conf-enabled/legacy.conf",
                "WSGIDaemonProcess my_app processes=2\n",
            ),
            (
                "sites-enabled/b.conf",
                "<VirtualHost *:80>\n    WSGIScriptAlias /my_app /srv/b/app.wsgi\n</VirtualHost>\n",
            ),
        ],
    );
    let r = run_in(dir.path(), "sites-enabled/b.conf");
    let fixed = String::from_utf8(r.fixed.expect("fixed")).unwrap();
    assert!(fixed.contains("WSGIDaemonProcess my_app-2\n"), "{fixed}");
    // Without the server, the file alone would take the clashing name.
    let alone = wsgifix::engine::process(
        b"<VirtualHost *:80>\n    WSGIScriptAlias /my_app /srv/b/app.wsgi\n</VirtualHost>\n",
        &Options::default(),
    );
    assert!(String::from_utf8(alone.fixed.unwrap())
        .unwrap()
        .contains("WSGIDaemonProcess my_app\n"));
}

#[test]
fn a_daemon_another_file_selects_is_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    debian_tree(
        dir.path(),
        &[
            (
                "conf-enabled/pool.conf",
                "<VirtualHost *:80>\n    WSGIDaemonProcess pool\n    WSGIScriptAlias /x /srv/x.wsgi\n</VirtualHost>\n",
            ),
            (
                "sites-enabled/user.conf",
                "<VirtualHost *:8080>\n    WSGIProcessGroup pool\n    WSGIApplicationGroup %{GLOBAL}\n    WSGIScriptAlias / /srv/y.wsgi\n</VirtualHost>\n",
            ),
        ],
    );
    let r = run_in(dir.path(), "conf-enabled/pool.conf");
    let fixed = String::from_utf8(r.fixed.expect("fixed")).unwrap();
    assert!(!fixed.contains("WSGIProcessGroup pool"), "{fixed}");
    assert!(fixed.contains("WSGIDaemonProcess x\n"), "{fixed}");
}

#[test]
fn daemons_of_other_files_are_defined_and_duplicates_across_files_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let site = "<VirtualHost *:80>\n    ServerName a.example.com\n    WSGIDaemonProcess site\n    WSGIProcessGroup site\n    WSGIApplicationGroup %{GLOBAL}\n    WSGIScriptAlias / /srv/a/a.wsgi\n</VirtualHost>\n";
    debian_tree(
        dir.path(),
        &[
            ("sites-enabled/a.conf", site),
            (
                "sites-enabled/a-le-ssl.conf",
                &site.replace("*:80", "*:443"),
            ),
            (
                "sites-enabled/z.conf",
                "<Location /z>\n    WSGIProcessGroup site\n</Location>\n",
            ),
        ],
    );
    // httpd reads a-le-ssl.conf before a.conf ('-' sorts before '.').
    let first = run_in(dir.path(), "sites-enabled/a-le-ssl.conf");
    assert!(first.findings.iter().all(|f| f.code != "WSGI005"));
    let second = run_in(dir.path(), "sites-enabled/a.conf");
    let dup = second
        .findings
        .iter()
        .find(|f| f.code == "WSGI005")
        .expect("duplicate");
    assert!(dup.message.contains("a-le-ssl.conf:3"), "{}", dup.message);
    // z.conf selects a daemon another file defines: not WSGI004.
    let z = run_in(dir.path(), "sites-enabled/z.conf");
    assert!(
        z.findings.iter().all(|f| f.code != "WSGI004"),
        "{:?}",
        z.findings
    );
}

#[test]
fn config_option_follows_includes_and_writes_the_whole_server() {
    let dir = tempfile::tempdir().unwrap();
    debian_tree(
        dir.path(),
        &[
            ("conf-enabled/legacy.conf", "WSGIDaemonProcess my_app\n"),
            (
                "sites-enabled/b.conf",
                "<VirtualHost *:80>\n    WSGIScriptAlias /my_app /srv/b/app.wsgi\n</VirtualHost>\n",
            ),
        ],
    );
    let main = dir.path().join("apache2.conf");
    Command::cargo_bin("wsgifix")
        .unwrap()
        .arg("--write")
        // A partial tree, not a server Apache could load: no configtest.
        .arg("--no-verify")
        .env("WSGIFIX_STATE_DIR", dir.path().join(".state"))
        .arg("--config")
        .arg(&main)
        .assert()
        .code(0);
    let b = std::fs::read_to_string(dir.path().join("sites-enabled/b.conf")).unwrap();
    assert!(b.contains("WSGIDaemonProcess my_app-2\n"), "{b}");
    // A second run finds nothing more to do.
    Command::cargo_bin("wsgifix")
        .unwrap()
        .arg("--check")
        .arg("--config")
        .arg(&main)
        .assert()
        .code(0);
}
