//! Work inside one file (issue 8, "linear inside a file"): each case runs the
//! release binary on a generated file at full size and at a tenth of it, and
//! prints the ratio (10 means linear), plus `--dry-run` against `--check` on
//! the same many-vhost file (the diff must not dominate).
//!
//! `cargo bench --bench infile`; `INFILE_SCALE=0.1` shrinks every case (for a
//! quick look); `INFILE_RUNS=N` runs each measurement N times (default 3),
//! interleaved, and reports medians.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// `n` vhosts, each one embedded WSGI app that the fix moves into a daemon of
/// its own: every vhost gets edited.
fn vhosts(n: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..n {
        let _ = write!(
            s,
            "<VirtualHost *:80>\n    ServerName site{i}.example.org\n    DocumentRoot /srv/site{i}/public\n    \
             WSGIScriptAlias / /srv/site{i}/app/wsgi.py\n    <Directory /srv/site{i}/app>\n        \
             Require all granted\n    </Directory>\n</VirtualHost>\n\n"
        );
    }
    s.into_bytes()
}

/// One vhost with `n` apps sharing one daemon, none naming an application
/// group (each gets `WSGIApplicationGroup %{GLOBAL}` from the fix).
fn apps(n: usize) -> Vec<u8> {
    let mut s = String::from(
        "<VirtualHost *:80>\n    ServerName apps.example.org\n    WSGIDaemonProcess shared processes=2 threads=15\n    WSGIProcessGroup shared\n",
    );
    for i in 0..n {
        let _ = writeln!(s, "    WSGIScriptAlias /app{i} /srv/app{i}/wsgi.py");
    }
    s.push_str("</VirtualHost>\n");
    s.into_bytes()
}

/// `n` daemons nobody uses, and one embedded app the fix must place.
fn daemons(n: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..n {
        let _ = writeln!(s, "WSGIDaemonProcess unused{i} processes=1 threads=5");
    }
    s.push_str("<VirtualHost *:80>\n    ServerName one.example.org\n    WSGIScriptAlias / /srv/one/wsgi.py\n</VirtualHost>\n");
    s.into_bytes()
}

/// `n` `Use`s of one `<Macro>` writing a vhost with its own daemon, and one
/// embedded app the fix must place: every fix pass reads every expansion.
fn macro_uses(n: usize) -> Vec<u8> {
    let mut s = String::from(
        "<Macro WsgiSite $name>\n<VirtualHost *:80>\n    ServerName $name.example.org\n    \
         WSGIDaemonProcess $name processes=2 threads=4 python-path=/srv/$name\n    \
         WSGIProcessGroup $name\n    WSGIApplicationGroup %{GLOBAL}\n    \
         WSGIScriptAlias / /srv/$name/app.wsgi\n</VirtualHost>\n</Macro>\n",
    );
    for i in 0..n {
        let _ = writeln!(s, "Use WsgiSite site{i}");
    }
    s.push_str("WSGIScriptAlias /status /srv/status/wsgi.py\n");
    s.into_bytes()
}

/// Name, full size, generator, command-line flags.
type Case = (
    &'static str,
    usize,
    fn(usize) -> Vec<u8>,
    &'static [&'static str],
);

fn run_once(bin: &Path, args: &[&str], file: &Path) -> f64 {
    let t = Instant::now();
    let status = Command::new(bin)
        .args(args)
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run wsgifix");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        status.code().is_some_and(|c| c <= 1),
        "wsgifix {args:?} {} failed: {status}",
        file.display()
    );
    secs
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Medians of interleaved runs of each (args, file, fresh copy?) job; a
/// `--write` job gets a fresh copy of its file before every run.
fn measure(bin: &Path, jobs: &[(&[&str], &Path)], runs: usize, dir: &Path) -> Vec<f64> {
    let mut times = vec![Vec::new(); jobs.len()];
    for _ in 0..runs {
        for (k, (args, file)) in jobs.iter().enumerate() {
            let target = if args.contains(&"--write") {
                let copy = dir.join(format!("write-{k}.conf"));
                std::fs::copy(file, &copy).expect("copy input");
                copy
            } else {
                file.to_path_buf()
            };
            times[k].push(run_once(bin, args, &target));
        }
    }
    times.into_iter().map(median).collect()
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --benches` runs this too: nothing to time there.
        return;
    }
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_wsgifix"));
    let scale: f64 = std::env::var("INFILE_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let runs: usize = std::env::var("INFILE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let n = |base: usize| ((base as f64 * scale) as usize).max(10);
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, bytes: Vec<u8>| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).expect("write input");
        p
    };
    println!(
        "wsgifix work inside one file; medians of {runs} interleaved runs; load at start {}",
        load()
    );
    println!(
        "{:<44} {:>10} {:>10} {:>8}",
        "case", "full s", "tenth s", "ratio"
    );
    let cases: [Case; 5] = [
        ("vhosts, --check", 50_000, vhosts, &["--check", "-j", "1"]),
        (
            "vhosts, --dry-run",
            50_000,
            vhosts,
            &["--dry-run", "-j", "1"],
        ),
        (
            "apps sharing a daemon in one vhost, --write",
            5_000,
            apps,
            &["--write", "-j", "1"],
        ),
        (
            "unused daemons, --check",
            10_000,
            daemons,
            &["--check", "-j", "1"],
        ),
        (
            "Uses of one macro, --check",
            20_000,
            macro_uses,
            &["--check", "-j", "1"],
        ),
    ];
    let mut full_times = Vec::new();
    for (name, base, make, args) in cases {
        let full = n(base);
        let tenth = (full / 10).max(1);
        let big = write(&format!("{full}.conf"), make(full));
        let small = write(&format!("{tenth}.conf"), make(tenth));
        let t = measure(&bin, &[(args, &big), (args, &small)], runs, dir.path());
        println!(
            "{:<44} {:>10.3} {:>10.3} {:>8.1}   ({full} vs {tenth}; {})",
            name,
            t[0],
            t[1],
            t[0] / t[1],
            args.join(" ")
        );
        full_times.push(t[0]);
    }
    println!(
        "--dry-run / --check on {} vhosts: {:.2}x",
        n(50_000),
        full_times[1] / full_times[0]
    );
    println!("load at end {}", load());
}
