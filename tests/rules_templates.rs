//! Two kinds of input that are not the config httpd reads, and what wsgifix
//! makes of them: templates (a role's `{{ name }}` placeholders, which a
//! renderer fills in before httpd sees them) and options mod_wsgi refuses
//! at start-up (which httpd would never run).

mod common;

use wsgifix::engine::{process, FileResult, Options};

fn run(input: &str) -> FileResult {
    process(input.as_bytes(), &Options::default())
}

/// `(code, fixable)` of each finding, in order.
fn codes(r: &FileResult) -> Vec<(&'static str, bool)> {
    r.findings.iter().map(|f| (f.code, f.fixable)).collect()
}

/// The template with its placeholders filled in, as Ansible would.
fn render(template: &str) -> String {
    template
        .replace("{{ name }}", "shop")
        .replace("{{ root }}", "/srv/shop")
        .replace("{{ daemon_options }}", "processes=2 threads=5")
}

/// A role's vhost template whose every rendering runs right: one daemon,
/// selected for the script's directory, in the main interpreter.
const RIGHT: &str = "\
<VirtualHost *:80>
    ServerName {{ name }}.example.com
    WSGIDaemonProcess {{ name }} python-path={{ root }}/lib {{ daemon_options }}
    WSGIScriptAlias /{{ name }} {{ root }}/{{ name }}.wsgi
    <Directory {{ root }}>
        WSGIProcessGroup {{ name }}
        WSGIApplicationGroup %{GLOBAL}
    </Directory>
</VirtualHost>
";

#[test]
fn a_right_template_has_no_findings_and_is_not_changed() {
    let r = run(RIGHT);
    assert_eq!(r.error, None);
    assert_eq!(codes(&r), [], "{:?}", r.findings);
    assert_eq!(r.fixed, None);
    // Its rendering agrees.
    let rendered = run(&render(RIGHT));
    assert_eq!((codes(&rendered), rendered.fixed), (vec![], None));
}

#[test]
fn templates_report_what_their_renderings_report() {
    let cases = [
        RIGHT.to_string(),
        // Embedded: no daemon at all.
        "WSGIScriptAlias /{{ name }} {{ root }}/{{ name }}.wsgi\n".to_string(),
        // A daemon, but a sub-interpreter of its own.
        RIGHT.replace("        WSGIApplicationGroup %{GLOBAL}\n", ""),
        // A named application group.
        RIGHT.replace("%{GLOBAL}", "{{ name }}"),
        // The group set for a directory that does not hold the script.
        RIGHT.replace("<Directory {{ root }}>", "<Directory /elsewhere>"),
        // Two apps sharing the daemon.
        RIGHT.replace(
            "    <Directory",
            "    WSGIScriptAlias /{{ name }}-admin {{ root }}/admin.wsgi\n    <Directory",
        ),
    ];
    for template in cases {
        let t = run(&template);
        let r = run(&render(&template));
        let found = |r: &FileResult| r.findings.iter().map(|f| f.code).collect::<Vec<_>>();
        assert_eq!(found(&t), found(&r), "{template}");
        assert_eq!(t.error, None, "{template}");
    }
}

#[test]
fn no_daemon_name_is_made_from_a_placeholder() {
    // Every rendering would get the same new daemon name: two renderings
    // on one server, and httpd refuses to start.
    // Review Board's rb-site renders apache-wsgi.conf.in from autoconf-
    // style tokens: two renderings of its fixed text had one daemon name,
    // and real Apache refused to start.
    for template in [
        "WSGIScriptAlias /{{ name }} {{ root }}/{{ name }}.wsgi\n",
        "WSGIScriptAlias \"/@siteroot_noslash@\" \"@sitedir@/htdocs/reviewboard.wsgi/@siteroot_noslash@\"\n",
    ] {
        let r = run(template);
        let wsgi001: Vec<_> = r.findings.iter().filter(|f| f.code == "WSGI001").collect();
        assert_eq!(wsgi001.len(), 1, "{:?}", r.findings);
        assert!(!wsgi001[0].fixable);
        assert!(
            wsgi001[0]
                .not_fixed
                .is_some_and(|why| why.contains("template")),
            "{:?}",
            wsgi001[0]
        );
        let fixed = r.fixed.map(|f| String::from_utf8(f).unwrap());
        assert!(
            !fixed.as_deref().unwrap_or("").contains("WSGIDaemonProcess"),
            "{fixed:?}"
        );
        // Left embedded, %{GLOBAL} would put every rendering's app in
        // Apache's one main interpreter (a sweep's two rendered Review
        // Board sites ran in one): not made either.
        assert!(fixed.is_none(), "{fixed:?}");
        let wsgi003 = r.findings.iter().find(|f| f.code == "WSGI003").expect("reported");
        assert!(
            wsgi003.not_fixed.is_some_and(|w| w.contains("every rendering")),
            "{wsgi003:?}"
        );
    }
    // Two apps sharing a daemon: the second would need a copy named after it.
    let shared = RIGHT.replace(
        "    <Directory",
        "    WSGIScriptAlias /{{ name }}-admin {{ root }}/admin.wsgi\n    <Directory",
    );
    let r = run(&shared);
    let wsgi002: Vec<_> = r.findings.iter().filter(|f| f.code == "WSGI002").collect();
    assert!(!wsgi002.is_empty(), "{:?}", r.findings);
    assert!(
        wsgi002
            .iter()
            .all(|f| !f.fixable && f.not_fixed.is_some_and(|why| why.contains("template"))),
        "{:?}",
        r.findings
    );
    assert_eq!(r.fixed, None);
}

#[test]
fn a_template_fix_keeps_every_placeholder_byte_for_byte() {
    let template = RIGHT.replace("        WSGIApplicationGroup %{GLOBAL}\n", "");
    let r = run(&template);
    assert_eq!(codes(&r), [("WSGI003", true)], "{:?}", r.findings);
    let fixed = String::from_utf8(r.fixed.expect("a fix")).unwrap();
    let placeholders = |s: &str| s.matches("{{ ").count();
    assert_eq!(placeholders(&fixed), placeholders(&template), "{fixed}");
    assert!(
        fixed.contains("WSGIApplicationGroup %{GLOBAL}\n"),
        "{fixed}"
    );
    // Only the fix's line is new.
    assert_eq!(
        fixed.lines().count(),
        template.lines().count() + 1,
        "{fixed}"
    );
    // And the fixed template renders to a config with nothing left to fix.
    let again = run(&render(&fixed));
    assert_eq!((codes(&again), again.error), (vec![], None));
}

/// Options of a `WSGIScriptAlias` that mod_wsgi refuses, each with its words.
const REFUSED_ALIAS_OPTIONS: [(&str, &str); 6] = [
    (
        "process=shop",
        "Invalid option to WSGI script alias definition.",
    ),
    (
        "request-timeout=60",
        "Invalid option to WSGI script alias definition.",
    ),
    ("}}", "Invalid option to WSGI script alias definition."),
    (
        "application-group=",
        "Invalid name for WSGI application group.",
    ),
    ("process-group=''", "Invalid name for WSGI process group."),
    (
        "pass-authorization=yes",
        "Invalid value for authorization flag.",
    ),
];

fn alias_with(option: &str) -> String {
    format!(
        "WSGIDaemonProcess shop\n<VirtualHost *:80>\n    WSGIScriptAlias /shop /srv/shop/shop.wsgi {option}\n</VirtualHost>\n"
    )
}

#[test]
fn alias_options_mod_wsgi_refuses_are_errors_in_its_words() {
    for (option, message) in REFUSED_ALIAS_OPTIONS {
        let r = run(&alias_with(option));
        let e = r
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{option}: no error"));
        assert_eq!(e.to_string(), format!("3:5: {message}"), "{option}");
        assert_eq!(r.fixed, None, "{option}");
    }
    // What it accepts stays an app like any other.
    for option in [
        "process-group=shop application-group=%{GLOBAL}",
        "callable-object=app pass-authorization=On",
        "{{ alias_options }}",
        "%ALIAS_OPTIONS%",
    ] {
        let r = run(&alias_with(option));
        assert_eq!(r.error, None, "{option}");
    }
}

#[test]
fn daemon_option_words_without_a_value_are_errors() {
    let r = run("WSGIDaemonProcess shop processes=2 threads\n");
    assert_eq!(
        r.error.map(|e| e.to_string()).as_deref(),
        Some("1:1: Invalid option to WSGI daemon process definition.")
    );
    let r = run("<VirtualHost *:80>\n  WSGIDaemonProcess ''\n</VirtualHost>\n");
    assert_eq!(
        r.error.map(|e| e.to_string()).as_deref(),
        Some("2:3: Name of WSGI daemon process not supplied.")
    );
    // A template's token may stand for several options (devstack writes
    // `%VIRTUALENV%` for `python-home=...`).
    for token in [
        "{{ daemon_options }}",
        "%VIRTUALENV%",
        "${OPTIONS}",
        "@@OPTIONS@@",
    ] {
        let r = run(&format!("WSGIDaemonProcess shop {token}\n"));
        assert_eq!(r.error, None, "{token}");
    }
}

#[test]
fn httpd_refuses_what_wsgifix_refuses_and_starts_what_it_accepts() {
    let Some(apache) = common::apache::require_or_skip("alias option configtest") else {
        return;
    };
    let lab = common::apache::Lab::for_wsgi(&apache);
    let check = |tag: &str, body: &str| lab.check_snippet(tag, body);
    for (k, (option, message)) in REFUSED_ALIAS_OPTIONS.iter().enumerate() {
        let out = check(&format!("refused{k}"), &alias_with(option));
        assert!(!out.ok(), "{option}");
        assert!(
            out.message().contains(message),
            "{option}: {}",
            out.message()
        );
    }
    let out = check("daemon", "WSGIDaemonProcess shop processes=2 threads\n");
    assert!(
        out.message()
            .contains("Invalid option to WSGI daemon process definition."),
        "{}",
        out.message()
    );
    for (k, option) in [
        "process-group=shop application-group=%{GLOBAL}",
        "callable-object=app pass-authorization=On",
    ]
    .iter()
    .enumerate()
    {
        let out = check(&format!("accepted{k}"), &alias_with(option));
        assert!(out.ok(), "{option}: {}", out.message());
    }
    // The fixed rendering of a template is a config httpd starts.
    let template = RIGHT
        .replace("        WSGIApplicationGroup %{GLOBAL}\n", "")
        .replace("*:80", &format!("127.0.0.1:{}", lab.port));
    let fixed = run(&template).fixed.expect("a fix");
    let out = check("template", &render(&String::from_utf8(fixed).unwrap()));
    assert!(out.ok(), "{}", out.message());
}
