//! The command line with servers as units: `--config`, a directory walk that
//! meets a main config, `--root` on a copied tree, and what a server does
//! not read (listed, never touched).

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;

mod common;

use common::cli::{write, wsgifix};

const EMBEDDED: &str =
    "<VirtualHost *:80>\n    ServerName a.example\n    WSGIScriptAlias /app /srv/app.wsgi\n</VirtualHost>\n";

/// A Debian tree at `etc` (an absolute Include, as the host names it;
/// enabled sites linked into sites-available); plus what a server never
/// reads. (Absolute symlinks inside --root are covered in tests/server.rs;
/// `patch` on a copy could not follow them.)
fn debian(etc: &Path) {
    write(
        etc,
        "apache2.conf",
        "Include /etc/apache2/ports.conf\nIncludeOptional conf-enabled/*.conf\nIncludeOptional sites-enabled/*.conf\n",
    );
    write(etc, "ports.conf", "Listen 80\n");
    write(etc, "sites-available/a.conf", EMBEDDED);
    write(
        etc,
        "sites-available/disabled.conf",
        &EMBEDDED.replace("a.example", "d.example"),
    );
    write(
        etc,
        "conf-available/x.conf",
        "WSGIApplicationGroup %{GLOBAL}\n",
    );
    write(etc, "conf-enabled/x.conf.dpkg-old", EMBEDDED);
    write(etc, "conf-enabled/old.conf~", EMBEDDED);
    write(etc, "sites-enabled/.keep", "");
    symlink(
        "../sites-available/a.conf",
        etc.join("sites-enabled/a.conf"),
    )
    .unwrap();
    symlink("../conf-available/x.conf", etc.join("conf-enabled/x.conf")).unwrap();
}

/// (bytes, mtime, inode) of every regular file below `dir`.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>, i64, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                out.push((
                    e.path().display().to_string(),
                    fs::read(e.path()).unwrap(),
                    m.mtime_nsec() + m.mtime() * 1_000_000_000,
                    m.ino(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn root_dry_run_diff_applies_with_patch_p1_and_matches_write() {
    let state = tempfile::tempdir().unwrap();
    let a = tempfile::tempdir().unwrap();
    debian(&a.path().join("etc/apache2"));
    let b = tempfile::tempdir().unwrap();
    debian(&b.path().join("etc/apache2"));

    // Dry run on copy A: the diff names the host's paths, and the file
    // itself rather than the sites-enabled/ link patch would refuse.
    let out = wsgifix(state.path())
        .arg("--root")
        .arg(a.path())
        .assert()
        .code(1)
        .get_output()
        .clone();
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(
        diff.starts_with(
            "--- a/etc/apache2/sites-available/a.conf\n+++ b/etc/apache2/sites-available/a.conf\n"
        ),
        "{diff}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("checking the server of"), "{stderr}");

    // --write on copy B, with --config as the host names it.
    wsgifix(state.path())
        .args(["--write", "--no-verify", "--root"])
        .arg(b.path())
        .args(["--config", "/etc/apache2/apache2.conf"])
        .assert()
        .code(0);

    // The patch applies from the root of copy A and gives copy B's bytes.
    let patched = std::process::Command::new("patch")
        .args(["-p1", "-s", "-d"])
        .arg(a.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(diff.as_bytes())?;
            c.wait()
        });
    match patched {
        Ok(status) => assert!(status.success()),
        Err(e) => {
            eprintln!("patch not available ({e}); skipping the patch half");
            return;
        }
    }
    let file = "etc/apache2/sites-available/a.conf";
    let fixed = fs::read_to_string(b.path().join(file)).unwrap();
    assert_ne!(fixed, EMBEDDED);
    assert_eq!(fs::read_to_string(a.path().join(file)).unwrap(), fixed);
    // Nothing the server does not read changed in B.
    assert_eq!(
        fs::read_to_string(b.path().join("etc/apache2/sites-available/disabled.conf")).unwrap(),
        EMBEDDED.replace("a.example", "d.example")
    );
}

#[test]
fn a_walk_that_meets_a_main_config_leaves_unread_files_alone_and_lists_them() {
    let state = tempfile::tempdir().unwrap();
    let d = tempfile::tempdir().unwrap();
    let etc = d.path().join("apache2");
    write(
        &etc,
        "apache2.conf",
        "IncludeOptional conf-enabled/*.conf\nIncludeOptional sites-enabled/*.conf\n",
    );
    write(&etc, "sites-available/a.conf", EMBEDDED);
    write(
        &etc,
        "sites-available/off.conf",
        &EMBEDDED.replace("a.example", "off.example"),
    );
    write(&etc, "conf-enabled/x.conf.dpkg-dist", EMBEDDED);
    write(&etc, "conf-enabled/x.conf.bak", EMBEDDED);
    write(&etc, "conf-enabled/.x.conf.swp", EMBEDDED);
    fs::create_dir_all(etc.join("sites-enabled")).unwrap();
    symlink(
        "../sites-available/a.conf",
        etc.join("sites-enabled/a.conf"),
    )
    .unwrap();
    // A file outside every server tree is still checked on its own.
    write(d.path(), "loose.conf", EMBEDDED);

    let unread = [
        "sites-available/off.conf",
        "conf-enabled/x.conf.dpkg-dist",
        "conf-enabled/x.conf.bak",
        "conf-enabled/.x.conf.swp",
    ];
    let before: Vec<_> = snapshot(&etc)
        .into_iter()
        .filter(|(p, ..)| unread.iter().any(|u| p.ends_with(u)))
        .collect();
    assert_eq!(before.len(), 4);
    let out = wsgifix(state.path())
        .args(["--write", "--no-verify"])
        .arg(d.path())
        .assert()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains("4 files are not read by the server"),
        "{stderr}"
    );
    for u in unread {
        assert!(stderr.contains(u), "{u} not listed: {stderr}");
    }
    // The site was fixed through its link: the target was written.
    assert!(
        stderr.contains("sites-enabled/a.conf (wrote ")
            && stderr.contains("sites-available/a.conf)"),
        "{stderr}"
    );
    assert_ne!(
        fs::read_to_string(etc.join("sites-available/a.conf")).unwrap(),
        EMBEDDED
    );
    assert_ne!(
        fs::read_to_string(d.path().join("loose.conf")).unwrap(),
        EMBEDDED
    );
    let after: Vec<_> = snapshot(&etc)
        .into_iter()
        .filter(|(p, ..)| unread.iter().any(|u| p.ends_with(u)))
        .collect();
    assert_eq!(
        before, after,
        "unread files must keep bytes, mtime and inode"
    );

    // JSON lists only the server's files and the loose one.
    let out = wsgifix(state.path())
        .args(["--check", "--format", "json"])
        .arg(d.path())
        .assert()
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert!(paths[0].ends_with("apache2/apache2.conf"), "{paths:?}");
    assert!(
        paths[1].ends_with("apache2/sites-enabled/a.conf"),
        "{paths:?}"
    );
    assert!(paths[2].ends_with("loose.conf"), "{paths:?}");
}

#[test]
fn a_walked_copy_never_reads_this_machines_absolute_paths() {
    let state = tempfile::tempdir().unwrap();
    let d = tempfile::tempdir().unwrap();
    let etc = d.path().join("etc/apache2");
    debian(&etc);
    let out = wsgifix(state.path())
        .arg("--check")
        .arg(&etc)
        .assert()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains("outside") && stderr.contains("--root"),
        "{stderr}"
    );
    assert!(!stderr.contains("\n/etc/apache2/ports.conf"), "{stderr}");
}

#[test]
fn a_missing_include_stops_the_server_with_its_position_and_exit_2() {
    let state = tempfile::tempdir().unwrap();
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "httpd.conf",
        "ServerName x\n  Include sites/*.conf\n",
    );
    write(d.path(), "other.conf", EMBEDDED);
    let main = d.path().join("httpd.conf");
    let out = wsgifix(state.path())
        .args(["--write", "--no-verify", "--config"])
        .arg(&main)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains(&format!(
            "{}:2:3: Could not open config directory",
            main.display()
        )),
        "{stderr}"
    );
}

#[test]
fn server_root_relative_to_the_working_directory_as_httpd_does() {
    let state = tempfile::tempdir().unwrap();
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "srv/conf/main.conf",
        "ServerRoot srv\nInclude sites/a.conf\n",
    );
    write(d.path(), "srv/sites/a.conf", EMBEDDED);
    wsgifix(state.path())
        .current_dir(d.path())
        .args(["--check", "--config", "srv/conf/main.conf"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("srv/sites/a.conf:3:5 WSGI001"));
}
