//! Findings whose obvious fix would break or merge apps, found by running
//! wsgifix over hand-built and public configs under real Apache: they are
//! reported, and the fix is refused (or made around them).

mod common;

use wsgifix::engine::{process, FileResult, Options};

fn run(input: &str) -> FileResult {
    process(input.as_bytes(), &Options::default())
}

/// `(code, fixable)` of each finding on the mount at `line`.
fn on_line(r: &FileResult, line: u32) -> Vec<(&'static str, bool)> {
    r.findings
        .iter()
        .filter(|f| f.line == line)
        .map(|f| (f.code, f.fixable))
        .collect()
}

/// Why each finding on the mount at `line` is not fixed.
fn why_not(r: &FileResult, line: u32) -> Vec<&'static str> {
    r.findings
        .iter()
        .filter(|f| f.line == line)
        .map(|f| f.not_fixed.unwrap_or("(no reason given)"))
        .collect()
}

fn fixed_text(r: &FileResult) -> String {
    r.fixed
        .as_ref()
        .map(|f| String::from_utf8(f.clone()).unwrap())
        .unwrap_or_default()
}

#[test]
fn an_app_under_wsgi_restrict_process_keeps_its_daemon() {
    // Moved to a daemon of its own, /b would answer 500: "Daemon process
    // called 'b' cannot be accessed ... as not a member of allowed groups".
    let shared = "\
<VirtualHost *:80>
    ServerName shop.example.com
    WSGIDaemonProcess one processes=1 threads=2
    WSGIProcessGroup one
    WSGIApplicationGroup %{GLOBAL}
    WSGIScriptAlias /a /srv/www/a/app.wsgi
    WSGIScriptAlias /b /srv/www/b/app.wsgi
    <Directory /srv/www>
        WSGIRestrictProcess one
    </Directory>
</VirtualHost>
";
    let r = run(shared);
    assert_eq!(on_line(&r, 7), [("WSGI002", false)], "{:?}", r.findings);
    assert!(
        why_not(&r, 7)[0].contains("WSGIRestrictProcess"),
        "{:?}",
        r.findings
    );
    assert_eq!(r.fixed, None);
    // The same without the restriction is fixed.
    let free = run(&shared.replace("        WSGIRestrictProcess one\n", ""));
    assert_eq!(on_line(&free, 7), [("WSGI002", true)]);
    // An embedded app under a restriction elsewhere in the server gets no
    // daemon either; its interpreter is still made the main one.
    let embedded = "\
WSGIRestrictEmbedded On
<VirtualHost *:80>
    WSGIDaemonProcess one
    WSGIScriptAlias /a /srv/www/a/app.wsgi process-group=one application-group=%{GLOBAL}
    <Location /b>
        WSGIRestrictProcess one
    </Location>
    WSGIScriptAlias /b /srv/www/b/app.wsgi
</VirtualHost>
";
    let r = run(embedded);
    assert!(
        on_line(&r, 8).contains(&("WSGI001", false)),
        "{:?}",
        r.findings
    );
    assert!(
        !fixed_text(&r).contains("WSGIProcessGroup"),
        "{}",
        fixed_text(&r)
    );
}

#[test]
fn an_app_preloaded_into_its_shared_daemon_is_not_moved() {
    // Moving /b would leave the WSGIImportScript loading b's script into
    // the daemon: /b keeps it, and /a moves.
    let conf = "\
<VirtualHost *:80>
    WSGIDaemonProcess shared processes=1 threads=2
    WSGIProcessGroup shared
    WSGIApplicationGroup %{GLOBAL}
    WSGIImportScript /srv/www/b/app.wsgi process-group=shared application-group=%{GLOBAL}
    WSGIScriptAlias /a /srv/www/a/app.wsgi
    WSGIScriptAlias /b /srv/www/b/app.wsgi
</VirtualHost>
";
    let r = run(conf);
    assert_eq!(on_line(&r, 6), [("WSGI002", true)], "{:?}", r.findings);
    assert!(on_line(&r, 7).is_empty(), "{:?}", r.findings);
    let fixed = fixed_text(&r);
    assert!(
        fixed.contains("WSGIImportScript /srv/www/b/app.wsgi process-group=shared"),
        "{fixed}"
    );
    // Both preloaded there: the one that must move cannot.
    let both = conf.replace(
        "    WSGIScriptAlias /a",
        "    WSGIImportScript /srv/www/a/app.wsgi process-group=shared application-group=%{GLOBAL}\n    WSGIScriptAlias /a",
    );
    let r = run(&both);
    assert_eq!(on_line(&r, 8), [("WSGI002", false)], "{:?}", r.findings);
    assert!(
        why_not(&r, 8)[0].contains("WSGIImportScript"),
        "{:?}",
        r.findings
    );
    assert_eq!(r.fixed, None);
}

#[test]
fn mounts_of_several_scripts_are_not_merged_into_one_interpreter() {
    // Each `$1` script (and each script of a handler directory) runs in a
    // sub-interpreter of its own; one daemon with %{GLOBAL} would merge them.
    let cases = [
        (
            "WSGIScriptAliasMatch ^/app/([^/]+) /srv/www/$1/app.wsgi\n",
            1,
        ),
        ("WSGIScriptAlias /tools/ /srv/www/tools/\n", 1),
        (
            "Alias /tools /srv/www/h/\n<Directory /srv/www/h>\n    Options +ExecCGI\n    AddHandler wsgi-script .wsgi\n</Directory>\n",
            4,
        ),
    ];
    for (mount, line) in cases {
        let conf = format!("<VirtualHost *:80>\n{mount}</VirtualHost>\n");
        let r = run(&conf);
        let found = on_line(&r, line + 1);
        assert!(!found.is_empty(), "{conf}: {:?}", r.findings);
        assert!(
            found.iter().all(|(_, fixable)| !fixable),
            "{conf}: {found:?}"
        );
        assert!(
            why_not(&r, line + 1)
                .iter()
                .all(|why| why.contains("several scripts")),
            "{conf}: {:?}",
            r.findings
        );
        assert_eq!(r.fixed, None, "{conf}");
    }
    // Beside another app, that app's fix stays its own: no vhost-wide
    // %{GLOBAL} that would reach the pattern's scripts.
    let conf = "\
<VirtualHost *:80>
    WSGIScriptAliasMatch ^/app/([^/]+) /srv/www/$1/app.wsgi
    WSGIScriptAlias /other /srv/www/c/other.wsgi
</VirtualHost>
";
    let r = run(conf);
    assert_eq!(on_line(&r, 3), [("WSGI001", true), ("WSGI003", true)]);
    assert_eq!(on_line(&r, 2), [("WSGI001", false), ("WSGI003", false)]);
    let fixed = fixed_text(&r);
    assert!(
        fixed.contains("    <Location /other>\n        WSGIProcessGroup other\n        WSGIApplicationGroup %{GLOBAL}\n    </Location>\n"),
        "{fixed}"
    );
    assert_eq!(fixed.matches("WSGIApplicationGroup").count(), 1, "{fixed}");
    // A handler for one script (keystone's <Location> + Alias) is fixed.
    let one = "\
<VirtualHost *:80>
    Alias /identity /usr/bin/keystone-wsgi-public
    <Location /identity>
        SetHandler wsgi-script
        Options +ExecCGI
    </Location>
</VirtualHost>
";
    let r = run(one);
    assert!(
        r.findings.iter().any(|f| f.code == "WSGI001" && f.fixable),
        "{:?}",
        r.findings
    );
}

#[test]
fn an_alias_an_earlier_one_takes_every_url_of_is_no_app() {
    // mod_wsgi takes the first alias that matches: `/` serves /extra too.
    // Giving /extra a daemon of its own would split the `/` app, which
    // runs right.
    let conf = "\
<VirtualHost *:80>
    WSGIDaemonProcess app processes=1 threads=2
    WSGIProcessGroup app
    WSGIApplicationGroup %{GLOBAL}
    WSGIScriptAlias / /srv/www/a/app.wsgi
    WSGIScriptAlias /extra /srv/www/b/app.wsgi
</VirtualHost>
";
    let r = run(conf);
    assert_eq!(
        (r.findings.len(), r.fixed.is_none()),
        (0, true),
        "{:?}",
        r.findings
    );
    let apps = wsgifix::analysis::analyse(&wsgifix::syntax::parse(conf.as_bytes()).unwrap());
    assert_eq!(apps.instances.len(), 1);
    // In the other order each alias serves its own URLs: two apps sharing.
    let swapped = conf.replace(
        "    WSGIScriptAlias / /srv/www/a/app.wsgi\n    WSGIScriptAlias /extra /srv/www/b/app.wsgi\n",
        "    WSGIScriptAlias /extra /srv/www/b/app.wsgi\n    WSGIScriptAlias / /srv/www/a/app.wsgi\n",
    );
    let r = run(&swapped);
    assert_eq!(on_line(&r, 6), [("WSGI002", true)], "{:?}", r.findings);
    // An earlier alias read only under a <IfDefine> does not always take
    // the URLs first.
    let conditional = conf.replace(
        "    WSGIScriptAlias / /srv/www/a/app.wsgi\n",
        "    <IfDefine Canary>\n    WSGIScriptAlias / /srv/www/a/app.wsgi\n    </IfDefine>\n",
    );
    let a = wsgifix::analysis::analyse(&wsgifix::syntax::parse(conditional.as_bytes()).unwrap());
    assert_eq!(a.instances.len(), 2);
    // A pattern read before takes every URL of /m12 (Apache answered 404
    // for /m12 and /m12/x: the pattern's script took them); one that
    // ends at `$`, or does not match, leaves /m12 its own.
    let instances = |pattern: &str| {
        let text = conf.replace(
            "    WSGIScriptAlias / /srv/www/a/app.wsgi\n    WSGIScriptAlias /extra /srv/www/b/app.wsgi\n",
            &format!("    WSGIScriptAliasMatch {pattern} /srv/www/a/app.wsgi\n    WSGIScriptAlias /m12 /srv/www/b/app.wsgi\n"),
        );
        wsgifix::analysis::analyse(&wsgifix::syntax::parse(text.as_bytes()).unwrap())
            .instances
            .len()
    };
    assert_eq!(instances("^/m(\\d)"), 1);
    assert_eq!(instances("^/m1"), 1);
    assert_eq!(instances("^/m(\\d)$"), 2);
    assert_eq!(instances("^/n(\\d)"), 2);
}

#[test]
fn a_handler_directory_reached_through_one_script_is_one_app() {
    // koji-hub: the directory's handler is reached only through the Alias
    // of its one script.
    let koji = "\
Alias /kojihub /usr/share/koji-hub/kojiapp.py
<Directory \"/usr/share/koji-hub\">
    Options ExecCGI
    SetHandler wsgi-script
    WSGIApplicationGroup %{GLOBAL}
</Directory>
";
    let r = run(koji);
    assert!(
        r.findings.iter().any(|f| f.code == "WSGI001" && f.fixable),
        "{:?}",
        r.findings
    );
    // Scripts already sharing one named interpreter are not kept apart by
    // it: the app whose <Location> gives them that group is still fixed.
    let ipa = "\
WSGIDaemonProcess ipa processes=2 threads=1
WSGIScriptAlias /ipa /usr/share/ipa/wsgi.py
<Location \"/ipa\">
  WSGIProcessGroup ipa
  WSGIApplicationGroup ipa
</Location>
Alias /ipa/wsgi \"/usr/share/ipa/wsgi\"
<Directory \"/usr/share/ipa/wsgi\">
    Options ExecCGI
    AddHandler wsgi-script .py
</Directory>
";
    let r = run(ipa);
    assert!(
        on_line(&r, 2).contains(&("WSGI003", true)),
        "{:?}",
        r.findings
    );
    assert!(
        on_line(&r, 10).contains(&("WSGI002", false)),
        "{:?}",
        r.findings
    );
    assert!(fixed_text(&r).contains("  WSGIApplicationGroup %{GLOBAL}\n"));
}
