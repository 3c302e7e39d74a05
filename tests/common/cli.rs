//! Running the binary the way the CLI tests do.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

/// `wsgifix` with checkpoints and locks in `state` (never the machine's
/// /var/lib/wsgifix) and no colour settings from the user's environment.
pub fn wsgifix(state: &Path) -> Command {
    let mut c = Command::cargo_bin("wsgifix").unwrap();
    c.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("WSGIFIX_STATE_DIR", state);
    c
}

/// Writes `root/name`, creating its directories.
pub fn write(root: &Path, name: &str, text: &str) {
    let p = root.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}
