//! SPEC.md §6 on one generated fleet: whole-fleet wall time of `wsgifix
//! --check` and `--dry-run` against a plain read of the same files (the
//! physical limit), `augtool` loading them with the Httpd lens, and
//! `apache2 -t` on a main config that includes the generated vhosts (with
//! wsgifix timed on exactly that subset); then peak RSS of `wsgifix --check
//! -j 1` on growing fleets and on one big file, to show that memory follows
//! the largest file rather than the number of files.
//!
//! Run: `cargo bench --bench fleet` (writes bench-results/fleet.md).
//! `FLEET_FILES=N` changes the fleet size (default 2000); `FLEET_DIR=DIR`
//! builds the fleet there and keeps it (and the Apache ServerRoot in
//! DIR.httpd); `FLEET_MEM_FILES=500,2000,8000` sets the memory fleets;
//! `FLEET_BIG_MB=30` the size of the big file. augtool and apache2 are
//! optional: their rows are skipped, with a note, when missing.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_FILES: usize = 2000;
const DEFAULT_MEM_FILES: &str = "500,2000,8000";
const DEFAULT_BIG_MB: u64 = 30;
const RUNS: usize = 3;
/// Once a contender's runs add up to this, it gets no more: keeps the whole
/// bench near two minutes even when one tool is slow.
const RUN_BUDGET: Duration = Duration::from_secs(12);

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
            // Relative to ServerRoot: mod_ssl insists at parse time that these
            // files exist, and `apache2 -t` must accept the generated vhosts
            // with placeholder files under the throwaway ServerRoot.
            let _ = writeln!(s, "    SSLCertificateFile ssl/site{i}.pem");
            let _ = writeln!(s, "    SSLCertificateKeyFile ssl/site{i}.key");
        }
        // `/` last: mod_wsgi takes the first alias that matches, so an app
        // at `/app1` written after `/` would never be reached.
        for a in (0..apps).rev() {
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

struct Fleet {
    files: usize,
    bytes: u64,
    largest: u64,
    /// Generated vhosts (the only files `apache2 -t` can accept): site number
    /// and path, in the sorted order a shell glob would list them.
    generated: Vec<(usize, PathBuf)>,
    generated_bytes: u64,
}

fn build_fleet(dir: &Path, n: usize, corpus: &[(String, Vec<u8>)]) -> Fleet {
    let mut rng = Lcg(0x5eed);
    let mut fleet = Fleet {
        files: n,
        bytes: 0,
        largest: 0,
        generated: Vec::new(),
        generated_bytes: 0,
    };
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
        let len = content.len() as u64;
        fleet.bytes += len;
        fleet.largest = fleet.largest.max(len);
        let path = d.join(name);
        fs::write(&path, content).unwrap();
        if sub == "sites-available" {
            fleet.generated_bytes += len;
            fleet.generated.push((i, path));
        }
    }
    fleet.generated.sort_by(|a, b| a.1.cmp(&b.1));
    fleet
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

/// One child-process run.
#[derive(Clone, Copy)]
struct Run {
    wall: Duration,
    exit: Option<i32>,
    /// Peak resident set of the child itself, in KiB.
    rss_kb: Option<u64>,
}

/// Set in the environment of the bench binary re-executed as a trampoline.
const TRAMPOLINE: &str = "FLEET_BENCH_TRAMPOLINE";
const TRAMPOLINE_STDOUT: &str = "FLEET_BENCH_STDOUT";
const TRAMPOLINE_STDERR: &str = "FLEET_BENCH_STDERR";

/// Spawns `program` and reaps it with wait4, which reports that one child's
/// peak RSS (getrusage(RUSAGE_CHILDREN) would give the maximum over every
/// child reaped so far).
fn spawn_and_wait(cmd: &mut Command) -> std::io::Result<Run> {
    let start = Instant::now();
    let child = cmd.spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data, and wait4 only writes into the two
    // out-parameters, which live for the whole call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let wall = start.elapsed();
    // Already reaped; dropping a Child neither waits nor kills.
    drop(child);
    let exit = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ok(Run {
        wall,
        exit,
        rss_kb: Some(usage.ru_maxrss as u64),
    })
}

/// The trampoline's side: run argv[1..], print "WALL_NS EXIT RSS_KB".
fn trampoline() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let open = |var| match std::env::var_os(var) {
        Some(p) => Stdio::from(fs::File::create(p).expect("trampoline output file")),
        None => Stdio::null(),
    };
    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..])
        .env_remove(TRAMPOLINE)
        .env_remove(TRAMPOLINE_STDOUT)
        .env_remove(TRAMPOLINE_STDERR)
        .stdin(Stdio::null())
        .stdout(open(TRAMPOLINE_STDOUT))
        .stderr(open(TRAMPOLINE_STDERR));
    match spawn_and_wait(&mut cmd) {
        Ok(r) => println!(
            "{} {} {}",
            r.wall.as_nanos(),
            r.exit.unwrap_or(-1),
            r.rss_kb.unwrap_or(0)
        ),
        Err(e) => {
            eprintln!("{}: {e}", args[0].to_string_lossy());
            std::process::exit(1);
        }
    }
}

/// Runs `program args` with stdout and stderr to the given files (or
/// /dev/null) and measures it from a freshly exec'd trampoline (this bench
/// binary again). Linux carries the RSS high-water mark of the memory a
/// process had before execve into its ru_maxrss, and std spawns with vfork,
/// so a child spawned from here would report at least this process's own
/// peak (tens of MB once the big file is generated); the trampoline's is ~2 MB.
fn run(program: &OsStr, args: &[&OsStr], stdout: Option<&Path>, stderr: Option<&Path>) -> Run {
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.env(TRAMPOLINE, "1")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(p) = stdout {
        cmd.env(TRAMPOLINE_STDOUT, p);
    }
    if let Some(p) = stderr {
        cmd.env(TRAMPOLINE_STDERR, p);
    }
    let out = cmd.output().expect("run trampoline");
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<i64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        out.status.success() && f.len() == 3,
        "could not run {}",
        program.to_string_lossy()
    );
    Run {
        wall: Duration::from_nanos(f[0] as u64),
        exit: (f[1] >= 0).then_some(f[1] as i32),
        rss_kb: Some(f[2] as u64),
    }
}

/// Best wall time of up to RUNS runs (and the largest peak RSS seen), and how
/// many runs that took. Slow contenders stop early so that the whole bench
/// stays near two minutes.
fn best_of<F: FnMut() -> Run>(mut f: F) -> (Run, usize) {
    let mut best: Option<Run> = None;
    let mut spent = Duration::ZERO;
    let mut runs = 0;
    while runs < RUNS {
        let r = f();
        runs += 1;
        spent += r.wall;
        best = Some(match best {
            None => r,
            Some(b) => Run {
                wall: b.wall.min(r.wall),
                exit: r.exit,
                rss_kb: b.rss_kb.max(r.rss_kb),
            },
        });
        if spent > RUN_BUDGET {
            break;
        }
    }
    (best.unwrap(), runs)
}

fn wsgifix(bin: &Path, args: &[&str], paths: &[&Path]) -> Run {
    let mut all: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    all.extend(paths.iter().map(|p| p.as_os_str()));
    run(bin.as_os_str(), &all, None, None)
}

fn tool_works(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

struct Measure {
    name: String,
    command: String,
    run: Run,
    runs: usize,
}

fn in_process(name: &str, command: &str, mut f: impl FnMut()) -> Measure {
    let (run, runs) = best_of(|| {
        let t = Instant::now();
        f();
        Run {
            wall: t.elapsed(),
            exit: None,
            rss_kb: None,
        }
    });
    Measure {
        name: name.into(),
        command: command.into(),
        run,
        runs,
    }
}

fn child(name: &str, command: String, f: impl FnMut() -> Run) -> Measure {
    let (run, runs) = best_of(f);
    Measure {
        name: name.into(),
        command,
        run,
        runs,
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn rss_cell(kb: Option<u64>) -> String {
    kb.map_or("-".into(), |k| format!("{:.1} MB", k as f64 / 1024.0))
}

fn load_average() -> String {
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn table(md: &mut String, rows: &[Measure], bytes: u64, files: usize) {
    let _ = writeln!(
        md,
        "| run | wall time | MB/s | files/s | runs | exit | peak RSS | vs plain read | vs cat |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let base = rows[0].run.wall.as_secs_f64();
    // The `find | xargs cat` row, when there is one: the baseline issue 8's
    // goals are stated against.
    let cat = rows
        .iter()
        .find(|m| m.name.starts_with("cat"))
        .map(|m| m.run.wall.as_secs_f64());
    for m in rows {
        let s = m.run.wall.as_secs_f64();
        let _ = writeln!(
            md,
            "| {} | {:.1} ms | {:.1} | {:.0} | {} | {} | {} | {:.1}x | {} |",
            m.name,
            s * 1e3,
            mb(bytes) / s,
            files as f64 / s,
            m.runs,
            m.run.exit.map_or("-".to_string(), |c| c.to_string()),
            rss_cell(m.run.rss_kb),
            s / base,
            cat.map_or("-".to_string(), |c| format!("{:.2}x", s / c))
        );
    }
    let _ = writeln!(md, "\nCommands:\n");
    for m in rows {
        let _ = writeln!(md, "- {}: `{}`", m.name, m.command);
    }
    let _ = writeln!(md);
}

/// Loads `globs` with the Httpd lens and nothing else; returns the run and
/// the files Augeas could not parse.
fn augtool(dir: &Path, globs: &[String]) -> (Run, Vec<String>) {
    let mut script = String::from("set /augeas/load/Httpd/lens Httpd.lns\n");
    for (k, g) in globs.iter().enumerate() {
        let _ = writeln!(script, "set /augeas/load/Httpd/incl[{}] \"{g}\"", k + 1);
    }
    // The error listing is part of the timed run, but it is tiny next to `load`.
    script.push_str("load\nmatch /augeas/files//error\n");
    let script_path = dir.join("load.augtool");
    fs::write(&script_path, script).unwrap();
    let out_path = dir.join("augtool.out");
    let args = ["--noautoload", "-r", "/", "-f"].map(OsStr::new);
    let mut args = args.to_vec();
    args.push(script_path.as_os_str());
    let r = run(OsStr::new("augtool"), &args, Some(&out_path), None);
    let out = fs::read_to_string(&out_path).unwrap_or_default();
    let failed = out
        .lines()
        .filter_map(|l| l.strip_prefix("/augeas/files"))
        .filter_map(|l| l.split_once("/error = ").map(|(f, _)| f.to_string()))
        .collect();
    (r, failed)
}

/// Times augtool loading the fleet files matching `glob` (relative to the
/// fleet) with the Httpd lens; also returns the files it failed to parse.
fn augtool_row(aug_dir: &Path, fleet_dir: &Path, glob: &str) -> (Measure, Vec<String>) {
    let globs = vec![format!("{}/{glob}", fleet_dir.display())];
    let mut failed = Vec::new();
    let m = child(
        "augtool, Httpd lens",
        augtool_command(&format!("FLEET/{glob}")),
        || {
            let (r, f) = augtool(aug_dir, &globs);
            failed = f;
            r
        },
    );
    (m, failed)
}

fn augtool_command(glob: &str) -> String {
    format!(
        "augtool --noautoload -r / -f SCRIPT > OUT, SCRIPT being: set /augeas/load/Httpd/lens Httpd.lns; set /augeas/load/Httpd/incl[1] \"{glob}\"; load; match /augeas/files//error (one command a line)"
    )
}

const APACHE_BINARIES: &[&str] = &["/usr/sbin/apache2", "apache2", "/usr/sbin/httpd", "httpd"];
const MODULE_DIRS: &[&str] = &[
    "/usr/lib/apache2/modules",
    "/usr/lib64/httpd/modules",
    "/usr/lib/httpd/modules",
    "/usr/local/apache2/modules",
];
/// What the generated vhosts use. Each load is wrapped in `<IfModule !…>`
/// because builds differ in what they compile in (Debian's has log_config).
const MODULES: &[(&str, &str)] = &[
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("log_config_module", "mod_log_config.so"),
    ("rewrite_module", "mod_rewrite.so"),
    ("socache_shmcb_module", "mod_socache_shmcb.so"),
    ("ssl_module", "mod_ssl.so"),
    ("wsgi_module", "mod_wsgi.so"),
];

/// A throwaway ServerRoot whose main config includes only the generated
/// vhosts of `fleet`. None (with the reason) when Apache cannot be run here.
fn apache_setup(dir: &Path, fleet_dir: &Path, fleet: &Fleet) -> Result<(String, PathBuf), String> {
    let bin = APACHE_BINARIES
        .iter()
        .find(|b| tool_works(b, "-v"))
        .ok_or("no apache2 or httpd binary")?;
    let modules = MODULE_DIRS
        .iter()
        .map(Path::new)
        .find(|d| d.join("mod_wsgi.so").is_file())
        .ok_or("mod_wsgi.so not found in any module directory")?;
    fs::create_dir_all(dir.join("logs")).unwrap();
    fs::create_dir_all(dir.join("ssl")).unwrap();
    // mod_ssl only checks that the files exist and are not empty at parse time.
    for (i, _) in &fleet.generated {
        fs::write(dir.join(format!("ssl/site{i}.pem")), "placeholder\n").unwrap();
        fs::write(dir.join(format!("ssl/site{i}.key")), "placeholder\n").unwrap();
    }
    // -t binds nothing, but a free port keeps the config honest if someone starts it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(18080, |a| a.port());
    let d = dir.display();
    let mut conf = format!(
        "# Written by benches/fleet.rs: the fleet's generated vhosts only.\n\
         ServerRoot \"{d}\"\n\
         PidFile {d}/httpd.pid\n\
         ErrorLog {d}/logs/error.log\n\
         Mutex file:{d} default\n\
         DefaultRuntimeDir {d}\n\
         Listen 127.0.0.1:{port}\n\
         ServerName localhost\n\
         Define APACHE_LOG_DIR {d}/logs\n"
    );
    for (id, file) in MODULES {
        let _ = writeln!(
            conf,
            "<IfModule !{id}>\n    LoadModule {id} {}\n</IfModule>",
            modules.join(file).display()
        );
    }
    let _ = writeln!(
        conf,
        "IncludeOptional {}/*/sites-available/*.conf",
        fleet_dir.display()
    );
    // Not named httpd.conf / apache2.conf, and outside the fleet, so that a
    // walk of the fleet does not pick it up as a server.
    let conf_path = dir.join("httpd-test.conf");
    fs::write(&conf_path, conf).unwrap();
    Ok((bin.to_string(), conf_path))
}

/// A big config of the kind fleets really have: one site with a redirect
/// map from a CMS migration, tens of MB of RewriteRules.
fn redirect_map(target: u64) -> Vec<u8> {
    let mut s = String::with_capacity(target as usize + 4096);
    s.push_str(
        "<VirtualHost *:80>\n    ServerName big.example.org\n    \
         WSGIDaemonProcess big user=www-data group=www-data processes=2 threads=15\n    \
         WSGIScriptAlias / /srv/big/wsgi.py\n    WSGIProcessGroup big\n    \
         RewriteEngine On\n",
    );
    let mut i = 0;
    while (s.len() as u64) < target {
        let _ = writeln!(
            s,
            "    # migrated from the legacy CMS, ticket {i}\n    \
             RewriteRule ^/legacy/section-{i}/(.*)$ /archive/{i}/$1 [R=301,L]"
        );
        i += 1;
    }
    s.push_str("</VirtualHost>\n");
    s.into_bytes()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct MemRow {
    input: String,
    command: String,
    files: usize,
    bytes: u64,
    largest: u64,
    run: Run,
}

fn main() {
    if std::env::var_os(TRAMPOLINE).is_some() {
        return trampoline();
    }
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_wsgifix"));
    let n: usize = env_or("FLEET_FILES", DEFAULT_FILES);
    let mem_sizes: Vec<usize> = std::env::var("FLEET_MEM_FILES")
        .unwrap_or_else(|_| DEFAULT_MEM_FILES.into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let big_mb: u64 = env_or("FLEET_BIG_MB", DEFAULT_BIG_MB);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = corpus_files(&manifest.join("../shared/corpus"));
    let tmp = tempfile::tempdir().unwrap();
    // FLEET_DIR keeps the generated tree (and the Apache ServerRoot next to
    // it) for profiling and for rerunning the commands by hand.
    let (fleet_dir, apache_dir) = match std::env::var_os("FLEET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            let mut a = d.clone().into_os_string();
            a.push(".httpd");
            (d, PathBuf::from(a))
        }
        None => (tmp.path().join("fleet"), tmp.path().join("httpd")),
    };
    let _ = fs::remove_dir_all(&fleet_dir);
    let _ = fs::remove_dir_all(&apache_dir);
    let load_start = load_average();
    let started = Instant::now();
    let fleet = build_fleet(&fleet_dir, n, &corpus);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut notes: Vec<String> = Vec::new();

    // 1. The whole fleet.
    // Warm the page cache so that every contender reads from memory.
    plain_read(&fleet_dir);
    let mut whole = vec![in_process(
        "plain read (1 thread, in-process)",
        "fs::read of every file, sorted walk",
        || assert_eq!(plain_read(&fleet_dir), fleet.bytes),
    )];
    let fleet_arg = fleet_dir.as_os_str().to_owned();
    whole.push(child(
        "cat (find FLEET -type f -print0 | xargs -0 cat)",
        "find FLEET -type f -print0 | xargs -0 cat > /dev/null".into(),
        || {
            let script = OsStr::new("find \"$1\" -type f -print0 | xargs -0 cat");
            run(
                OsStr::new("sh"),
                &[OsStr::new("-c"), script, OsStr::new("sh"), &fleet_arg],
                None,
                None,
            )
        },
    ));
    for (name, args) in [
        ("wsgifix --check", vec!["--check"]),
        ("wsgifix --check -j 1", vec!["--check", "-j", "1"]),
        ("wsgifix --dry-run", vec!["--dry-run"]),
        (
            "wsgifix --check --format json",
            vec!["--check", "--format", "json"],
        ),
    ] {
        whole.push(child(
            name,
            format!("wsgifix {} FLEET > /dev/null 2>&1", args.join(" ")),
            || wsgifix(&bin, &args, &[&fleet_dir]),
        ));
    }
    // What wsgifix itself says about the fleet, to set against Augeas' failures.
    let summary = Command::new(&bin)
        .arg("--check")
        .arg(&fleet_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    // FLEET_AUGTOOL=0 leaves Augeas out (minutes on a 100 000-file fleet).
    let have_augtool = env_or("FLEET_AUGTOOL", 1u8) != 0 && tool_works("augtool", "--version");
    let aug_dir = tmp.path().join("augeas");
    fs::create_dir_all(&aug_dir).unwrap();
    let mut aug_failed_whole = Vec::new();
    if have_augtool {
        // The fleet is exactly SERVER/SUBDIR/FILE deep; one glob covers it.
        let (m, failed) = augtool_row(&aug_dir, &fleet_dir, "*/*/*");
        whole.push(m);
        aug_failed_whole = failed;
    } else {
        notes.push(
            "augtool not found (Debian: `apt-get install augeas-tools`): Augeas rows skipped."
                .into(),
        );
    }

    // 2. Like for like with `apache2 -t`: the generated vhosts only.
    let gen_paths: Vec<&Path> = fleet.generated.iter().map(|(_, p)| p.as_path()).collect();
    let mut subset = vec![in_process(
        "plain read (1 thread, in-process)",
        "fs::read of every generated vhost, sorted",
        || {
            let total: u64 = gen_paths
                .iter()
                .map(|p| fs::read(p).unwrap().len() as u64)
                .sum();
            assert_eq!(total, fleet.generated_bytes);
        },
    )];
    let mut apache_error = None;
    match apache_setup(&apache_dir, &fleet_dir, &fleet) {
        Ok((apache, conf)) => {
            let err_path = tmp.path().join("apache.err");
            subset.push(child(
                "apache2 -t",
                format!("{apache} -d HTTPD -f HTTPD/httpd-test.conf -t > /dev/null 2>&1"),
                || {
                    let args = [
                        OsStr::new("-d"),
                        apache_dir.as_os_str(),
                        OsStr::new("-f"),
                        conf.as_os_str(),
                        OsStr::new("-t"),
                    ];
                    run(OsStr::new(&apache), &args, None, Some(&err_path))
                },
            ));
            if subset.last().unwrap().run.exit != Some(0) {
                // The DocumentRoot warnings are expected; the error is what matters.
                apache_error = fs::read_to_string(&err_path).ok().map(|e| {
                    e.lines()
                        .filter(|l| !l.contains("AH00112"))
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" ")
                });
            }
            subset.push(child(
                "wsgifix --check --config (same main config)",
                "wsgifix --check --config HTTPD/httpd-test.conf > /dev/null 2>&1".into(),
                || wsgifix(&bin, &["--check", "--config"], &[&conf]),
            ));
        }
        Err(why) => notes.push(format!("apache2 -t skipped: {why}.")),
    }
    for (name, args) in [
        ("wsgifix --check (file list)", vec!["--check"]),
        (
            "wsgifix --check -j 1 (file list)",
            vec!["--check", "-j", "1"],
        ),
    ] {
        subset.push(child(
            name,
            format!(
                "wsgifix {} FLEET/*/sites-available/*.conf > /dev/null 2>&1",
                args.join(" ")
            ),
            || wsgifix(&bin, &args, &gen_paths),
        ));
    }
    let mut aug_failed_subset = Vec::new();
    if have_augtool {
        let (m, failed) = augtool_row(&aug_dir, &fleet_dir, "*/sites-available/*.conf");
        subset.push(m);
        aug_failed_subset = failed;
    }

    // 3. Memory: -j 1, so that one file is in flight at a time.
    let mut mem = Vec::new();
    let j1 = ["--check", "-j", "1"];
    let one = &fleet.generated[0].1;
    let one_len = fs::metadata(one).unwrap().len();
    mem.push(MemRow {
        input: "one generated vhost (process floor)".into(),
        command: "wsgifix --check -j 1 FILE".into(),
        files: 1,
        bytes: one_len,
        largest: one_len,
        run: wsgifix(&bin, &j1, &[one]),
    });
    let big_path = tmp.path().join("big").join("redirects.conf");
    fs::create_dir_all(big_path.parent().unwrap()).unwrap();
    let big = redirect_map(big_mb * 1_000_000);
    let big_len = big.len() as u64;
    fs::write(&big_path, big).unwrap();
    let mut first_mem_fleet: Option<(PathBuf, Fleet)> = None;
    for &size in &mem_sizes {
        let dir = tmp.path().join(format!("mem{size}"));
        let f = build_fleet(&dir, size, &corpus);
        plain_read(&dir);
        mem.push(MemRow {
            input: format!("fleet of {size} files"),
            command: format!("wsgifix --check -j 1 FLEET{size}"),
            files: f.files,
            bytes: f.bytes,
            largest: f.largest,
            run: wsgifix(&bin, &j1, &[&dir]),
        });
        if first_mem_fleet.is_none() {
            first_mem_fleet = Some((dir, f));
        } else {
            fs::remove_dir_all(&dir).unwrap();
        }
    }
    mem.push(MemRow {
        input: format!("one {big_mb} MB file (redirect map)"),
        command: "wsgifix --check -j 1 BIG".into(),
        files: 1,
        bytes: big_len,
        largest: big_len,
        run: wsgifix(&bin, &j1, &[&big_path]),
    });
    if let Some((dir, f)) = &first_mem_fleet {
        mem.push(MemRow {
            input: format!("fleet of {} files + the {big_mb} MB file", f.files),
            command: format!("wsgifix --check -j 1 FLEET{} BIG", f.files),
            files: f.files + 1,
            bytes: f.bytes + big_len,
            largest: big_len,
            run: wsgifix(&bin, &j1, &[dir, &big_path]),
        });
    }
    // Many vhosts in one file, as mass-hosting setups generate them.
    let concat_path = tmp.path().join("big").join("all-vhosts.conf");
    let mut concat = Vec::with_capacity(fleet.generated_bytes as usize);
    for p in &gen_paths {
        concat.extend(fs::read(p).unwrap().into_iter().filter(|&b| b != b'\r'));
    }
    let concat_len = concat.len() as u64;
    fs::write(&concat_path, concat).unwrap();
    mem.push(MemRow {
        input: format!("one file holding the {} generated vhosts", gen_paths.len()),
        command: "cat FLEET/*/sites-available/*.conf | tr -d '\\r' > ALL; wsgifix --check -j 1 ALL"
            .into(),
        files: 1,
        bytes: concat_len,
        largest: concat_len,
        run: wsgifix(&bin, &j1, &[&concat_path]),
    });
    let apache_ran = subset.iter().any(|m| m.name.contains("--config"));
    if apache_ran {
        mem.push(MemRow {
            input: format!(
                "--config: server of the {} generated vhosts",
                gen_paths.len()
            ),
            command: "wsgifix --check -j 1 --config HTTPD/httpd-test.conf".into(),
            files: gen_paths.len() + 1,
            bytes: fleet.generated_bytes,
            largest: fleet
                .generated
                .iter()
                .map(|(_, p)| fs::metadata(p).unwrap().len())
                .max()
                .unwrap_or(0),
            run: wsgifix(
                &bin,
                &["--check", "-j", "1", "--config"],
                &[&apache_dir.join("httpd-test.conf")],
            ),
        });
    }
    drop(first_mem_fleet);
    let elapsed = started.elapsed();
    let load_end = load_average();

    // Report.
    let mut md = String::new();
    let _ = writeln!(md, "# Fleet benchmark (SPEC §6)\n");
    let _ = writeln!(
        md,
        "Command: `cargo bench --bench fleet` (release profile; `FLEET_FILES={n}`, \
         `FLEET_MEM_FILES={}`, `FLEET_BIG_MB={big_mb}`). Whole bench: {:.0} s.\n",
        mem_sizes
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(","),
        elapsed.as_secs_f64()
    );
    let _ = writeln!(
        md,
        "Machine: {cpus} CPUs, shared with other work. Load average (1, 5, 15 min) at the \
         start: {load_start}; at the end: {load_end}. Page cache warm; best of up to {RUNS} \
         runs (fewer when one contender's runs pass {} s; see the runs column). Every tool \
         runs as a child process, start-up included, output to /dev/null; peak RSS is the \
         child's own `ru_maxrss` from wait4.\n",
        RUN_BUDGET.as_secs()
    );
    let _ = writeln!(
        md,
        "Fleet (FLEET): {} files, {:.2} MB in {} server trees: {} corpus files \
         (../shared/corpus, {} distinct) cycled in `SERVER/conf.d/`, the rest generated vhosts in \
         `SERVER/sites-available/` with 1–3 WSGIScriptAlias apps each: embedded, own \
         daemon, or shared daemon; ~20% CRLF. Largest file {:.1} kB.\n",
        fleet.files,
        mb(fleet.bytes),
        n.div_ceil(50),
        fleet.files - fleet.generated.len(),
        corpus.len(),
        fleet.largest as f64 / 1e3,
    );

    let _ = writeln!(md, "## 1. Whole fleet\n");
    table(&mut md, &whole, fleet.bytes, fleet.files);
    let _ = writeln!(
        md,
        "wsgifix's own summary: `{}`. Exit 2 is expected: the corpus holds deliberately \
         malformed and templated files; the numbers measure the whole run regardless.\n",
        summary.trim()
    );
    if have_augtool {
        let mut distinct: Vec<String> = aug_failed_whole
            .iter()
            .map(|f| {
                let name = f.rsplit('/').next().unwrap_or(f);
                name.split_once('-')
                    .map_or(name, |(_, rest)| rest)
                    .to_string()
            })
            .collect();
        distinct.sort();
        distinct.dedup();
        let _ = writeln!(
            md,
            "Augeas failed to parse {} of {} files ({} distinct corpus files: {}); it still \
             pays for reading them. OUT is `match /augeas/files//error`, one line per failed file.\n",
            aug_failed_whole.len(),
            fleet.files,
            distinct.len(),
            distinct
                .iter()
                .map(|d| format!("`{d}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    let _ = writeln!(md, "## 2. Like for like with `apache2 -t`\n");
    let _ = writeln!(
        md,
        "Only the {} generated vhosts ({:.2} MB): Apache cannot accept the copied corpus \
         files (they need modules, users, files and directories this machine lacks, some \
         are templates with placeholders, some are deliberately malformed, and their \
         vhosts and daemon names collide across copies). HTTPD is a throwaway ServerRoot \
         whose `httpd-test.conf` sets PidFile, ErrorLog, Mutex and DefaultRuntimeDir \
         inside it, `Listen 127.0.0.1:PORT`, `Define APACHE_LOG_DIR`, loads mpm_event, \
         authz_core, log_config, rewrite, socache_shmcb, ssl and wsgi (each in \
         `<IfModule !…>`, as builds compile different modules in), and has one line \
         `IncludeOptional FLEET/*/sites-available/*.conf`. The vhosts name their \
         certificates `ssl/siteN.pem` relative to ServerRoot, and HTTPD holds placeholder \
         files there, because mod_ssl refuses a missing certificate at parse time. Apache \
         warns once per vhost that the DocumentRoot does not exist; that is not an error.\n",
        gen_paths.len(),
        mb(fleet.generated_bytes)
    );
    table(&mut md, &subset, fleet.generated_bytes, gen_paths.len());
    if let Some(e) = &apache_error {
        let _ = writeln!(md, "apache2 -t did not accept the config: `{e}`\n");
    }
    if have_augtool {
        let _ = writeln!(
            md,
            "Augeas failed to parse {} of the {} generated vhosts.\n",
            aug_failed_subset.len(),
            gen_paths.len()
        );
    }

    let _ = writeln!(md, "## 3. Memory\n");
    let _ = writeln!(
        md,
        "Peak RSS of `wsgifix --check -j 1` (one file in flight; with -j N expect up to N \
         files' worth). Fleets are generated as above; BIG is one vhost with a {big_mb} MB \
         RewriteRule redirect map. Single runs.\n"
    );
    let _ = writeln!(
        md,
        "| input | files | total MB | largest file MB | peak RSS | (RSS − floor) / largest file | wall time | exit |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
    // Bytes of RSS per byte of the largest file, above what an almost empty
    // run costs: the number that should stay flat as fleets grow.
    let floor = mem[0].run.rss_kb.unwrap_or(0) as f64 * 1024.0;
    for (k, m) in mem.iter().enumerate() {
        let rss = m.run.rss_kb.unwrap_or(0) as f64 * 1024.0;
        let per_byte = if k == 0 {
            "-".to_string()
        } else {
            format!("{:.1}", (rss - floor) / m.largest as f64)
        };
        let _ = writeln!(
            md,
            "| {} | {} | {:.2} | {:.3} | {} | {per_byte} | {:.1} ms | {} |",
            m.input,
            m.files,
            mb(m.bytes),
            mb(m.largest),
            rss_cell(m.run.rss_kb),
            m.run.wall.as_secs_f64() * 1e3,
            m.run.exit.map_or("-".to_string(), |c| c.to_string()),
        );
    }
    let _ = writeln!(md, "\nCommands:\n");
    for m in &mem {
        let _ = writeln!(md, "- {}: `{}`", m.input, m.command);
    }
    // Ratios a reader would otherwise work out by hand; computed, so they
    // stay true when the numbers move.
    let find = |rows: &[Measure], name: &str| {
        rows.iter()
            .find(|m| m.name == name)
            .map(|m| (m.run.wall.as_secs_f64(), m.run.rss_kb.unwrap_or(0) as f64))
    };
    let mut obs = Vec::new();
    if let (Some(w), Some(a)) = (
        find(&whole, "wsgifix --check"),
        find(&whole, "augtool, Httpd lens"),
    ) {
        obs.push(format!(
            "Whole fleet: `wsgifix --check` takes {:.2}x the time of `augtool` merely loading the same files.",
            w.0 / a.0
        ));
    }
    let list = find(&subset, "wsgifix --check (file list)");
    if let (Some(l), Some(ap)) = (list, find(&subset, "apache2 -t")) {
        obs.push(format!(
            "Generated vhosts: `wsgifix --check` on the file list takes {:.2}x the time of `apache2 -t`.",
            l.0 / ap.0
        ));
    }
    if let (Some(l), Some(c)) = (
        list,
        find(&subset, "wsgifix --check --config (same main config)"),
    ) {
        obs.push(format!(
            "Server mode (`--config`) on the same {} vhosts takes {:.1}x the time and {:.0}x the \
             peak RSS of the file-list run.",
            gen_paths.len(),
            c.0 / l.0,
            c.1 / l.1.max(1.0)
        ));
    }
    if let (Some(l), Some(one)) = (
        find(&subset, "wsgifix --check -j 1 (file list)"),
        mem.iter().find(|m| m.input.starts_with("one file holding")),
    ) {
        obs.push(format!(
            "The same vhosts in one file take {:.1}x the time of the file-list run with -j 1.",
            one.run.wall.as_secs_f64() / l.0
        ));
    }
    if !obs.is_empty() {
        let _ = writeln!(md, "\n## Observations\n");
        for o in &obs {
            let _ = writeln!(md, "- {o}");
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(md, "\n## Notes\n");
        for note in &notes {
            let _ = writeln!(md, "- {note}");
        }
    }
    print!("{md}");
    let out = manifest.join("bench-results");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("fleet.md"), md).unwrap();
    eprintln!("wrote {}", out.join("fleet.md").display());
}
