//! Report formats and terminal manners: SARIF (validated against the
//! official 2.1.0 schema), GitHub annotations, JSON lines, `--statistics`,
//! `--show-fixes`, `-q`/`-v`, and the order of the output on a terminal.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

/// One fixable finding (WSGI003) and one that is not (WSGI004).
const MIXED: &str = "\
<VirtualHost *:80>
    ServerName app.example.org
    WSGIScriptAlias / /srv/app/app.wsgi
    WSGIProcessGroup nope
</VirtualHost>
";
const CLEAN: &str = "ServerName example.org\n";
const BROKEN: &str = "<VirtualHost *:80>\n    ServerName a\n";

fn wsgifix() -> Command {
    let mut c = Command::cargo_bin("wsgifix").unwrap();
    c.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR");
    c
}

/// a.conf (MIXED), b.conf (CLEAN), c.conf (BROKEN) in a temp dir.
fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.conf"), MIXED).unwrap();
    fs::write(d.path().join("b.conf"), CLEAN).unwrap();
    fs::write(d.path().join("c.conf"), BROKEN).unwrap();
    d
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = wsgifix().current_dir(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn sarif_is_valid_against_the_2_1_0_schema() {
    let d = tree();
    let (code, stdout, _) = run(d.path(), &["--format", "sarif", "."]);
    assert_eq!(code, 2, "the status never depends on the format");
    let log: serde_json::Value = serde_json::from_str(&stdout).unwrap();

    let schema: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF schema errors: {errors:#?}");
    // The validator does reject what the schema forbids.
    let mut bad = log.clone();
    bad["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&bad));

    let run = &log["runs"][0];
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(run["tool"]["driver"]["name"], "wsgifix");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "WSGI004"));
    let results = run["results"].as_array().unwrap();
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["WSGI003", "WSGI004"]);
    let loc = &results[1]["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "a.conf");
    assert_eq!(loc["region"]["startLine"], 4);
    assert_eq!(loc["region"]["startColumn"], 5);
    let idx = results[1]["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[idx]["id"], "WSGI004");
    // The syntax error is a tool notification with its place.
    let inv = &run["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    assert_eq!(inv["exitCode"], 2);
    let note = &inv["toolExecutionNotifications"][0];
    assert!(note["message"]["text"]
        .as_str()
        .unwrap()
        .contains("was not closed"));
    assert_eq!(
        note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "c.conf"
    );
}

#[test]
fn github_annotations_one_line_per_finding_and_error() {
    let d = tree();
    let (code, stdout, stderr) = run(d.path(), &["--format", "github", "."]);
    assert_eq!(code, 2);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with(
            "::warning file=a.conf,line=3,col=5,title=WSGI003 not-global-interpreter::"
        ),
        "{}",
        lines[0]
    );
    // `%` in the message is escaped as the runner expects.
    assert!(lines[0].contains("%25{GLOBAL}"), "{}", lines[0]);
    assert!(lines[1].starts_with(
        "::error file=a.conf,line=4,col=5,title=WSGI004 undefined-process-group::WSGIProcessGroup"
    ));
    assert!(
        lines[2].starts_with("::error file=c.conf,line=1,col=1,title=wsgifix syntax error::"),
        "{}",
        lines[2]
    );
    assert!(stderr.contains("3 files checked"));
}

#[test]
fn json_lines_one_record_per_file_then_a_summary() {
    let d = tree();
    let (code, stdout, _) = run(
        d.path(),
        &["--format", "json-lines", "--statistics", "--check", "."],
    );
    assert_eq!(code, 2);
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 4);
    let types: Vec<&str> = records
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["file", "file", "file", "summary"]);
    assert_eq!(records[0]["path"], "./a.conf");
    assert_eq!(records[0]["findings"][1]["code"], "WSGI004");
    assert_eq!(records[2]["error"]["kind"], "syntax");
    let summary = &records[3];
    assert_eq!(summary["schema_version"], 2);
    assert_eq!(summary["mode"], "check");
    assert_eq!(summary["summary"]["files"], 3);
    assert_eq!(summary["summary"]["exit_code"], 2);
    assert_eq!(summary["statistics"][0]["code"], "WSGI003");
    assert_eq!(summary["statistics"][0]["count"], 1);
}

#[test]
fn json_document_carries_statistics_and_fixes_when_asked() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.conf"), MIXED).unwrap();
    let (code, stdout, _) = run(d.path(), &["--format", "json", "a.conf"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["tool"]["name"], "wsgifix");
    assert_eq!(v["mode"], "dry-run");
    assert!(v.get("statistics").is_none());
    assert!(v["files"][0].get("fixes").is_none());

    let (_, stdout, _) = run(
        d.path(),
        &["--format", "json", "--statistics", "--show-fixes", "a.conf"],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let stats = v["statistics"].as_array().unwrap();
    assert_eq!(stats.len(), 2);
    assert_eq!(stats[0]["fixed"], 1);
    assert_eq!(stats[1]["fixed"], 0);
    assert_eq!(
        v["files"][0]["fixes"][0],
        "line 5: added `WSGIApplicationGroup %{GLOBAL}`"
    );
}

#[test]
fn statistics_table_counts_per_rule() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.conf"), MIXED).unwrap();
    fs::write(d.path().join("b.conf"), MIXED).unwrap();
    // --check: the table follows the findings on stdout.
    let (code, stdout, _) = run(d.path(), &["--check", "--statistics", "."]);
    assert_eq!(code, 1);
    let tail: Vec<&str> = stdout.lines().skip(4).collect();
    assert_eq!(
        tail,
        [
            "2\tWSGI003\t[*] not-global-interpreter",
            "2\tWSGI004\t[ ] undefined-process-group",
            "[*] the rule has a fix; 2 of 4 findings are fixable here",
        ]
    );
    // Diff mode: stdout stays a patch, the table goes to stderr.
    let (_, stdout, stderr) = run(d.path(), &["--statistics", "."]);
    assert!(stdout.starts_with("--- a/./a.conf"), "{stdout}");
    assert!(!stdout.contains("WSGI004"));
    assert!(stderr.contains("2\tWSGI004\t[ ] undefined-process-group"));
}

#[test]
fn show_fixes_says_what_each_fix_did() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.conf"), MIXED).unwrap();
    let (code, stdout, stderr) = run(d.path(), &["--write", "--show-fixes", "a.conf"]);
    assert_eq!(code, 1, "WSGI004 remains: {stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(
            "a.conf: fixed 1 finding:\n  3:5 WSGI003 WSGI application / (/srv/app/app.wsgi) runs in sub-interpreter"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("  by these edits:\n    line 5: added `WSGIApplicationGroup %{GLOBAL}`\n"),
        "{stderr}"
    );
    // Without the flag, none of that.
    fs::write(d.path().join("a.conf"), MIXED).unwrap();
    let (_, _, stderr) = run(d.path(), &["--write", "a.conf"]);
    assert!(!stderr.contains("by these edits"));
}

#[test]
fn quiet_and_verbose() {
    let d = tree();
    let (_, _, normal) = run(d.path(), &["--check", "."]);
    assert!(normal.contains("wsgifix: 3 files checked"));

    let (code, stdout, quiet) = run(d.path(), &["--check", "-q", "."]);
    assert_eq!(code, 2);
    assert!(stdout.contains("WSGI004"), "findings are the report");
    assert!(!quiet.contains("files checked"), "{quiet}");
    assert!(quiet.contains("wsgifix: error: ./c.conf:"), "errors stay");

    let (_, _, verbose) = run(d.path(), &["--check", "-v", "."]);
    for want in [
        "wsgifix: checked ./a.conf: 2 findings (1 fixable), would change",
        "wsgifix: checked ./b.conf: 0 findings (0 fixable), unchanged",
        "wsgifix: checked ./c.conf: 0 findings (0 fixable), error",
        "wsgifix: 3 files checked",
    ] {
        assert!(verbose.contains(want), "{want:?} not in:\n{verbose}");
    }
    wsgifix().args(["-q", "-v", "."]).assert().code(2);
}

/// util-linux `script` gives a command a pseudo-terminal; without it the
/// terminal tests skip, except where the machine must have it (CI).
fn have_script() -> bool {
    let found = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        assert!(
            std::env::var("WSGIFIX_REQUIRE_APACHE").as_deref() != Ok("1"),
            "util-linux `script` is missing"
        );
        eprintln!("SKIP: util-linux `script` is not installed");
    }
    found
}

/// On a terminal both streams interleave: the diff of a file comes before
/// the findings it does not fix, and the summary comes last. Run under
/// util-linux `script`, which gives the command a pseudo-terminal.
#[test]
fn on_a_terminal_diff_then_findings_then_summary() {
    if !have_script() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.conf"), MIXED).unwrap();
    fs::write(d.path().join("b.conf"), MIXED).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("wsgifix");
    let out = std::process::Command::new("script")
        .args(["-qec"])
        .arg(format!("{} --color never a.conf b.conf", bin.display()))
        .arg("/dev/null")
        .current_dir(d.path())
        .env_remove("CLICOLOR_FORCE")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    let at = |needle: &str, from: usize| -> usize {
        from + text[from..]
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not after {from} in:\n{text}"))
    };
    let a_diff = at("--- a/a.conf", 0);
    let a_finding = at("a.conf:4:5 WSGI004", a_diff);
    let b_diff = at("--- a/b.conf", a_finding);
    let b_finding = at("b.conf:4:5 WSGI004", b_diff);
    at("wsgifix: 2 files checked", b_finding);
}

/// A long run on a terminal shows a progress bar on stderr (here: at once,
/// `WSGIFIX_PROGRESS_AFTER_MS=0`, so the test does not depend on time), and
/// the report still comes whole and in order; off a terminal there is none.
#[test]
fn progress_bar_only_on_a_terminal() {
    if !have_script() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    for i in 0..40 {
        fs::write(d.path().join(format!("s{i:02}.conf")), MIXED).unwrap();
    }
    let bin = assert_cmd::cargo::cargo_bin("wsgifix");
    let out = std::process::Command::new("script")
        .args(["-qec"])
        .arg(format!("{} --check --color never -j 1 .", bin.display()))
        .arg("/dev/null")
        .current_dir(d.path())
        .env("WSGIFIX_PROGRESS_AFTER_MS", "0")
        .env("TERM", "xterm")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/40 files"), "no progress bar:\n{text}");
    assert!(text.contains("s39.conf:4:5 WSGI004"), "{text}");
    assert!(text.contains("wsgifix: 40 files checked"), "{text}");

    let piped = wsgifix()
        .args(["--check", "-j", "1", "."])
        .current_dir(d.path())
        .env("WSGIFIX_PROGRESS_AFTER_MS", "0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&piped.stderr);
    assert!(!err.contains("/40"), "a bar off a terminal:\n{err}");
}

/// A finding of a rule that has a fix, left for a known reason, says why in
/// the `--check` line and in the JSON document.
#[test]
fn why_a_finding_is_not_fixed_is_shown() {
    let d = tempfile::tempdir().unwrap();
    fs::write(
        d.path().join("tools.conf"),
        "<VirtualHost *:80>\n    WSGIScriptAlias /tools/ /srv/www/tools/\n</VirtualHost>\n",
    )
    .unwrap();
    let (code, stdout, _) = run(d.path(), &["--check", "tools.conf"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for line in &lines {
        assert!(
            line.starts_with("tools.conf:2:5 WSGI00")
                && line.ends_with(
                    " (not fixed: it serves several scripts, each in an interpreter of its own: one daemon and %{GLOBAL} for it would merge them)"
                ),
            "{line}"
        );
    }
    let (_, json, _) = run(d.path(), &["--format", "json", "tools.conf"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let findings = doc["files"][0]["findings"].as_array().unwrap();
    assert!(
        findings.iter().all(|f| f["fixable"] == false
            && f["not_fixed"]
                .as_str()
                .is_some_and(|w| w.starts_with("it serves several scripts"))),
        "{json}"
    );
    // A fixable finding carries no such key.
    let (_, json, _) = run_with(MIXED, &["--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let findings = doc["files"][0]["findings"].as_array().unwrap();
    let fixable: Vec<_> = findings.iter().filter(|f| f["fixable"] == true).collect();
    assert!(!fixable.is_empty(), "{json}");
    assert!(
        fixable.iter().all(|f| f.get("not_fixed").is_none()),
        "{json}"
    );
}

fn run_with(text: &str, args: &[&str]) -> (i32, String, String) {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.conf"), text).unwrap();
    let mut all = args.to_vec();
    all.push("a.conf");
    run(d.path(), &all)
}
