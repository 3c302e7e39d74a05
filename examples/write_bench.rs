//! The cost of `--write`'s transaction and configtest (issue 7): a server
//! of N included files, all fixable, written with `--no-verify` and with
//! `--verify` (the real `apache2 -t`), each on a fresh copy, R times.
//!
//! cargo build --release && cargo run --release --example write_bench -- \
//!     [--bin target/release/wsgifix] [--files 2000] [--rounds 3]
//!
//! Prints the median wall time of each and their ratio. The config loads
//! mod_wsgi from /usr/lib/apache2/modules, so `apache2 -t` passes before
//! and after the fix.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn tree(root: &Path, files: usize) -> PathBuf {
    let sites = root.join("sites");
    std::fs::create_dir_all(&sites).unwrap();
    for i in 0..files {
        std::fs::write(
            sites.join(format!("s{i:05}.conf")),
            format!(
                "<VirtualHost *:80>\n    ServerName a{i}.example.org\n    WSGIScriptAlias /app{i} /srv/app{i}/app.wsgi\n</VirtualHost>\n"
            ),
        )
        .unwrap();
    }
    let m = "/usr/lib/apache2/modules";
    let main = root.join("httpd.conf");
    let d = root.display();
    std::fs::write(
        &main,
        format!(
            "ServerRoot \"{d}\"\nDefaultRuntimeDir \"{d}\"\nPidFile \"{d}/httpd.pid\"\nErrorLog \"{d}/error.log\"\n\
             Mutex \"file:{d}\" default\nListen 127.0.0.1:18999\nServerName 127.0.0.1\n\
             LoadModule mpm_event_module {m}/mod_mpm_event.so\nLoadModule authz_core_module {m}/mod_authz_core.so\n\
             LoadModule wsgi_module {m}/mod_wsgi.so\nInclude sites/*.conf\n"
        ),
    )
    .unwrap();
    main
}

fn once(bin: &str, files: usize, verify: bool) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let main = tree(&root, files);
    let state = root.join(".state");
    let start = Instant::now();
    let out = Command::new(bin)
        .args(["--write", if verify { "--verify" } else { "--no-verify" }])
        .arg("--state-dir")
        .arg(&state)
        .arg("--config")
        .arg(&main)
        .output()
        .expect("run wsgifix");
    let t = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let bin = arg("--bin", &format!("{target}/release/wsgifix"));
    let files: usize = arg("--files", "2000").parse().unwrap();
    let rounds: usize = arg("--rounds", "3").parse().unwrap();
    let mut plain = Vec::new();
    let mut verified = Vec::new();
    // Interleaved, so load on the machine hits both alike.
    for _ in 0..rounds {
        plain.push(once(&bin, files, false));
        verified.push(once(&bin, files, true));
    }
    let (p, v) = (median(plain), median(verified));
    println!(
        "--write on a {files}-file server, median of {rounds}: --no-verify {:.2}s, --verify {:.2}s, ratio {:.2}",
        p.as_secs_f64(),
        v.as_secs_f64(),
        v.as_secs_f64() / p.as_secs_f64()
    );
}
