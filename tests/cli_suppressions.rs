//! `# wsgifix: ignore[CODE] reason`: what it hides, what it covers, that
//! hidden findings are not fixed, and WSGI100 for suppressions that hide
//! nothing, name unknown rules or are misspelt.

use std::fs;
use std::path::Path;

mod common;

use common::cli::wsgifix;

/// `--check` lines as (line, code).
fn findings(dir: &Path, file: &Path, extra: &[&str]) -> (i32, Vec<(u32, String)>) {
    let out = wsgifix(dir)
        .arg("--check")
        .args(extra)
        .arg(file)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let rows = text
        .lines()
        .map(|l| {
            let mut parts = l.splitn(4, [':', ' ']);
            let _path = parts.next();
            let line: u32 = parts.next().unwrap().parse().unwrap();
            let _col = parts.next();
            let code = parts.next().unwrap().split(' ').next().unwrap().to_string();
            (line, code)
        })
        .collect();
    (out.status.code().unwrap(), rows)
}

const TWO_APPS: &str = "\
<VirtualHost *:80>
    ServerName a.example
    WSGIDaemonProcess legacy
    WSGIDaemonProcess new
    # wsgifix: ignore[WSGI003] keeps its own sub-interpreter on purpose
    WSGIScriptAlias /legacy /srv/legacy.wsgi process-group=legacy
    WSGIScriptAlias /new /srv/new.wsgi process-group=new
</VirtualHost>
";

#[test]
fn a_comment_before_a_directive_hides_that_finding_only() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.conf");
    fs::write(&f, TWO_APPS).unwrap();
    let (code, rows) = findings(tmp.path(), &f, &[]);
    assert_eq!(code, 1);
    assert_eq!(rows, vec![(7, "WSGI003".to_string())]);
    // Without the comment both are reported.
    fs::write(&f, TWO_APPS.replace("# wsgifix:", "# note:")).unwrap();
    let (_, rows) = findings(tmp.path(), &f, &[]);
    assert_eq!(
        rows,
        vec![(6, "WSGI003".to_string()), (7, "WSGI003".to_string())]
    );
}

#[test]
fn the_fix_leaves_a_suppressed_app_alone_and_keeps_the_comment() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.conf");
    fs::write(&f, TWO_APPS).unwrap();
    let out = wsgifix(tmp.path())
        .args(["--write", "--no-verify"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fixed = fs::read_to_string(&f).unwrap();
    // The vhost-wide `WSGIApplicationGroup %{GLOBAL}` would move /legacy:
    // the fix is narrower, for /new alone.
    assert!(
        !fixed.contains("\n    WSGIApplicationGroup %{GLOBAL}\n"),
        "{fixed}"
    );
    assert!(fixed.contains("# wsgifix: ignore[WSGI003] keeps its own"));
    assert!(fixed.contains("WSGIScriptAlias /legacy /srv/legacy.wsgi process-group=legacy\n"));
    let list = wsgifix(tmp.path())
        .args(["--list-apps", "--format", "json"])
        .arg(&f)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let group = |mount: &str| {
        v["apps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["mount"] == mount)
            .map(|a| {
                a["application_group"]["value"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .unwrap()
    };
    assert_eq!(group("/new"), "", "/new is in the main interpreter");
    assert_ne!(group("/legacy"), "", "/legacy keeps its sub-interpreter");
    // A second run finds nothing, the suppression still in use.
    let (code, rows) = findings(tmp.path(), &f, &[]);
    assert_eq!((code, rows), (0, vec![]));
}

#[test]
fn first_line_inside_a_section_covers_the_section() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.conf");
    fs::write(
        &f,
        "<VirtualHost *:80>\n    # wsgifix: ignore[embedded-mode,WSGI003] a test site\n    ServerName t.example\n    WSGIScriptAlias /a /srv/a.wsgi\n    WSGIScriptAlias /b /srv/b.wsgi\n</VirtualHost>\n<VirtualHost *:80>\n    ServerName u.example\n    # wsgifix: ignore[WSGI001]\n    WSGIScriptAlias /c /srv/c.wsgi\n</VirtualHost>\n",
    )
    .unwrap();
    let (_, rows) = findings(tmp.path(), &f, &[]);
    assert_eq!(rows, vec![(10, "WSGI003".to_string())]);
    // The dry run changes nothing the suppressions cover.
    let out = wsgifix(tmp.path()).arg(&f).output().unwrap();
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(!diff.contains("WSGIDaemonProcess"), "{diff}");
    assert!(
        diff.contains("+    WSGIApplicationGroup %{GLOBAL}")
            || diff.contains("application-group=%{GLOBAL}"),
        "{diff}"
    );
}

#[test]
fn suppressions_that_hide_nothing_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.conf");
    fs::write(
        &f,
        "<VirtualHost *:80>\n    ServerName a.example\n    WSGIDaemonProcess a\n    WSGIProcessGroup a\n    WSGIApplicationGroup %{GLOBAL}\n    # wsgifix: ignore[WSGI001] stale: the app has a daemon now\n    WSGIScriptAlias / /srv/a.wsgi\n    # wsgifix: ignore[WSGI999]\n    # wsgifix: ignore WSGI002\n</VirtualHost>\n",
    )
    .unwrap();
    let out = wsgifix(tmp.path()).arg("--check").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains(":6:5 WSGI100 suppression of WSGI001 hides nothing"));
    assert!(lines[1].contains(":8:5 WSGI100 suppression names no rule wsgifix has: WSGI999"));
    assert!(lines[2].contains(":9:5 WSGI100") && lines[2].contains("ignore[CODE,...]"));
    // A suppression of a rule that did not run is not "unused"; WSGI100
    // itself can be turned off.
    let (_, rows) = findings(tmp.path(), &f, &["--ignore", "WSGI001"]);
    assert_eq!(rows.len(), 2);
    let (code, rows) = findings(tmp.path(), &f, &["--ignore", "WSGI100"]);
    assert_eq!((code, rows), (0, vec![]));
}

#[test]
fn a_comment_after_a_directive_is_not_a_suppression() {
    // httpd has no trailing comments: this `#` is an argument, so the
    // finding stands (and httpd itself would refuse the extra argument for
    // most directives, which is why wsgifix never reads one there).
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.conf");
    fs::write(
        &f,
        "<VirtualHost *:80>\n    ServerName a.example\n    WSGIScriptAlias /a /srv/a.wsgi\n    ServerAlias b.example # wsgifix: ignore[WSGI001]\n</VirtualHost>\n",
    )
    .unwrap();
    let (_, rows) = findings(tmp.path(), &f, &[]);
    assert!(rows.contains(&(3, "WSGI001".to_string())), "{rows:?}");
}
