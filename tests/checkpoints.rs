//! Per-server transactions: checkpoints, `wsgifix rollback`, and the
//! configtest after a write (`--verify`), with real Apache where it matters.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::apache::{require_or_skip, Lab};

fn embedded(mount: &str) -> String {
    format!(
        "<VirtualHost *:80>\n    ServerName {n}.example.org\n    WSGIScriptAlias {mount} /srv/{n}/app.wsgi\n</VirtualHost>\n",
        n = mount.trim_start_matches('/')
    )
}

fn wsgifix(state: &Path) -> Command {
    let mut c = Command::cargo_bin("wsgifix").unwrap();
    c.env("WSGIFIX_STATE_DIR", state).env("NO_COLOR", "1");
    c
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// (bytes, mode, uid, gid, xattr) of a file.
fn snapshot(p: &Path) -> (Vec<u8>, u32, u32, u32, Vec<u8>) {
    let m = fs::metadata(p).unwrap();
    let mut buf = [0u8; 64];
    let x = rustix::fs::getxattr(p, "user.note", &mut buf[..])
        .map(|n| buf[..n].to_vec())
        .unwrap_or_default();
    (fs::read(p).unwrap(), m.mode(), m.uid(), m.gid(), x)
}

/// A server of a main config and two app files, outside any live server
/// (no configtest unless asked).
struct Server {
    _dir: tempfile::TempDir,
    main: PathBuf,
    apps: Vec<PathBuf>,
}

fn server(dir: tempfile::TempDir) -> Server {
    let root = dir.path().canonicalize().unwrap();
    let apps: Vec<PathBuf> = ["/one", "/two"]
        .iter()
        .map(|m| {
            let p = root.join(format!("sites/{}.conf", m.trim_start_matches('/')));
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, embedded(m)).unwrap();
            p
        })
        .collect();
    let main = root.join("httpd.conf");
    fs::write(
        &main,
        format!("ServerRoot \"{}\"\nInclude sites/*.conf\n", root.display()),
    )
    .unwrap();
    Server {
        _dir: dir,
        main,
        apps,
    }
}

#[test]
fn rollback_restores_bytes_and_metadata_exactly() {
    let state = tempfile::tempdir().unwrap();
    let s = server(tempfile::tempdir().unwrap());
    fs::set_permissions(&s.apps[0], fs::Permissions::from_mode(0o604)).unwrap();
    let _ = rustix::fs::setxattr(
        &s.apps[1],
        "user.note",
        b"x",
        rustix::fs::XattrFlags::empty(),
    );
    let before: Vec<_> = s.apps.iter().map(|p| snapshot(p)).collect();
    let out = wsgifix(state.path())
        .args(["--write", "--no-verify", "--format", "json", "--config"])
        .arg(&s.main)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    let id = v["checkpoint"].as_str().unwrap().to_string();
    assert_eq!(v["written"].as_array().unwrap().len(), 2);
    for p in &s.apps {
        assert_ne!(fs::read(p).unwrap(), before[0].0);
    }

    let list = wsgifix(state.path())
        .args(["checkpoints", "--format", "json"])
        .output()
        .unwrap();
    let l = json(&list);
    assert_eq!(l["checkpoints"][0]["id"], id.as_str());
    assert_eq!(l["checkpoints"][0]["files"].as_array().unwrap().len(), 2);
    let text = wsgifix(state.path()).arg("checkpoints").output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains(&id));

    let out = wsgifix(state.path()).arg("rollback").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after: Vec<_> = s.apps.iter().map(|p| snapshot(p)).collect();
    assert_eq!(after, before);
    assert!(
        stderr(&out).contains("2 files restored"),
        "{}",
        stderr(&out)
    );
    // Rolled back once, a second rollback has nothing to do.
    let again = wsgifix(state.path())
        .args(["rollback", &id])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(
        s.apps.iter().map(|p| snapshot(p)).collect::<Vec<_>>(),
        before
    );
}

#[test]
fn rollback_refuses_a_file_changed_since_and_restores_nothing() {
    let state = tempfile::tempdir().unwrap();
    let s = server(tempfile::tempdir().unwrap());
    wsgifix(state.path())
        .args(["--write", "--no-verify", "--config"])
        .arg(&s.main)
        .assert()
        .code(0);
    let fixed0 = fs::read(&s.apps[0]).unwrap();
    let mut edited = fs::read(&s.apps[1]).unwrap();
    edited.extend_from_slice(b"# an operator's edit\n");
    fs::write(&s.apps[1], &edited).unwrap();
    let out = wsgifix(state.path()).arg("rollback").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{} changed since checkpoint", s.apps[1].display())),
        "{err}"
    );
    assert!(err.contains("nothing was restored"), "{err}");
    assert_eq!(fs::read(&s.apps[0]).unwrap(), fixed0);
    assert_eq!(fs::read(&s.apps[1]).unwrap(), edited);
    let unknown = wsgifix(state.path())
        .args(["rollback", "nope"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("no checkpoint nope"));
}

#[test]
fn verify_failure_restores_every_file_of_the_server() {
    let state = tempfile::tempdir().unwrap();
    let s = server(tempfile::tempdir().unwrap());
    let before: Vec<_> = s.apps.iter().map(|p| snapshot(p)).collect();
    let out = wsgifix(state.path())
        .args(["--write", "--format", "json", "--verify-cmd"])
        .arg("echo 'AH00526: Syntax error on line 3 of x.conf: no' >&2; exit 1")
        .arg("--config")
        .arg(&s.main)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    assert_eq!(v["verify"]["result"], "failed");
    assert_eq!(
        v["verify"]["message"],
        "AH00526: Syntax error on line 3 of x.conf: no"
    );
    assert_eq!(v["written"], serde_json::json!([]));
    for f in v["files"].as_array().unwrap() {
        if f["changed"] == true {
            assert_eq!(f["written"], false);
            assert!(f["error"]["message"].as_str().unwrap().contains("restored"));
        }
    }
    let err = stderr(&out);
    assert!(
        err.contains("AH00526: Syntax error on line 3"),
        "Apache's message is shown: {err}"
    );
    assert!(err.contains("fails on the restored files too"), "{err}");
    // A server started another way (mod_wsgi-express's apachectl) is told
    // how to give its own check, not called broken.
    assert!(err.contains("--verify-cmd"), "{err}");
    assert_eq!(
        s.apps.iter().map(|p| snapshot(p)).collect::<Vec<_>>(),
        before
    );
}

/// Decision (README): a server that fails its configtest before the write
/// is still fixed when the result passes (certbot's duplicate daemon fails
/// before and passes after the fix); a result that fails is restored.
#[test]
fn a_server_failing_before_is_fixed_when_the_result_passes() {
    let state = tempfile::tempdir().unwrap();
    let s = server(tempfile::tempdir().unwrap());
    // Passes only once every app file has its own daemon.
    let cmd = format!(
        "for f in {}; do grep -q WSGIDaemonProcess \"$f\" || {{ echo \"$f: no daemon\" >&2; exit 1; }}; done",
        s.apps
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = wsgifix(state.path())
        .args([
            "--write",
            "--format",
            "json",
            "--verify-cmd",
            &cmd,
            "--config",
        ])
        .arg(&s.main)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["verify"]["result"], "passed");
    assert_eq!(v["written"].as_array().unwrap().len(), 2);
}

/// The Apache lab's modules for a config with mod_wsgi.
fn lab() -> Option<Lab> {
    let apache = require_or_skip("checkpoints real Apache")?;
    let modules = ["mpm_event", "authz_core", "wsgi"]
        .iter()
        .map(|m| apache.module(m))
        .collect();
    Some(Lab::new(&apache, modules))
}

#[test]
fn real_apache_verify_is_found_and_passes() {
    let Some(lab) = lab() else { return };
    let state = tempfile::tempdir().unwrap();
    let app = lab.write("sites/app.conf", embedded("/app").as_bytes());
    let main = lab.write_base("httpd.conf", Some(&app), "");
    assert!(lab.check(&main).ok(), "{}", lab.check(&main).message());
    let out = wsgifix(state.path())
        .args(["--write", "--format", "json", "--config"])
        .arg(&main)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["verify"]["result"], "passed", "{v}");
    let cmd = v["verify"]["command"].as_str().unwrap();
    assert!(
        cmd.contains(&format!("-f {}", main.canonicalize().unwrap().display())),
        "{cmd}"
    );
    assert!(fs::read_to_string(&app)
        .unwrap()
        .contains("WSGIDaemonProcess"));
    assert!(lab.check(&main).ok());
}

#[test]
fn real_apache_failure_restores_and_shows_apaches_message() {
    let Some(lab) = lab() else { return };
    let state = tempfile::tempdir().unwrap();
    let app = lab.write("sites/app.conf", embedded("/app").as_bytes());
    let main = lab.write_base("httpd.conf", Some(&app), "");
    // The daemon name the fix will use, from a dry run.
    let diff = wsgifix(state.path())
        .arg("--config")
        .arg(&main)
        .output()
        .unwrap();
    let diff = String::from_utf8_lossy(&diff.stdout).into_owned();
    let name = diff
        .lines()
        .find_map(|l| l.strip_prefix("+WSGIDaemonProcess "))
        .or_else(|| {
            diff.lines().find_map(|l| {
                l.trim_start_matches('+')
                    .trim()
                    .strip_prefix("WSGIDaemonProcess ")
            })
        })
        .and_then(|r| r.split_whitespace().next())
        .expect("the fix defines a daemon")
        .to_string();
    // What Apache really loads also has a daemon of that name, in a file
    // this server's config does not show wsgifix: the fix breaks it.
    let extra = lab.write(
        "extra.conf",
        format!("WSGIDaemonProcess {name}\n").as_bytes(),
    );
    let real_main = lab.write(
        "real.conf",
        format!(
            "{}Include \"{}\"\n",
            lab.base_config(Some(&app), ""),
            extra.display()
        )
        .as_bytes(),
    );
    assert!(
        lab.check(&real_main).ok(),
        "{}",
        lab.check(&real_main).message()
    );
    let before = snapshot(&app);
    let verify = format!(
        "{} -d {} -f {} -t",
        lab.bin.display(),
        lab.dir().display(),
        real_main.display()
    );
    let out = wsgifix(state.path())
        .args([
            "--write",
            "--format",
            "json",
            "--verify-cmd",
            &verify,
            "--config",
        ])
        .arg(&main)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["verify"]["result"], "failed");
    let msg = v["verify"]["message"].as_str().unwrap();
    assert!(
        msg.contains("Name duplicates previous WSGI daemon definition"),
        "{msg}"
    );
    assert!(stderr(&out).contains("Name duplicates previous WSGI daemon definition"));
    assert_eq!(snapshot(&app), before, "restored byte for byte");
    assert!(lab.check(&real_main).ok());
}
