//! `--write` killed at random moments (SIGKILL, SIGTERM) over 1 000
//! fixable files: every file is old or new, nothing is left that Apache
//! would read (or only journaled temps the next run removes, saying so),
//! and the checkpoint brings back the old state.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FILES: usize = 1000;

fn conf(i: usize) -> String {
    format!(
        "<VirtualHost *:80>\n    ServerName a{i}.example.org\n    WSGIScriptAlias /app{i} /srv/app{i}/app.wsgi\n</VirtualHost>\n"
    )
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("wsgifix")
}

/// A server: `httpd.conf` including `sites/*.conf`.
fn make_tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let sites = root.join("sites");
    fs::create_dir_all(&sites).unwrap();
    fs::write(
        root.join("httpd.conf"),
        format!("ServerRoot \"{}\"\nInclude sites/*.conf\n", root.display()),
    )
    .unwrap();
    (0..FILES)
        .map(|i| {
            let p = sites.join(format!("s{i:04}.conf"));
            fs::write(&p, conf(i)).unwrap();
            (p, conf(i).into_bytes())
        })
        .collect()
}

fn contents(files: &BTreeMap<PathBuf, Vec<u8>>) -> BTreeMap<PathBuf, Vec<u8>> {
    files
        .keys()
        .map(|p| (p.clone(), fs::read(p).unwrap()))
        .collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The deterministic pseudo-random moments (a fraction of a full run).
fn fractions(n: usize) -> Vec<f64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 1000) as f64 / 1000.0
        })
        .collect()
}

fn write_cmd(mode: &str, root: &Path, state: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env("WSGIFIX_STATE_DIR", state)
        .args(["--write", "--no-verify", "-j", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if mode == "server" {
        c.arg("--config").arg(root.join("httpd.conf"));
    } else {
        // Standalone files: each its own transaction.
        c.arg(root.join("sites"));
    }
    c
}

/// Waits until the run has made its checkpoint (its first unit manifest),
/// so the commit is under way; None when the run ended first.
fn wait_for_checkpoint(state: &Path, child: &mut std::process::Child) -> Option<Duration> {
    let start = Instant::now();
    loop {
        let made = fs::read_dir(state.join("checkpoints"))
            .ok()
            .and_then(|mut rd| rd.next())
            .and_then(|e| e.ok())
            .is_some_and(|e| e.path().join("unit-0.json").exists());
        if made {
            return Some(start.elapsed());
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn killed_writes_leave_old_or_new_and_a_checkpoint_that_restores() {
    // The reference: what a full run makes of every file, and how long it takes.
    let reference = tempfile::tempdir().unwrap();
    let rroot = reference.path().canonicalize().unwrap();
    let originals = make_tree(&rroot);
    let rstate = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let mut child = write_cmd("server", &rroot, rstate.path()).spawn().unwrap();
    let until_commit = wait_for_checkpoint(rstate.path(), &mut child).expect("a checkpoint");
    let status = child.wait().unwrap();
    let commit = start.elapsed().saturating_sub(until_commit);
    assert!(status.success());
    let fixed: Vec<Vec<u8>> = contents(&originals).into_values().collect();
    let old: Vec<Vec<u8>> = originals.values().cloned().collect();
    assert!(
        fixed.iter().zip(&old).all(|(f, o)| f != o),
        "every file is fixable"
    );
    let expected_names = names(&rroot.join("sites"));

    let rounds = [
        ("server", libc::SIGKILL),
        ("server", libc::SIGTERM),
        ("standalone", libc::SIGKILL),
        ("standalone", libc::SIGTERM),
    ];
    let moments = fractions(rounds.len());
    let mut partial = 0;
    for (round, ((mode, sig), frac)) in rounds.iter().zip(moments).enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let files = make_tree(&root);
        let state = tempfile::tempdir().unwrap();
        let mut child = write_cmd(mode, &root, state.path()).spawn().unwrap();
        // Most rounds die while writing (the checkpoint is made), the
        // others at any moment before.
        if round == 2 {
            std::thread::sleep(until_commit.mul_f64(frac));
        } else {
            wait_for_checkpoint(state.path(), &mut child);
            std::thread::sleep(commit.mul_f64(frac));
        }
        unsafe { libc::kill(child.id() as i32, *sig) };
        let status = child.wait().unwrap();
        let now: Vec<Vec<u8>> = contents(&files).into_values().collect();
        let mut n_new = 0;
        for (k, c) in now.iter().enumerate() {
            assert!(
                *c == old[k] || *c == fixed[k],
                "{mode}/{sig}: file {k} is neither old nor new:\n{}",
                String::from_utf8_lossy(c)
            );
            n_new += usize::from(*c == fixed[k]);
        }
        if n_new > 0 && n_new < FILES {
            partial += 1;
        }
        if *sig == libc::SIGTERM && *mode == "server" {
            // A server is written whole: a SIGTERM mid-commit restores it.
            assert!(
                n_new == 0 || n_new == FILES,
                "{n_new} of a server written ({status})"
            );
        }
        // Anything left besides the config files is a journaled temp, and
        // the next run (in any mode) removes it and says so.
        let left: Vec<String> = names(&root.join("sites"))
            .into_iter()
            .filter(|n| !expected_names.contains(n))
            .collect();
        assert!(
            left.iter()
                .all(|n| n.starts_with(".wsgifix-") && n.ends_with(".tmp")),
            "stray files: {left:?}"
        );
        let check = Command::new(bin())
            .env("WSGIFIX_STATE_DIR", state.path())
            .arg("--check")
            .arg(root.join("sites/s0000.conf"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&check.stderr);
        for n in &left {
            assert!(err.contains(n.as_str()) && err.contains("removed"), "{err}");
        }
        assert_eq!(
            names(&root.join("sites")),
            expected_names,
            "nothing stray after the next run"
        );

        // The checkpoint restores the old state.
        let rb = Command::new(bin())
            .env("WSGIFIX_STATE_DIR", state.path())
            .arg("rollback")
            .output()
            .unwrap();
        let rb_err = String::from_utf8_lossy(&rb.stderr);
        if n_new > 0 {
            assert!(rb.status.success(), "{mode}/{sig}: {rb_err}");
        }
        let back: Vec<Vec<u8>> = contents(&files).into_values().collect();
        assert!(
            back == old,
            "{mode}/{sig}: rollback did not restore: {rb_err}"
        );
        assert_eq!(names(&root.join("sites")), expected_names);
    }
    eprintln!(
        "{partial} of {} rounds were killed with some files written",
        rounds.len()
    );
}
