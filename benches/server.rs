//! Server mode against file mode on the same files (issue 6's measure):
//! a Debian-layout server of N enabled sites (default 2000, each its own
//! file behind a `sites-enabled/` symlink, plus conf-enabled snippets), and
//!
//! - `cat` of every file (the baseline: reading the bytes),
//! - `wsgifix --check FILE...` (every file but the main config named,
//!   each checked on its own),
//! - `wsgifix --check --config apache2.conf` (the server read as httpd
//!   reads it, analysed as one configuration).
//!
//! Rounds are interleaved, so a noisy neighbour slows all three alike; the
//! report is the median of each and the ratios.
//!
//! `--check FILES` and `--check --config` run again with `-j 1`, against
//! each other.
//!
//! `cargo bench --bench server` (env: SERVER_SITES=N, SERVER_ROUNDS=R,
//! WSGIFIX_BIN=path; default target/release/wsgifix, built first;
//! SERVER_DIR=DIR keeps the generated servers there, for profiling).

use std::fmt::Write as _;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A site as fleets have them: most are right, some embedded, some share a
/// daemon, a few have no WSGI at all.
fn site(i: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Managed by config management. Site {i}.");
    let _ = writeln!(s, "<VirtualHost *:80>");
    let _ = writeln!(s, "    ServerName site{i}.example.org");
    let _ = writeln!(s, "    DocumentRoot /srv/site{i}/htdocs");
    let _ = writeln!(s, "    ErrorLog ${{APACHE_LOG_DIR}}/site{i}-error.log");
    match i % 5 {
        0 | 1 => {
            let _ = writeln!(
                s,
                "    WSGIDaemonProcess site{i} user=www-data threads=5 python-path=/srv/site{i}"
            );
            let _ = writeln!(s, "    WSGIProcessGroup site{i}");
            let _ = writeln!(s, "    WSGIApplicationGroup %{{GLOBAL}}");
            let _ = writeln!(s, "    WSGIScriptAlias / /srv/site{i}/app.wsgi");
        }
        2 => {
            let _ = writeln!(s, "    WSGIScriptAlias /app /srv/site{i}/app.wsgi");
        }
        3 => {
            let _ = writeln!(s, "    WSGIDaemonProcess site{i} threads=5");
            let _ = writeln!(s, "    WSGIProcessGroup site{i}");
            let _ = writeln!(s, "    WSGIScriptAlias /a /srv/site{i}/a.wsgi");
            let _ = writeln!(s, "    WSGIScriptAlias /b /srv/site{i}/b.wsgi");
        }
        _ => {
            let _ = writeln!(s, "    Redirect permanent / https://site{i}.example.org/");
        }
    }
    let _ = writeln!(s, "    <Directory /srv/site{i}>");
    let _ = writeln!(s, "        Require all granted");
    let _ = writeln!(s, "    </Directory>");
    let _ = writeln!(s, "</VirtualHost>");
    s
}

/// Writes the server; returns its main config and every file it reads.
fn build(root: &Path, sites: usize, api: bool) -> (PathBuf, Vec<PathBuf>) {
    let mk = |d: &str| std::fs::create_dir_all(root.join(d)).unwrap();
    for d in [
        "sites-available",
        "sites-enabled",
        "conf-available",
        "conf-enabled",
    ] {
        mk(d);
    }
    let main = root.join("apache2.conf");
    std::fs::write(
        &main,
        "ServerRoot \"ROOT\"\nListen 80\nIncludeOptional conf-enabled/*.conf\nIncludeOptional sites-enabled/*.conf\n"
            .replace("ROOT", &root.display().to_string()),
    )
    .unwrap();
    let mut files = vec![main.clone()];
    // A server-level app whose instances reach every vhost: each vhost's own
    // fix must leave it where it is (the case that once took minutes).
    let api = api.then_some((
        "api.conf",
        "WSGIScriptAliasMatch ^/api/(.*) /srv/api/api.wsgi\n",
    ));
    for (name, text) in [
        ("security.conf", "ServerTokens Prod\nServerSignature Off\n"),
        ("charset.conf", "AddDefaultCharset UTF-8\n"),
    ]
    .into_iter()
    .chain(api)
    {
        let f = root.join("conf-available").join(name);
        std::fs::write(&f, text).unwrap();
        symlink(&f, root.join("conf-enabled").join(name)).unwrap();
        files.push(f);
    }
    for i in 0..sites {
        let name = format!("site{i:05}.conf");
        let f = root.join("sites-available").join(&name);
        std::fs::write(&f, site(i)).unwrap();
        symlink(
            format!("../sites-available/{name}"),
            root.join("sites-enabled").join(&name),
        )
        .unwrap();
        files.push(f);
    }
    (main, files)
}

fn time(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run");
    let t = start.elapsed();
    assert!(status.code().is_some_and(|c| c <= 1), "{cmd:?}: {status}");
    t
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; nothing else is taken from argv.
    let sites = env_usize("SERVER_SITES", 2000);
    let rounds = env_usize("SERVER_ROUNDS", 7);
    let bin = std::env::var_os("WSGIFIX_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let s = Command::new(env!("CARGO"))
                .args(["build", "--release", "--bin", "wsgifix"])
                .status()
                .expect("cargo build");
            assert!(s.success());
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
            target.join("release/wsgifix")
        });
    let tmp = tempfile::tempdir().unwrap();
    let base = match std::env::var_os("SERVER_DIR") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            PathBuf::from(d)
        }
        None => tmp.path().to_path_buf(),
    };
    let root = base.canonicalize().unwrap();
    let (main, files) = build(&root, sites, false);
    let api_root = root.join("with-api");
    let (api_main, _) = build(&api_root, sites, true);
    let state = tmp.path().join("state");
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();

    let cat = || {
        let mut c = Command::new("cat");
        c.args(&files);
        c
    };
    // Without the main config: named on its own, apache2.conf would make
    // the list a server again.
    // `jobs`: extra arguments (`-j 1`), or none for the default.
    let list_with = |jobs: &[&str]| {
        let mut c = Command::new(&bin);
        c.env("WSGIFIX_STATE_DIR", &state)
            .args(jobs)
            .arg("--check")
            .args(&files[1..]);
        c
    };
    let server_with = |jobs: &[&str]| {
        let mut c = Command::new(&bin);
        c.env("WSGIFIX_STATE_DIR", &state)
            .args(jobs)
            .args(["--check", "--config"])
            .arg(&main);
        c
    };
    let list = || list_with(&[]);
    let server = || server_with(&[]);
    // Both modes must see the same findings, or the comparison is moot.
    let count = |mut c: Command| {
        let out = c.output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let (n_list, n_server) = (count(list()), count(server()));
    assert_eq!(n_list, n_server, "the two modes disagree on the findings");

    let api_server = |mode: &str| {
        let mut c = Command::new(&bin);
        c.env("WSGIFIX_STATE_DIR", &state)
            .args([mode, "--config"])
            .arg(&api_main);
        c
    };
    let (mut t_cat, mut t_list, mut t_server) = (Vec::new(), Vec::new(), Vec::new());
    let (mut t_api_check, mut t_api_diff) = (Vec::new(), Vec::new());
    let (mut t_list_1, mut t_server_1) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        t_list_1.push(time(&mut list_with(&["-j", "1"])));
        t_server_1.push(time(&mut server_with(&["-j", "1"])));
        t_cat.push(time(&mut cat()));
        t_list.push(time(&mut list()));
        t_server.push(time(&mut server()));
        t_api_check.push(time(&mut api_server("--check")));
        t_api_diff.push(time(&mut api_server("--dry-run")));
    }
    let (c, l, s) = (median(t_cat), median(t_list), median(t_server));
    let (ac, ad) = (median(t_api_check), median(t_api_diff));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "server of {} files ({:.1} MB, {n_list} findings), median of {rounds} interleaved rounds:",
        files.len(),
        bytes as f64 / 1e6
    );
    println!("| run | wall | vs cat | vs --check list |");
    println!("|---|---:|---:|---:|");
    println!("| cat FILES | {:.0} ms | 1.0x | |", ms(c));
    println!(
        "| wsgifix --check FILES | {:.0} ms | {:.1}x | 1.00x |",
        ms(l),
        ms(l) / ms(c)
    );
    // A row against both baselines: cat and the file list.
    let row = |label: &str, t: Duration| {
        println!(
            "| {label} | {:.0} ms | {:.1}x | {:.2}x |",
            ms(t),
            ms(t) / ms(c),
            ms(t) / ms(l)
        );
    };
    row("wsgifix --check --config apache2.conf", s);
    row(
        "the same server plus a server-level WSGIScriptAliasMatch in every vhost, --check --config",
        ac,
    );
    row("the same, --dry-run --config", ad);
    let (l1, s1) = (median(t_list_1), median(t_server_1));
    println!(
        "with -j 1: --check FILES {:.0} ms, --check --config {:.0} ms ({:.2}x)",
        ms(l1),
        ms(s1),
        ms(s1) / ms(l1)
    );
}
