//! Races against `--write`: an attacker swapping a directory for a
//! symlink, an editor saving during the run, and a second wsgifix run.

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn conf(i: usize) -> String {
    format!(
        "<VirtualHost *:80>\n    ServerName a{i}.example.org\n    WSGIScriptAlias /app{i} /srv/app{i}/app.wsgi\n</VirtualHost>\n"
    )
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("wsgifix")
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `renameat2(a, b, RENAME_EXCHANGE)` in a loop until `stop`.
fn swapper(a: PathBuf, b: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let (a, b) = (
            CString::new(a.to_str().unwrap()).unwrap(),
            CString::new(b.to_str().unwrap()).unwrap(),
        );
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            if rustix::fs::renameat_with(
                rustix::fs::CWD,
                a.as_c_str(),
                rustix::fs::CWD,
                b.as_c_str(),
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .is_ok()
            {
                n += 1;
            }
        }
        // Leave the real directory in place.
        if fs::symlink_metadata(a.to_str().unwrap())
            .unwrap()
            .file_type()
            .is_symlink()
        {
            let _ = rustix::fs::renameat_with(
                rustix::fs::CWD,
                a.as_c_str(),
                rustix::fs::CWD,
                b.as_c_str(),
                rustix::fs::RenameFlags::EXCHANGE,
            );
        }
        n
    })
}

#[test]
fn a_directory_swapped_for_a_symlink_never_leads_the_write_outside() {
    if !is_root() {
        eprintln!("skipped: needs root (an attacker-owned directory and a root-only one)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let base = d.path().canonicalize().unwrap();
    // The root-only directory the attacker wants root to write into: it
    // holds files of the same names, fixable too.
    let secret = base.join("secret");
    fs::create_dir(&secret).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o700)).unwrap();
    // The tree's directory belongs to the attacker (uid 65534).
    let tree = base.join("tree");
    let sub = tree.join("sub");
    fs::create_dir_all(&sub).unwrap();
    let n = 200;
    let mut files = Vec::new();
    for i in 0..n {
        let name = format!("s{i:03}.conf");
        fs::write(sub.join(&name), conf(i)).unwrap();
        fs::write(secret.join(&name), conf(i)).unwrap();
        files.push(name);
    }
    std::os::unix::fs::symlink(&secret, tree.join("evil")).unwrap();
    std::os::unix::fs::chown(&tree, Some(65534), Some(65534)).unwrap();
    let secret_before: Vec<(String, Vec<u8>, u64)> = files
        .iter()
        .map(|f| {
            let p = secret.join(f);
            (
                f.clone(),
                fs::read(&p).unwrap(),
                fs::metadata(&p).unwrap().ino(),
            )
        })
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let t = swapper(sub.clone(), tree.join("evil"), Arc::clone(&stop));
    let state = tempfile::tempdir().unwrap();
    let mut runs = 0;
    for _ in 0..6 {
        let mut cmd = Command::new(bin());
        cmd.env("WSGIFIX_STATE_DIR", state.path())
            .args(["--write", "-j", "2"]);
        for f in &files {
            cmd.arg(sub.join(f));
        }
        let out = cmd.output().unwrap();
        runs += 1;
        assert!(matches!(out.status.code(), Some(0..=2)), "{out:?}");
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = t.join().unwrap();
    assert!(swaps > 100, "the race ran ({swaps} swaps over {runs} runs)");

    let mut names: Vec<String> = fs::read_dir(&secret)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, files, "nothing appeared in the root-only directory");
    for (f, bytes, ino) in &secret_before {
        let p = secret.join(f);
        assert_eq!(
            &fs::read(&p).unwrap(),
            bytes,
            "{f} outside the tree was changed"
        );
        assert_eq!(fs::metadata(&p).unwrap().ino(), *ino);
    }
    // Inside, every file is old or fixed, and some were fixed.
    assert!(!fs::symlink_metadata(&sub).unwrap().file_type().is_symlink());
    let fixed = files
        .iter()
        .filter(|f| {
            fs::read_to_string(sub.join(f))
                .unwrap()
                .contains("WSGIDaemonProcess")
        })
        .count();
    for (i, f) in files.iter().enumerate() {
        let c = fs::read_to_string(sub.join(f)).unwrap();
        assert!(c == conf(i) || c.contains("WSGIDaemonProcess"), "{f}: {c}");
    }
    eprintln!("{fixed} of {n} fixed inside while {swaps} swaps ran");
}

#[test]
fn two_concurrent_runs_serialize() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let sites = root.join("sites");
    fs::create_dir_all(&sites).unwrap();
    let n = 300;
    for i in 0..n {
        fs::write(sites.join(format!("s{i:03}.conf")), conf(i)).unwrap();
    }
    let server = root.join("server");
    fs::create_dir_all(server.join("sites")).unwrap();
    for i in 0..n {
        fs::write(server.join(format!("sites/s{i:03}.conf")), conf(i)).unwrap();
    }
    fs::write(
        server.join("httpd.conf"),
        format!(
            "ServerRoot \"{}\"\nInclude sites/*.conf\n",
            server.display()
        ),
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    for args in [
        vec![sites.to_str().unwrap().to_string()],
        vec![
            "--no-verify".to_string(),
            "--config".to_string(),
            server.join("httpd.conf").to_str().unwrap().to_string(),
        ],
    ] {
        let spawn = || {
            Command::new(bin())
                .env("WSGIFIX_STATE_DIR", state.path())
                .args(["--write", "--format", "json"])
                .args(&args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        // Both drained at once: the one waiting for the lock must not keep
        // the other blocked on a full pipe.
        let a = std::thread::spawn(move || a.wait_with_output().unwrap());
        let b = b.wait_with_output().unwrap();
        let a = a.join().unwrap();
        let mut written = Vec::new();
        for o in [&a, &b] {
            assert_eq!(
                o.status.code(),
                Some(0),
                "both succeed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            written.extend(
                v["written"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|w| w.as_str().unwrap().to_string()),
            );
        }
        let count = written.len();
        written.sort();
        written.dedup();
        assert_eq!(written.len(), count, "no file was written twice");
        assert_eq!(count, n, "every file was written once");
    }
}

#[test]
fn an_edit_saved_during_the_write_is_never_lost() {
    let d = tempfile::tempdir().unwrap();
    let sites = d.path().canonicalize().unwrap().join("sites");
    fs::create_dir_all(&sites).unwrap();
    let n = 400;
    let paths: Vec<PathBuf> = (0..n)
        .map(|i| {
            let p = sites.join(format!("s{i:03}.conf"));
            fs::write(&p, conf(i)).unwrap();
            p
        })
        .collect();
    let state = tempfile::tempdir().unwrap();
    let child = Command::new(bin())
        .env("WSGIFIX_STATE_DIR", state.path())
        .args(["--write", "--format", "json", "-j", "2"])
        .arg(&sites)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The editor saves the files over and over while the run goes on,
    // alternating rename-style saves (vim, sed -i) and in-place ones (nano).
    let stop = Arc::new(AtomicBool::new(false));
    let editor = {
        let paths = paths.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut saves = 0usize;
            while !stop.load(Ordering::Relaxed) || saves < paths.len() {
                let i = saves % paths.len();
                let p = &paths[i];
                let mut c = fs::read(p).unwrap();
                c.extend_from_slice(b"# edited by the operator\n");
                if (saves / paths.len() + i) % 2 == 0 {
                    let tmp = sites_tmp(p);
                    fs::write(&tmp, &c).unwrap();
                    fs::rename(&tmp, p).unwrap();
                } else {
                    fs::write(p, &c).unwrap();
                }
                saves += 1;
            }
            saves
        })
    };
    let out = child.wait_with_output().unwrap();
    stop.store(true, Ordering::Relaxed);
    let saves = editor.join().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0..=2)), "{err}");
    eprintln!(
        "{saves} saves; {} conflicts reported",
        err.matches("changed on disk").count()
    );
    for p in &paths {
        let c = fs::read_to_string(p).unwrap();
        assert!(
            c.contains("# edited by the operator"),
            "{}: the operator's edit was lost:\n{c}",
            p.display()
        );
    }
}

/// The editor's temp lives outside the walked directory.
fn sites_tmp(p: &Path) -> PathBuf {
    let dir = p.parent().unwrap().parent().unwrap().join("editor-tmp");
    fs::create_dir_all(&dir).unwrap();
    dir.join(p.file_name().unwrap())
}
