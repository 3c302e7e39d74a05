//! Findings and fixes of WSGI001-005 on small fixtures, snapshotted as
//! "findings + unified diff", plus the properties every fix must keep
//! (re-parses, idempotent, touches only the lines it must).

mod common;

use wsgifix::analysis::{analyse, GroupKind};
use wsgifix::engine::{process, FileResult, Options};
use wsgifix::syntax::{self, LineKind, Node};

fn run(input: &str) -> FileResult {
    process(input.as_bytes(), &Options::default())
}

/// Findings then the unified diff of the fix: what a user sees.
fn report(input: &str) -> String {
    let r = run(input);
    let mut out = String::new();
    for f in &r.findings {
        out.push_str(&format!(
            "{}:{} {} {} [{}] {}\n",
            f.line,
            f.column,
            f.code,
            f.name,
            if f.fixable { "fixable" } else { "not fixable" },
            f.message
        ));
    }
    if let Some(e) = &r.error {
        out.push_str(&format!("error: {e}\n"));
    }
    out.push_str("---\n");
    if let Some(fixed) = &r.fixed {
        let new = String::from_utf8(fixed.clone()).expect("fixtures are UTF-8");
        out.push_str(
            &similar::TextDiff::from_lines(input, &new)
                .unified_diff()
                .context_radius(2)
                .to_string(),
        );
    }
    out
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

/// Runs the engine again on the fixed text: nothing may change, and no
/// fixable finding may be left.
fn assert_idempotent(fixed: &[u8]) {
    let again = process(fixed, &Options::default());
    assert!(
        again.error.is_none(),
        "fixed text has an error: {:?}",
        again.error
    );
    assert!(
        again.fixed.is_none(),
        "second run changed the file again:\n{}",
        String::from_utf8_lossy(fixed)
    );
}

/// Every app of the file runs in its own daemon, in the main interpreter.
fn assert_pymongo_layout(text: &[u8]) {
    let tree = syntax::parse(text).expect("parses");
    let a = analyse(&tree);
    let mut seen = Vec::new();
    for m in &a.mounts {
        let pg = a.resolve(m, GroupKind::Process);
        let ag = a.resolve(m, GroupKind::Application);
        assert!(!pg.is_global(), "{:?} still embedded", m.url);
        assert!(
            a.daemons.iter().any(|d| d.name == pg.value),
            "{} not defined",
            pg.value
        );
        assert!(ag.is_global(), "{:?} runs in {}", m.url, ag.value);
        let key = m.app_key(&a);
        if let Some((_, other)) = seen.iter().find(|(k, _)| *k != key) {
            assert_ne!(*other, pg.value, "two apps share {}", pg.value);
        }
        seen.push((key, pg.value));
    }
}

// PyMongo's own two-app example, as its documentation writes the fixed form.
const SEED_SECOND_EXAMPLE: &str = "\
<VirtualHost *>
    WSGIDaemonProcess my_process
    WSGIScriptAlias /my_app /path/to/app.wsgi
    <Location /my_app>
        WSGIProcessGroup my_process
    </Location>

    WSGIDaemonProcess my_other_process
    WSGIScriptAlias /my_other_app /path/to/other_app.wsgi
    <Location /my_other_app>
        WSGIProcessGroup my_other_process
    </Location>

    WSGIApplicationGroup %{GLOBAL}
</VirtualHost>
";

const SEED_EMBEDDED: &str = "\
<VirtualHost *>
    WSGIScriptAlias /my_app /path/to/app.wsgi
    WSGIScriptAlias /my_other_app /path/to/other_app.wsgi
</VirtualHost>
";

/// The config's layout with daemon names replaced by their order of first
/// appearance, blank lines and comments dropped: two configs with the same
/// layout differ only in naming.
fn layout(text: &[u8]) -> Vec<String> {
    let tree = syntax::parse(text).expect("parses");
    let mut names: Vec<String> = Vec::new();
    let mut out = Vec::new();
    syntax::visit_lines(&tree.nodes, &mut |l| {
        if matches!(l.kind, LineKind::Blank | LineKind::Comment) {
            return;
        }
        let logical = String::from_utf8_lossy(&l.logical()).into_owned();
        let mut words: Vec<String> = logical.split_whitespace().map(str::to_string).collect();
        if l.name_is("WSGIDaemonProcess") || l.name_is("WSGIProcessGroup") {
            let n = words[1].clone();
            if !names.contains(&n) {
                names.push(n.clone());
            }
            let i = names.iter().position(|x| *x == n).unwrap();
            words[1] = format!("D{i}");
        }
        out.push(words.join(" "));
    });
    out
}

#[test]
fn pymongo_example_becomes_the_documented_layout() {
    let r = run(SEED_EMBEDDED);
    let fixed = r.fixed.clone().expect("the embedded seed is fixed");
    assert_eq!(layout(&fixed), layout(SEED_SECOND_EXAMPLE.as_bytes()));
    assert_pymongo_layout(&fixed);
    assert_pymongo_layout(SEED_SECOND_EXAMPLE.as_bytes());
    assert_idempotent(&fixed);
    // The documented layout itself is clean.
    let clean = run(SEED_SECOND_EXAMPLE);
    assert!(clean.findings.is_empty(), "{:?}", clean.findings);
    snapshot!("pymongo_seed", report(SEED_EMBEDDED));
}

#[test]
fn unused_daemon_is_reused() {
    let input = "\
<VirtualHost *:80>
    ServerName horizon.example.com
    WSGIDaemonProcess horizon user=horizon processes=3 threads=10
    WSGIScriptAlias / /usr/share/openstack-dashboard/openstack_dashboard/wsgi.py
</VirtualHost>
";
    let fixed = run(input).fixed.expect("fixed");
    let text = String::from_utf8(fixed.clone()).unwrap();
    assert_eq!(
        text.matches("WSGIDaemonProcess").count(),
        1,
        "no second daemon:\n{text}"
    );
    assert!(text.contains("    WSGIProcessGroup horizon\n"));
    assert_pymongo_layout(&fixed);
    assert_idempotent(&fixed);
    snapshot!("wsgi001_reuse_unused_daemon", report(input));
}

#[test]
fn two_apps_sharing_a_daemon_are_split() {
    let input = "\
<VirtualHost *:80>
    ServerName apps.example.com
    WSGIDaemonProcess pool processes=2 threads=15 display-name=%{GROUP}
    WSGIProcessGroup pool
    WSGIApplicationGroup %{GLOBAL}
    WSGIScriptAlias /shop /srv/shop/shop.wsgi
    WSGIScriptAlias /blog /srv/blog/blog.wsgi
</VirtualHost>
";
    let r = run(input);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].code, "WSGI002");
    assert_eq!((r.findings[0].line, r.findings[0].column), (7, 5));
    let fixed = r.fixed.expect("fixed");
    let text = String::from_utf8(fixed.clone()).unwrap();
    // The copy keeps the original's options.
    assert!(text.contains("WSGIDaemonProcess blog processes=2 threads=15 display-name=%{GROUP}\n"));
    assert_pymongo_layout(&fixed);
    assert_idempotent(&fixed);
    snapshot!("wsgi002_split_shared_daemon", report(input));
}

#[test]
fn root_app_moved_off_a_shared_daemon_without_capturing_the_app_below_it() {
    // A <Location /> would also cover /admin, so the root alias alone gets
    // the new group, as an option that neither preloads nor adds checks.
    let input = "\
<VirtualHost *:443>
    ServerName shop.example.com
    WSGIDaemonProcess shop processes=4 threads=8
    WSGIProcessGroup shop
    WSGIApplicationGroup %{GLOBAL}
    WSGIScriptAlias /admin /srv/shop/admin.wsgi
    WSGIScriptAlias / /srv/shop/shop.wsgi
</VirtualHost>
";
    let fixed = run(input).fixed.expect("fixed");
    let text = String::from_utf8(fixed.clone()).unwrap();
    assert!(!text.contains("<Location />"), "{text}");
    assert!(text.contains("WSGIScriptAlias / /srv/shop/shop.wsgi process-group=shop-2\n"));
    assert_pymongo_layout(&fixed);
    assert_idempotent(&fixed);
    snapshot!("wsgi002_root_app_alias_option", report(input));
}

#[test]
fn new_daemon_inherits_the_servers_python_path() {
    let input = "\
WSGIPythonPath /opt/reports/lib
WSGIScriptAlias /reports /opt/reports/reports.wsgi
";
    let fixed = String::from_utf8(run(input).fixed.expect("fixed")).unwrap();
    assert!(
        fixed.contains("WSGIDaemonProcess reports python-path=/opt/reports/lib\n"),
        "{fixed}"
    );
}

#[test]
fn global_in_a_directory_that_does_not_hold_the_script_is_not_effective() {
    let input = "\
<VirtualHost *:6385>
    WSGIDaemonProcess ironic user=stack threads=10
    WSGIScriptAlias / /usr/local/bin/ironic-api-wsgi
    WSGIProcessGroup ironic
    <Directory /opt/stack/ironic/ironic/api>
        WSGIApplicationGroup %{GLOBAL}
        Require all granted
    </Directory>
</VirtualHost>
";
    let r = run(input);
    let codes: Vec<_> = r.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["WSGI003"]);
    assert!(r.findings[0].message.contains("does not cover the app"));
    let fixed = r.fixed.expect("fixed");
    assert_pymongo_layout(&fixed);
    assert_idempotent(&fixed);
    snapshot!("wsgi003_directory_not_covering", report(input));

    // The same section around the script's own directory does apply.
    let covering = input.replace("/opt/stack/ironic/ironic/api", "/usr/local/bin");
    assert!(run(&covering).findings.is_empty());
}

#[test]
fn alias_option_overrides_the_directive() {
    let input = "\
<VirtualHost *:443>
    ServerName ipa.example.com
    WSGIDaemonProcess ipa processes=2 threads=1
    WSGIProcessGroup ipa
    WSGIApplicationGroup %{GLOBAL}
    WSGIScriptAlias /ipa /usr/share/ipa/wsgi.py process-group=ipa application-group=ipa
</VirtualHost>
";
    let r = run(input);
    assert_eq!(r.findings.len(), 1);
    assert!(r.findings[0]
        .message
        .contains("alias option application-group=ipa"));
    let fixed = String::from_utf8(r.fixed.expect("fixed")).unwrap();
    assert!(fixed.contains("process-group=ipa application-group=%{GLOBAL}\n"));
    assert_idempotent(fixed.as_bytes());
    snapshot!("wsgi003_alias_option", report(input));
}

#[test]
fn import_script_is_kept_in_step() {
    let input = "\
WSGIDaemonProcess pulp user=apache group=apache processes=3
WSGIScriptAlias /pulp/api /usr/share/pulp/wsgi/webservices.wsgi
WSGIImportScript /usr/share/pulp/wsgi/webservices.wsgi process-group=pulp application-group=pulp
<Files webservices.wsgi>
    WSGIProcessGroup pulp
    WSGIApplicationGroup pulp
</Files>
";
    let fixed = String::from_utf8(run(input).fixed.expect("fixed")).unwrap();
    assert!(fixed.contains("process-group=pulp application-group=%{GLOBAL}\n"));
    assert!(fixed.contains("    WSGIApplicationGroup %{GLOBAL}\n"));
    assert_idempotent(fixed.as_bytes());
    snapshot!("wsgi003_import_script_in_step", report(input));
}

#[test]
fn an_80_443_pair_sharing_one_daemon_is_one_app() {
    let input = "\
<VirtualHost *:80>
    ServerName shop.example.com
    WSGIDaemonProcess shop processes=2
    WSGIProcessGroup shop
    WSGIApplicationGroup %{GLOBAL}
    WSGIScriptAlias / /srv/shop/app.wsgi
</VirtualHost>
<VirtualHost *:443>
    ServerName shop.example.com
    SSLEngine on
    WSGIProcessGroup shop
    WSGIApplicationGroup %{GLOBAL}
    WSGIScriptAlias / /srv/shop/app.wsgi
</VirtualHost>
";
    let r = run(input);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert!(r.fixed.is_none());
    // Under another ServerName the :443 vhost may not use the daemon the :80
    // one defines: mod_wsgi answers 500. That is not a shared daemon.
    let two = input.replacen(
        "ServerName shop.example.com\n    SSLEngine",
        "ServerName other.example.com\n    SSLEngine",
        1,
    );
    let findings = run(&two).findings;
    let f = findings
        .iter()
        .find(|f| f.code == "WSGI006")
        .expect("WSGI006");
    assert_eq!(f.line, 13);
    assert!(
        f.message
            .contains("Daemon process called 'shop' cannot be accessed by this WSGI application"),
        "{}",
        f.message
    );
    assert!(findings.iter().all(|f| f.code != "WSGI002"), "{findings:?}");
}

#[test]
fn embedded_80_443_pair_gets_one_daemon_selected_from_both() {
    let input = "\
<VirtualHost *:80>
    ServerName shop.example.com
    WSGIScriptAlias / /srv/shop/app.wsgi
</VirtualHost>
<VirtualHost *:443>
    ServerName shop.example.com
    WSGIScriptAlias / /srv/shop/app.wsgi
</VirtualHost>
";
    let fixed = String::from_utf8(run(input).fixed.expect("fixed")).unwrap();
    assert_eq!(fixed.matches("WSGIDaemonProcess").count(), 1, "{fixed}");
    assert_eq!(fixed.matches("WSGIProcessGroup shop").count(), 2, "{fixed}");
    assert_idempotent(fixed.as_bytes());
    snapshot!("wsgi001_80_443_pair", report(input));
}

#[test]
fn tabs_crlf_and_continuations_around_edits_are_preserved() {
    let input = "<VirtualHost *:80>\r\n\tServerName t.example.com\r\n\tWSGIDaemonProcess t \\\r\n\t\tprocesses=2 \\\r\n\t\tthreads=4\r\n\tWSGIScriptAlias /t /srv/t/t.wsgi\r\n\t<Directory /srv/t>\r\n\t\tRequire all granted\r\n\t</Directory>\r\n</VirtualHost>";
    let fixed = run(input).fixed.expect("fixed");
    let expected = "<VirtualHost *:80>\r\n\tServerName t.example.com\r\n\tWSGIDaemonProcess t \\\r\n\t\tprocesses=2 \\\r\n\t\tthreads=4\r\n\tWSGIScriptAlias /t /srv/t/t.wsgi\r\n\tWSGIProcessGroup t\r\n\tWSGIApplicationGroup %{GLOBAL}\r\n\t<Directory /srv/t>\r\n\t\tRequire all granted\r\n\t</Directory>\r\n</VirtualHost>";
    assert_eq!(String::from_utf8(fixed.clone()).unwrap(), expected);
    assert_idempotent(&fixed);
}

#[test]
fn insertion_at_end_of_file_without_final_newline_keeps_it_that_way() {
    let input = "WSGIDaemonProcess app\nWSGIScriptAlias /app /srv/app/app.wsgi";
    let fixed = String::from_utf8(run(input).fixed.expect("fixed")).unwrap();
    assert!(!fixed.ends_with('\n'), "{fixed:?}");
    // Outside every vhost the selection is the alias's own options; the
    // daemon is defined before the alias, as preloading needs.
    assert_eq!(
        fixed,
        "WSGIDaemonProcess app\nWSGIScriptAlias /app /srv/app/app.wsgi process-group=app application-group=%{GLOBAL}"
    );
    assert_idempotent(fixed.as_bytes());
}

#[test]
fn windows_config_only_gets_the_global_interpreter() {
    let input = "\
LoadFile \"C:/Python311/python311.dll\"
LoadModule wsgi_module \"C:/Python311/lib/site-packages/mod_wsgi/server/mod_wsgi.cp311-win_amd64.pyd\"
WSGIPythonHome \"C:/Python311\"
<VirtualHost *:80>
    ServerName win.example.com
    WSGIScriptAlias / \"C:/sites/app/app.wsgi\"
    <Directory \"C:/sites/app\">
        Require all granted
    </Directory>
</VirtualHost>
";
    let r = run(input);
    let codes: Vec<_> = r.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["WSGI003"]);
    let fixed = String::from_utf8(r.fixed.expect("fixed")).unwrap();
    assert!(!fixed.contains("WSGIDaemonProcess"));
    assert!(!fixed.contains("WSGIProcessGroup"));
    assert_idempotent(fixed.as_bytes());
    snapshot!("wsgi003_windows", report(input));
}

#[test]
fn server_level_snippet_is_fixed_with_the_aliass_own_options() {
    let input = "\
# /etc/apache2/conf-available/myapp.conf
WSGIScriptAlias /myapp /usr/share/myapp/myapp.wsgi
<Directory /usr/share/myapp>
    Require all granted
</Directory>
";
    let fixed = run(input).fixed.expect("fixed");
    let tree = syntax::parse(&fixed).unwrap();
    // No server-level group directive or section: in a conf-enabled snippet
    // either would reach every vhost's apps (a <Location /myapp> captures
    // another vhost's /myapp too).
    for n in &tree.nodes {
        match n {
            Node::Line(l) => assert!(
                !l.name_is("WSGIProcessGroup") && !l.name_is("WSGIApplicationGroup"),
                "bare server-level group directive: {}",
                String::from_utf8_lossy(l.raw())
            ),
            Node::Section(s) => assert!(!s.name_is("Location"), "server-level <Location>"),
        }
    }
    assert_pymongo_layout(&fixed);
    assert_idempotent(&fixed);
    snapshot!("server_level_snippet", report(input));
}

#[test]
fn undefined_process_group_is_reported_with_the_defined_names() {
    let input = "\
WSGIDaemonProcess alpha
WSGIDaemonProcess beta
<VirtualHost *:80>
    WSGIScriptAlias / /srv/app.wsgi
    WSGIProcessGroup alpah
    WSGIApplicationGroup %{GLOBAL}
</VirtualHost>
";
    let r = run(input);
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "WSGI004")
        .expect("WSGI004");
    assert_eq!((f.line, f.column), (5, 5));
    assert!(f.message.contains("'alpah'") && f.message.contains("defined: alpha, beta"));
    assert!(!f.fixable);
    snapshot!("wsgi004_undefined", report(input));
}

#[test]
fn duplicate_daemon_names_but_not_in_exclusive_ifdefine_branches() {
    let dup = "\
<VirtualHost *:80>
    ServerName a.example.com
    WSGIDaemonProcess site
</VirtualHost>
<VirtualHost *:443>
    ServerName a.example.com
    WSGIDaemonProcess site
</VirtualHost>
";
    let r = run(dup);
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "WSGI005")
        .expect("WSGI005");
    assert_eq!(f.line, 7);
    assert!(f.message.contains("first at line 3"));
    let exclusive = "\
<IfDefine SSL>
WSGIDaemonProcess site
</IfDefine>
<IfDefine !SSL>
WSGIDaemonProcess site
</IfDefine>
";
    assert!(run(exclusive).findings.iter().all(|f| f.code != "WSGI005"));
    snapshot!("wsgi005_duplicate", report(dup));
}

#[test]
fn macro_bodies_are_reported_not_rewritten() {
    let input = "\
<Macro App $name>
<VirtualHost *:80>
    ServerName $name.example.com
    WSGIScriptAlias / /srv/$name/app.wsgi
</VirtualHost>
</Macro>
Use App shop
";
    let r = run(input);
    assert!(r.fixed.is_none());
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "WSGI001")
        .expect("reported");
    assert_eq!(f.line, 4);
    assert!(!f.fixable);
    assert!(f.message.contains("<Macro App>"));
}

#[test]
fn select_and_ignore_choose_the_rules() {
    let opts = Options {
        select: vec!["WSGI003".into()],
        ..Options::default()
    };
    let r = process(SEED_EMBEDDED.as_bytes(), &opts);
    assert!(r.findings.iter().all(|f| f.code == "WSGI003"));
    // Both embedded, %{GLOBAL} would give the two apps one interpreter in
    // every Apache process: without the daemons WSGI001 makes, no fix.
    assert!(r.fixed.is_none());
    assert!(
        r.findings
            .iter()
            .all(|f| f.not_fixed.is_some_and(|w| w.contains("one interpreter"))),
        "{:#?}",
        r.findings
    );
    let one = SEED_EMBEDDED.replace(
        "    WSGIScriptAlias /my_other_app /path/to/other_app.wsgi\n",
        "",
    );
    let r = process(one.as_bytes(), &opts);
    let fixed = String::from_utf8(r.fixed.expect("fixed")).unwrap();
    assert!(!fixed.contains("WSGIDaemonProcess"));
    assert!(fixed.contains("WSGIApplicationGroup %{GLOBAL}"));

    let opts = Options {
        ignore: vec!["WSGI001".into(), "WSGI003".into()],
        ..Options::default()
    };
    let r = process(SEED_EMBEDDED.as_bytes(), &opts);
    assert!(r.findings.is_empty() && r.fixed.is_none());
}

#[test]
fn syntax_errors_are_reported_and_nothing_is_fixed() {
    let r = run("<VirtualHost *:80>\nWSGIScriptAlias / /a.wsgi\n");
    assert!(r.fixed.is_none());
    let e = r.error.expect("error").to_string();
    assert_eq!(e, "1:1: <VirtualHost> was not closed.");
}

/// Lines a fix may rewrite in place: the group and alias directives whose
/// values it sets. Everything else is only ever inserted around.
const REWRITABLE: &[&str] = &[
    "WSGIScriptAlias",
    "WSGIScriptAliasMatch",
    "WSGIProcessGroup",
    "WSGIApplicationGroup",
    "WSGIImportScript",
];

#[test]
fn every_wsgi_corpus_file_fixes_cleanly() {
    let Some(files) = common::corpus::files("wsgi") else {
        return;
    };
    let mut fixed_files = 0;
    for path in &files {
        let input = std::fs::read(path).unwrap();
        let r = process(&input, &Options::default());
        assert_eq!(
            r.error.as_ref().map(|e| e.to_string()).as_deref(),
            common::corpus::refusal_of(path),
            "{}",
            path.display()
        );
        let Some(fixed) = r.fixed else { continue };
        fixed_files += 1;
        // Re-parses and round-trips.
        let tree = syntax::parse(&fixed).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(tree.to_bytes(), fixed);
        assert_idempotent(&fixed);
        // No fixable finding is left.
        let after = process(&fixed, &Options::default());
        assert!(
            after.findings.iter().all(|f| !f.fixable),
            "{}",
            path.display()
        );
        // Only insertions, and in-place rewrites of the directives that carry
        // group values; every other original line is still there, in order.
        let old = String::from_utf8_lossy(&input).into_owned();
        let new = String::from_utf8_lossy(&fixed).into_owned();
        let diff = similar::TextDiff::from_lines(&old, &new);
        for change in diff.iter_all_changes() {
            if change.tag() == similar::ChangeTag::Delete {
                let line = change.value().trim_start();
                assert!(
                    REWRITABLE.iter().any(|d| line
                        .to_ascii_lowercase()
                        .starts_with(&d.to_ascii_lowercase())),
                    "{}: removed a line it should not touch: {line:?}",
                    path.display()
                );
            }
        }
    }
    assert!(
        fixed_files >= 10,
        "only {fixed_files} corpus files were fixed"
    );
}

#[test]
fn every_apache_corpus_file_is_processed_without_surprises() {
    let Some(files) = common::corpus::files("apache") else {
        return;
    };
    for path in &files {
        let input = std::fs::read(path).unwrap();
        let r = process(&input, &Options::default());
        let tree = syntax::parse(&input);
        let has_wsgi = tree.as_ref().is_ok_and(|t| !analyse(t).mounts.is_empty());
        if !has_wsgi {
            assert!(
                r.fixed.is_none(),
                "{} changed without a WSGI app",
                path.display()
            );
        }
        if let Some(fixed) = &r.fixed {
            assert_idempotent(fixed);
        }
    }
}
