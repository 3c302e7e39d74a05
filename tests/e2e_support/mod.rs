//! Serving harness for the end-to-end tests: real Apache httpd + mod_wsgi
//! on 127.0.0.1, in a throw-away ServerRoot.
//!
//! Everything httpd writes (pid file, logs, mutexes, runtime dir, mod_wsgi
//! sockets) lives in the lab directory, so a lab never touches the system's
//! Apache and two labs never collide. httpd gets a cleared environment plus
//! what the lab sets, because `${VAR}` in a config reads the process
//! environment and results must not depend on who runs the tests.
//!
//! A started server is owned by a `Server` guard whose `Drop` stops it, so
//! a failed assertion never leaves httpd (or its mod_wsgi daemons) behind.

#![allow(dead_code)]

pub mod scenario;
pub mod tree;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long to sleep between polls; every loop that uses it is bounded by
/// a number of rounds, so nothing waits forever.
const POLL: Duration = Duration::from_millis(100);

/// The WSGI app every scenario mounts: it reports which daemon and which
/// interpreter served it, so the test sees what mod_wsgi really did rather
/// than what the config seems to say.
pub const APP_SOURCE: &str = r#"import json
import os


def application(environ, start_response):
    body = json.dumps({
        "process_group": environ.get("mod_wsgi.process_group"),
        "application_group": environ.get("mod_wsgi.application_group"),
        "pid": os.getpid(),
        "script_name": environ.get("SCRIPT_NAME"),
    }).encode("utf-8")
    start_response("200 OK", [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
    ])
    return [body]
"#;

// Finding Apache and the skip/require policy are shared with the
// DUMP_CONFIG test.
pub use crate::common::apache::{free_port, require_or_skip, Apache};

/// What one httpd run printed.
#[derive(Debug)]
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// What one app said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInfo {
    pub process_group: String,
    pub application_group: String,
    pub pid: u64,
    pub script_name: String,
}

/// A throw-away ServerRoot.
pub struct Lab {
    pub apache: Apache,
    dir: tempfile::TempDir,
    port: std::cell::Cell<u16>,
    pub env: Vec<(String, String)>,
}

impl Lab {
    pub fn new(apache: &Apache) -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("wsgifix-e2e-")
            .tempdir()
            .expect("create the lab directory");
        // httpd's children and mod_wsgi's daemons drop to `User`, and they
        // must still read the scripts and reach the socket directory.
        set_mode(dir.path(), 0o755);
        let lab = Lab {
            apache: apache.clone(),
            dir,
            port: std::cell::Cell::new(free_port()),
            env: Vec::new(),
        };
        for sub in ["run", "log", "lock", "apps"] {
            lab.mkdir(sub);
        }
        lab.write_listen();
        lab
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir().join(rel)
    }

    pub fn port(&self) -> u16 {
        self.port.get()
    }

    pub fn pid_file(&self) -> PathBuf {
        self.path("run/httpd.pid")
    }

    pub fn error_log(&self) -> PathBuf {
        self.path("log/error.log")
    }

    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).expect("create a lab directory");
        set_mode(&p, 0o755);
        p
    }

    /// Writes `bytes` to `rel` (world-readable) and returns its path.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create a lab directory");
            set_mode(parent, 0o755);
        }
        std::fs::write(&p, bytes).expect("write a lab file");
        set_mode(&p, 0o644);
        p
    }

    /// Writes the reporting app as `apps/NAME` and returns its path.
    pub fn write_app(&self, name: &str) -> PathBuf {
        self.write(&format!("apps/{name}"), APP_SOURCE.as_bytes())
    }

    /// The port lives in its own file so that a port someone else grabbed
    /// in the meantime can be replaced without rewriting anything else.
    fn write_listen(&self) {
        self.write(
            "listen.conf",
            format!("Listen 127.0.0.1:{}\n", self.port()).as_bytes(),
        );
    }

    /// The variables Debian's `/etc/apache2/envvars` exports, pointing into
    /// the lab: corpus configs use `${APACHE_LOG_DIR}` and friends.
    pub fn set_debian_env(&mut self) {
        let vars = crate::common::apache::debian_env(self.dir());
        for (k, v) in vars {
            self.env.retain(|(ek, _)| ek != k);
            self.env.push((k.to_string(), v));
        }
    }

    /// A main config that keeps everything inside the lab, loads an MPM and
    /// `modules` (short names: `wsgi` → `mod_wsgi.so`) and then includes
    /// `includes` in order.
    pub fn base_config(&self, modules: &[&str], includes: &[&Path]) -> String {
        let d = self.dir().display();
        let m = self.apache.modules_dir.display();
        let mut s = String::new();
        writeln!(s, "ServerRoot \"{d}\"").unwrap();
        writeln!(s, "DefaultRuntimeDir \"{d}/run\"").unwrap();
        writeln!(s, "PidFile \"{}\"", self.pid_file().display()).unwrap();
        writeln!(s, "ErrorLog \"{}\"", self.error_log().display()).unwrap();
        writeln!(s, "LogLevel info").unwrap();
        writeln!(s, "Mutex \"file:{d}/lock\" default").unwrap();
        writeln!(s, "Include \"{d}/listen.conf\"").unwrap();
        writeln!(s, "ServerName 127.0.0.1").unwrap();
        if running_as_root() {
            // Run as root, httpd would refuse to start without a `User`
            // it can switch to; as anyone else it cannot switch at all.
            writeln!(s, "User www-data\nGroup www-data").unwrap();
        }
        let mpm = if self.apache.modules_dir.join("mod_mpm_event.so").is_file() {
            "mpm_event"
        } else {
            "mpm_worker"
        };
        for short in std::iter::once(&mpm).chain(modules.iter()) {
            writeln!(s, "LoadModule {short}_module \"{m}/mod_{short}.so\"").unwrap();
        }
        if modules.contains(&"mime") {
            // No mime.types inside the lab; the apps set their own type.
            writeln!(s, "TypesConfig /dev/null").unwrap();
        }
        if modules.contains(&"wsgi") {
            writeln!(s, "WSGISocketPrefix \"{d}/run/wsgi\"").unwrap();
        }
        for inc in includes {
            writeln!(s, "Include \"{}\"", inc.display()).unwrap();
        }
        s
    }

    /// Writes a base config (`base_config`) as `name`.
    pub fn write_base(&self, name: &str, modules: &[&str], includes: &[&Path]) -> PathBuf {
        self.write(name, self.base_config(modules, includes).as_bytes())
    }

    /// `apache2 -d LAB -f CONF ARGS...`, waited for.
    pub fn run(&self, conf: &Path, args: &[&str]) -> Output {
        let out = Command::new(&self.apache.bin)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("-d")
            .arg(self.dir())
            .arg("-f")
            .arg(conf)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.apache.bin.display()));
        Output {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `apache2 -t`.
    pub fn check(&self, conf: &Path) -> Output {
        self.run(conf, &["-t"])
    }

    /// `apache2 -t` must accept `conf`.
    pub fn assert_syntax_ok(&self, conf: &Path, what: &str) {
        let out = self.check(conf);
        assert!(
            out.ok,
            "apache2 -t rejects {what} ({}):\n{}\n--- config under test ---\n{}",
            conf.display(),
            out.stderr,
            included_text(conf)
        );
    }

    /// The end of the error log, for failure messages.
    pub fn error_log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.error_log()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Starts httpd with `conf` and waits until it accepts connections. The
    /// returned guard stops it when dropped.
    /// Serves `text` as the site file `name` from a base config that loads
    /// `modules`, and returns what each of `urls` answered.
    pub fn serve_site(
        &self,
        name: &str,
        modules: &[&str],
        text: &str,
        urls: &[&str],
    ) -> Vec<AppInfo> {
        let site = self.write(name, text.as_bytes());
        let base = self.write_base(&format!("httpd-{name}"), modules, &[&site]);
        self.assert_syntax_ok(&base, name);
        let server = self.start(&base);
        let seen = urls.iter().map(|u| server.app(u)).collect();
        server.stop();
        seen
    }

    pub fn start(&self, conf: &Path) -> Server<'_> {
        // A free port can be taken between choosing it and httpd binding it;
        // only that case is retried, with a fresh port.
        for attempt in 0..3 {
            let _ = std::fs::remove_file(self.error_log());
            let out = self.run(conf, &["-k", "start"]);
            let mut server = Server {
                lab: self,
                conf: conf.to_path_buf(),
                pid: None,
                stopped: false,
            };
            let in_use = |text: &str| text.contains("Address already in use");
            if !out.ok && (in_use(&out.stdout) || in_use(&out.stderr)) && attempt < 2 {
                drop(server);
                self.port.set(free_port());
                self.write_listen();
                continue;
            }
            if !out.ok {
                drop(server);
                panic!(
                    "apache2 -k start failed:\n{}{}\n{}",
                    out.stdout,
                    out.stderr,
                    self.error_log_tail()
                );
            }
            if server.wait_until_listening() {
                return server;
            }
            let log = self.error_log_tail();
            drop(server);
            if in_use(&log) && attempt < 2 {
                self.port.set(free_port());
                self.write_listen();
                continue;
            }
            panic!(
                "httpd started from {} never answered on 127.0.0.1:{}:\n{log}",
                conf.display(),
                self.port()
            );
        }
        unreachable!("the last attempt returns or panics")
    }
}

/// A running httpd; dropping it stops it.
pub struct Server<'a> {
    lab: &'a Lab,
    conf: PathBuf,
    pid: Option<i32>,
    stopped: bool,
}

impl Server<'_> {
    fn wait_until_listening(&mut self) -> bool {
        for _ in 0..100 {
            if self.pid.is_none() {
                self.pid = read_pid(&self.lab.pid_file());
            }
            if self.pid.is_some() && self.lab_processes().is_empty() {
                // httpd wrote its pid and died (a start-up error in the log).
                return false;
            }
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.lab.port()));
            if self.pid.is_some() && TcpStream::connect_timeout(&addr, POLL).is_ok() {
                return true;
            }
            std::thread::sleep(POLL);
        }
        false
    }

    /// `GET path` over HTTP/1.0 on 127.0.0.1: status and body.
    pub fn get_raw(&self, path: &str) -> Result<(u16, String), String> {
        http_get(self.lab.port(), "127.0.0.1", path)
    }

    /// What the reporting app mounted at `path` says; panics (with the error
    /// log) if it does not answer 200 with its JSON.
    pub fn app(&self, path: &str) -> AppInfo {
        let (status, body) = self
            .get_raw(path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.lab.error_log_tail()));
        assert_eq!(
            status,
            200,
            "GET {path} answered {status}:\n{body}\n--- error log ---\n{}\n--- config ---\n{}",
            self.lab.error_log_tail(),
            included_text(&self.conf)
        );
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path}: not the app's JSON ({e}): {body}"));
        let s = |k: &str| match &v[k] {
            serde_json::Value::String(s) => s.clone(),
            other => panic!("GET {path}: {k} is {other} in {body}"),
        };
        AppInfo {
            process_group: s("process_group"),
            application_group: s("application_group"),
            pid: v["pid"]
                .as_u64()
                .unwrap_or_else(|| panic!("GET {path}: no pid in {body}")),
            script_name: s("script_name"),
        }
    }

    /// Stops httpd and checks that it, and every process it started, is gone.
    pub fn stop(mut self) {
        let left = self.shutdown();
        assert!(
            left.is_empty(),
            "httpd processes still running after stop and SIGKILL: {left:?}"
        );
    }

    /// Processes started from this lab: httpd, its children and mod_wsgi's
    /// daemons all carry the lab's path in their command line (zombies have
    /// none and are not running anyway).
    fn lab_processes(&self) -> Vec<i32> {
        let needle = self.lab.dir().as_os_str().as_encoded_bytes().to_vec();
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return out;
        };
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
                if cmd.windows(needle.len()).any(|w| w == needle.as_slice()) {
                    out.push(pid);
                }
            }
        }
        out
    }

    /// `-k stop`, then bounded waits until every process of the lab is
    /// gone. Returns what is still running at the end (nothing, unless even
    /// SIGKILL failed).
    ///
    /// An embedded-mode child sometimes hangs after destroying its Python
    /// sub-interpreters (mod_wsgi 4.9 + Python 3.11); httpd then spends ~10 s
    /// re-sending SIGTERM before it SIGKILLs it. That is not what these
    /// tests are about, so children still there after a short grace period
    /// are killed here, by pid, and httpd's parent reaps them and exits
    /// normally (removing its pid file and sockets).
    fn shutdown(&mut self) -> Vec<i32> {
        if self.stopped {
            return Vec::new();
        }
        self.stopped = true;
        if self.pid.is_none() {
            self.pid = read_pid(&self.lab.pid_file());
        }
        let out = self.lab.run(&self.conf, &["-k", "stop"]);
        if !out.ok {
            eprintln!("note: apache2 -k stop: {}", out.stderr.trim());
        }
        if self.wait_gone(30) {
            return Vec::new();
        }
        let parent = self.pid;
        let children: Vec<i32> = self
            .lab_processes()
            .into_iter()
            .filter(|p| Some(*p) != parent)
            .collect();
        kill_all(&children);
        if self.wait_gone(100) {
            return Vec::new();
        }
        let left = self.lab_processes();
        eprintln!(
            "warning: httpd (pid {parent:?}) did not stop; killing {left:?}\n{}",
            self.lab.error_log_tail()
        );
        kill_all(&left);
        self.wait_gone(50);
        self.lab_processes()
    }

    /// Polls (at most `rounds` times) until the lab has no process left.
    fn wait_gone(&self, rounds: u32) -> bool {
        for _ in 0..rounds {
            if self.lab_processes().is_empty() {
                return true;
            }
            std::thread::sleep(POLL);
        }
        self.lab_processes().is_empty()
    }
}

/// SIGKILL to each pid; callers pass only pids whose command line names
/// their own lab.
fn kill_all(pids: &[i32]) {
    for &pid in pids {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        let left = self.shutdown();
        if !left.is_empty() {
            eprintln!("warning: httpd processes {left:?} survived SIGKILL");
        }
    }
}

/// `GET path` over HTTP/1.0 to 127.0.0.1:`port` with `Host: host`: status
/// and body.
pub fn http_get(port: u16, host: &str, path: &str) -> Result<(u16, String), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    // A new mod_wsgi daemon may still be importing Python when the first
    // request arrives; mod_wsgi itself waits for it, so be generous.
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no header/body separator in {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_string()))
}

fn read_pid(p: &Path) -> Option<i32> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod a lab path");
}

pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The config and every lab file it includes, for failure messages.
pub fn included_text(conf: &Path) -> String {
    let text = std::fs::read_to_string(conf).unwrap_or_default();
    let mut out = format!("# {}\n{text}", conf.display());
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix("Include ") {
            let inc = PathBuf::from(rest.trim().trim_matches('"'));
            if let Ok(t) = std::fs::read_to_string(&inc) {
                write!(out, "# {}\n{t}", inc.display()).unwrap();
            }
        }
    }
    out
}
