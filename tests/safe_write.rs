//! `--write` as root on a live server (issue 7): what a file had is kept,
//! what cannot be written safely is refused with a message that says why,
//! input is bounded, reports are true, exit codes and JSON fields.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;

/// Fully fixable: one app in embedded mode.
const EMBEDDED: &str = "\
<VirtualHost *:80>
    ServerName app.example.org
    WSGIScriptAlias / /srv/app/app.wsgi
</VirtualHost>
";

struct Env {
    dir: tempfile::TempDir,
    state: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            state: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn file(&self, rel: &str, body: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, body).unwrap();
        p
    }

    fn wsgifix(&self) -> Command {
        let mut c = Command::cargo_bin("wsgifix").unwrap();
        c.env("WSGIFIX_STATE_DIR", self.state.path())
            .env_remove("WSGIFIX_FAULT")
            .env("NO_COLOR", "1");
        c
    }
}

/// Every name in `dir` (recursively) that wsgifix may have left.
fn strays(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in walk(dir) {
        let n = e.file_name().unwrap().to_string_lossy().into_owned();
        if n.starts_with(".wsgifix") || n.ends_with(".tmp") {
            out.push(e);
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn run(cmd: &str, args: &[&str]) -> String {
    let o = std::process::Command::new(cmd).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn have(cmd: &str) -> bool {
    std::process::Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[test]
fn acl_xattrs_mode_and_owner_are_kept() {
    if !have("setfacl") {
        // .ci/run installs Debian's acl package; elsewhere say why.
        assert!(std::env::var("CI").is_err(), "setfacl is missing in CI");
        eprintln!("skipped: setfacl not installed (apt-get install acl)");
        return;
    }
    let e = Env::new();
    let p = e.file("sites/app.conf", EMBEDDED);
    fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
    // The case: group r--, mask rw-; a lost ACL once turned into 0660.
    run(
        "setfacl",
        &["-m", "u:nobody:rw-,g::r--,m::rw-", p.to_str().unwrap()],
    );
    rustix::fs::setxattr(
        &p,
        "user.wsgifix-test",
        b"kept",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    // A default ACL on the directory must not be inherited by the new file.
    run(
        "setfacl",
        &[
            "-d",
            "-m",
            "u:daemon:rwx",
            e.path("sites").to_str().unwrap(),
        ],
    );
    let acl_before = run("getfacl", &["-c", p.to_str().unwrap()]);
    let mode_before = fs::metadata(&p).unwrap().mode();
    let ino_before = fs::metadata(&p).unwrap().ino();

    e.wsgifix().arg("--write").arg(&p).assert().code(0);

    assert_ne!(fs::read_to_string(&p).unwrap(), EMBEDDED, "fixed");
    let m = fs::metadata(&p).unwrap();
    assert_ne!(m.ino(), ino_before, "replaced by a new inode");
    assert_eq!(m.mode(), mode_before);
    assert_eq!(run("getfacl", &["-c", p.to_str().unwrap()]), acl_before);
    let mut buf = [0u8; 16];
    let n = rustix::fs::getxattr(&p, "user.wsgifix-test", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"kept");
    assert!(strays(e.dir.path()).is_empty());
}

#[test]
fn a_file_without_acl_gets_none_from_the_directory_default() {
    if !have("setfacl") {
        assert!(std::env::var("CI").is_err(), "setfacl is missing in CI");
        return;
    }
    let e = Env::new();
    let p = e.file("d/app.conf", EMBEDDED);
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    run(
        "setfacl",
        &["-d", "-m", "u:nobody:rwx", e.path("d").to_str().unwrap()],
    );
    e.wsgifix().arg("--write").arg(&p).assert().code(0);
    let acl = run("getfacl", &["-c", "-s", p.to_str().unwrap()]);
    assert_eq!(acl, "", "no extended ACL on the new file");
    assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o600);
}

#[test]
fn owner_is_kept_when_root() {
    let e = Env::new();
    let p = e.file("app.conf", EMBEDDED);
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
    }
    let before = fs::metadata(&p).unwrap();
    e.wsgifix().arg("--write").arg(&p).assert().code(0);
    let after = fs::metadata(&p).unwrap();
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
}

/// Documented choice: a hard-linked file is refused, never split.
#[test]
fn hard_links_are_refused_with_a_message() {
    let e = Env::new();
    let a = e.file("sites-available/app.conf", EMBEDDED);
    let b = e.path("sites-enabled/app.conf");
    fs::create_dir_all(b.parent().unwrap()).unwrap();
    fs::hard_link(&a, &b).unwrap();
    let out = e.wsgifix().arg("--write").arg(&b).assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("2 hard links"), "{err}");
    assert_eq!(fs::read_to_string(&a).unwrap(), EMBEDDED);
    assert_eq!(
        fs::metadata(&a).unwrap().ino(),
        fs::metadata(&b).unwrap().ino()
    );
    assert!(strays(e.dir.path()).is_empty());
}

#[test]
fn immutable_files_are_refused_with_a_message() {
    let e = Env::new();
    let p = e.file("app.conf", EMBEDDED);
    let set = std::process::Command::new("chattr")
        .arg("+i")
        .arg(&p)
        .output();
    if !set.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "skipped: chattr +i not possible here (not root, or the filesystem has no flags)"
        );
        return;
    }
    let out = e.wsgifix().arg("--write").arg(&p).output().unwrap();
    let _ = std::process::Command::new("chattr")
        .arg("-i")
        .arg(&p)
        .status();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("immutable (chattr +i)"), "{err}");
    assert_eq!(fs::read_to_string(&p).unwrap(), EMBEDDED);
}

/// Waits for the child at most `limit`, killing it then: a hang fails the
/// test instead of hanging the suite.
fn finishes(mut cmd: std::process::Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("wsgifix hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn fifo_dev_zero_and_oversized_files_are_refused() {
    let e = Env::new();
    let fifo = e.path("fifo.conf");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let zero = e.path("zero.conf");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let big = e.file("big.conf", &"#\n".repeat(600));
    let ok = e.file("ok.conf", EMBEDDED);
    for mode in ["--check", "--write"] {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("wsgifix"));
        cmd.env("WSGIFIX_STATE_DIR", e.state.path())
            .args([mode, "--max-file-size", "1000"])
            .args([&fifo, &zero, &big, &ok]);
        let out = finishes(cmd, Duration::from_secs(60));
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("fifo.conf: not a regular file (a FIFO)"),
            "{err}"
        );
        assert!(
            err.contains("zero.conf: not a regular file (a character device)"),
            "{err}"
        );
        assert!(
            err.contains("big.conf: file is 1200 bytes, larger than --max-file-size 1000"),
            "{err}"
        );
    }
    // The good file was still processed.
    assert_ne!(fs::read_to_string(&ok).unwrap(), EMBEDDED);
}

#[test]
fn exit_codes_of_write() {
    let e = Env::new();
    let p = e.file("app.conf", EMBEDDED);
    // Fixed completely: nothing left.
    e.wsgifix().arg("--write").arg(&p).assert().code(0);
    let q = e.file("again.conf", EMBEDDED);
    e.wsgifix()
        .args(["--write", "--exit-non-zero-on-fix"])
        .arg(&q)
        .assert()
        .code(1);
    // Nothing changed: 0 even with the flag.
    e.wsgifix()
        .args(["--write", "--exit-non-zero-on-fix"])
        .arg(&q)
        .assert()
        .code(0);
    // An unfixable finding (an app whose daemon is not defined) stays: 1.
    let u = e.file(
        "unfixable.conf",
        "WSGIScriptAlias / /srv/a.wsgi process-group=nowhere\n",
    );
    let out = e.wsgifix().arg("--write").arg(&u).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("nowhere"), "the finding left is shown: {err}");
}

#[test]
fn json_tells_what_was_written_and_where() {
    let e = Env::new();
    let real = e.file("sites-available/app.conf", EMBEDDED);
    let link = e.path("sites-enabled/app.conf");
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("../sites-available/app.conf", &link).unwrap();
    let out = e
        .wsgifix()
        .args(["--write", "--format", "json"])
        .arg(&link)
        .assert()
        .code(0);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let real = real.canonicalize().unwrap();
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["tool"]["name"], "wsgifix");
    assert_eq!(v["tool"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["mode"], "write");
    assert_eq!(v["written"], serde_json::json!([real.to_str().unwrap()]));
    assert_eq!(v["files"][0]["path"], link.to_str().unwrap());
    assert_eq!(v["files"][0]["real_path"], real.to_str().unwrap());
    assert_eq!(v["files"][0]["written"], true);
    let id = v["checkpoint"].as_str().expect("a checkpoint id");
    assert!(e
        .state
        .path()
        .join("checkpoints")
        .join(id)
        .join("unit-0.json")
        .is_file());
    // A standalone file outside any live server: no configtest.
    assert!(v["verify"].is_null());
    assert_eq!(v["summary"]["exit_code"], 0);
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn non_utf8_names_survive_in_json_and_are_escaped_in_text() {
    use std::os::unix::ffi::OsStrExt;
    let e = Env::new();
    let name = std::ffi::OsStr::from_bytes(b"bad-\xff-\x1b[31m.conf");
    let p = e.dir.path().join(name);
    fs::write(&p, EMBEDDED).unwrap();
    let out = e
        .wsgifix()
        .args(["--check", "--format", "json"])
        .arg(&p)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bytes: Vec<u8> = v["files"][0]["path_bytes"]
        .as_array()
        .expect("path_bytes for a non-UTF-8 name")
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(bytes, p.as_os_str().as_bytes());
    let out = e.wsgifix().arg("--check").arg(&p).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains('\x1b'),
        "raw escape reached the terminal: {text:?}"
    );
    assert!(text.contains("\\u{1b}[31m.conf"), "{text}");
}

#[test]
fn fsync_failures_are_reported_truthfully() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: fault hooks exist in debug builds only");
        return;
    }
    let e = Env::new();
    // The directory fsync fails after the swap: the file WAS replaced.
    let p = e.file("a.conf", EMBEDDED);
    let out = e
        .wsgifix()
        .env("WSGIFIX_FAULT", "fsync-dir")
        .args(["--write", "--format", "json"])
        .arg(&p)
        .assert()
        .code(2);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["files"][0]["written"], true);
    assert_eq!(v["files"][0]["error"]["kind"], "not-durable");
    assert!(v["files"][0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("written, but not durable"));
    assert_eq!(v["summary"]["written"], 1);
    assert_ne!(fs::read_to_string(&p).unwrap(), EMBEDDED);
    // The file fsync fails before the swap: nothing was replaced.
    let q = e.file("b.conf", EMBEDDED);
    let out = e
        .wsgifix()
        .env("WSGIFIX_FAULT", "fsync-file")
        .arg("--write")
        .arg(&q)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("not written") && err.contains("injected fault"),
        "{err}"
    );
    assert!(!err.contains("fixed "), "{err}");
    assert_eq!(fs::read_to_string(&q).unwrap(), EMBEDDED);
    assert!(strays(e.dir.path()).is_empty());
}

#[test]
fn fallbacks_without_tmpfile_or_exchange_leave_nothing() {
    if !cfg!(debug_assertions) {
        return;
    }
    let e = Env::new();
    let p = e.file("a.conf", EMBEDDED);
    e.wsgifix()
        .env("WSGIFIX_FAULT", "no-tmpfile,no-exchange")
        .arg("--write")
        .arg(&p)
        .assert()
        .code(0);
    assert_ne!(fs::read_to_string(&p).unwrap(), EMBEDDED);
    assert!(strays(e.dir.path()).is_empty());
}

#[test]
fn ulimit_f_is_an_error_not_a_crash() {
    let e = Env::new();
    let p = e.file("a.conf", EMBEDDED);
    // 1 block of 512 bytes is less than the fixed file.
    let script = format!(
        "ulimit -f 0; exec {} --write {}",
        assert_cmd::cargo::cargo_bin("wsgifix").display(),
        p.display()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("WSGIFIX_STATE_DIR", e.state.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // The checkpoint is the first write and fails the same way.
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("File too large"), "{err}");
    assert_eq!(fs::read_to_string(&p).unwrap(), EMBEDDED);
    assert!(strays(e.dir.path()).is_empty());
}
