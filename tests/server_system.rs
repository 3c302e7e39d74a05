//! The server as Debian's own packages lay it out: a copy of this machine's
//! `/etc/apache2` (apache2 and libapache2-mod-wsgi-py3 conffiles, their
//! `mods-enabled/` and `sites-enabled/` symlinks, `envvars`) is read the
//! way real httpd reads it: the same files in the same order as
//! `apache2 -t -D DUMP_INCLUDES` lists after sourcing `envvars`, as
//! apache2ctl does. Then wsgifix on the whole copy, with a site added,
//! changes only that site and the copy still passes `apache2 -t`.
//!
//! The machine's own files are only read. Without Apache the test says why
//! and passes, unless `WSGIFIX_REQUIRE_APACHE=1`.

mod common;

use std::path::Path;
use std::process::Command;

use wsgifix::server::{discover_server, DiscoverOptions};

/// `cp -a` keeps the package's relative symlinks pointing inside the copy.
fn copy_system_tree(to: &Path) -> bool {
    Command::new("cp")
        .args(["-a", "/etc/apache2"])
        .arg(to)
        .status()
        .is_ok_and(|s| s.success())
}

/// httpd's view, started the way apache2ctl starts it (envvars sourced).
fn apache(conf_dir: &Path, extra: &[&str]) -> std::process::Output {
    let dir = conf_dir.display();
    let script = format!(
        ". {dir}/envvars && export APACHE_RUN_DIR={dir}/run APACHE_PID_FILE={dir}/run/pid APACHE_LOCK_DIR={dir}/lock APACHE_LOG_DIR={dir}/log && mkdir -p {dir}/run {dir}/lock {dir}/log && exec /usr/sbin/apache2 -d {dir} -f {dir}/apache2.conf {}",
        extra.join(" ")
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/bin")
        .output()
        .unwrap()
}

#[test]
fn the_packages_own_tree_is_read_as_httpd_reads_it() {
    let Some(_apache) = common::apache::require_or_skip("the_packages_own_tree") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().canonicalize().unwrap();
    assert!(copy_system_tree(&base), "cp -a /etc/apache2");
    let etc = base.join("apache2");
    let main = etc.join("apache2.conf");
    let out = apache(&etc, &["-t", "-D", "DUMP_INCLUDES"]);
    let theirs = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "apache2 -t on the copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = regex::Regex::new(r"\(\d+\)")
        .unwrap()
        .replace_all(&theirs, "(N)")
        .into_owned();
    // envvars is read by discovery itself, as apache2ctl sources it; the
    // run-time directories httpd was pointed at appear in no Include.
    let opts = DiscoverOptions {
        env: Some(Default::default()),
        ..DiscoverOptions::default()
    };
    let ours = discover_server(&main, &opts);
    assert!(ours.error.is_none(), "{:?}", ours.error);
    assert_eq!(ours.dump_includes(), theirs);
    // The package's wsgi module config is part of the server.
    assert!(
        theirs.contains("mods-enabled/wsgi.conf"),
        "libapache2-mod-wsgi-py3 is enabled:\n{theirs}"
    );

    // A site with an embedded app: the fix touches that file only.
    let site = etc.join("sites-available/app.conf");
    std::fs::write(
        &site,
        "<VirtualHost *:80>\n\tServerName app.test\n\tWSGIScriptAlias /app /srv/app/app.wsgi\n</VirtualHost>\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(
        "../sites-available/app.conf",
        etc.join("sites-enabled/app.conf"),
    )
    .unwrap();
    let before: Vec<(String, Vec<u8>)> = walk(&etc);
    let state = base.join("state");
    let run = assert_cmd::Command::cargo_bin("wsgifix")
        .unwrap()
        .env("WSGIFIX_STATE_DIR", &state)
        .args(["--write", "--no-verify", "--config"])
        .arg(&main)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let after = walk(&etc);
    let changed: Vec<&String> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(b, _)| &b.0)
        .collect();
    assert_eq!(changed, ["sites-available/app.conf"], "only the new site");
    let check = apache(&etc, &["-t"]);
    assert!(
        check.status.success(),
        "apache2 -t after the fix: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// Every regular file below `dir` with its bytes, by relative path.
fn walk(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}
