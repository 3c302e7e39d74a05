//! Real Apache httpd as a test oracle.
//!
//! A `Lab` is a throw-away ServerRoot: every path httpd could write to
//! (pid file, error log, mutexes, runtime dir) points inside it, so a test
//! never touches the system's Apache and two labs never collide. httpd is run
//! with a cleared environment plus the variables the lab sets, because
//! `${VAR}` in a config reads the process environment and the result must not
//! depend on who runs the tests.
//!
//! Configs are syntax-checked with `-t` and never bind their port; a test that
//! starts a server can use `Lab::port` (a free port on 127.0.0.1 picked at
//! creation) and `Lab::pid_file`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// The environment variable that turns a missing Apache into a failure
/// (CI machines that are meant to have it must not skip silently).
pub const REQUIRE_ENV: &str = "WSGIFIX_REQUIRE_APACHE";

/// Where Debian/Ubuntu keep shared modules; `WSGIFIX_APACHE_MODULES` overrides.
const DEFAULT_MODULES_DIR: &str = "/usr/lib/apache2/modules";

/// An httpd binary and its modules directory (which holds mod_wsgi).
#[derive(Debug, Clone)]
pub struct Apache {
    pub bin: PathBuf,
    pub modules_dir: PathBuf,
}

/// A shared module: the name `LoadModule` needs and its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    pub path: PathBuf,
}

/// What one httpd run printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.status.success()
    }

    /// stderr without the noise every `-t` run prints.
    pub fn message(&self) -> String {
        self.stderr
            .lines()
            .filter(|l| !l.contains("Syntax OK") && !l.contains(":warn]"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Looks for httpd and mod_wsgi; `Err` says what is missing.
pub fn find() -> Result<Apache, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("WSGIFIX_APACHE_BIN") {
        candidates.push(PathBuf::from(p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            candidates.push(dir.join("apache2"));
        }
    }
    candidates.push(PathBuf::from("/usr/sbin/apache2"));
    let bin = candidates
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| "no apache2 binary on PATH or at /usr/sbin/apache2".to_string())?;
    let modules_dir = std::env::var_os("WSGIFIX_APACHE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODULES_DIR));
    if !modules_dir.join("mod_wsgi.so").is_file() {
        return Err(format!(
            "mod_wsgi.so not found in {} (set WSGIFIX_APACHE_MODULES)",
            modules_dir.display()
        ));
    }
    Ok(Apache { bin, modules_dir })
}

/// The Apache to test against, or `None` (after saying why) when this
/// machine has none. With `WSGIFIX_REQUIRE_APACHE=1` a missing Apache fails
/// the test instead.
pub fn require_or_skip(test_name: &str) -> Option<Apache> {
    match find() {
        Ok(a) => Some(a),
        Err(why) => {
            if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
                panic!("{test_name}: Apache is required ({REQUIRE_ENV}=1) but {why}");
            }
            eprintln!("{test_name}: skipped: {why}");
            None
        }
    }
}

impl Apache {
    /// The module file for `name` (`wsgi` → `mod_wsgi.so`).
    pub fn module(&self, short: &str) -> Module {
        Module {
            name: format!("{short}_module"),
            path: self.modules_dir.join(format!("mod_{short}.so")),
        }
    }

    /// Every `mod_*.so` in the modules directory, as `LoadModule` would name
    /// it (`mod_proxy_http.so` → `proxy_http_module`).
    pub fn all_modules(&self) -> Vec<Module> {
        let mut out: Vec<Module> = std::fs::read_dir(&self.modules_dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let file = e.file_name().into_string().ok()?;
                        let short = file.strip_prefix("mod_")?.strip_suffix(".so")?;
                        Some(Module {
                            name: format!("{short}_module"),
                            path: e.path(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        // By file name: `mod_proxy.so` before `mod_proxy_http.so`, which
        // needs its symbols.
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// The largest set of modules httpd accepts together: one MPM (event if
    /// there is one) and every other module that loads. A module that fails
    /// (found by the line number httpd reports) is first moved to the end, in
    /// case it needs a module loaded after it, and dropped if it fails again,
    /// so one broken module does not hide the rest.
    pub fn loadable_modules(&self) -> Vec<Module> {
        let all = self.all_modules();
        let mpm = all
            .iter()
            .find(|m| m.name == "mpm_event_module")
            .or_else(|| all.iter().find(|m| m.name.starts_with("mpm_")))
            .cloned();
        let mut set: Vec<Module> = mpm.into_iter().collect();
        set.extend(all.into_iter().filter(|m| !m.name.starts_with("mpm_")));
        let mut lab = Lab::new(self, Vec::new());
        let mut deferred: Vec<String> = Vec::new();
        for _ in 0..=2 * set.len() {
            lab.modules = set.clone();
            let conf = lab.write_base("probe-modules.conf", None, "");
            let out = lab.check(&conf);
            if out.ok() {
                return set;
            }
            let first_module_line = base_module_line_offset();
            let bad = error_line(&out.stderr, &conf)
                .and_then(|n| n.checked_sub(first_module_line))
                .filter(|&i| i < set.len())
                .unwrap_or_else(|| {
                    panic!(
                        "httpd rejects the module set for a reason not tied to one module:\n{}",
                        out.stderr
                    )
                });
            let m = set.remove(bad);
            if deferred.contains(&m.name) {
                eprintln!("note: not loading {} ({})", m.name, out.message().trim());
            } else {
                deferred.push(m.name.clone());
                set.push(m);
            }
        }
        unreachable!("each module is deferred at most once and dropped at most once")
    }
}

/// The line (1-based) of `conf` that httpd's error names, if any.
fn error_line(stderr: &str, conf: &Path) -> Option<usize> {
    let needle = format!(" of {}", conf.display());
    stderr.lines().find_map(|l| {
        let at = l.find(&needle)?;
        let head = &l[..at];
        let n = head.rsplit(' ').next()?;
        n.parse().ok()
    })
}

/// The first base-config line that holds a `LoadModule`, given how
/// `Lab::base_config` lays the file out.
fn base_module_line_offset() -> usize {
    BASE_PREAMBLE_LINES + 1
}

const BASE_PREAMBLE_LINES: usize = 7;

/// A throw-away ServerRoot with a chosen set of modules.
pub struct Lab {
    pub bin: PathBuf,
    pub modules_dir: PathBuf,
    dir: tempfile::TempDir,
    /// A port on 127.0.0.1 that was free when the lab was made.
    pub port: u16,
    pub modules: Vec<Module>,
    /// The only environment httpd gets (besides a fixed PATH).
    pub env: Vec<(String, String)>,
}

impl Lab {
    pub fn new(apache: &Apache, modules: Vec<Module>) -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("wsgifix-apache-")
            .tempdir()
            .expect("create a temp dir for the Apache lab");
        // Red Hat style configs load `modules/mod_x.so`, relative to
        // ServerRoot.
        std::os::unix::fs::symlink(&apache.modules_dir, dir.path().join("modules"))
            .expect("link modules into the lab");
        Lab {
            bin: apache.bin.clone(),
            modules_dir: apache.modules_dir.clone(),
            dir,
            port: free_port(),
            modules,
            env: Vec::new(),
        }
    }

    /// The variables Debian's `/etc/apache2/envvars` exports, pointing into
    /// the lab (log and run directories are created).
    pub fn set_debian_env(&mut self) {
        let d = self.dir().to_path_buf();
        for sub in ["log", "run", "lock"] {
            std::fs::create_dir_all(d.join(sub)).expect("create lab subdir");
        }
        for (k, v) in debian_env(&d) {
            self.env.retain(|(ek, _)| ek != k);
            self.env.push((k.to_string(), v));
        }
    }

    /// The ServerRoot.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid_file(&self) -> PathBuf {
        self.dir().join("httpd.pid")
    }

    pub fn error_log(&self) -> PathBuf {
        self.dir().join("error.log")
    }

    pub fn loads(&self, module_name: &str) -> bool {
        self.modules.iter().any(|m| m.name == module_name)
    }

    /// A minimal main config: everything httpd writes stays in the lab,
    /// `extra` follows the LoadModule lines, and `include` (if any) is the
    /// very last line, so in a DUMP_CONFIG everything after its `# In file:`
    /// belongs to it (or to files it pulls in).
    pub fn base_config(&self, include: Option<&Path>, extra: &str) -> String {
        let d = self.dir().display();
        let mut s = String::new();
        // Exactly BASE_PREAMBLE_LINES lines before the first LoadModule.
        writeln!(s, "ServerRoot \"{d}\"").unwrap();
        writeln!(s, "DefaultRuntimeDir \"{d}\"").unwrap();
        writeln!(s, "PidFile \"{}\"", self.pid_file().display()).unwrap();
        writeln!(s, "ErrorLog \"{}\"", self.error_log().display()).unwrap();
        writeln!(s, "Mutex \"file:{d}\" default").unwrap();
        writeln!(s, "Listen 127.0.0.1:{}", self.port).unwrap();
        writeln!(s, "ServerName 127.0.0.1").unwrap();
        debug_assert_eq!(s.lines().count(), BASE_PREAMBLE_LINES);
        for m in &self.modules {
            writeln!(s, "LoadModule {} \"{}\"", m.name, m.path.display()).unwrap();
        }
        s.push_str(extra);
        if !extra.is_empty() && !extra.ends_with('\n') {
            s.push('\n');
        }
        if let Some(p) = include {
            writeln!(s, "Include \"{}\"", p.display()).unwrap();
        }
        s
    }

    /// Writes `bytes` to `name` inside the lab and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create lab subdir");
        }
        std::fs::write(&p, bytes).expect("write lab file");
        p
    }

    /// Writes a base config (see `base_config`) and returns its path.
    pub fn write_base(&self, name: &str, include: Option<&Path>, extra: &str) -> PathBuf {
        self.write(name, self.base_config(include, extra).as_bytes())
    }

    /// Runs `apache2 -d LAB -f CONF ARGS...` and waits for it.
    pub fn run(&self, conf: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("-d")
            .arg(self.dir())
            .arg("-f")
            .arg(conf)
            .args(args);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.bin.display()));
        Output {
            status: out.status,
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `apache2 -t`: the syntax check.
    pub fn check(&self, conf: &Path) -> Output {
        self.run(conf, &["-t"])
    }

    /// A lab that loads what the WSGI directives need (an MPM, authz_core,
    /// alias, wsgi), for configtests of snippets.
    pub fn for_wsgi(apache: &Apache) -> Lab {
        let modules = ["mpm_event", "authz_core", "alias", "wsgi"];
        Lab::new(apache, modules.iter().map(|m| apache.module(m)).collect())
    }

    /// `apache2 -t` of `body` included from a base config, both written as
    /// `TAG.conf` and `TAG-main.conf`.
    pub fn check_snippet(&self, tag: &str, body: &str) -> Output {
        let file = self.write(&format!("{tag}.conf"), body.as_bytes());
        let conf = self.write_base(&format!("{tag}-main.conf"), Some(&file), "");
        self.check(&conf)
    }

    /// `apache2 -t -D DUMP_CONFIG`, with mod_info injected from the command
    /// line when the lab does not load it. The dump is on stdout and only
    /// there when the whole config was accepted.
    pub fn dump_config(&self, conf: &Path) -> Output {
        let load_info;
        let mut args = vec!["-t", "-D", "DUMP_CONFIG"];
        if !self.loads("info_module") {
            load_info = format!(
                "LoadModule info_module {}",
                self.modules_dir.join("mod_info.so").display()
            );
            args.push("-C");
            args.push(&load_info);
        }
        self.run(conf, &args)
    }

    /// The modules httpd has loaded with `conf` (`-t -D DUMP_MODULES`), e.g.
    /// `core_module`, `wsgi_module`.
    pub fn dump_modules(&self, conf: &Path) -> Vec<String> {
        let out = self.run(conf, &["-t", "-D", "DUMP_MODULES"]);
        assert!(out.ok(), "DUMP_MODULES failed:\n{}", out.stderr);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix(' '))
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    }

    /// The names `Define`d when `conf` has been read (`-t -D DUMP_RUN_CFG`),
    /// without DUMP_RUN_CFG itself.
    pub fn defines(&self, conf: &Path) -> Result<Vec<String>, String> {
        let out = self.run(conf, &["-t", "-D", "DUMP_RUN_CFG"]);
        if !out.ok() {
            return Err(out.message());
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("Define: "))
            .map(|d| d.split('=').next().unwrap_or(d).to_string())
            .filter(|d| d != "DUMP_RUN_CFG")
            .collect())
    }
}

/// What Debian's `/etc/apache2/envvars` exports, pointing into `dir`:
/// configs use `${APACHE_LOG_DIR}` and friends.
pub fn debian_env(dir: &Path) -> [(&'static str, String); 6] {
    let p = |s: &str| dir.join(s).display().to_string();
    [
        ("APACHE_RUN_USER", "www-data".to_string()),
        ("APACHE_RUN_GROUP", "www-data".to_string()),
        ("APACHE_PID_FILE", p("run/apache2.pid")),
        ("APACHE_RUN_DIR", p("run")),
        ("APACHE_LOCK_DIR", p("lock")),
        ("APACHE_LOG_DIR", p("log")),
    ]
}

/// A TCP port on 127.0.0.1 that nothing listened on a moment ago, and that
/// this process has not handed out before: the kernel may offer a port again
/// once its probe socket closes, and two servers of one test (the fleet test
/// starts twenty) must never be given the same one.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..64 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(18765);
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    panic!("no fresh loopback port after 64 tries");
}
