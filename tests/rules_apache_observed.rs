//! What real Apache + mod_wsgi did with configs that sweeps over public
//! and hand-made servers found wsgifix misreading: each case states what
//! httpd served (process group, application group), and the findings and
//! fixes must agree with it.

mod common;

use common::engine::{codes, fixed_text, run};

#[test]
fn server_and_host_interpreters_are_not_the_main_one() {
    // Apache served /a with application_group 'x.test' for %{SERVER}, the
    // Host for %{HOST}, and '%{global}' verbatim: mod_wsgi reads its tokens
    // case-sensitively.
    for value in ["%{SERVER}", "%{HOST}", "%{global}"] {
        let conf = format!(
            "<VirtualHost *:80>\n  ServerName x.test\n  WSGIDaemonProcess x\n  WSGIProcessGroup x\n  WSGIApplicationGroup {value}\n  WSGIScriptAlias /a /srv/a.wsgi\n</VirtualHost>\n"
        );
        let r = run(&conf);
        assert_eq!(
            codes(&r),
            [("WSGI003", 6, true)],
            "{value}: {:#?}",
            r.findings
        );
        assert!(
            fixed_text(&r).contains("  WSGIApplicationGroup %{GLOBAL}\n"),
            "{value}: {}",
            fixed_text(&r)
        );
    }
    // Chosen per request from the environment: not judged.
    let env = "<VirtualHost *:80>\n  WSGIDaemonProcess x\n  WSGIProcessGroup x\n  WSGIApplicationGroup %{ENV:GROUP}\n  WSGIScriptAlias /a /srv/a.wsgi\n</VirtualHost>\n";
    assert!(run(env).findings.is_empty());
}

#[test]
fn a_split_app_keeps_the_options_of_the_daemon_it_leaves() {
    // /two ran with main's python-path; the unused `spare` has another one,
    // so taking it would break /two's imports: it gets a copy of `main`.
    let conf = "\
<VirtualHost *:80>
  ServerName u.test
  WSGIDaemonProcess main python-path=/srv/lib1 threads=5
  WSGIDaemonProcess spare python-path=/srv/lib2
  WSGIProcessGroup main
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias /one /srv/a1.wsgi
  WSGIScriptAlias /two /srv/a2.wsgi
</VirtualHost>
";
    let r = run(conf);
    assert_eq!(codes(&r), [("WSGI002", 8, true)], "{:#?}", r.findings);
    let fixed = fixed_text(&r);
    assert!(
        fixed.contains("  WSGIDaemonProcess two python-path=/srv/lib1 threads=5\n"),
        "{fixed}"
    );
    assert!(!fixed.contains("WSGIProcessGroup spare"), "{fixed}");
    // A spare defined with the same options is as good as a copy.
    let same = conf.replace(
        "spare python-path=/srv/lib2",
        "spare python-path=/srv/lib1 threads=5",
    );
    let fixed = fixed_text(&run(&same));
    assert!(fixed.contains("WSGIProcessGroup spare"), "{fixed}");
    assert_eq!(fixed.matches("WSGIDaemonProcess").count(), 2, "{fixed}");
}

#[test]
fn a_daemon_defined_apart_under_if_define_is_not_copied() {
    // Run without -DPROD, /i2 imported from lib2; a copy of the first
    // definition would have given it lib1.
    let conf = "\
<IfDefine PROD>
  WSGIDaemonProcess dd python-path=/srv/lib1
</IfDefine>
<IfDefine !PROD>
  WSGIDaemonProcess dd python-path=/srv/lib2
</IfDefine>
<VirtualHost *:80>
  ServerName i.test
  WSGIProcessGroup dd
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias /i /srv/a3.wsgi
  WSGIScriptAlias /i2 /srv/a4.wsgi
</VirtualHost>
";
    let r = run(conf);
    assert_eq!(codes(&r), [("WSGI002", 12, false)], "{:#?}", r.findings);
    assert!(
        r.findings[0]
            .not_fixed
            .is_some_and(|w| w.contains("<IfDefine>")),
        "{:#?}",
        r.findings
    );
    assert_eq!(r.fixed, None);
}

#[test]
fn a_directory_naming_the_script_itself_covers_it() {
    // Apache served /app from d1 in the main interpreter for both: a
    // <Directory> applies to the script's own path too (climatewizard's
    // README names the .wsgi file).
    for dir in ["/srv/app.wsgi", "/srv/*.wsgi", "/srv"] {
        let conf = format!(
            "WSGIDaemonProcess d1\nWSGIScriptAlias /app /srv/app.wsgi\n<Directory {dir}>\n    WSGIProcessGroup d1\n    WSGIApplicationGroup %{{GLOBAL}}\n</Directory>\n"
        );
        let r = run(&conf);
        assert!(r.findings.is_empty(), "{dir}: {:#?}", r.findings);
        assert_eq!(r.fixed, None, "{dir}");
    }
    // One that names another script, or a directory below the script's,
    // does not.
    for dir in ["/srv/other.wsgi", "/srv/app.wsgi/x", "/srv/*.py"] {
        let conf = format!(
            "WSGIDaemonProcess d1\nWSGIScriptAlias /app /srv/app.wsgi\n<Directory {dir}>\n    WSGIProcessGroup d1\n</Directory>\n"
        );
        let r = run(&conf);
        assert!(
            r.findings.iter().any(|f| f.code == "WSGI001"),
            "{dir}: {:#?}",
            r.findings
        );
    }
}

#[test]
fn groups_decided_per_request_are_not_guessed() {
    // Apache served both apps from r2 through the <If>, and /two from d2
    // through the wildcard <Location> (which httpd matches against the
    // whole URL: /two, not /two/x). Neither is "embedded" for sure, and a
    // fix added beside them would be overridden or split the app.
    let conf = "\
<VirtualHost *:80>
  ServerName r2.test
  WSGIDaemonProcess r2
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias /one /srv/a3.wsgi
  WSGIScriptAlias /two /srv/a4.wsgi
  <If \"%{REQUEST_URI} =~ m#^/#\">
    WSGIProcessGroup r2
  </If>
</VirtualHost>
";
    for text in [
        conf.to_string(),
        conf.replace("<If \"%{REQUEST_URI} =~ m#^/#\">", "<Location /*o>")
            .replace("</If>", "</Location>"),
    ] {
        let r = run(&text);
        assert_eq!(r.fixed, None, "{text}");
        assert!(
            r.findings.iter().all(|f| !f.fixable
                && f.message.contains("cannot decide whether")
                && f.not_fixed.is_some()),
            "{text}: {:#?}",
            r.findings
        );
    }
    // A wildcard whose literal start parts from the URL is simply no cover.
    let apart = conf
        .replace("<If \"%{REQUEST_URI} =~ m#^/#\">", "<Location /static/*>")
        .replace("</If>", "</Location>");
    let r = run(&apart);
    assert!(
        r.findings.iter().all(|f| f.code == "WSGI001" && f.fixable),
        "{:#?}",
        r.findings
    );
}

#[test]
fn global_for_an_alias_before_its_daemon_needs_a_directory_of_its_own() {
    let alias = "WSGIScriptAlias /horizon /srv/horizon/wsgi.py process-group=horizon\nWSGIDaemonProcess horizon processes=3 threads=10\n";
    // A <Directory> that also holds another app's script is no place.
    let shared_dir = format!(
        "{alias}WSGIScriptAlias /other /srv/horizon/other.wsgi process-group=horizon application-group=%{{GLOBAL}}\n<Directory /srv/horizon>\n  Require all granted\n</Directory>\n"
    );
    for text in [alias.to_string(), shared_dir] {
        let r = run(&text);
        let wsgi003: Vec<_> = r.findings.iter().filter(|f| f.line == 1).collect();
        assert!(
            !wsgi003.is_empty()
                && wsgi003
                    .iter()
                    .all(|f| !f.fixable
                        && f.not_fixed.is_some_and(|w| w.contains("defined after it"))),
            "{text}\n{:#?}",
            r.findings
        );
        assert!(!fixed_text(&r).contains("application-group=%{GLOBAL}\nWSGIDaemonProcess"));
    }
}

#[test]
fn a_location_with_a_trailing_slash_covers_only_what_is_below() {
    // Apache: GET /app ran embedded, GET /app/x in d1.
    let conf = "\
<VirtualHost *:80>
  WSGIDaemonProcess d1
  WSGIScriptAlias /app /srv/sub/app.wsgi
  <Location /app/>
    WSGIProcessGroup d1
    WSGIApplicationGroup %{GLOBAL}
  </Location>
</VirtualHost>
";
    let r = run(conf);
    assert_eq!(
        codes(&r),
        [("WSGI001", 3, false), ("WSGI003", 3, false)],
        "{:#?}",
        r.findings
    );
    assert!(r
        .findings
        .iter()
        .all(|f| f.message.contains("cannot decide whether <Location /app/>")));
    // Mounted at /app/ (or below), every request is under the section.
    for mount in ["/app/", "/app/x"] {
        let r = run(&conf.replace(
            "WSGIScriptAlias /app ",
            &format!("WSGIScriptAlias {mount} "),
        ));
        assert!(r.findings.is_empty(), "{mount}: {:#?}", r.findings);
    }
}

#[test]
fn what_only_a_server_without_mod_wsgi_reads_is_no_app() {
    // Apache answered 404 for /dead: mod_wsgi is loaded, so the block is
    // never read.
    for guard in ["!mod_wsgi.c", "!wsgi_module"] {
        let conf = format!(
            "<VirtualHost *:80>\n  WSGIDaemonProcess im\n  WSGIProcessGroup im\n  WSGIApplicationGroup %{{GLOBAL}}\n  WSGIScriptAlias /live /srv/a1.wsgi\n  <IfModule {guard}>\n    WSGIScriptAlias /dead /srv/a3.wsgi\n  </IfModule>\n</VirtualHost>\n"
        );
        let r = run(&conf);
        assert!(r.findings.is_empty(), "{guard}: {:#?}", r.findings);
    }
    // Under the module's own guard the app is as live as any.
    let conf = "<VirtualHost *:80>\n  WSGIDaemonProcess im\n  WSGIProcessGroup im\n  WSGIApplicationGroup %{GLOBAL}\n  WSGIScriptAlias /live /srv/a1.wsgi\n  <IfModule mod_wsgi.c>\n    WSGIScriptAlias /also /srv/a3.wsgi\n  </IfModule>\n</VirtualHost>\n";
    assert_eq!(codes(&run(conf)), [("WSGI002", 7, true)]);
}

#[test]
fn global_is_not_given_to_apps_left_sharing_a_process() {
    // /a and /b share daemon `d`, which cannot be split (defined apart
    // under <IfDefine>s). Each runs in a sub-interpreter of its own;
    // %{GLOBAL} would put both in one.
    let conf = "\
<VirtualHost *:80>
  ServerName b1.test
  <IfDefine !STAGE>
    WSGIDaemonProcess d python-path=/srv/lib1
  </IfDefine>
  <IfDefine STAGE>
    WSGIDaemonProcess d python-path=/srv/lib2
  </IfDefine>
  WSGIProcessGroup d
  WSGIScriptAlias /a /srv/a1.wsgi
  WSGIScriptAlias /b /srv/a2.wsgi
</VirtualHost>
";
    let r = run(conf);
    assert_eq!(r.fixed, None, "{}", fixed_text(&r));
    let wsgi003: Vec<_> = r.findings.iter().filter(|f| f.code == "WSGI003").collect();
    assert_eq!(wsgi003.len(), 2, "{:#?}", r.findings);
    assert!(
        wsgi003
            .iter()
            .all(|f| !f.fixable && f.not_fixed.is_some_and(|w| w.contains("one interpreter"))),
        "{:#?}",
        r.findings
    );
    // Once the daemon is one definition, /b is split off and both get it.
    let one = conf.replace(
        "  <IfDefine STAGE>\n    WSGIDaemonProcess d python-path=/srv/lib2\n  </IfDefine>\n",
        "",
    );
    let r = run(&one);
    assert!(r.findings.iter().all(|f| f.fixable), "{:#?}", r.findings);
    assert!(fixed_text(&r).contains("WSGIApplicationGroup %{GLOBAL}"));
}

#[test]
fn files_sections_stand_for_what_httpd_matches() {
    // Apache served /p/app.py as plain text: <Files> matches a file's name,
    // never a path.
    let path = "WSGIDaemonProcess d2\nAlias /p /srv/h2\n<Files /srv/h2/app.py>\n  SetHandler wsgi-script\n  WSGIProcessGroup d2\n</Files>\n";
    let a = wsgifix::analysis::analyse(&wsgifix::syntax::parse(path.as_bytes()).unwrap());
    assert!(a.mounts.is_empty(), "{:#?}", a.mounts);
    // Under a DocumentRoot, without a <Directory> around it, <Files app.py>
    // is every app.py of the tree: Apache ran x/app.py and y/app.py in
    // interpreters of their own.
    let docroot = "DocumentRoot /srv/docroot\n<Directory /srv/docroot>\n  Options ExecCGI\n</Directory>\n<Files app.py>\n  SetHandler wsgi-script\n</Files>\n";
    let r = run(docroot);
    assert!(r.fixed.is_none(), "{}", fixed_text(&r));
    assert!(
        !r.findings.is_empty()
            && r.findings
                .iter()
                .all(|f| f.not_fixed.is_some_and(|w| w.contains("several scripts"))),
        "{:#?}",
        r.findings
    );
}

#[test]
fn a_vhost_under_if_define_leaves_the_main_server_its_apps() {
    // radicale's contrib config: with VH undefined, Apache served /k1 and
    // /k2 from the main server, both in `rad` (one pid).
    let conf = "\
WSGIDaemonProcess rad python-path=/srv/lib1
WSGIProcessGroup rad
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias /k1 /srv/a2.wsgi
WSGIScriptAlias /k2 /srv/a3.wsgi
<IfDefine VH>
<VirtualHost _default_:80>
  WSGIScriptAlias / /srv/a1.wsgi
</VirtualHost>
</IfDefine>
";
    let r = run(conf);
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "WSGI002" && f.line == 5),
        "{:#?}",
        r.findings
    );
}

#[test]
fn a_daemon_an_app_may_take_is_read_whenever_the_app_is() {
    // `spare` exists only with -D SPARE: taken for /a, every request would
    // fail without it.
    let conf =
        "<IfDefine SPARE>\nWSGIDaemonProcess spare\n</IfDefine>\nWSGIScriptAlias /a /srv/a.wsgi\n";
    let fixed = fixed_text(&run(conf));
    assert!(fixed.contains("WSGIDaemonProcess a\n"), "{fixed}");
    assert!(!fixed.contains("process-group=spare"), "{fixed}");
    // Under the same <IfDefine> as the app, it is as good as any.
    let same =
        "<IfDefine SPARE>\nWSGIDaemonProcess spare\nWSGIScriptAlias /a /srv/a.wsgi\n</IfDefine>\n";
    assert!(fixed_text(&run(same)).contains("process-group=spare"));
}

#[test]
fn an_embedded_app_keeps_the_servers_python_path_in_its_daemon() {
    // Apache: the app imported from lib1 embedded and from lib2 in `spare`.
    let conf = "\
WSGIPythonPath /srv/lib1
<VirtualHost *:80>
  ServerName d35.test
  WSGIDaemonProcess spare python-path=/srv/lib2
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias /e /srv/a1.wsgi
</VirtualHost>
";
    let fixed = fixed_text(&run(conf));
    assert!(
        fixed.contains("WSGIDaemonProcess e python-path=/srv/lib1\n"),
        "{fixed}"
    );
    // Without WSGIPythonPath the spare its author defined is the one.
    let fixed = fixed_text(&run(&conf.replace("WSGIPythonPath /srv/lib1\n", "")));
    assert!(fixed.contains("WSGIProcessGroup spare\n"), "{fixed}");
}

#[test]
fn apps_a_later_location_takes_over_are_split_by_their_alias_options() {
    // The fleet's generated sites: each app's <Location> selects its own
    // daemon, but the <Location /> after them wins (httpd merges the later
    // one over), so all three run in site2_app0. A selection in /app1's
    // own <Location> would be overridden again; the alias option is not
    // (mod_wsgi: it beats every section).
    let mut conf = String::from("<VirtualHost *:80>\n    ServerName site2.example.org\n");
    for (url, app) in [("/app2", "app2"), ("/app1", "app1"), ("/", "app0")] {
        conf.push_str(&format!(
            "    WSGIDaemonProcess site2_{app} processes=2 threads=15 python-home=/srv/site2/venv\n    WSGIScriptAlias {url} /srv/site2/{app}/wsgi.py\n    <Location {url}>\n        WSGIProcessGroup site2_{app}\n    </Location>\n"
        ));
    }
    conf.push_str("</VirtualHost>\n");
    let r = run(&conf);
    assert!(r.findings.iter().all(|f| f.fixable), "{:#?}", r.findings);
    let fixed = fixed_text(&r);
    for (url, app) in [("/app1", "app1"), ("/", "app0")] {
        assert!(
            fixed.contains(&format!(
                "WSGIScriptAlias {url} /srv/site2/{app}/wsgi.py process-group={app}\n"
            )),
            "{fixed}"
        );
    }
    assert!(
        fixed.contains("    WSGIApplicationGroup %{GLOBAL}\n"),
        "{fixed}"
    );
    let again = run(&fixed);
    assert!(again.findings.is_empty(), "{:#?}", again.findings);
}

#[test]
fn an_if_chain_is_named_branch_by_branch() {
    let conf = "<VirtualHost *:80>\nWSGIDaemonProcess d\nWSGIProcessGroup d\nWSGIScriptAlias /f /srv/f.wsgi\n<Location /f>\n<If \"-n %{HTTP:X-H}\">\nWSGIApplicationGroup %{GLOBAL}\n</If>\n<ElseIf \"-n %{HTTP:X-J}\">\nWSGIApplicationGroup %{GLOBAL}\n</ElseIf>\n<Else>\nWSGIApplicationGroup %{GLOBAL}\n</Else>\n</Location>\n</VirtualHost>\n";
    let r = run(conf);
    let m = &r.findings[0].message;
    for part in [
        "<If -n %{HTTP:X-H}> (line 7)",
        "<ElseIf -n %{HTTP:X-J}> (line 10)",
        "<Else> (line 13)",
    ] {
        assert!(m.contains(part), "{part}: {m}");
    }
}

#[test]
fn one_daemon_name_in_exclusive_branches_is_two_daemons() {
    // A sweep's radicale server: with VH defined, Apache served / of the
    // vhost from its own `rad` alone; without it, /radicale and /k1 shared
    // the server-level `rad`. The vhost's app shares nothing and stays.
    let conf = "\
WSGIScriptAlias /k1 /srv/a2.wsgi
<IfDefine !VH>
  WSGIDaemonProcess rad python-path=/srv/lib1
  WSGIProcessGroup rad
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias /radicale /srv/a1.wsgi
</IfDefine>
<IfDefine VH>
<VirtualHost _default_:8081>
  WSGIDaemonProcess rad python-path=/srv/lib1
  WSGIProcessGroup rad
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias / /srv/a1.wsgi
</VirtualHost>
</IfDefine>
";
    // /k1 runs in `rad` only without -D VH: which one, only httpd's
    // command line says, so its findings are reported, not fixed.
    let r = run(conf);
    assert_eq!(
        codes(&r),
        [("WSGI001", 1, false), ("WSGI003", 1, false)],
        "{:#?}",
        r.findings
    );
    // With /k1 in the !VH branch too, /radicale shares `rad` with it: the
    // vhost's app, alone in its own `rad`, is still left alone.
    let conf = conf.replace(
        "WSGIScriptAlias /k1 /srv/a2.wsgi\n<IfDefine !VH>\n",
        "<IfDefine !VH>\n  WSGIScriptAlias /k1 /srv/a2.wsgi\n",
    );
    let r = run(&conf);
    assert_eq!(codes(&r), [("WSGI002", 6, true)], "{:#?}", r.findings);
    let fixed = fixed_text(&r);
    let vhost = &fixed[fixed.find("<VirtualHost").unwrap()..];
    assert!(
        vhost.contains("  WSGIProcessGroup rad\n") && !vhost.contains("WSGIDaemonProcess a1"),
        "{fixed}"
    );
}

#[test]
fn define_values_are_substituted_as_httpd_reads_each_line() {
    // Tero Karvinen's Django guide, two sites on one server: each Defines
    // its user and paths, names its daemon `${TUSER}` and Undefines them.
    // Apache served both from their own daemons (www-data, daemon) in the
    // main interpreter; the guide's config has nothing to fix.
    let site = |user: &str, dir: &str, port: u16| {
        format!(
            "Define TDIR /srv/{dir}\nDefine TWSGI /srv/{dir}/{dir}/wsgi.py\nDefine TUSER {user}\n\
             Listen {port}\n<VirtualHost *:{port}>\n\
             \tWSGIDaemonProcess ${{TUSER}} user=${{TUSER}} group=${{TUSER}} threads=5 python-path=\"${{TDIR}}\"\n\
             \tWSGIScriptAlias / ${{TWSGI}}\n\
             \t<Directory ${{TDIR}}>\n\t\tWSGIProcessGroup ${{TUSER}}\n\t\tWSGIApplicationGroup %{{GLOBAL}}\n\t</Directory>\n\
             </VirtualHost>\nUndefine TDIR\nUndefine TWSGI\nUndefine TUSER\n"
        )
    };
    let conf = format!(
        "{}{}",
        site("daemon", "kauppa", 8399),
        site("www-data", "perusta", 8398)
    );
    let r = run(&conf);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert!(r.fixed.is_none());

    // A daemon named `${SVC}-public` is glance-public: the second vhost's
    // app shares it (Apache: one pid for both scripts).
    let conf = "\
Define SVC glance
<VirtualHost *:8365>
  WSGIDaemonProcess ${SVC}-public processes=1
  WSGIProcessGroup ${SVC}-public
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias / /srv/a.wsgi
</VirtualHost>
<VirtualHost *:8366>
  WSGIProcessGroup glance-public
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias / /srv/b.wsgi
</VirtualHost>
";
    let r = run(conf);
    let found: Vec<_> = codes(&r).into_iter().map(|c| (c.0, c.1)).collect();
    assert_eq!(found, [("WSGI002", 11)], "{:#?}", r.findings);

    // One httpd's environment sets is unknown: no finding claims a 500.
    let conf = "\
WSGIDaemonProcess ${APP_USER}
<VirtualHost *:80>
  WSGIDaemonProcess ${APP_USER}
  WSGIProcessGroup ${APP_USER}
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias / /srv/a.wsgi
</VirtualHost>
";
    let r = run(conf);
    assert!(
        r.findings
            .iter()
            .all(|f| !["WSGI004", "WSGI005", "WSGI006"].contains(&f.code)),
        "{:#?}",
        r.findings
    );
}

#[test]
fn a_server_name_with_a_scheme_is_its_host() {
    // Apache served both vhosts from `kal` (one pid): httpd keeps the
    // scheme of `ServerName https://host:port` apart, and mod_wsgi
    // compares the host.
    let conf = "\
<VirtualHost *:8423>
    ServerName kal.example.com
    WSGIDaemonProcess kal
    WSGIProcessGroup kal
    WSGIApplicationGroup %{GLOBAL}
    WSGIScriptAlias / /srv/app.wsgi
</VirtualHost>
<VirtualHost *:8424>
    ServerName https://kal.example.com:8424
    WSGIProcessGroup kal
    WSGIApplicationGroup %{GLOBAL}
    WSGIScriptAlias / /srv/app.wsgi
</VirtualHost>
";
    let r = run(conf);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    // Another host is another vhost to mod_wsgi (Apache: 500).
    let r = run(&conf.replace("https://kal.", "https://other."));
    assert_eq!(codes(&r), [("WSGI006", 12, false)], "{:#?}", r.findings);
}

#[test]
fn a_script_path_followed_by_a_slash_or_a_capture_is_one_script() {
    // Review Board writes its script as `.../reviewboard.wsgi/`, Mozilla's
    // hg vhost maps `^/dist(.*)` to `.../hgweb.wsgi$1`: Apache ran one
    // script in one interpreter for every URL of each, and a daemon with
    // %{GLOBAL} put by hand served them.
    let rb = "\
<VirtualHost *:80>
  ServerName reviews.example.com
  WSGIScriptAlias \"/\" \"/srv/rb/htdocs/reviewboard.wsgi/\"
</VirtualHost>
";
    let r = run(rb);
    assert_eq!(
        codes(&r),
        [("WSGI001", 3, true), ("WSGI003", 3, true)],
        "{:#?}",
        r.findings
    );
    let hg = "\
<VirtualHost *:80>
  ServerName hg.example.org
  WSGIDaemonProcess hg processes=2 threads=1
  WSGIProcessGroup hg
  WSGIScriptAliasMatch ^/dist(.*) /srv/webroot/dist/hgweb.wsgi$1
</VirtualHost>
";
    let r = run(hg);
    assert_eq!(codes(&r), [("WSGI003", 5, true)], "{:#?}", r.findings);
    // A directory's scripts are still several apps.
    let r = run(&rb.replace("reviewboard.wsgi/", "scripts/"));
    assert!(r.findings.iter().all(|f| !f.fixable), "{:#?}", r.findings);
    let r = run(&hg.replace("hgweb.wsgi$1", "$1.wsgi"));
    assert!(r.findings.iter().all(|f| !f.fixable), "{:#?}", r.findings);
}

#[test]
fn a_copy_of_a_daemon_named_on_display_is_shown_by_its_own_name() {
    // A sweep's Fedora server: the copy made for anitya kept
    // display-name=fedocal, and ps showed anitya's processes as fedocal.
    let conf = "\
WSGIDaemonProcess fedocal processes=2 display-name=fedocal
WSGIProcessGroup fedocal
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias /fedocal /srv/fedocal.wsgi
WSGIScriptAlias /anitya /srv/anitya.wsgi
";
    let fixed = fixed_text(&run(conf));
    assert!(
        fixed.contains("WSGIDaemonProcess anitya processes=2 display-name=anitya\n"),
        "{fixed}"
    );
    // Any other display name is an option like the others: kept.
    let fixed = fixed_text(&run(
        &conf.replace("display-name=fedocal", "display-name=%{GROUP}")
    ));
    assert!(
        fixed.contains("WSGIDaemonProcess anitya processes=2 display-name=%{GROUP}\n"),
        "{fixed}"
    );
}
