//! The rules on whole servers: multi-file `ServerModel`s laid out as Debian
//! (apache2.conf + conf-enabled/ + sites-enabled/) and RHEL (httpd.conf +
//! conf.d/) lay them out, analysed and fixed as one configuration.

mod common;

use common::servers::model;
use std::path::PathBuf;
use wsgifix::analysis::{analyse_server, instances, GroupKind};
use wsgifix::collections::HashMap;
use wsgifix::engine::{process_server, Options, ServerResult};
use wsgifix::server::ServerModel;

/// The server after the fixes: each file's fixed bytes, or its original.
fn fixed_model(before: &ServerModel, r: &ServerResult) -> ServerModel {
    let files: Vec<(String, String)> = before
        .files
        .iter()
        .zip(&r.files)
        .map(|(f, fr)| {
            let bytes = fr.fixed.clone().unwrap_or_else(|| f.source.to_vec());
            (
                f.path.display().to_string(),
                String::from_utf8(bytes).expect("UTF-8 fixtures"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    model(&refs)
}

fn text_of(m: &ServerModel, name: &str) -> String {
    let f = m.files.iter().find(|f| f.path.as_os_str() == name).unwrap();
    String::from_utf8(f.source.to_vec()).unwrap()
}

fn all_findings(r: &ServerResult) -> Vec<(usize, &wsgifix::rules::Finding)> {
    r.files
        .iter()
        .enumerate()
        .flat_map(|(i, f)| f.findings.iter().map(move |x| (i, x)))
        .collect()
}

/// Every instance in a daemon of its own app, in %{GLOBAL}; a second run
/// changes nothing.
fn assert_pymongo_server(m: &ServerModel) {
    let a = analyse_server(m);
    let mut owner: HashMap<String, String> = HashMap::default();
    for (i, inst) in a.instances.iter().enumerate() {
        let mount = &a.mounts[inst.mount];
        let pg = a.effective_of(i, GroupKind::Process);
        let ag = a.effective_of(i, GroupKind::Application);
        assert!(!pg.is_global(), "{:?} embedded", mount.url);
        assert!(ag.is_global(), "{:?} in {}", mount.url, ag.value);
        let app = a.apps[mount.app].clone();
        let prev = owner.insert(pg.value.clone(), app.clone());
        assert!(
            prev.is_none_or(|p| p == app),
            "daemon {} shared by two apps",
            pg.value
        );
    }
    let again = process_server(m, &Options::default());
    assert!(
        again.files.iter().all(|f| f.fixed.is_none()),
        "second run changes the server"
    );
    assert!(
        all_findings(&again).is_empty(),
        "{:?}",
        all_findings(&again)
    );
}

const DEBIAN_MAIN: &str = "\
ServerRoot /etc/apache2
Listen 80
IncludeOptional mods-enabled/*.conf
IncludeOptional conf-enabled/*.conf
IncludeOptional sites-enabled/*.conf
";

fn vhost(name: &str, body: &str) -> String {
    format!("<VirtualHost *:80>\n    ServerName {name}\n{body}</VirtualHost>\n")
}

#[test]
fn a_server_wide_process_group_in_a_snippet_captures_every_vhost() {
    let snippet = "\
WSGIDaemonProcess x2gobroker user=x2gobroker group=x2gobroker python-path=/usr/lib/x2go
WSGIProcessGroup x2gobroker
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias /x2gobroker /usr/bin/x2gobroker-wsgi
";
    let a = vhost("a.example.com", "    WSGIScriptAlias /a /srv/a/a.wsgi\n");
    let b = vhost("b.example.com", "    WSGIScriptAlias /b /srv/b/b.wsgi\n");
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        ("conf-enabled/x2gobroker.conf", snippet),
        ("sites-enabled/a.conf", &a),
        ("sites-enabled/b.conf", &b),
    ]);
    let r = process_server(&m, &Options::default());
    let found = all_findings(&r);
    // Not embedded: they run in x2gobroker's daemon, as its user.
    assert!(found.iter().all(|(_, f)| f.code != "WSGI001"), "{found:?}");
    for file in [2, 3] {
        let f = &r.files[file].findings;
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, "WSGI002");
        assert!(
            f[0].message
                .contains("(WSGIProcessGroup x2gobroker at conf-enabled/x2gobroker.conf:2)"),
            "{}",
            f[0].message
        );
        assert!(f[0].fixable);
    }
    // The snippet's own app keeps its daemon; the others get copies of it,
    // with its user and python-path, in their own vhost files.
    assert!(r.files[1].fixed.is_none());
    let after = fixed_model(&m, &r);
    let a_text = text_of(&after, "sites-enabled/a.conf");
    assert!(
        a_text.contains(
            "    WSGIDaemonProcess a user=x2gobroker group=x2gobroker python-path=/usr/lib/x2go\n"
        ),
        "{a_text}"
    );
    assert!(
        a_text.contains("<Location /a>\n        WSGIProcessGroup a\n"),
        "{a_text}"
    );
    let apps = instances(&after);
    for app in &apps {
        let want = match app.mount.as_str() {
            "/x2gobroker" => "x2gobroker",
            "/a" => "a",
            "/b" => "b",
            other => panic!("unexpected mount {other}"),
        };
        assert_eq!(app.process_group.value, want, "{app:?}");
        assert_eq!(app.process_group.user.as_deref(), Some("x2gobroker"));
    }
    // /x2gobroker is reached in both vhosts (and the main server: port 80
    // has vhosts, so not there).
    assert_eq!(apps.iter().filter(|a| a.mount == "/x2gobroker").count(), 2);
    assert_pymongo_server(&after);
}

#[test]
fn a_server_wide_global_interpreter_is_seen_and_a_correct_server_gets_no_edits() {
    let site = vhost(
        "shop.example.com",
        "    WSGIDaemonProcess shop user=shop\n    WSGIProcessGroup shop\n    WSGIScriptAlias / /srv/shop/shop.wsgi\n",
    );
    let blog = vhost(
        "blog.example.com",
        "    WSGIDaemonProcess blog\n    WSGIScriptAlias / /srv/blog/blog.wsgi process-group=blog\n",
    );
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        (
            "mods-enabled/wsgi.conf",
            "<IfModule mod_wsgi.c>\n    WSGIApplicationGroup %{GLOBAL}\n</IfModule>\n",
        ),
        ("sites-enabled/blog.conf", &blog),
        ("sites-enabled/shop.conf", &site),
    ]);
    let r = process_server(&m, &Options::default());
    assert!(all_findings(&r).is_empty(), "{:?}", all_findings(&r));
    assert!(r.files.iter().all(|f| f.fixed.is_none()));
    let apps = instances(&m);
    assert_eq!(apps.len(), 2);
    for app in &apps {
        assert_eq!(app.application_group.value, "");
        assert_eq!(
            app.application_group.source,
            Some((PathBuf::from("mods-enabled/wsgi.conf"), 2))
        );
    }
    // The same vhost alone (no server) does lack %{GLOBAL}.
    let alone = wsgifix::engine::process(site.as_bytes(), &Options::default());
    assert!(alone.findings.iter().any(|f| f.code == "WSGI003"));
}

#[test]
fn a_fix_that_would_move_another_vhosts_app_is_refused() {
    // A server-level AliasMatch has no alias-option placement here; a
    // server-level <LocationMatch ^/api/> would also take /api/v2, which
    // vhost b runs in its own daemon v2 (set for its whole vhost).
    let snippet = "WSGIScriptAliasMatch ^/api/(.*) /srv/api/api.wsgi\n";
    let b = vhost(
        "b.example.com",
        "    WSGIDaemonProcess v2\n    WSGIProcessGroup v2\n    WSGIApplicationGroup %{GLOBAL}\n    WSGIScriptAlias /api/v2 /srv/v2/v2.wsgi\n",
    );
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        ("conf-enabled/api.conf", snippet),
        ("sites-enabled/b.conf", &b),
    ]);
    let r = process_server(&m, &Options::default());
    assert!(
        r.files[2].fixed.is_none(),
        "{}",
        String::from_utf8_lossy(r.files[2].fixed.as_deref().unwrap_or_default())
    );
    let after = fixed_model(&m, &r);
    for app in instances(&after) {
        if app.mount == "/api/v2" {
            assert_eq!(app.process_group.value, "v2");
        }
    }
    // In vhost b the /api/ app runs in v2 too: reported, and b's app stays.
    let shared: Vec<_> = all_findings(&r)
        .into_iter()
        .filter(|(_, f)| f.code == "WSGI002")
        .collect();
    assert_eq!(shared.len(), 1, "{shared:?}");
    assert!(shared[0]
        .1
        .message
        .contains("in <VirtualHost> b.example.com:80"));
}

#[test]
fn new_daemon_names_are_unique_across_the_servers_files() {
    let a = vhost(
        "one.example.com",
        "    WSGIScriptAlias /app /srv/one/app.wsgi\n",
    );
    let b = vhost(
        "two.example.com",
        "    WSGIScriptAlias /app /srv/two/app.wsgi\n",
    );
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        (
            "conf-enabled/legacy.conf",
            "<Macro Old>\n    WSGIDaemonProcess app\n</Macro>\n",
        ),
        ("sites-enabled/one.conf", &a),
        ("sites-enabled/two.conf", &b),
    ]);
    let r = process_server(&m, &Options::default());
    let after = fixed_model(&m, &r);
    let a = analyse_server(&after);
    let mut names: Vec<&str> = a.daemons.iter().map(|d| d.name.as_str()).collect();
    names.sort();
    // `app` is taken by the template; each vhost qualifies by its host.
    assert_eq!(names, ["one_app", "two_app"]);
    assert!(all_findings(&process_server(&after, &Options::default())).is_empty());
    assert_pymongo_server(&after);
}

#[test]
fn a_daemon_of_another_servername_is_inaccessible_not_shared() {
    let a = vhost(
        "a.example.com",
        "    WSGIDaemonProcess pool\n    WSGIProcessGroup pool\n    WSGIApplicationGroup %{GLOBAL}\n    WSGIScriptAlias / /srv/a/a.wsgi\n",
    );
    // ServerAlias does not make b a.example.com.
    let b = vhost(
        "b.example.com",
        "    ServerAlias a.example.com\n    WSGIProcessGroup pool\n    WSGIApplicationGroup %{GLOBAL}\n    WSGIScriptAlias / /srv/b/b.wsgi\n",
    );
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        ("sites-enabled/a.conf", &a),
        ("sites-enabled/b.conf", &b),
    ]);
    let r = process_server(&m, &Options::default());
    let found = all_findings(&r);
    assert!(found.iter().all(|(_, f)| f.code != "WSGI002"), "{found:?}");
    let f = &r.files[2].findings;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].code, "WSGI006");
    assert!(f[0].message.contains("defined at sites-enabled/a.conf:3"));
    assert!(f[0]
        .message
        .contains("Daemon process called 'pool' cannot be accessed by this WSGI application"));
    // The same pair under one ServerName (80/443) may share it.
    let same = b.replace("b.example.com", "a.example.com");
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        ("sites-enabled/a.conf", &a),
        ("sites-enabled/b.conf", &same),
    ]);
    let r = process_server(&m, &Options::default());
    assert!(all_findings(&r).iter().all(|(_, f)| f.code != "WSGI006"));
}

#[test]
fn sibling_regex_mounts_each_get_their_own_daemon() {
    let site = vhost(
        "tasks.example.com",
        "    WSGIScriptAliasMatch ^/settings$ /srv/tasks/settings.wsgi\n    WSGIScriptAliasMatch ^/[0-9]+/delete$ /srv/tasks/delete.wsgi\n    WSGIApplicationGroup %{GLOBAL}\n",
    );
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        ("sites-enabled/tasks.conf", &site),
    ]);
    let r = process_server(&m, &Options::default());
    let found = all_findings(&r);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found.iter().all(|(_, f)| f.code == "WSGI001" && f.fixable),
        "{found:?}"
    );
    let after = fixed_model(&m, &r);
    let text = text_of(&after, "sites-enabled/tasks.conf");
    assert!(
        text.contains("<LocationMatch ^/settings$>\n        WSGIProcessGroup settings\n"),
        "{text}"
    );
    assert!(
        text.contains("<LocationMatch ^/[0-9]+/delete$>\n        WSGIProcessGroup delete\n"),
        "{text}"
    );
    assert_pymongo_server(&after);
}

/// retrace-server style: thirteen pattern mounts, one daemon selected for
/// all of them by one <LocationMatch> (RHEL layout).
fn retrace() -> String {
    let apps = [
        "manager",
        "settings",
        "stats",
        "checkpackage",
        "create",
        "status",
        "log",
        "backtrace",
        "savefile",
        "start",
        "delete",
        "exploitable",
        "metrics",
    ];
    let mut s = String::from(
        "WSGIDaemonProcess retrace user=retrace group=retrace processes=5 threads=3\n",
    );
    for a in apps {
        s.push_str(&format!(
            "WSGIScriptAliasMatch ^/{a}(/.*)?$ /usr/share/retrace-server/{a}.wsgi\n"
        ));
    }
    s.push_str(&format!(
        "<LocationMatch \"^/({})\">\n    WSGIProcessGroup retrace\n    WSGIApplicationGroup %{{GLOBAL}}\n</LocationMatch>\n",
        apps.join("|")
    ));
    s
}

#[test]
fn a_location_match_covering_thirteen_pattern_mounts_is_one_shared_daemon() {
    let conf = retrace();
    let m = model(&[
        (
            "httpd.conf",
            "ServerRoot /etc/httpd\nListen 80\nIncludeOptional conf.d/*.conf\n",
        ),
        ("conf.d/retrace-server-httpd.conf", &conf),
    ]);
    let r = process_server(&m, &Options::default());
    let f = &r.files[1].findings;
    assert_eq!(f.len(), 12, "{f:?}");
    assert!(f.iter().all(|f| f.code == "WSGI002" && f.fixable), "{f:?}");
    assert!(f[0].message.contains(
        "shares daemon process group 'retrace' with /usr/share/retrace-server/manager.wsgi"
    ));
    let after = fixed_model(&m, &r);
    let text = text_of(&after, "conf.d/retrace-server-httpd.conf");
    // Each copy keeps retrace's options; its <LocationMatch> comes after the
    // shared one, which httpd merges first.
    assert!(text
        .contains("WSGIDaemonProcess settings user=retrace group=retrace processes=5 threads=3\n"));
    let shared_at = text.find("<LocationMatch \"^/(").unwrap();
    let own_at = text.find("<LocationMatch ^/settings(/.*)?$>").unwrap();
    assert!(own_at > shared_at);
    assert_pymongo_server(&after);
}

#[test]
fn an_undecidable_regex_section_is_said_and_not_fixed() {
    let site = vhost(
        "x.example.com",
        "    WSGIDaemonProcess x\n    WSGIScriptAlias /app /srv/app/app.wsgi\n    <LocationMatch \"^/app/?$\">\n        WSGIProcessGroup x\n    </LocationMatch>\n    WSGIApplicationGroup %{GLOBAL}\n",
    );
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        ("sites-enabled/x.conf", &site),
    ]);
    let r = process_server(&m, &Options::default());
    let f = &r.files[1].findings;
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0]
        .message
        .contains("cannot decide whether <LocationMatch ^/app/?$> (line 6) covers this app"));
    assert!(!f[0].fixable);
    assert!(r.files[1].fixed.is_none());
}

const SITE: &str = "\
<VirtualHost *:80>
    ServerName site.example.com
    WSGIDaemonProcess site user=site python-path=/srv/site
    WSGIProcessGroup site
    WSGIApplicationGroup %{GLOBAL}
    WSGIScriptAlias / /srv/site/site.wsgi
</VirtualHost>
";

fn le_ssl() -> String {
    format!(
        "<IfModule mod_ssl.c>\n{}</IfModule>\n",
        SITE.replace("*:80", "*:443")
    )
}

#[test]
fn certbots_le_ssl_copy_loses_its_duplicate_daemon() {
    let ssl = le_ssl();
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        ("sites-enabled/site-le-ssl.conf", &ssl),
        ("sites-enabled/site.conf", SITE),
    ]);
    let r = process_server(&m, &Options::default());
    // httpd reads site-le-ssl.conf first, so the finding is on site.conf's
    // definition; but certbot's copy is the one that goes: disabling the
    // -le-ssl site later must not strand the original vhost.
    let f = &r.files[2].findings;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].code, "WSGI005");
    assert!(
        f[0].message
            .contains("first at sites-enabled/site-le-ssl.conf:4"),
        "{}",
        f[0].message
    );
    assert!(f[0].fixable);
    assert!(r.files[2].fixed.is_none());
    let fixed = String::from_utf8(r.files[1].fixed.clone().expect("fixed")).unwrap();
    assert_eq!(
        fixed,
        ssl.replace(
            "    WSGIDaemonProcess site user=site python-path=/srv/site\n",
            ""
        )
    );
    // Without the copy's site, the original still defines its daemon.
    let alone = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        ("sites-enabled/site.conf", SITE),
    ]);
    assert!(all_findings(&process_server(&alone, &Options::default())).is_empty());
    let after = fixed_model(&m, &r);
    for app in instances(&after) {
        assert_eq!(app.process_group.value, "site");
        assert_eq!(app.process_group.user.as_deref(), Some("site"));
    }
    assert_pymongo_server(&after);
}

#[test]
fn duplicate_names_of_different_servernames_are_renamed_with_their_users() {
    let other = SITE
        .replace("site.example.com", "other.example.com")
        .replace("/srv/site", "/srv/other");
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        ("sites-enabled/other.conf", &other),
        ("sites-enabled/site.conf", SITE),
    ]);
    let r = process_server(&m, &Options::default());
    assert!(r.files[2]
        .findings
        .iter()
        .any(|f| f.code == "WSGI005" && f.fixable));
    let after = fixed_model(&m, &r);
    let text = text_of(&after, "sites-enabled/site.conf");
    assert!(
        text.contains("WSGIDaemonProcess site-2 user=site python-path=/srv/site\n"),
        "{text}"
    );
    assert!(text.contains("WSGIProcessGroup site-2\n"), "{text}");
    assert_eq!(text.matches("WSGIDaemonProcess").count(), 1, "{text}");
    assert_pymongo_server(&after);
}

#[test]
fn an_include_inside_a_vhost_belongs_to_that_vhost() {
    let v = "<VirtualHost *:80>\n    ServerName in.example.com\n    Include snippets/app.conf\n</VirtualHost>\n";
    let snippet = "WSGIDaemonProcess app\nWSGIProcessGroup app\nWSGIApplicationGroup %{GLOBAL}\nWSGIScriptAlias /app /srv/app/app.wsgi\n";
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        ("sites-enabled/in.conf", v),
        ("snippets/app.conf", snippet),
        ("sites-enabled/out.conf", "<VirtualHost *:80>\n    ServerName out.example.com\n    WSGIScriptAlias /o /srv/o/o.wsgi\n</VirtualHost>\n"),
    ]);
    let apps = instances(&m);
    let app = apps.iter().find(|a| a.mount == "/app").unwrap();
    assert_eq!(app.vhost.as_deref(), Some("in.example.com:80"));
    assert_eq!(app.process_group.value, "app");
    assert_eq!(
        app.process_group.source,
        Some((PathBuf::from("snippets/app.conf"), 2))
    );
    // The snippet's WSGIProcessGroup does not reach the other vhost.
    let o = apps.iter().find(|a| a.mount == "/o").unwrap();
    assert_eq!(o.process_group.value, "");
}

#[test]
fn a_one_argument_alias_is_refused_as_httpd_words_it() {
    let m = model(&[("httpd.conf", "WSGIScriptAlias /app\n")]);
    let r = process_server(&m, &Options::default());
    let e = r.files[0].error.as_ref().expect("error");
    assert_eq!(
        e.to_string(),
        "1:1: WSGIScriptAlias requires at least two arguments, Map location to target WSGI script file."
    );
}

#[test]
fn httpd_refuses_the_certbot_pair_before_the_fix_and_accepts_it_after() {
    let Some(apache) = common::apache::require_or_skip("certbot pair configtest") else {
        return;
    };
    let lab = common::apache::Lab::new(
        &apache,
        vec![
            apache.module("mpm_event"),
            apache.module("authz_core"),
            apache.module("wsgi"),
        ],
    );
    // No user= (the lab has no such user); both vhosts on the lab's port.
    let site = SITE
        .replace("user=site ", "")
        .replace("*:80", &format!("127.0.0.1:{}", lab.port));
    let ssl = site.clone();
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        ("sites-enabled/site-le-ssl.conf", &ssl),
        ("sites-enabled/site.conf", &site),
    ]);
    let r = process_server(&m, &Options::default());
    let after = fixed_model(&m, &r);
    let check = |m: &ServerModel, tag: &str| {
        let dir = lab.dir().join(tag);
        let mut includes = String::new();
        for f in &m.files[1..] {
            let p = dir.join(&f.path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f.source.as_slice()).unwrap();
            includes.push_str(&format!("Include \"{}\"\n", p.display()));
        }
        let conf = lab.write_base(&format!("{tag}.conf"), None, &includes);
        lab.check(&conf)
    };
    let before = check(&m, "before");
    assert!(!before.ok());
    assert!(
        before
            .message()
            .contains("Name duplicates previous WSGI daemon definition."),
        "{}",
        before.message()
    );
    let fixed = check(&after, "after");
    assert!(fixed.ok(), "{}", fixed.message());
}

#[test]
fn a_location_match_for_the_mounts_own_url_counts_and_its_daemon_is_not_reused() {
    // e2e BUG 1: /settings is right (its <LocationMatch ^/settings$>); the
    // pattern app runs embedded and must get a daemon of its own, not
    // `settings`, which that LocationMatch selects.
    let conf = "\
<VirtualHost *:80>
    ServerName regex.test
    WSGIDaemonProcess settings python-path=/srv/lib
    WSGIScriptAlias /settings /srv/apps/settings.wsgi
    WSGIScriptAliasMatch ^/([0-9]+)/delete$ /srv/apps/delete.wsgi
    <LocationMatch \"^/settings$\">
        WSGIProcessGroup settings
        WSGIApplicationGroup %{GLOBAL}
    </LocationMatch>
    <LocationMatch \"^/[0-9]+/delete$\">
        WSGIApplicationGroup %{GLOBAL}
    </LocationMatch>
</VirtualHost>
";
    let m = model(&[
        ("httpd.conf", "Listen 80\nIncludeOptional conf.d/*.conf\n"),
        ("conf.d/regex.conf", conf),
    ]);
    let r = process_server(&m, &Options::default());
    let f = &r.files[1].findings;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].code, f[0].line), ("WSGI001", 5));
    assert!(f[0].fixable);
    let after = fixed_model(&m, &r);
    let apps = instances(&after);
    let settings = apps.iter().find(|a| a.mount == "/settings").unwrap();
    let delete = apps.iter().find(|a| a.mount.contains("delete")).unwrap();
    assert_eq!(settings.process_group.value, "settings");
    assert_ne!(delete.process_group.value, "settings");
    assert_ne!(delete.process_group.value, "");
    assert_pymongo_server(&after);
}

/// A server-level pattern mount reaches one vhost where it runs embedded and
/// one where the vhost's daemon takes it. Its fixes in the two vhosts are
/// both fixes of the one directive: they must not each add a daemon and a
/// <LocationMatch> (the second would shadow the first), but give the app
/// one daemon and one section that also holds its %{GLOBAL}.
#[test]
fn a_server_level_mount_reaching_several_vhosts_gets_one_daemon_and_one_section() {
    let api = "WSGIScriptAliasMatch ^/api/(.*) /srv/api/api.wsgi\n";
    let right = vhost(
        "a.example.com",
        "    WSGIDaemonProcess a python-path=/srv/a\n    WSGIProcessGroup a\n    WSGIApplicationGroup %{GLOBAL}\n    WSGIScriptAlias / /srv/a/app.wsgi\n",
    );
    let bare = vhost("b.example.com", "    DocumentRoot /srv/b\n");
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        ("conf-enabled/api.conf", api),
        ("sites-enabled/a.conf", &right),
        ("sites-enabled/b.conf", &bare),
    ]);
    let r = process_server(&m, &Options::default());
    assert!(
        all_findings(&r).iter().all(|(_, f)| f.fixable),
        "{:?}",
        all_findings(&r)
    );
    let after = fixed_model(&m, &r);
    let text = text_of(&after, "conf-enabled/api.conf");
    assert_eq!(text.matches("WSGIDaemonProcess").count(), 1, "{text}");
    assert_eq!(
        text.matches("<LocationMatch ^/api/(.*)>").count(),
        1,
        "{text}"
    );
    assert!(text.contains("WSGIApplicationGroup %{GLOBAL}"), "{text}");
    // The vhosts' own files are left alone: the right app stays as it is.
    assert_eq!(text_of(&after, "sites-enabled/a.conf"), right);
    assert_pymongo_server(&after);
}

#[test]
fn a_global_another_file_sets_for_its_own_url_is_no_hint_for_this_app() {
    // A sweep's devstack controller: keystone's server-level <Location
    // /identity> %{GLOBAL} was named in every other app's WSGI003.
    let m = model(&[
        ("apache2.conf", DEBIAN_MAIN),
        (
            "conf-enabled/keystone.conf",
            "WSGIDaemonProcess keystone\nWSGIScriptAlias /identity /usr/bin/keystone-wsgi-public\n<Location /identity>\n    WSGIProcessGroup keystone\n    WSGIApplicationGroup %{GLOBAL}\n</Location>\n",
        ),
        (
            "sites-enabled/horizon.conf",
            "<VirtualHost *:80>\n    WSGIDaemonProcess horizon\n    WSGIProcessGroup horizon\n    WSGIScriptAlias /dashboard /srv/horizon/wsgi.py\n    <Location /elsewhere>\n        WSGIApplicationGroup %{GLOBAL}\n    </Location>\n</VirtualHost>\n",
        ),
    ]);
    let r = process_server(&m, &Options::default());
    let found = all_findings(&r);
    let horizon: Vec<_> = found.iter().filter(|(_, f)| f.code == "WSGI003").collect();
    assert_eq!(horizon.len(), 1, "{found:?}");
    let message = &horizon[0].1.message;
    assert!(!message.contains("keystone.conf"), "{message}");
    // The one beside it still is.
    assert!(message.contains("<Location /elsewhere>"), "{message}");
}

#[test]
fn a_daemon_read_twice_because_its_file_is_included_twice_says_so() {
    // A sweep's controller included one snippet twice; httpd refused to
    // start, and wsgifix's WSGI005 cited the line as its own first one.
    let m = model(&[
        (
            "apache2.conf",
            "ServerRoot /etc/apache2\nInclude conf-enabled/wsgi.conf\nInclude conf-enabled/wsgi.conf\n",
        ),
        ("conf-enabled/wsgi.conf", "WSGIDaemonProcess app\n"),
    ]);
    let r = process_server(&m, &Options::default());
    let found = all_findings(&r);
    let dup: Vec<_> = found.iter().filter(|(_, f)| f.code == "WSGI005").collect();
    assert_eq!(dup.len(), 1, "{found:?}");
    assert!(
        dup[0].1.message.contains("its file is read twice"),
        "{:?}",
        dup[0]
    );
    assert!(!dup[0].1.fixable);
    assert!(r.files.iter().all(|f| f.fixed.is_none()));
}
