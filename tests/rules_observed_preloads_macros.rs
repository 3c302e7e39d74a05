//! What real Apache + mod_wsgi did with preloads, macros and Defines that
//! sweeps over public and hand-made servers found wsgifix misreading: each
//! case states what httpd served or refused, and the findings, errors and
//! fixes must agree with it.

mod common;

use common::engine::{codes, fixed_text, run};

/// Preloads (both options on an alias, or a WSGIImportScript) are checked
/// by mod_wsgi while httpd reads the config: wsgifix refuses what httpd
/// refuses, in its words, and accepts what it starts.
#[test]
fn preloads_httpd_refuses_are_errors_in_its_words() {
    let later = "WSGIScriptAlias /h /srv/h.wsgi process-group=later application-group=%{GLOBAL}\nWSGIDaemonProcess later\n";
    let import = "WSGIImportScript /srv/h.wsgi process-group=later application-group=%{GLOBAL}\nWSGIDaemonProcess later\n";
    let other_vhost = "<VirtualHost *:80>\n  ServerName k1.test\n  WSGIDaemonProcess foo\n</VirtualHost>\n<VirtualHost *:80>\n  ServerName k2.test\n  WSGIScriptAlias /x /srv/x.wsgi process-group=foo application-group=%{GLOBAL}\n</VirtualHost>\n";
    // mod_wsgi compares the ServerNames read so far: before its ServerName
    // line a vhost has none.
    let name_after = "<VirtualHost *:80>\n  ServerName a.test\n  WSGIDaemonProcess X\n</VirtualHost>\n<VirtualHost *:80>\n  WSGIScriptAlias /x /srv/x.wsgi process-group=X application-group=%{GLOBAL}\n  ServerName a.test\n</VirtualHost>\n";
    let refused = [
        (later, "1:1: WSGI process group not yet configured."),
        (import, "1:1: WSGI process group not yet configured."),
        (other_vhost, "7:3: WSGI process group not accessible."),
        (name_after, "6:3: WSGI process group not matchable."),
    ];
    let accepted = [
        "WSGIDaemonProcess later\nWSGIScriptAlias /h /srv/h.wsgi process-group=later application-group=%{GLOBAL}\n".to_string(),
        other_vhost.replace("k2.test", "k1.test"),
        name_after.replace(
            "  WSGIScriptAlias /x /srv/x.wsgi process-group=X application-group=%{GLOBAL}\n  ServerName a.test\n",
            "  ServerName a.test\n  WSGIScriptAlias /x /srv/x.wsgi process-group=X application-group=%{GLOBAL}\n",
        ),
        // No preload without both options.
        later.replace(" application-group=%{GLOBAL}", ""),
    ];
    for (text, error) in refused {
        let r = run(text);
        assert_eq!(
            r.error.map(|e| e.to_string()).as_deref(),
            Some(error),
            "{text}"
        );
        assert_eq!(r.fixed, None);
    }
    for text in &accepted {
        assert_eq!(run(text).error, None, "{text}");
    }
    let Some(apache) = common::apache::require_or_skip("preload configtest") else {
        return;
    };
    let lab = common::apache::Lab::for_wsgi(&apache);
    let check = |tag: &str, body: &str| lab.check_snippet(tag, body);
    for (k, (text, error)) in refused.iter().enumerate() {
        let out = check(&format!("refused{k}"), text);
        let words = error.split_once(": ").unwrap().1;
        assert!(
            !out.ok() && out.message().contains(words),
            "{text}: {}",
            out.message()
        );
    }
    for (k, text) in accepted.iter().enumerate() {
        let out = check(&format!("accepted{k}"), text);
        assert!(out.ok(), "{text}: {}", out.message());
    }
}

/// Daemons a `Use` of a `<Macro>` defines are daemons of the server: apps
/// selecting them run in them (Apache served /a and /b from `shared`), a new
/// daemon's name avoids them (httpd refused a second `api`), and a macro
/// body may select the server's daemons.
#[test]
fn daemons_defined_by_macro_uses_are_the_servers() {
    let shared = "\
<Macro D $n $pp>
  WSGIDaemonProcess $n python-path=$pp threads=3
</Macro>
<VirtualHost *:80>
  ServerName mac.test
  Use D shared /srv/lib1
  WSGIProcessGroup shared
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias /a /srv/a1.wsgi
  WSGIScriptAlias /b /srv/a2.wsgi
</VirtualHost>
";
    let r = run(shared);
    assert_eq!(codes(&r), [("WSGI002", 10, false)], "{:#?}", r.findings);
    assert!(
        r.findings[0]
            .not_fixed
            .is_some_and(|w| w.contains("<Macro>")),
        "{:#?}",
        r.findings
    );
    let collision = "\
<Macro Daemon $n>
  WSGIDaemonProcess $n python-path=/srv/lib2
</Macro>
Use Daemon api
<VirtualHost *:80>
  ServerName col.test
  WSGIDaemonProcess main python-path=/srv/lib1
  WSGIProcessGroup main
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias /web /srv/a1.wsgi
  WSGIScriptAlias /api /srv/a2.wsgi
</VirtualHost>
";
    let r = run(collision);
    let fixed = fixed_text(&r);
    assert!(
        fixed.contains("WSGIDaemonProcess col_api python-path=/srv/lib1\n"),
        "{fixed}"
    );
    let body_selects_server_daemon = "\
WSGIDaemonProcess shared python-path=/srv/lib1
<Macro VH $host $app>
<VirtualHost *:80>
  ServerName $host
  WSGIProcessGroup shared
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias /m /srv/$app
</VirtualHost>
</Macro>
Use VH mm1.test a1.wsgi
";
    let r = run(body_selects_server_daemon);
    assert!(
        r.findings.iter().all(|f| f.code != "WSGI004"),
        "{:#?}",
        r.findings
    );
    // Two uses that define one name are the duplicate httpd refuses.
    let twice = format!(
        "{}Use D shared /srv/lib2\n",
        shared.replace("<VirtualHost", "Use D shared /srv/lib1\n<VirtualHost")
    );
    let r = run(&twice);
    assert!(
        r.findings.iter().any(|f| f.code == "WSGI005" && !f.fixable),
        "{:#?}",
        r.findings
    );
}

#[test]
fn the_app_a_preload_holds_keeps_the_shared_daemon() {
    // pulp's content app is preloaded into pulp-content, and cobbler shared
    // it: cobbler moves, with the daemon's options.
    let conf = "\
WSGIDaemonProcess pulp-content processes=2 python-path=/srv/pulp
WSGIProcessGroup pulp-content
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias /cobbler_web /srv/cobbler/cobbler.wsgi
WSGIImportScript /srv/pulp/content.wsgi process-group=pulp-content application-group=%{GLOBAL}
WSGIScriptAlias /pulp/content /srv/pulp/content.wsgi
";
    let r = run(conf);
    assert_eq!(codes(&r), [("WSGI002", 4, true)], "{:#?}", r.findings);
    let fixed = fixed_text(&r);
    assert!(
        fixed.contains("WSGIDaemonProcess cobbler_web processes=2 python-path=/srv/pulp\n"),
        "{fixed}"
    );
}

#[test]
fn a_scope_wide_global_takes_every_preload_it_reaches_along() {
    // Daemon Y went on creating interpreter 'myapp' at start-up after the
    // vhost's WSGIApplicationGroup became %{GLOBAL} by the fix of /a.
    let conf = "\
<VirtualHost *:80>
  ServerName v.test
  WSGIDaemonProcess X python-path=/srv/lib1 threads=2
  WSGIDaemonProcess Y python-path=/srv/lib2
  WSGIScriptAlias /a /srv/a1.wsgi process-group=X
  WSGIProcessGroup Y
  WSGIApplicationGroup myapp
  WSGIImportScript /srv/a3.wsgi process-group=Y application-group=myapp
  WSGIScriptAlias /c /srv/a3.wsgi
</VirtualHost>
";
    let fixed = fixed_text(&run(conf));
    assert!(
        fixed.contains(
            "WSGIImportScript /srv/a3.wsgi process-group=Y application-group=%{GLOBAL}\n"
        ),
        "{fixed}"
    );
    assert!(
        fixed.contains("  WSGIApplicationGroup %{GLOBAL}\n"),
        "{fixed}"
    );
}

#[test]
fn a_define_decides_the_if_defines_read_after_it() {
    // httpd: Syntax OK (the <IfDefine !X> branch is never read).
    let conf = "\
Define X
<VirtualHost *:80>
  ServerName i.test
  <IfDefine !X>
    WSGIDaemonProcess d python-path=/srv/lib1
  </IfDefine>
  WSGIDaemonProcess d python-path=/srv/lib2
  WSGIProcessGroup d
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias /a /srv/a1.wsgi
</VirtualHost>
";
    assert!(run(conf).findings.is_empty(), "{:#?}", run(conf).findings);
    // Read before the Define, or after an UnDefine, the branch is undecided
    // again, and exclusive with nothing here: the duplicate httpd may meet.
    for text in [
        conf.replace("Define X\n", "")
            .replace("</VirtualHost>\n", "</VirtualHost>\nDefine X\n"),
        conf.replace("Define X\n", "Define X\nUnDefine X\n"),
    ] {
        let r = run(&text);
        assert!(
            r.findings.iter().any(|f| f.code == "WSGI005"),
            "{text}\n{:#?}",
            r.findings
        );
    }
    // <IfDefine X> after it is read as always there.
    let always = conf
        .replace("<IfDefine !X>", "<IfDefine X>")
        .replace("  WSGIDaemonProcess d python-path=/srv/lib2\n", "");
    let r = run(&always);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}

#[test]
fn groups_a_use_of_a_macro_sets_are_the_scopes() {
    // Apache served /a and /b from `shared` (lib1), in sub-interpreters;
    // wsgifix called both embedded and gave /b a bare daemon without lib1.
    let conf = "\
<Macro PG $g>
  WSGIDaemonProcess $g python-path=/srv/lib1
  WSGIProcessGroup $g
  WSGIApplicationGroup %{SERVER}
</Macro>
<VirtualHost *:80>
  ServerName d30.test
  Use PG shared
  WSGIScriptAlias /a /srv/a1.wsgi
  WSGIScriptAlias /b /srv/a2.wsgi
</VirtualHost>
";
    let r = run(conf);
    assert_eq!(r.fixed, None, "{}", fixed_text(&r));
    let found: Vec<_> = r.findings.iter().map(|f| (f.code, f.line)).collect();
    assert_eq!(
        found,
        [("WSGI003", 9), ("WSGI002", 10), ("WSGI003", 10)],
        "{:#?}",
        r.findings
    );
    assert!(r
        .findings
        .iter()
        .all(|f| f.not_fixed.is_some_and(|w| w.contains("<Macro>"))));
    // A later directive of the scope overrides the expansion's, as httpd
    // reads them.
    let later = conf.replace(
        "  Use PG shared\n",
        "  Use PG shared\n  WSGIApplicationGroup %{GLOBAL}\n",
    );
    let r = run(&later);
    assert!(
        r.findings.iter().all(|f| f.code == "WSGI002"),
        "{:#?}",
        r.findings
    );
}

/// WSGIImportScript belongs to the server or a vhost: httpd refuses it in a
/// per-directory section, and wsgifix says so in httpd's words.
#[test]
fn an_import_in_a_per_directory_section_is_refused_as_httpd_does() {
    let cases = [
        ("<Location /y>", "</Location>", "<Location>"),
        ("<Directory /srv>", "</Directory>", "<Directory>"),
    ];
    let Some(apache) = common::apache::require_or_skip("import context configtest") else {
        for (open, close, context) in cases {
            let text = format!("{open}\nWSGIImportScript /srv/a1.wsgi process-group=%{{GLOBAL}} application-group=%{{GLOBAL}}\n{close}\n");
            let e = run(&text).error.expect("an error").to_string();
            assert_eq!(
                e,
                format!("2:1: WSGIImportScript not allowed in {context} context")
            );
        }
        return;
    };
    let lab = common::apache::Lab::for_wsgi(&apache);
    for (k, (open, close, context)) in cases.iter().enumerate() {
        let text = format!("{open}\nWSGIImportScript /srv/a1.wsgi process-group=%{{GLOBAL}} application-group=%{{GLOBAL}}\n{close}\n");
        let words = format!("WSGIImportScript not allowed in {context} context");
        let e = run(&text).error.expect("an error").to_string();
        assert_eq!(e, format!("2:1: {words}"));
        let out = lab.check_snippet(&format!("import{k}"), &text);
        assert!(
            !out.ok() && out.message().contains(&words),
            "{}",
            out.message()
        );
    }
}

#[test]
fn a_macro_body_takes_the_servers_own_groups() {
    // Apache served /m (in the Use'd vhost) from D in the main interpreter:
    // the body sets no WSGIApplicationGroup, and the server's applies.
    let conf = "\
WSGIDaemonProcess D
WSGIApplicationGroup %{GLOBAL}
<VirtualHost *:80>
  ServerName plain.test
  WSGIProcessGroup D
  WSGIScriptAlias /p /srv/a1.wsgi
</VirtualHost>
<Macro M $port>
<VirtualHost *:$port>
  ServerName mac.test
  WSGIProcessGroup D
  WSGIScriptAlias /m /srv/a2.wsgi
</VirtualHost>
</Macro>
Use M 81
";
    let r = run(conf);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    // Without the server's value, the body's app runs in a sub-interpreter.
    let r = run(&conf.replace("WSGIApplicationGroup %{GLOBAL}\n", ""));
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "WSGI003" && f.line == 11),
        "{:#?}",
        r.findings
    );
    assert_eq!(codes(&r).iter().filter(|c| c.0 == "WSGI003").count(), 2);
}

#[test]
fn what_a_macro_body_finding_cites_is_numbered_as_the_file() {
    // A sweep's server: /b shares the body's daemon with /app; the finding
    // stands at the file's line 10 and must cite the WSGIProcessGroup at the
    // file's line 7 (the body's fourth line).
    let conf = "\
Listen 127.0.0.1:21320
ServerName localhost
<Macro Site $name>
<VirtualHost 127.0.0.1:21320>
  ServerName $name.test
  WSGIDaemonProcess $name
  WSGIProcessGroup $name
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias /app /srv/a1.wsgi
  WSGIScriptAlias /b /srv/a2.wsgi
</VirtualHost>
</Macro>
Use Site one
";
    let r = run(conf);
    let shared: Vec<_> = r.findings.iter().filter(|f| f.code == "WSGI002").collect();
    assert_eq!(shared.len(), 1, "{:#?}", r.findings);
    assert_eq!((shared[0].line, shared[0].column), (10, 3));
    assert!(
        shared[0]
            .message
            .contains("WSGIProcessGroup $name at line 7"),
        "{}",
        shared[0].message
    );
}

#[test]
fn a_preload_into_the_apps_resource_interpreter_by_name_follows_the_app() {
    // Apache's log: the import loaded a.wsgi at start-up into
    // 'is.example:18427|/a', the interpreter /a ran in; after a fix that
    // left it there, /a was loaded a second time into ''.
    let conf = "\
<VirtualHost *:18427>
    ServerName is.example
    WSGIDaemonProcess d
    WSGIProcessGroup d
    WSGIScriptAlias /a /srv/a.wsgi
    WSGIImportScript /srv/a.wsgi process-group=d application-group=is.example:18427|/a
</VirtualHost>
";
    let r = run(conf);
    assert_eq!(codes(&r), [("WSGI003", 5, true)], "{:#?}", r.findings);
    let fixed = fixed_text(&r);
    assert!(
        fixed
            .contains("WSGIImportScript /srv/a.wsgi process-group=d application-group=%{GLOBAL}\n"),
        "{fixed}"
    );
    // On port 80 the name has no port, and `/` gives an empty URL.
    let conf = conf
        .replace(":18427", ":80")
        .replace("/a /srv", "/ /srv")
        .replace("is.example:80|/a", "is.example|");
    let fixed = fixed_text(&run(&conf));
    assert!(fixed.contains("application-group=%{GLOBAL}\n"), "{fixed}");
}

#[test]
fn apps_a_use_mounts_are_the_scopes_apps() {
    // A sweep's vhost: Apache served /one, /two (each `Use WsgiApp`) and
    // /plain from the vhost's `apps`, one pid for the three. The body read
    // alone had a false embedded /$name, and the sharing was missed.
    let conf = "\
<VirtualHost *:80>
    ServerName mc.example
    WSGIDaemonProcess apps processes=2 threads=15
    WSGIProcessGroup apps
    WSGIApplicationGroup %{GLOBAL}
    <Macro WsgiApp $name>
        WSGIScriptAlias /$name /srv/$name.wsgi
    </Macro>
    Use WsgiApp one
    Use WsgiApp two
    WSGIScriptAlias /plain /srv/plain.wsgi
</VirtualHost>
";
    let r = run(conf);
    // /one keeps `apps`; /two is reported where its Use stands, and not
    // fixed (the expansion is never rewritten); /plain moves.
    assert_eq!(
        codes(&r),
        [("WSGI002", 10, false), ("WSGI002", 11, true)],
        "{:#?}",
        r.findings
    );
    let fixed = fixed_text(&r);
    assert!(
        fixed.contains("    Use WsgiApp one\n    Use WsgiApp two\n"),
        "{fixed}"
    );
    assert!(fixed.contains("WSGIDaemonProcess plain"), "{fixed}");
}

#[test]
fn a_preload_compares_server_names_without_their_scheme() {
    // apache2 -t: Syntax OK with `ServerName https://x.test:18999` on the
    // daemon's vhost and `x.test` on the preload's; "not accessible" with
    // `y.test`. The preload check kept the scheme and refused the first.
    let conf = "\
<VirtualHost *:18999>
ServerName https://x.test:18999
WSGIDaemonProcess d
</VirtualHost>
<VirtualHost *:18998>
ServerName x.test
WSGIImportScript /srv/x.wsgi process-group=d application-group=%{GLOBAL}
</VirtualHost>
";
    let r = run(conf);
    assert!(r.error.is_none(), "{:?}", r.error);
    let r = run(&conf.replace("https://x.test", "y.test"));
    assert_eq!(
        r.error.map(|e| e.to_string()).as_deref(),
        Some("7:1: WSGI process group not accessible.")
    );
}
