//! Real `ansible-playbook` for the fleet tests: finding it (skip or fail),
//! running the collection's playbook with this checkout's `ansible.cfg`, and
//! reading the PLAY RECAP.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Turns a missing ansible-playbook into a failure, like
/// `WSGIFIX_REQUIRE_APACHE` does for Apache (`.ci/run` sets both).
pub const REQUIRE_ANSIBLE_ENV: &str = "WSGIFIX_REQUIRE_ANSIBLE";

/// Where `.ci/run` installs ansible-core (a virtualenv).
pub const CI_VENV: &str = "/opt/wsgifix-ansible";

/// The ansible-core installation the tests drive.
#[derive(Debug, Clone)]
pub struct Ansible {
    pub playbook: PathBuf,
    /// The Python that runs ansible (it has `ansible` importable).
    pub python: PathBuf,
}

fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// `WSGIFIX_ANSIBLE_PLAYBOOK`, then the CI virtualenv, then PATH.
pub fn find() -> Result<Ansible, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("WSGIFIX_ANSIBLE_PLAYBOOK") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(Path::new(CI_VENV).join("bin/ansible-playbook"));
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            candidates.push(dir.join("ansible-playbook"));
        }
    }
    let playbook = candidates
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!("no ansible-playbook in {CI_VENV}/bin or on PATH (install ansible-core)")
        })?;
    // The script's own interpreter is the one that can import ansible.
    let text = std::fs::read_to_string(&playbook)
        .map_err(|e| format!("read {}: {e}", playbook.display()))?;
    let python = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("#!"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .and_then(|w| match w.as_slice() {
            [env, py, ..] if env.ends_with("/env") => Some(PathBuf::from(py)),
            [py, ..] => Some(PathBuf::from(py)),
            _ => None,
        })
        .ok_or_else(|| format!("{} has no #! line", playbook.display()))?;
    Ok(Ansible { playbook, python })
}

/// The ansible-core to test with, or `None` after saying why; a failure
/// instead when `WSGIFIX_REQUIRE_ANSIBLE=1` or `WSGIFIX_REQUIRE_APACHE=1`
/// (CI has both, and a fleet test that silently skipped would prove nothing).
pub fn require_or_skip(test_name: &str) -> Option<Ansible> {
    match find() {
        Ok(a) => Some(a),
        Err(why) => {
            for var in [REQUIRE_ANSIBLE_ENV, crate::common::apache::REQUIRE_ENV] {
                if required(var) {
                    panic!("{test_name}: ansible-playbook is required ({var}=1) but {why}");
                }
            }
            eprintln!("{test_name}: skipped: {why}");
            None
        }
    }
}

/// `ansible/` in this checkout.
pub fn ansible_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ansible")
}

/// The collection's Python (module_utils) on sys.path, for unit tests.
pub fn collection_pythonpath() -> PathBuf {
    ansible_dir()
}

/// What one `ansible-playbook` run printed, with its RECAP parsed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub recap: BTreeMap<String, BTreeMap<String, u32>>,
}

impl Run {
    /// A RECAP counter of one host (`ok`, `changed`, `failed`, ...).
    pub fn count(&self, host: &str, what: &str) -> u32 {
        let h = self
            .recap
            .get(host)
            .unwrap_or_else(|| panic!("{host} is not in the PLAY RECAP:\n{}", self.stdout));
        h.get(what).copied().unwrap_or(0)
    }

    /// Output for failure messages: the end of stdout and all of stderr.
    pub fn tail(&self) -> String {
        let lines: Vec<&str> = self.stdout.lines().collect();
        format!(
            "--- ansible-playbook exit {} ---\n{}\n--- stderr ---\n{}",
            self.code,
            lines[lines.len().saturating_sub(150)..].join("\n"),
            self.stderr
        )
    }
}

/// `host : ok=5 changed=1 unreachable=0 failed=0 ...` lines.
pub fn parse_recap(stdout: &str) -> BTreeMap<String, BTreeMap<String, u32>> {
    let mut out = BTreeMap::new();
    let Some(at) = stdout.rfind("PLAY RECAP") else {
        return out;
    };
    for line in stdout[at..].lines().skip(1) {
        let Some((host, counts)) = line.split_once(" : ") else {
            if line.trim().is_empty() {
                continue;
            }
            break;
        };
        let counts: BTreeMap<String, u32> = counts
            .split_whitespace()
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect();
        out.insert(host.trim().to_string(), counts);
    }
    out
}

impl Ansible {
    /// Runs the collection's migrate playbook against `inventory`, with the
    /// fleet report written to `report_dir`. `work` holds Ansible's temp
    /// files so that nothing lands in the user's home.
    pub fn migrate(&self, inventory: &Path, report_dir: &Path, work: &Path, args: &[&str]) -> Run {
        let out = Command::new(&self.playbook)
            .current_dir(ansible_dir())
            .env("ANSIBLE_CONFIG", ansible_dir().join("ansible.cfg"))
            .env("WSGIFIX_REPORT_DIR", report_dir)
            .env("ANSIBLE_LOCAL_TEMP", work.join("local-tmp"))
            .env("ANSIBLE_REMOTE_TMP", work.join("remote-tmp"))
            .env("ANSIBLE_HOME", work.join("home"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_FORCE_COLOR", "0")
            .env("ANSIBLE_FORKS", "10")
            .env("ANSIBLE_STDOUT_CALLBACK", "default")
            .arg("-i")
            .arg(inventory)
            .arg(ansible_dir().join("migrate.yml"))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.playbook.display()));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        Run {
            code: out.status.code().unwrap_or(-1),
            recap: parse_recap(&stdout),
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// One inventory line's host variables, YAML-quoted as JSON strings (JSON is
/// YAML), so that paths with spaces or quotes survive.
pub fn inventory_yaml(hosts: &[(String, Vec<(&str, serde_json::Value)>)]) -> String {
    let mut s = String::from("all:\n  hosts:\n");
    for (name, vars) in hosts {
        s.push_str(&format!("    {name}:\n"));
        for (k, v) in vars {
            s.push_str(&format!("      {k}: {v}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recap_lines() {
        let out = "PLAY RECAP ***\nh01   : ok=5    changed=1    unreachable=0    failed=0\nh02 : ok=1 changed=0 failed=1\n\n";
        let r = parse_recap(out);
        assert_eq!(r["h01"]["changed"], 1);
        assert_eq!(r["h02"]["failed"], 1);
    }
}
