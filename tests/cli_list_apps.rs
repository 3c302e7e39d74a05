//! `--list-apps`: each app instance of a server with the groups it really
//! gets and the line that decides each. (Whether those are the groups
//! mod_wsgi really uses is proven against Apache in e2e_server_merge.rs.)

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

mod common;

use common::cli::{write, wsgifix};

/// A Debian server where a conf-enabled snippet (as x2gobroker's does)
/// captures every app for one daemon, one site overrides it, and a
/// disabled site is never read.
fn x2go_server(etc: &Path) {
    write(
        etc,
        "apache2.conf",
        "Listen 80\nListen 8080\nIncludeOptional conf-enabled/*.conf\nIncludeOptional sites-enabled/*.conf\n",
    );
    write(
        etc,
        "conf-available/x2gobroker.conf",
        "WSGIDaemonProcess x2gobroker user=x2gobroker python-path=/usr/lib/x2go\nWSGIProcessGroup x2gobroker\nWSGIScriptAlias /x2gobroker /usr/share/x2gobroker/x2gobroker.wsgi\n",
    );
    fs::create_dir_all(etc.join("conf-enabled")).unwrap();
    symlink(
        "../conf-available/x2gobroker.conf",
        etc.join("conf-enabled/x2gobroker.conf"),
    )
    .unwrap();
    write(
        etc,
        "sites-available/graphite.conf",
        "<VirtualHost *:80>\n    ServerName graphite.example\n    WSGIDaemonProcess graphite user=_graphite\n    WSGIScriptAlias / /usr/share/graphite-web/graphite.wsgi process-group=graphite application-group=%{GLOBAL}\n</VirtualHost>\n",
    );
    write(
        etc,
        "sites-available/wiki.conf",
        "<VirtualHost *:80>\n    ServerName wiki.example\n    WSGIScriptAlias /wiki /srv/wiki/wiki.wsgi\n</VirtualHost>\n",
    );
    write(
        etc,
        "sites-available/off.conf",
        "<VirtualHost *:80>\n    ServerName off.example\n    WSGIScriptAlias /off /srv/off.wsgi\n</VirtualHost>\n",
    );
    fs::create_dir_all(etc.join("sites-enabled")).unwrap();
    for s in ["graphite.conf", "wiki.conf"] {
        symlink(
            format!("../sites-available/{s}"),
            etc.join("sites-enabled").join(s),
        )
        .unwrap();
    }
}

#[test]
fn text_names_each_instance_its_groups_and_their_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let etc = tmp.path().join("apache2");
    x2go_server(&etc);
    let out = wsgifix(tmp.path())
        .arg("--list-apps")
        .arg("--config")
        .arg(etc.join("apache2.conf"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace(&etc.display().to_string(), "ETC");
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_snapshot!("list_apps_x2go_server", text);
    });
    // graphite's own alias options win over the snippet's process group.
    assert!(!text.contains("off.example"), "a disabled site is not read");
    assert!(text.contains("graphite.example:80 / -> /usr/share/graphite-web/graphite.wsgi"));
}

#[test]
fn json_gives_values_users_and_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let etc = tmp.path().join("apache2");
    x2go_server(&etc);
    let out = wsgifix(tmp.path())
        .args(["--list-apps", "--format", "json", "--config"])
        .arg(etc.join("apache2.conf"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mode"], "list-apps");
    let apps = v["apps"].as_array().unwrap();
    let find = |vhost: Option<&str>, mount: &str| {
        apps.iter()
            .find(|a| a["vhost"].as_str() == vhost && a["mount"] == mount)
            .unwrap_or_else(|| panic!("no {vhost:?} {mount} in {apps:#?}"))
    };
    let wiki = find(Some("wiki.example:80"), "/wiki");
    assert_eq!(wiki["process_group"]["value"], "x2gobroker");
    assert_eq!(wiki["process_group"]["user"], "x2gobroker");
    let src = &wiki["process_group"]["source"];
    assert!(src["path"]
        .as_str()
        .unwrap()
        .ends_with("conf-enabled/x2gobroker.conf"));
    assert_eq!(src["line"], 2);
    assert_eq!(wiki["application_group"]["source"], serde_json::Value::Null);
    assert_eq!(wiki["process_group"]["certain"], true);

    let graphite = find(Some("graphite.example:80"), "/");
    assert_eq!(graphite["process_group"]["value"], "graphite");
    assert_eq!(graphite["application_group"]["value"], "");
    assert_eq!(graphite["application_group"]["source"]["line"], 4);

    // The snippet's mount reaches the main server (port 8080 has no vhost)
    // and wiki's vhost, after wiki's own alias; graphite's `/` comes first
    // in its vhost and shadows it there.
    let x2go: Vec<_> = apps
        .iter()
        .filter(|a| a["mount"] == "/x2gobroker")
        .collect();
    assert_eq!(x2go.len(), 2, "{x2go:#?}");
    assert!(x2go.iter().any(|a| a["vhost"].is_null()));
    assert!(x2go.iter().all(|a| a["vhost"] != "graphite.example:80"));
}

#[test]
fn a_broken_file_is_named_with_its_position_and_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.conf");
    let bad = tmp.path().join("bad.conf");
    fs::write(
        &good,
        "<VirtualHost *:80>\nWSGIScriptAlias /a /srv/a.wsgi\n</VirtualHost>\n",
    )
    .unwrap();
    fs::write(&bad, "<VirtualHost *:80>\nWSGIScriptAlias /b /srv/b.wsgi\n").unwrap();
    let out = wsgifix(tmp.path())
        .arg("--list-apps")
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:1:1", bad.display())),
        "position of the unclosed section: {err}"
    );
    // The other file is still listed.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/a -> /srv/a.wsgi"), "{text}");
    assert_eq!(fs::read(&bad).unwrap().len(), 50, "the file is untouched");
}

#[test]
fn list_apps_is_not_a_mode_to_combine() {
    let tmp = tempfile::tempdir().unwrap();
    let out = wsgifix(tmp.path())
        .args(["--list-apps", "--write", "x.conf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

#[test]
fn json_lines_has_one_app_per_line() {
    let tmp = tempfile::tempdir().unwrap();
    let etc = tmp.path().join("apache2");
    x2go_server(&etc);
    let out = wsgifix(tmp.path())
        .args(["--list-apps", "--format", "json-lines", "--config"])
        .arg(etc.join("apache2.conf"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines
        .iter()
        .all(|l| l["server"].as_str().unwrap().ends_with("apache2.conf")));
}
