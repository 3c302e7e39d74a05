//! Whole-fleet wall time (SPEC.md §6): `wsgifix --check` and `--dry-run` over
//! a fleet-sized config tree, against a plain read of the same files — the
//! physical limit for any tool that must look at every byte.
//!
//! Run: `cargo bench --bench fleet` (writes bench-results/fleet.md).
//! `FLEET_FILES=N` changes the fleet size (default 2000); `FLEET_DIR=DIR`
//! builds the fleet there and keeps it.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_FILES: usize = 2000;
const RUNS: usize = 3;

/// Deterministic, dependency-free pseudo-random numbers (so every run
/// benchmarks the same fleet).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn corpus_files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["wsgi", "apache"] {
        let dir = root.join(sub);
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".tsv") || !p.is_file() {
                continue;
            }
            if let Ok(bytes) = fs::read(&p) {
                out.push((format!("{sub}-{name}"), bytes));
            }
        }
    }
    out
}

/// A vhost file as fleets have them: one or two vhosts, 1–3 WSGI apps (some
/// embedded, some in daemon mode, some sharing a daemon), logging, rewrites,
/// comments, sometimes CRLF.
fn generated_vhost(i: usize, rng: &mut Lcg) -> Vec<u8> {
    let mut s = String::new();
    let apps = 1 + rng.below(3) as usize;
    let daemon = rng.below(3); // 0: embedded, 1: one daemon each, 2: shared
    let ports: &[u16] = if rng.below(2) == 0 { &[80] } else { &[80, 443] };
    let padding = rng.below(40) as usize;
    let _ = writeln!(s, "# Managed by config management. Site {i}.");
    let _ = writeln!(s, "# Do not edit by hand.\n");
    for &port in ports {
        let _ = writeln!(s, "<VirtualHost *:{port}>");
        let _ = writeln!(s, "    ServerName site{i}.example.org");
        let _ = writeln!(s, "    ServerAlias www.site{i}.example.org");
        let _ = writeln!(s, "    ServerAdmin webmaster@site{i}.example.org");
        let _ = writeln!(s, "    DocumentRoot /srv/site{i}/public");
        let _ = writeln!(s, "    ErrorLog ${{APACHE_LOG_DIR}}/site{i}-error.log");
        let _ = writeln!(
            s,
            "    CustomLog ${{APACHE_LOG_DIR}}/site{i}-access.log combined"
        );
        if port == 443 {
            let _ = writeln!(s, "    SSLEngine on");
            let _ = writeln!(s, "    SSLCertificateFile /etc/ssl/certs/site{i}.pem");
            let _ = writeln!(s, "    SSLCertificateKeyFile /etc/ssl/private/site{i}.key");
        }
        for a in 0..apps {
            if port == 80 && (daemon == 1 || (daemon == 2 && a == 0)) {
                let _ = writeln!(
                    s,
                    "    WSGIDaemonProcess site{i}_app{a} user=www-data group=www-data processes=2 threads=15 \\\n        python-home=/srv/site{i}/venv display-name=%{{GROUP}}"
                );
            }
            let mount = if a == 0 {
                "/".to_string()
            } else {
                format!("/app{a}")
            };
            let _ = writeln!(s, "    WSGIScriptAlias {mount} /srv/site{i}/app{a}/wsgi.py");
            if daemon == 1 {
                let _ = writeln!(s, "    <Location {mount}>\n        WSGIProcessGroup site{i}_app{a}\n    </Location>");
            } else if daemon == 2 {
                let _ = writeln!(s, "    <Location {mount}>\n        WSGIProcessGroup site{i}_app0\n    </Location>");
            }
            let _ = writeln!(s, "    <Directory /srv/site{i}/app{a}>");
            let _ = writeln!(
                s,
                "        <Files wsgi.py>\n            Require all granted\n        </Files>"
            );
            let _ = writeln!(s, "    </Directory>");
        }
        let _ = writeln!(s, "    <IfModule mod_rewrite.c>\n        RewriteEngine On");
        for r in 0..padding {
            let _ = writeln!(
                s,
                "        # legacy redirect {r}\n        RewriteRule ^/old/{r}/(.*)$ /new/{r}/$1 [R=301,L]"
            );
        }
        let _ = writeln!(s, "    </IfModule>");
        let _ = writeln!(s, "</VirtualHost>\n");
    }
    if rng.below(5) == 0 {
        s = s.replace('\n', "\r\n");
    }
    s.into_bytes()
}

fn build_fleet(dir: &Path, n: usize, corpus: &[(String, Vec<u8>)]) -> (usize, u64) {
    let mut rng = Lcg(0x5eed);
    let mut bytes = 0u64;
    for i in 0..n {
        // A tree of servers, as a fleet checkout would hold them.
        let server = dir.join(format!("server{:03}", i / 50));
        let (sub, name, content) = if !corpus.is_empty() && i % 4 == 0 {
            let (name, content) = &corpus[(i / 4) % corpus.len()];
            ("conf.d", format!("{i:05}-{name}"), content.clone())
        } else {
            (
                "sites-available",
                format!("site{i:05}.conf"),
                generated_vhost(i, &mut rng),
            )
        };
        let d = server.join(sub);
        fs::create_dir_all(&d).unwrap();
        bytes += content.len() as u64;
        fs::write(d.join(name), content).unwrap();
    }
    (n, bytes)
}

/// The physical limit: read every file once, in the order wsgifix walks them.
fn plain_read(dir: &Path) -> u64 {
    fn walk(p: &Path, total: &mut u64) {
        let mut entries: Vec<_> = fs::read_dir(p).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                walk(&e.path(), total);
            } else if t.is_file() {
                *total += fs::read(e.path()).unwrap().len() as u64;
            }
        }
    }
    let mut total = 0;
    walk(dir, &mut total);
    total
}

struct Measure {
    name: String,
    command: String,
    best: Duration,
    exit: Option<i32>,
}

fn best_of<F: FnMut() -> Option<i32>>(mut f: F) -> (Duration, Option<i32>) {
    let mut best = Duration::MAX;
    let mut exit = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        exit = f();
        best = best.min(t.elapsed());
    }
    (best, exit)
}

fn run_wsgifix(bin: &Path, args: &[&str], dir: &Path) -> Option<i32> {
    Command::new(bin)
        .args(args)
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run wsgifix")
        .code()
}

fn main() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_wsgifix"));
    let n: usize = std::env::var("FLEET_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_FILES);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = corpus_files(&manifest.join("../shared/corpus"));
    let tmp = tempfile::tempdir().unwrap();
    // FLEET_DIR keeps the generated tree for profiling (`perf record wsgifix ...`).
    let fleet = match std::env::var_os("FLEET_DIR") {
        Some(d) => PathBuf::from(d),
        None => tmp.path().join("fleet"),
    };
    let _ = fs::remove_dir_all(&fleet);
    let (files, bytes) = build_fleet(&fleet, n, &corpus);
    let mb = bytes as f64 / 1e6;
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);

    // Warm the page cache so that every contender reads from memory.
    plain_read(&fleet);
    let mut results = Vec::new();
    let (d, _) = best_of(|| {
        assert_eq!(plain_read(&fleet), bytes);
        None
    });
    results.push(Measure {
        name: "plain read (1 thread, in-process)".into(),
        command: "fs::read of every file, sorted walk".into(),
        best: d,
        exit: None,
    });
    for (name, args) in [
        ("wsgifix --check", vec!["--check"]),
        ("wsgifix --check -j 1", vec!["--check", "-j", "1"]),
        ("wsgifix --dry-run", vec!["--dry-run"]),
        (
            "wsgifix --check --format json",
            vec!["--check", "--format", "json"],
        ),
    ] {
        let (d, exit) = best_of(|| run_wsgifix(&bin, &args, &fleet));
        results.push(Measure {
            name: name.into(),
            command: format!("wsgifix {} FLEET > /dev/null", args.join(" ")),
            best: d,
            exit,
        });
    }

    let mut md = String::new();
    let _ = writeln!(md, "# Fleet benchmark\n");
    let _ = writeln!(
        md,
        "Command: `cargo bench --bench fleet` (release profile; `FLEET_FILES={n}`).\n"
    );
    let _ = writeln!(
        md,
        "Fleet: {files} files, {mb:.2} MB in {} server trees ({} corpus files cycled in \
         `conf.d/`, the rest generated vhosts with 1–3 WSGIScriptAlias apps each: embedded, \
         own daemon, or shared daemon; ~20% CRLF). {cpus} CPUs; page cache warm; best of {RUNS} \
         runs; wsgifix is the release binary run as a child process (start-up included), \
         stdout and stderr to /dev/null.\n",
        n.div_ceil(50),
        corpus.len(),
    );
    // Other work on the machine skews wall times (and hides -j gains); say how busy it was.
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_string();
    let _ = writeln!(md, "Load average (1 min) when the runs ended: {load}.\n");
    let _ = writeln!(
        md,
        "| run | wall time | MB/s | files/s | exit | vs plain read |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
    let base = results[0].best.as_secs_f64();
    for m in &results {
        let s = m.best.as_secs_f64();
        let _ = writeln!(
            md,
            "| {} | {:.1} ms | {:.1} | {:.0} | {} | {:.1}x |",
            m.name,
            s * 1e3,
            mb / s,
            files as f64 / s,
            m.exit.map_or("-".to_string(), |c| c.to_string()),
            s / base
        );
    }
    let _ = writeln!(md, "\nCommands (FLEET = the generated tree):\n");
    for m in &results {
        let _ = writeln!(md, "- {}: `{}`", m.name, m.command);
    }
    let _ = writeln!(
        md,
        "\nExit 2 is expected while the corpus holds deliberately malformed files; the \
         numbers measure the whole run regardless."
    );
    print!("{md}");
    let out = manifest.join("bench-results");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("fleet.md"), md).unwrap();
    eprintln!("wrote {}", out.join("fleet.md").display());
}
