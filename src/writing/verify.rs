//! The server's configtest after a write (`--verify`).
//!
//! Found automatically: for a main config `DIR/FILE`, Debian's layout (an
//! `envvars` file beside it, which the `apache2` binary needs for
//! `${APACHE_RUN_DIR}` and friends) runs `. DIR/envvars; apache2 -d DIR -f
//! FILE -t` as `apache2ctl` would; any other tree runs `apache2 -d DIR -f
//! FILE -t` (or `httpd`). A standalone file under `--verify` gets the
//! system's `apache2ctl -t` / `apachectl -t`. `--verify-cmd CMD` runs CMD
//! with `sh -c`, with `WSGIFIX_MAIN_CONFIG` set to the main config.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

/// A configtest that runs longer than this is killed and counts as failed.
const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyMode {
    /// On for a live server: a unit with a main config and no `--root`.
    Auto,
    /// `--verify`: every unit, standalone files with the system's configtest.
    On,
    Off,
    Cmd(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub command: String,
    /// `passed`, `failed`, `skipped` or `not-run`.
    pub result: &'static str,
    pub message: String,
}

pub struct Test {
    pub display: String,
    cmd: Command,
}

const SEARCH: &[&str] = &[
    "/usr/sbin",
    "/usr/local/sbin",
    "/usr/bin",
    "/usr/local/apache2/bin",
    "/sbin",
    "/bin",
];

fn find_bin(names: &[&str]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(SEARCH.iter().map(PathBuf::from));
    names
        .iter()
        .find_map(|n| dirs.iter().map(|d| d.join(n)).find(|p| p.is_file()))
}

/// The configtest for a unit, or why there is none.
pub fn test_for(mode: &VerifyMode, main: Option<&Path>) -> Result<Test, String> {
    if let VerifyMode::Cmd(c) = mode {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(c);
        if let Some(m) = main {
            cmd.env("WSGIFIX_MAIN_CONFIG", m);
        }
        return Ok(Test {
            display: c.clone(),
            cmd,
        });
    }
    let Some(main) = main else {
        let bin = find_bin(&["apache2ctl", "apachectl"])
            .ok_or("no apache2ctl or apachectl found for the system's configtest")?;
        let mut cmd = Command::new(&bin);
        cmd.arg("-t");
        return Ok(Test {
            display: format!("{} -t", bin.display()),
            cmd,
        });
    };
    let dir = main.parent().unwrap_or(Path::new("/"));
    let bin = find_bin(&["apache2", "httpd"]).ok_or("no apache2 or httpd binary found")?;
    let envvars = dir.join("envvars");
    if envvars.is_file() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(r#". "$1/envvars" && exec "$2" -d "$1" -f "$3" -t"#)
            .arg("sh")
            .arg(dir)
            .arg(&bin)
            .arg(main)
            .env("APACHE_CONFDIR", dir);
        return Ok(Test {
            display: format!(
                ". {}; {} -d {} -f {} -t",
                envvars.display(),
                bin.display(),
                dir.display(),
                main.display()
            ),
            cmd,
        });
    }
    let mut cmd = Command::new(&bin);
    cmd.arg("-d").arg(dir).arg("-f").arg(main).arg("-t");
    Ok(Test {
        display: format!(
            "{} -d {} -f {} -t",
            bin.display(),
            dir.display(),
            main.display()
        ),
        cmd,
    })
}

impl Test {
    /// Runs the test: Ok(message) when it passed, Err(message) when not.
    pub fn run(&mut self) -> Result<String, String> {
        let child = self
            .cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return Err(format!("cannot run {}: {e}", self.display)),
        };
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if start.elapsed() > TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("{} did not finish in {TIMEOUT:?}", self.display));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(e.to_string()),
            }
        }
        let out = match child.wait_with_output() {
            Ok(o) => o,
            Err(e) => return Err(e.to_string()),
        };
        let mut msg = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
        let so = String::from_utf8_lossy(&out.stdout);
        if !so.trim().is_empty() {
            if !msg.is_empty() {
                msg.push('\n');
            }
            msg.push_str(so.trim_end());
        }
        if out.status.success() {
            Ok(msg)
        } else {
            if msg.is_empty() {
                msg = format!("{} exited with {}", self.display, out.status);
            }
            Err(msg)
        }
    }
}
