//! Whole servers, laid out the way Debian and RHEL lay them out, served by
//! real Apache httpd + mod_wsgi from a throw-away directory.
//!
//! The lab directory plays `/etc/apache2` (Debian: `apache2.conf`,
//! `ports.conf`, `envvars`, `mods-*/`, `conf-*/`, `sites-*/` with the
//! `*-enabled` entries as relative symlinks) or `/etc/httpd` (RHEL:
//! `conf/httpd.conf`, `conf.modules.d/`, `conf.d/`, `modules` symlink). All
//! ports are on 127.0.0.1; pid file, logs, mutexes and mod_wsgi sockets stay
//! in the lab. Debian's main config reads `${APACHE_*}` like the real one,
//! and httpd and wsgifix both get those variables (as `apache2ctl` sources
//! `envvars`).
//!
//! The probe app reports which daemon (`mod_wsgi.process_group`), which
//! interpreter (`mod_wsgi.application_group`), which process and which uid
//! served it, and imports modules that only a given `python-path=` (or
//! `WSGIPythonPath`) makes importable: an app that loses its daemon's
//! options answers 500 instead of 200.

use super::{http_get, running_as_root, Lab, Server};
use crate::common::apache::{free_port, Apache};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Debian,
    Rhel,
}

/// A server tree in a lab.
pub struct Tree {
    pub lab: Lab,
    pub layout: Layout,
    pub main: PathBuf,
    https: std::cell::Cell<Option<u16>>,
}

/// One request a scenario makes: `app` names the application (probes of
/// one app in several vhosts, e.g. certbot's :80/:443 pair, share it).
#[derive(Debug, Clone)]
pub struct Probe {
    pub app: String,
    pub host: String,
    pub path: String,
    pub tls: bool,
}

impl Probe {
    pub fn new(app: &str, host: &str, path: &str) -> Probe {
        Probe {
            app: app.to_string(),
            host: host.to_string(),
            path: path.to_string(),
            tls: false,
        }
    }

    pub fn tls(app: &str, host: &str, path: &str) -> Probe {
        Probe {
            tls: true,
            ..Probe::new(app, host, path)
        }
    }

    pub fn label(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{} ({scheme}://{}{})", self.app, self.host, self.path)
    }
}

/// What one request got; the app's fields only with status 200.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Seen {
    pub status: u16,
    pub process_group: String,
    pub application_group: String,
    pub pid: u64,
    pub uid: u64,
    pub libs: Vec<String>,
    pub script_name: String,
    pub body: String,
}

/// What a serving run saw, and the error log it left.
#[derive(Debug)]
pub struct Served {
    pub seen: Vec<Seen>,
    pub error_log: String,
}

/// A wsgifix run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub args: Vec<String>,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "wsgifix {:?}: stdout is not one JSON document ({e}):\n{}\n{}",
                self.args, self.stdout, self.stderr
            )
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "wsgifix {} exited {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

/// Every config file of the tree: contents (a symlink's target) and mtime.
pub type Snapshot = BTreeMap<PathBuf, (Vec<u8>, SystemTime)>;

/// Lab directories that hold no config (written by httpd, or apps and libs).
const NOT_CONFIG: &[&str] = &[
    "run", "log", "lock", "apps", "lib", "ssl", "state", "modules",
];

const PROBE_SOURCE: &str = r#"import json
import os

LIBS = []
# @IMPORTS@


def application(environ, start_response):
    body = json.dumps({
        "process_group": environ.get("mod_wsgi.process_group"),
        "application_group": environ.get("mod_wsgi.application_group"),
        "pid": os.getpid(),
        "uid": os.getuid(),
        "libs": LIBS,
        "script_name": environ.get("SCRIPT_NAME"),
    }).encode("utf-8")
    start_response("200 OK", [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
    ])
    return [body]
"#;

impl Tree {
    /// A Debian or RHEL skeleton loading authz_core, alias, mime and wsgi
    /// (plus ssl and socache_shmcb with `ssl`), with no sites yet.
    pub fn new(apache: &Apache, layout: Layout, ssl: bool) -> Tree {
        let mut lab = Lab::new(apache);
        if layout == Layout::Debian {
            lab.set_debian_env();
            let pid = lab.pid_file().display().to_string();
            for (k, v) in lab.env.iter_mut() {
                if k == "APACHE_PID_FILE" {
                    *v = pid.clone();
                }
            }
        }
        let main = match layout {
            Layout::Debian => lab.path("apache2.conf"),
            Layout::Rhel => lab.path("conf/httpd.conf"),
        };
        let tree = Tree {
            lab,
            layout,
            main,
            https: std::cell::Cell::new(ssl.then(free_port)),
        };
        match layout {
            Layout::Debian => tree.debian_skeleton(),
            Layout::Rhel => tree.rhel_skeleton(),
        }
        tree
    }

    pub fn http_port(&self) -> u16 {
        self.lab.port()
    }

    pub fn https_port(&self) -> u16 {
        self.https.get().expect("the tree was made with ssl")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.lab.path(rel)
    }

    /// `LAB/rel` as text, for configs.
    pub fn p(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    fn mpm(&self) -> &'static str {
        if self
            .lab
            .apache
            .modules_dir
            .join("mod_mpm_event.so")
            .is_file()
        {
            "mpm_event"
        } else {
            "mpm_worker"
        }
    }

    fn modules(&self) -> Vec<&'static str> {
        let mut m = vec![self.mpm(), "authz_core", "alias", "mime", "wsgi"];
        if self.https.get().is_some() {
            m.extend(["socache_shmcb", "ssl"]);
        }
        m
    }

    fn user_lines(&self, user: &str, group: &str) -> String {
        // Run as root, httpd refuses to start without a `User` it can
        // switch to; run as anyone else it cannot switch at all.
        if running_as_root() {
            format!("User {user}\nGroup {group}\n")
        } else {
            String::new()
        }
    }

    fn debian_skeleton(&self) {
        let lab = &self.lab;
        let d = self.lab.dir().display().to_string();
        let env: String = lab
            .env
            .iter()
            .map(|(k, v)| format!("export {k}={v}\n"))
            .collect();
        lab.write(
            "envvars",
            format!("# envvars - default environment variables for apache2ctl\n{env}").as_bytes(),
        );
        let main = format!(
            "# This is the main Apache server configuration file (a lab copy of Debian's).\n\
             # ServerRoot is the directory httpd is started in (-d), as on Debian.\n\
             DefaultRuntimeDir ${{APACHE_RUN_DIR}}\n\
             PidFile ${{APACHE_PID_FILE}}\n\
             Timeout 300\n\
             KeepAlive Off\n\
             {user}\
             HostnameLookups Off\n\
             ErrorLog ${{APACHE_LOG_DIR}}/error.log\n\
             LogLevel info\n\
             Mutex file:${{APACHE_LOCK_DIR}} default\n\
             ServerName 127.0.0.1\n\
             \n\
             # Include module configuration:\n\
             IncludeOptional mods-enabled/*.load\n\
             IncludeOptional mods-enabled/*.conf\n\
             \n\
             # Include list of ports to listen on\n\
             Include ports.conf\n\
             \n\
             <Directory />\n\
             \tOptions FollowSymLinks\n\
             \tAllowOverride None\n\
             \tRequire all denied\n\
             </Directory>\n\
             \n\
             <Directory {d}/apps/>\n\
             \tAllowOverride None\n\
             \tRequire all granted\n\
             </Directory>\n\
             \n\
             AccessFileName .htaccess\n\
             \n\
             # Include generic snippets of statements\n\
             IncludeOptional conf-enabled/*.conf\n\
             \n\
             # Include the virtual host configurations:\n\
             IncludeOptional sites-enabled/*.conf\n",
            user = self.user_lines("${APACHE_RUN_USER}", "${APACHE_RUN_GROUP}"),
        );
        lab.write("apache2.conf", main.as_bytes());
        self.write_ports();
        let m = self.lab.apache.modules_dir.display().to_string();
        for module in self.modules() {
            self.put_enabled(
                "mods",
                &format!("{module}.load"),
                &format!("LoadModule {module}_module {m}/mod_{module}.so\n"),
            );
        }
        self.put_enabled(
            "mods",
            "mime.conf",
            "<IfModule mod_mime.c>\n\t# No mime.types in the lab; the apps set their own type.\n\tTypesConfig /dev/null\n</IfModule>\n",
        );
        self.put_enabled(
            "mods",
            "wsgi.conf",
            &format!(
                "<IfModule mod_wsgi.c>\n\t# Daemon sockets live in the lab.\n\tWSGISocketPrefix {d}/run/wsgi\n</IfModule>\n"
            ),
        );
        if self.https.get().is_some() {
            self.put_enabled(
                "mods",
                "ssl.conf",
                &format!(
                    "<IfModule mod_ssl.c>\n\tSSLSessionCache shmcb:{d}/run/ssl_scache(512000)\n\tSSLSessionCacheTimeout 300\n</IfModule>\n"
                ),
            );
            self.make_cert();
        }
        for dir in [
            "conf-available",
            "conf-enabled",
            "sites-available",
            "sites-enabled",
        ] {
            self.lab.mkdir(dir);
        }
    }

    fn write_ports(&self) {
        match self.layout {
            Layout::Debian => {
                let mut s = format!(
                    "# If you just change the port or add more ports here, you will likely also\n\
                     # have to change the VirtualHost statement in\n\
                     # sites-enabled/000-default.conf\n\
                     \n\
                     Listen 127.0.0.1:{}\n",
                    self.http_port()
                );
                if let Some(p) = self.https.get() {
                    write!(
                        s,
                        "\n<IfModule ssl_module>\n\tListen 127.0.0.1:{p}\n</IfModule>\n"
                    )
                    .unwrap();
                }
                self.lab.write("ports.conf", s.as_bytes());
            }
            Layout::Rhel => {
                self.lab.write(
                    "conf.d/00-listen.conf",
                    format!("Listen 127.0.0.1:{}\n", self.http_port()).as_bytes(),
                );
                if let Some(p) = self.https.get() {
                    let d = self.lab.dir().display().to_string();
                    self.lab.write(
                        "conf.d/ssl.conf",
                        format!(
                            "#\n# When we also provide SSL we have to listen to the\n# standard HTTPS port in addition.\n#\nListen 127.0.0.1:{p} https\nSSLSessionCache shmcb:{d}/run/ssl_scache(512000)\n"
                        )
                        .as_bytes(),
                    );
                }
            }
        }
    }

    fn rhel_skeleton(&self) {
        let lab = &self.lab;
        let d = lab.dir().display().to_string();
        std::os::unix::fs::symlink(&lab.apache.modules_dir, lab.path("modules"))
            .expect("link modules into the lab");
        let main = format!(
            "#\n# This is the main Apache HTTP server configuration file (a lab copy of RHEL's).\n#\n\
             ServerRoot \"{d}\"\n\
             \n\
             Include conf.modules.d/*.conf\n\
             \n\
             {user}\
             ServerName 127.0.0.1\n\
             PidFile run/httpd.pid\n\
             DefaultRuntimeDir run\n\
             ErrorLog \"log/error.log\"\n\
             LogLevel info\n\
             Mutex file:{d}/lock default\n\
             TypesConfig /dev/null\n\
             \n\
             <Directory />\n\
             \x20   AllowOverride none\n\
             \x20   Require all denied\n\
             </Directory>\n\
             \n\
             <Directory \"{d}/apps\">\n\
             \x20   AllowOverride None\n\
             \x20   Require all granted\n\
             </Directory>\n\
             \n\
             # Load config files in the \"conf.d\" directory, if any.\n\
             IncludeOptional conf.d/*.conf\n",
            user = self.user_lines("www-data", "www-data"),
        );
        lab.write("conf/httpd.conf", main.as_bytes());
        let mpm = self.mpm();
        lab.write(
            "conf.modules.d/00-mpm.conf",
            format!("LoadModule {mpm}_module modules/mod_{mpm}.so\n").as_bytes(),
        );
        lab.write(
            "conf.modules.d/00-base.conf",
            b"LoadModule alias_module modules/mod_alias.so\nLoadModule authz_core_module modules/mod_authz_core.so\nLoadModule mime_module modules/mod_mime.so\n",
        );
        lab.write(
            "conf.modules.d/10-wsgi-python3.conf",
            format!(
                "<IfModule !wsgi_module>\n    LoadModule wsgi_module modules/mod_wsgi.so\n</IfModule>\nWSGISocketPrefix {d}/run/wsgi\n"
            )
            .as_bytes(),
        );
        if self.https.get().is_some() {
            lab.write(
                "conf.modules.d/00-ssl.conf",
                b"LoadModule socache_shmcb_module modules/mod_socache_shmcb.so\nLoadModule ssl_module modules/mod_ssl.so\n",
            );
            self.make_cert();
        }
        lab.mkdir("conf.d");
        self.write_ports();
    }

    /// A self-signed certificate for the TLS vhosts: `ssl/cert.pem`,
    /// `ssl/key.pem`.
    fn make_cert(&self) {
        self.lab.mkdir("ssl");
        let out = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .arg("ec_paramgen_curve:prime256v1")
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout"])
            .arg(self.path("ssl/key.pem"))
            .arg("-out")
            .arg(self.path("ssl/cert.pem"))
            .output()
            .expect("run openssl (needed for the TLS scenarios)");
        assert!(
            out.status.success(),
            "openssl req -x509 failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Writes `KIND-available/name` and links `KIND-enabled/name` to it
    /// (relative, as a2enmod/a2ensite do).
    fn put_enabled(&self, kind: &str, name: &str, text: &str) -> PathBuf {
        let p = self
            .lab
            .write(&format!("{kind}-available/{name}"), text.as_bytes());
        self.lab.mkdir(&format!("{kind}-enabled"));
        let link = self.path(&format!("{kind}-enabled/{name}"));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(format!("../{kind}-available/{name}"), &link)
            .expect("enable a lab config");
        p
    }

    /// A conf snippet: Debian `conf-available/` + `conf-enabled/` link;
    /// RHEL `conf.d/`. Returns the file's real path.
    pub fn conf(&self, name: &str, text: &str) -> PathBuf {
        match self.layout {
            Layout::Debian => self.put_enabled("conf", name, text),
            Layout::Rhel => self.lab.write(&format!("conf.d/{name}"), text.as_bytes()),
        }
    }

    /// A site: Debian `sites-available/` + `sites-enabled/` link; RHEL
    /// `conf.d/`. Returns the file's real path.
    pub fn site(&self, name: &str, text: &str) -> PathBuf {
        match self.layout {
            Layout::Debian => self.put_enabled("sites", name, text),
            Layout::Rhel => self.lab.write(&format!("conf.d/{name}"), text.as_bytes()),
        }
    }

    /// Any file of the tree, by path below the lab.
    pub fn put(&self, rel: &str, text: &str) -> PathBuf {
        self.lab.write(rel, text.as_bytes())
    }

    /// `<VirtualHost *:PORT>` for the plain port (`tls`: the TLS port).
    pub fn vhost_addr(&self, tls: bool) -> String {
        let port = if tls {
            self.https_port()
        } else {
            self.http_port()
        };
        format!("*:{port}")
    }

    /// The SSL lines of a TLS vhost.
    pub fn ssl_lines(&self, indent: &str) -> String {
        format!(
            "{indent}SSLEngine on\n{indent}SSLCertificateFile {}\n{indent}SSLCertificateKeyFile {}\n",
            self.p("ssl/cert.pem"),
            self.p("ssl/key.pem")
        )
    }

    /// `lib/DIR/MODULE.py`, importable only with `DIR` on the Python path;
    /// returns the directory (what `python-path=` must name).
    pub fn lib(&self, dir: &str, module: &str) -> String {
        self.lab.write(
            &format!("lib/{dir}/{module}.py"),
            format!("MARK = \"{dir}/{module}\"\n").as_bytes(),
        );
        self.p(&format!("lib/{dir}"))
    }

    /// The probe app at `apps/REL`, importing `modules`; returns its path.
    pub fn app(&self, rel: &str, modules: &[&str]) -> String {
        let imports: String = modules
            .iter()
            .map(|m| format!("import {m}\nLIBS.append({m}.MARK)\n"))
            .collect();
        let src = PROBE_SOURCE.replace("# @IMPORTS@\n", &imports);
        self.lab
            .write(&format!("apps/{rel}"), src.as_bytes())
            .display()
            .to_string()
    }

    /// `apache2 -t` on the main config.
    pub fn check(&self) -> super::Output {
        self.lab.run(&self.main, &["-t"])
    }

    pub fn assert_syntax_ok(&self, what: &str) {
        let out = self.check();
        assert!(
            out.ok,
            "apache2 -t rejects {what}:\n{}\n{}",
            out.stderr,
            self.dump()
        );
    }

    /// Every config file of the tree with its text, for failure messages.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for (p, (bytes, _)) in self.snapshot() {
            let rel = p.strip_prefix(self.lab.dir()).unwrap_or(&p);
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
                writeln!(
                    out,
                    "--- {} -> {}",
                    rel.display(),
                    String::from_utf8_lossy(&bytes)
                )
                .unwrap();
            } else if !rel.starts_with("mods-available") && !rel.starts_with("mods-enabled") {
                write!(
                    out,
                    "--- {}\n{}",
                    rel.display(),
                    String::from_utf8_lossy(&bytes)
                )
                .unwrap();
            }
        }
        out
    }

    /// Every config file (a symlink as its target) with its mtime.
    pub fn snapshot(&self) -> Snapshot {
        let mut out = Snapshot::new();
        walk(self.lab.dir(), self.lab.dir(), &mut out);
        out
    }

    /// Starts httpd on the main config; the guard stops it when dropped.
    pub fn start(&self) -> Server<'_> {
        // A free port can be taken between choosing it and httpd binding it;
        // only that case is retried, with fresh ports written into the tree.
        for attempt in 0..3 {
            let _ = std::fs::remove_file(self.lab.error_log());
            let out = self.lab.run(&self.main, &["-k", "start"]);
            let mut server = Server {
                lab: &self.lab,
                conf: self.main.clone(),
                pid: None,
                stopped: false,
            };
            if !out.ok {
                drop(server);
                panic!(
                    "apache2 -k start failed:\n{}{}\n{}\n{}",
                    out.stdout,
                    out.stderr,
                    self.lab.error_log_tail(),
                    self.dump()
                );
            }
            if server.wait_until_listening() {
                return server;
            }
            let log = self.lab.error_log_tail();
            drop(server);
            if log.contains("Address already in use") && attempt < 2 {
                self.new_ports();
                continue;
            }
            panic!(
                "httpd started from {} never answered on 127.0.0.1:{}:\n{log}\n{}",
                self.main.display(),
                self.http_port(),
                self.dump()
            );
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Replaces the tree's ports (in every config file that names them).
    fn new_ports(&self) {
        let mut map = vec![(self.http_port(), free_port())];
        if let Some(p) = self.https.get() {
            map.push((p, free_port()));
        }
        for (p, _) in self.snapshot() {
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
                continue;
            }
            let mut text = std::fs::read_to_string(&p).unwrap_or_default();
            for (old, new) in &map {
                text = text.replace(&format!(":{old}"), &format!(":{new}"));
            }
            std::fs::write(&p, text).expect("rewrite a port");
        }
        self.lab.port.set(map[0].1);
        if map.len() > 1 {
            self.https.set(Some(map[1].1));
        }
    }

    /// Serves the tree, makes each request in turn, stops the server.
    pub fn serve(&self, probes: &[Probe]) -> Served {
        let server = self.start();
        let seen = probes.iter().map(|p| self.request(p)).collect();
        let error_log = std::fs::read_to_string(self.lab.error_log()).unwrap_or_default();
        server.stop();
        Served { seen, error_log }
    }

    /// One request; a failure to connect at all panics (the server is up).
    pub fn request(&self, p: &Probe) -> Seen {
        let (status, body) = if p.tls {
            curl_tls(self.https_port(), &p.host, &p.path)
        } else {
            http_get(self.http_port(), &p.host, &p.path)
        }
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", p.label(), self.lab.error_log_tail()));
        let mut seen = Seen {
            status,
            body: body.clone(),
            ..Seen::default()
        };
        if status == 200 {
            let v: serde_json::Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{}: not the probe's JSON ({e}): {body}", p.label()));
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            seen.process_group = s("process_group");
            seen.application_group = s("application_group");
            seen.script_name = s("script_name");
            seen.pid = v["pid"].as_u64().unwrap_or_default();
            seen.uid = v["uid"].as_u64().unwrap_or_default();
            seen.libs = v["libs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
        }
        seen
    }

    /// Runs wsgifix with `args` (the environment httpd gets, so `${APACHE_*}`
    /// resolve as under apache2ctl). `--write` runs get a state directory in
    /// the lab and verify with this lab's own `apache2 -t` command, when the
    /// binary knows those flags.
    pub fn wsgifix(&self, args: &[&str]) -> Run {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if args.contains(&"--write") {
            if supports("--state-dir") {
                all.push("--state-dir".into());
                all.push(self.p("state"));
            }
            if supports("--verify-cmd") {
                all.push("--verify-cmd".into());
                all.push(format!(
                    "{} -d {} -f {} -t",
                    self.lab.apache.bin.display(),
                    self.lab.dir().display(),
                    self.main.display()
                ));
            }
        }
        let out = Command::new(env!("CARGO_BIN_EXE_wsgifix"))
            .args(&all)
            .env("NO_COLOR", "1")
            .envs(self.lab.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run wsgifix");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            args: all,
        }
    }

    /// `--config MAIN` plus `args`.
    pub fn wsgifix_config(&self, args: &[&str]) -> Run {
        let main = self.main.display().to_string();
        let mut all = args.to_vec();
        all.extend(["--config", main.as_str()]);
        self.wsgifix(&all)
    }
}

/// Whether this wsgifix binary has a flag (its `--help` names it).
pub fn supports(flag: &str) -> bool {
    static HELP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let help = HELP.get_or_init(|| {
        let out = Command::new(env!("CARGO_BIN_EXE_wsgifix"))
            .arg("--help")
            .output()
            .expect("run wsgifix --help");
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
    help.split(|c: char| c.is_whitespace() || c == ',' || c == '=')
        .any(|w| w == flag)
}

fn walk(root: &Path, dir: &Path, out: &mut Snapshot) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap_or(&p);
        if rel.components().count() == 1 && NOT_CONFIG.iter().any(|n| rel == Path::new(n)) {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&p).unwrap_or_default();
            out.insert(p, (target.as_os_str().as_encoded_bytes().to_vec(), mtime));
        } else if meta.is_dir() {
            walk(root, &p, out);
        } else if meta.is_file() {
            out.insert(p.clone(), (std::fs::read(&p).unwrap_or_default(), mtime));
        }
    }
}

/// `GET https://host:port/path` through curl (no TLS crate in the tests):
/// certificate not checked (self-signed), `host` resolved to 127.0.0.1.
fn curl_tls(port: u16, host: &str, path: &str) -> Result<(u16, String), String> {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "30", "--resolve"])
        .arg(format!("{host}:{port}:127.0.0.1"))
        .args(["-w", "\n%{http_code}"])
        .arg(format!("https://{host}:{port}{path}"))
        .output()
        .map_err(|e| format!("run curl: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "curl exited {}: {}{}",
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let (body, code) = text
        .rsplit_once('\n')
        .ok_or_else(|| format!("no status from curl in {text:?}"))?;
    let status = code
        .trim()
        .parse()
        .map_err(|_| format!("bad status from curl: {code:?}"))?;
    Ok((status, body.to_string()))
}
