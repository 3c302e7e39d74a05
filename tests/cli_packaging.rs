//! What the package ships: the man page and completions are the clap
//! definition's (never stale), the man page renders, bash loads the
//! completion, and the `.deb` installs and runs.
//!
//! Tests that need a tool the machine lacks (`man`, `cargo deb`) skip with a
//! message, and fail instead when `WSGIFIX_REQUIRE_DEB=1` (CI sets it).

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn require() -> bool {
    std::env::var_os("WSGIFIX_REQUIRE_DEB").is_some_and(|v| v == "1")
}

/// None (after saying so) when `tool --version` does not run; a failure
/// when the tool is required.
fn tool(test: &str, tool: &str, args: &[&str]) -> Option<()> {
    let ok = Process::new(tool)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(());
    }
    assert!(
        !require(),
        "{test}: `{tool}` is missing and WSGIFIX_REQUIRE_DEB=1"
    );
    eprintln!("SKIP {test}: `{tool}` is not installed");
    None
}

/// Writes the man page and completions into `dir` and returns it.
fn generate_into(dir: &Path) -> PathBuf {
    let bin = assert_cmd::cargo::cargo_bin("wsgifix");
    std::fs::create_dir_all(dir).unwrap();
    for (file, args) in [
        ("wsgifix.1", &["man"][..]),
        ("wsgifix.bash", &["completions", "bash"]),
        ("_wsgifix", &["completions", "zsh"]),
        ("wsgifix.fish", &["completions", "fish"]),
    ] {
        let out = Process::new(&bin)
            .arg("generate")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "generate {args:?} failed");
        assert!(!out.stdout.is_empty(), "generate {args:?} printed nothing");
        std::fs::write(dir.join(file), &out.stdout).unwrap();
    }
    dir.to_path_buf()
}

#[test]
fn man_page_renders_with_options_and_exit_status() {
    if tool("man_page_renders", "man", &["--version"]).is_none() {
        return;
    }
    let dist = tempfile::tempdir().unwrap();
    let out = Process::new("man")
        .arg("-l")
        .arg(generate_into(dist.path()).join("wsgifix.1"))
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for want in ["NAME", "SYNOPSIS", "--check", "--format", "wsgifix rules"] {
        assert!(text.contains(want), "man page lacks {want:?}:\n{text}");
    }
    assert!(
        text.contains("  2  usage error"),
        "exit status table not kept as written:\n{text}"
    );
    // No references to per-subcommand pages that are not shipped.
    assert!(!text.contains("wsgifix-rules(1)"), "{text}");
}

/// bash registers the completion and completes an option name from it.
#[test]
fn bash_completion_loads_and_completes_options() {
    let dist = tempfile::tempdir().unwrap();
    let script = generate_into(dist.path()).join("wsgifix.bash");
    let out = Process::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && complete -p wsgifix && \
             COMP_WORDS=(wsgifix --for) COMP_CWORD=1 COMP_LINE='wsgifix --for' COMP_POINT=13 \
             && _wsgifix wsgifix --for wsgifix && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("-F _wsgifix wsgifix"), "{text}");
    assert!(text.lines().any(|l| l == "--format"), "{text}");
}

#[test]
fn rules_lists_every_rule_in_text_and_json() {
    let text = Command::cargo_bin("wsgifix")
        .unwrap()
        .arg("rules")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("CODE "), "{text}");
    for r in wsgifix::rules::RULES {
        let line = text
            .lines()
            .find(|l| l.starts_with(r.code))
            .unwrap_or_else(|| panic!("{} missing:\n{text}", r.code));
        assert!(line.contains(r.name) && line.contains(r.summary), "{line}");
        let fix = if r.has_fix { " yes " } else { " no " };
        assert!(line.contains(fix), "{line}");
    }
    let same = Command::cargo_bin("wsgifix")
        .unwrap()
        .arg("--list-rules")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8(same).unwrap(), text);

    let json = Command::cargo_bin("wsgifix")
        .unwrap()
        .args(["rules", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["schema_version"], 2);
    let rules = v["rules"].as_array().unwrap();
    assert_eq!(rules.len(), wsgifix::rules::RULES.len());
    assert_eq!(rules[0]["code"], "WSGI001");
    assert_eq!(rules[0]["fixable"], true);
    assert!(rules
        .iter()
        .all(|r| r["name"].is_string() && r["summary"].is_string()));
}

/// Builds the .deb with `cargo deb --no-build` from the binary this test run
/// built, laid out as packaging/deb lays out a release build (binary and
/// `dist/` under `release/` of a private target dir, so no second, release
/// build runs inside the tests; CI builds the release package separately).
/// Then it unpacks the package and runs what it ships. With
/// `WSGIFIX_DEB_INSTALL=1` (CI, as root) it is installed with `dpkg -i` into
/// the real system, checked there, and removed again.
#[test]
fn deb_builds_installs_and_runs() {
    let test = "deb_builds_installs_and_runs";
    if tool(test, "cargo", &["deb", "--version"]).is_none()
        || tool(test, "dpkg-deb", &["--version"]).is_none()
    {
        return;
    }
    let target = tempfile::tempdir().unwrap();
    let release = target.path().join("release");
    generate_into(&release.join("dist"));
    // Stripped first when binutils is there: packing the 50 MB debug
    // binary takes minutes, a stripped one seconds.
    let bin = assert_cmd::cargo::cargo_bin("wsgifix");
    let stripped = Process::new("strip")
        .arg("-o")
        .arg(release.join("wsgifix"))
        .arg(&bin)
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(&bin, release.join("wsgifix")).unwrap();
    }
    let out_dir = tempfile::tempdir().unwrap();
    let built = Process::new("cargo")
        .args(["deb", "--no-build", "--fast", "--output"])
        .arg(out_dir.path())
        .env("CARGO_TARGET_DIR", target.path())
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "cargo deb failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb: PathBuf = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("cargo deb made a .deb");

    let contents = Process::new("dpkg-deb")
        .arg("-c")
        .arg(&deb)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&contents.stdout);
    for want in [
        "./usr/bin/wsgifix",
        "./usr/share/man/man1/wsgifix.1",
        "./usr/share/bash-completion/completions/wsgifix",
        "./usr/share/zsh/vendor-completions/_wsgifix",
        "./usr/share/fish/vendor_completions.d/wsgifix.fish",
        "./usr/share/doc/wsgifix/README.md",
    ] {
        assert!(
            listing.contains(want),
            "{want} not in the package:\n{listing}"
        );
    }

    let unpacked = tempfile::tempdir().unwrap();
    let x = Process::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(unpacked.path())
        .status()
        .unwrap();
    assert!(x.success());
    check_installed(unpacked.path());

    if std::env::var_os("WSGIFIX_DEB_INSTALL").is_some_and(|v| v == "1") {
        let i = Process::new("dpkg").arg("-i").arg(&deb).output().unwrap();
        assert!(i.status.success(), "{}", String::from_utf8_lossy(&i.stderr));
        check_installed(Path::new("/"));
        let man = Process::new("man")
            .args(["-P", "cat", "wsgifix"])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&man.stdout).contains("SYNOPSIS"),
            "`man wsgifix` after dpkg -i: {}",
            String::from_utf8_lossy(&man.stderr)
        );
        let r = Process::new("dpkg")
            .args(["-r", "wsgifix"])
            .status()
            .unwrap();
        assert!(r.success());
    }
}

/// The shipped binary runs, its man page renders, and bash loads its
/// completion, all from the tree rooted at `root`.
fn check_installed(root: &Path) {
    let bin = root.join("usr/bin/wsgifix");
    let v = Process::new(&bin).arg("--version").output().unwrap();
    assert!(v.status.success());
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("wsgifix {}", env!("CARGO_PKG_VERSION"))
    );
    let rules = Process::new(&bin).arg("rules").output().unwrap();
    assert!(String::from_utf8_lossy(&rules.stdout).contains("WSGI001"));

    let man_dir = root.join("usr/share/man/man1");
    let page = ["wsgifix.1.gz", "wsgifix.1"]
        .iter()
        .map(|n| man_dir.join(n))
        .find(|p| p.exists())
        .expect("man page installed");
    if tool("deb man page", "man", &["--version"]).is_some() {
        let man = Process::new("man")
            .arg("-l")
            .arg(&page)
            .env("MANPAGER", "cat")
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&man.stdout).contains("SYNOPSIS"));
    }
    let comp = root.join("usr/share/bash-completion/completions/wsgifix");
    let ok = Process::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && complete -p wsgifix",
            comp.display()
        ))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}
