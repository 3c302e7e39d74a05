//! Issue 6 end to end, the fixes: whole multi-file servers (Debian and RHEL layouts)
//! served by real Apache httpd + mod_wsgi before and after
//! `wsgifix --write --config MAIN`.
//!
//! Every scenario serves the tree first and checks that the problem really
//! happens there (so a test cannot pass on a setup that was never wrong),
//! runs wsgifix on the whole server, has `apache2 -t` accept the result,
//! serves it again and holds each app to what issue 6 promises:
//! - an app that answered 200 still does, with the options its daemon had
//!   (its probe imports a module only that daemon's `python-path=` finds,
//!   and reports the uid its daemon's `user=` gives);
//! - each app runs in a daemon of its own (distinct non-empty
//!   `mod_wsgi.process_group`, distinct pids) in the main interpreter
//!   (`mod_wsgi.application_group == ''`);
//! - an instance that already ran right is not moved;
//! - a second `--write` changes nothing and exits 0.
//!
//! Without Apache or mod_wsgi the tests print why and pass, unless
//! `WSGIFIX_REQUIRE_APACHE=1` says this machine must have them.

mod common;
mod e2e_support;

use e2e_support::require_or_skip;
use e2e_support::scenario::{
    certbot_tree, changed_files, nobody_uid, shared, table, user_opt, wsgi_errors, Scenario,
};
use e2e_support::tree::{Layout, Probe, Tree};

/// Debian: x2gobroker's `conf-enabled` snippet defines its daemon and
/// selects it for the whole server, so every site's app runs in it, as its
/// user, with its python-path.
#[test]
fn x2gobroker_snippet_captures_every_site() {
    let Some(apache) = require_or_skip("x2gobroker_snippet_captures_every_site") else {
        return;
    };
    let t = Tree::new(&apache, Layout::Debian, false);
    let lib = t.lib("x2go", "x2gobroker_lib");
    let broker = t.app("x2gobroker.wsgi", &["x2gobroker_lib"]);
    t.conf(
        "x2gobroker-wsgi.conf",
        &format!(
            "<IfModule mod_wsgi.c>\n\
             \x20   WSGIDaemonProcess x2gobroker{u} processes=1 threads=2 python-path={lib}\n\
             \x20   WSGIProcessGroup x2gobroker\n\
             \x20   WSGIScriptAlias /x2gobroker {broker}\n\
             </IfModule>\n",
            u = user_opt()
        ),
    );
    for (site, host) in [("graphite", "graphite.test"), ("pywps", "pywps.test")] {
        let app = t.app(&format!("{site}.wsgi"), &["x2gobroker_lib"]);
        t.site(
            &format!("{site}.conf"),
            &format!(
                "<VirtualHost {}>\n\tServerName {host}\n\tWSGIScriptAlias /{site} {app}\n</VirtualHost>\n",
                t.vhost_addr(false)
            ),
        );
    }
    let s = Scenario {
        name: "x2gobroker",
        probes: vec![
            Probe::new("graphite", "graphite.test", "/graphite"),
            Probe::new("pywps", "pywps.test", "/pywps"),
            Probe::new("x2gobroker", "graphite.test", "/x2gobroker"),
            Probe::new("x2gobroker", "pywps.test", "/x2gobroker"),
        ],
        tree: t,
    };
    // The sites' apps share x2gobroker's daemon; --check must say so and
    // name the snippet line that captures them (not call them embedded).
    let check = s.tree.wsgifix_config(&["--check"]);
    for site in ["graphite", "pywps"] {
        let line = check
            .stdout
            .lines()
            .find(|l| l.contains(&format!("{site}.conf:")) && l.contains("WSGI002"));
        assert!(
            line.is_some_and(|l| l.contains("x2gobroker-wsgi.conf:3")),
            "x2gobroker: no WSGI002 for {site} naming x2gobroker-wsgi.conf:3 (its WSGIProcessGroup):\n{}",
            check.describe()
        );
    }
    assert!(
        !check.stdout.contains("WSGI001"),
        "x2gobroker: apps in a daemon called embedded:\n{}",
        check.describe()
    );
    s.run(&[], |seen| shared(seen, "x2gobroker"));
}

/// RHEL: a server-wide daemon with python-path (and user) plus a
/// server-wide `WSGIProcessGroup` in a conf.d snippet, one vhost per file.
/// Moving the apps into bare daemons made them answer 500.
#[test]
fn server_wide_shared_daemon_keeps_its_options() {
    let Some(apache) = require_or_skip("server_wide_shared_daemon_keeps_its_options") else {
        return;
    };
    let t = Tree::new(&apache, Layout::Rhel, false);
    let lib = t.lib("shared", "shared_lib");
    t.conf(
        "shared.conf",
        &format!(
            "WSGIDaemonProcess shared python-path={lib}{} processes=1 threads=2\nWSGIProcessGroup shared\n",
            user_opt()
        ),
    );
    for site in ["blog", "shop"] {
        let app = t.app(&format!("{site}.wsgi"), &["shared_lib"]);
        t.site(
            &format!("{site}.conf"),
            &format!(
                "<VirtualHost {}>\n    ServerName {site}.test\n    WSGIScriptAlias / {app}\n</VirtualHost>\n",
                t.vhost_addr(false)
            ),
        );
    }
    let s = Scenario {
        name: "server-wide shared daemon",
        probes: vec![
            Probe::new("blog", "blog.test", "/"),
            Probe::new("shop", "shop.test", "/"),
        ],
        tree: t,
    };
    s.run(&[], |seen| {
        shared(seen, "shared")?;
        match nobody_uid() {
            Some(uid) if e2e_support::running_as_root() && seen.iter().any(|s| s.uid != uid) => {
                Err("expected the daemon's user=nobody".into())
            }
            _ => Ok(()),
        }
    });
}

/// Debian: a server-level `WSGIScriptAlias /` in a snippet, and a vhost
/// whose own `/` app already runs right in its own daemon `app2`. Fixing
/// the snippet's app must not capture `app2`.
#[test]
fn server_level_mount_fix_leaves_a_right_vhost_alone() {
    let Some(apache) = require_or_skip("server_level_mount_fix_leaves_a_right_vhost_alone") else {
        return;
    };
    let t = Tree::new(&apache, Layout::Debian, false);
    let app1 = t.app("app1.wsgi", &[]);
    let lib2 = t.lib("two", "two_lib");
    let app2 = t.app("app2.wsgi", &["two_lib"]);
    t.conf("app1.conf", &format!("WSGIScriptAlias / {app1}\n"));
    t.site(
        "000-one.conf",
        &format!(
            "<VirtualHost {}>\n\tServerName one.test\n</VirtualHost>\n",
            t.vhost_addr(false)
        ),
    );
    t.site(
        "two.conf",
        &format!(
            "<VirtualHost {}>\n\tServerName two.test\n\tWSGIDaemonProcess app2 processes=1 threads=2 python-path={lib2}\n\tWSGIProcessGroup app2\n\tWSGIApplicationGroup %{{GLOBAL}}\n\tWSGIScriptAlias / {app2}\n</VirtualHost>\n",
            t.vhost_addr(false)
        ),
    );
    let s = Scenario {
        name: "server-level mount + right vhost",
        probes: vec![
            Probe::new("app1", "one.test", "/"),
            Probe::new("app2", "two.test", "/"),
        ],
        tree: t,
    };
    s.run(&["app2"], |seen| {
        if seen[0].process_group.is_empty() && seen[1].process_group == "app2" {
            Ok(())
        } else {
            Err("expected app1 embedded and app2 in its daemon".into())
        }
    });
}

/// RHEL: two vhost files, each with an embedded `WSGIScriptAlias /app`,
/// and a server-wide `WSGIPythonPath` the apps need. The new daemons must
/// get distinct names (httpd refuses duplicates) and that python-path.
#[test]
fn two_files_with_the_same_mount_get_distinct_daemons() {
    let Some(apache) = require_or_skip("two_files_with_the_same_mount_get_distinct_daemons") else {
        return;
    };
    let t = Tree::new(&apache, Layout::Rhel, false);
    let lib = t.lib("common", "common_lib");
    t.conf("python.conf", &format!("WSGIPythonPath {lib}\n"));
    for site in ["alpha", "beta"] {
        let app = t.app(&format!("{site}/app.wsgi"), &["common_lib"]);
        t.site(
            &format!("{site}.conf"),
            &format!(
                "<VirtualHost {}>\n    ServerName {site}.test\n    WSGIScriptAlias /app {app}\n</VirtualHost>\n",
                t.vhost_addr(false)
            ),
        );
    }
    let s = Scenario {
        name: "same mount in two files",
        probes: vec![
            Probe::new("alpha", "alpha.test", "/app"),
            Probe::new("beta", "beta.test", "/app"),
        ],
        tree: t,
    };
    s.run(&[], |seen| {
        if seen
            .iter()
            .all(|s| s.status == 200 && s.process_group.is_empty())
        {
            Ok(())
        } else {
            Err("expected both apps embedded".into())
        }
    });
}

/// RHEL: `<LocationMatch>` sections select the groups of two apps of one
/// vhost (`^/settings$` and `^/[0-9]+/delete$`). After `--write` both apps
/// run right, or wsgifix exits non-zero saying what it could not fix: it
/// never exits 0 leaving an app wrong.
#[test]
fn location_match_sections_are_fixed_or_reported() {
    let Some(apache) = require_or_skip("location_match_sections_are_fixed_or_reported") else {
        return;
    };
    let t = Tree::new(&apache, Layout::Rhel, false);
    let lib = t.lib("settings", "settings_lib");
    let settings = t.app("settings.wsgi", &["settings_lib"]);
    let delete = t.app("delete.wsgi", &[]);
    t.site(
        "regex.conf",
        &format!(
            "<VirtualHost {}>\n    ServerName regex.test\n    WSGIDaemonProcess settings processes=1 threads=2 python-path={lib}\n    WSGIScriptAlias /settings {settings}\n    WSGIScriptAliasMatch ^/([0-9]+)/delete$ {delete}\n    <LocationMatch \"^/settings$\">\n        WSGIProcessGroup settings\n        WSGIApplicationGroup %{{GLOBAL}}\n    </LocationMatch>\n    <LocationMatch \"^/[0-9]+/delete$\">\n        WSGIApplicationGroup %{{GLOBAL}}\n    </LocationMatch>\n</VirtualHost>\n",
            t.vhost_addr(false)
        ),
    );
    let s = Scenario {
        name: "LocationMatch",
        probes: vec![
            Probe::new("settings", "regex.test", "/settings"),
            Probe::new("delete", "regex.test", "/42/delete"),
        ],
        tree: t,
    };
    s.tree.assert_syntax_ok("LocationMatch before the fix");
    let before = s.serve();
    assert!(
        before.seen[0].process_group == "settings" && before.seen[1].process_group.is_empty(),
        "setup: expected /settings in its daemon and /42/delete embedded:\n{}",
        table(&s.probes, &before.seen)
    );
    let run = s.write();
    let after = s.serve();
    let all_right = after
        .seen
        .iter()
        .all(|a| a.status == 200 && !a.process_group.is_empty() && a.application_group.is_empty());
    if run.code == 0 || all_right {
        s.assert_fixed(&before, &after, &run, &["settings"]);
    } else {
        assert!(
            run.stdout.contains("WSGI") || run.stderr.contains("WSGI"),
            "LocationMatch: wsgifix exited {} without saying what it could not fix:\n{}",
            run.code,
            run.describe()
        );
        // What it did fix must not have broken anything.
        for (i, p) in s.probes.iter().enumerate() {
            assert_eq!(
                after.seen[i].status,
                before.seen[i].status,
                "LocationMatch: {} changed status\n{}",
                p.label(),
                table(&s.probes, &after.seen)
            );
        }
    }
}

/// Debian: a vhost selects a daemon that a vhost of another ServerName
/// defines; mod_wsgi answers 500 (`cannot be accessed`). wsgifix must say
/// so, not call it a shared daemon (WSGI002); the vhost that owns the
/// daemon keeps it.
#[test]
fn daemon_of_another_server_name_is_reported() {
    let Some(apache) = require_or_skip("daemon_of_another_server_name_is_reported") else {
        return;
    };
    let t = Tree::new(&apache, Layout::Debian, false);
    let one = t.app("one.wsgi", &[]);
    let two = t.app("two.wsgi", &[]);
    let two_conf = t.site(
        "two.conf",
        &format!(
            "<VirtualHost {}>\n\tServerName two.test\n\tWSGIProcessGroup onepool\n\tWSGIApplicationGroup %{{GLOBAL}}\n\tWSGIScriptAlias / {two}\n</VirtualHost>\n",
            t.vhost_addr(false)
        ),
    );
    t.site(
        "one.conf",
        &format!(
            "<VirtualHost {}>\n\tServerName one.test\n\tWSGIDaemonProcess onepool processes=1 threads=2\n\tWSGIProcessGroup onepool\n\tWSGIApplicationGroup %{{GLOBAL}}\n\tWSGIScriptAlias / {one}\n</VirtualHost>\n",
            t.vhost_addr(false)
        ),
    );
    let probes = vec![
        Probe::new("one", "one.test", "/"),
        Probe::new("two", "two.test", "/"),
    ];
    t.assert_syntax_ok("visibility before the fix");
    let before = t.serve(&probes);
    assert!(
        before.seen[0].process_group == "onepool"
            && before.seen[1].status == 500
            && before.error_log.contains("cannot be accessed"),
        "setup: expected one.test in onepool and two.test refused by mod_wsgi:\n{}\n{}",
        table(&probes, &before.seen),
        wsgi_errors(&before.error_log)
    );
    let check = t.wsgifix_config(&["--check", "--format", "json"]);
    let v = check.json();
    let findings: Vec<&serde_json::Value> = v["files"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["findings"].as_array().into_iter().flatten())
        .collect();
    assert!(
        !findings.iter().any(|f| f["code"] == "WSGI002"),
        "visibility: reported as a shared daemon (WSGI002):\n{}",
        check.describe()
    );
    let two_file = v["files"].as_array().into_iter().flatten().find(|f| {
        [&f["path"], &f["real_path"]]
            .iter()
            .any(|p| p.as_str().is_some_and(|p| p.ends_with("two.conf")))
    });
    // The finding may sit at the mount or at the selecting line, as long as
    // it names the daemon and the line that selects it.
    let named = two_file.is_some_and(|f| {
        f["findings"].as_array().into_iter().flatten().any(|x| {
            x["message"]
                .as_str()
                .is_some_and(|m| m.contains("onepool") && (x["line"] == 3 || m.contains("line 3")))
        })
    });
    assert!(
        named && check.code == 1,
        "visibility: no finding in {} naming `onepool` and its line 3:\n{}",
        two_conf.display(),
        check.describe()
    );
}

/// Debian: `WSGIApplicationGroup %{GLOBAL}` once for the whole server (in
/// `mods-available/wsgi.conf`); every site runs its own daemon. No
/// WSGI003, no edits, and fixing a third, embedded site touches nothing of
/// the others.
#[test]
fn server_wide_global_is_seen() {
    let Some(apache) = require_or_skip("server_wide_global_is_seen") else {
        return;
    };
    let t = Tree::new(&apache, Layout::Debian, false);
    let wsgi_conf = t.path("mods-available/wsgi.conf");
    let text = std::fs::read_to_string(&wsgi_conf).unwrap();
    t.put(
        "mods-available/wsgi.conf",
        &text.replace(
            "</IfModule>",
            "\tWSGIApplicationGroup %{GLOBAL}\n</IfModule>",
        ),
    );
    let mut probes = Vec::new();
    for site in ["one", "two"] {
        let app = t.app(&format!("{site}.wsgi"), &[]);
        t.site(
            &format!("{site}.conf"),
            &format!(
                "<VirtualHost {}>\n\tServerName {site}.test\n\tWSGIDaemonProcess {site} processes=1 threads=2\n\tWSGIProcessGroup {site}\n\tWSGIScriptAlias / {app}\n</VirtualHost>\n",
                t.vhost_addr(false)
            ),
        );
        probes.push(Probe::new(site, &format!("{site}.test"), "/"));
    }
    t.assert_syntax_ok("server-wide GLOBAL");
    let before = t.serve(&probes);
    assert!(
        before
            .seen
            .iter()
            .all(|s| s.status == 200 && s.application_group.is_empty()),
        "setup: expected every app in the main interpreter:\n{}",
        table(&probes, &before.seen)
    );
    let check = t.wsgifix_config(&["--check"]);
    assert!(
        !check.stdout.contains("WSGI003") && check.code == 0,
        "server-wide GLOBAL: false findings:\n{}",
        check.describe()
    );

    // A third site, embedded: fixing it must leave the others' files alone.
    let three = t.app("three.wsgi", &[]);
    t.site(
        "three.conf",
        &format!(
            "<VirtualHost {}>\n\tServerName three.test\n\tWSGIScriptAlias / {three}\n</VirtualHost>\n",
            t.vhost_addr(false)
        ),
    );
    probes.push(Probe::new("three", "three.test", "/"));
    let s = Scenario {
        name: "server-wide GLOBAL + an embedded site",
        probes,
        tree: t,
    };
    let before = s.serve();
    let snap = s.tree.snapshot();
    let run = s.write();
    let changed = changed_files(&snap, &s.tree.snapshot());
    assert!(
        changed.iter().all(|c| c.contains("three.conf")),
        "server-wide GLOBAL: fixing three.conf changed {changed:?}\n{}",
        run.describe()
    );
    let after = s.serve();
    s.assert_fixed(&before, &after, &run, &["one", "two"]);
}

#[test]
fn certbot_pair_is_served_on_both_ports_after_the_fix() {
    let Some(apache) = require_or_skip("certbot_pair_is_served_on_both_ports_after_the_fix") else {
        return;
    };
    let (t, probes) = certbot_tree(&apache);
    assert!(
        !t.check().ok,
        "certbot pair: apache2 -t accepts the duplicate"
    );
    let s = Scenario {
        name: "certbot pair",
        probes,
        tree: t,
    };
    let run = s.write();
    let after = s.serve();
    let expected_uid = if e2e_support::running_as_root() {
        nobody_uid()
    } else {
        None
    };
    for (p, a) in s.probes.iter().zip(&after.seen) {
        assert!(
            a.status == 200
                && a.process_group == "xapp"
                && a.application_group.is_empty()
                && a.libs == ["x/x_lib"]
                && expected_uid.is_none_or(|u| a.uid == u),
            "certbot pair: {} is not served by xapp with its options:\n{}\n{}\n{}\n{}",
            p.label(),
            table(&s.probes, &after.seen),
            wsgi_errors(&after.error_log),
            run.describe(),
            s.tree.dump()
        );
    }
}

/// After the fix, `a2dissite x-le-ssl` (certbot's copy disabled again)
/// must not strand the :80 vhost: it still finds the daemon it selects.
#[test]
fn certbot_fix_survives_disabling_the_ssl_site() {
    let Some(apache) = require_or_skip("certbot_fix_survives_disabling_the_ssl_site") else {
        return;
    };
    let (t, probes) = certbot_tree(&apache);
    let s = Scenario {
        name: "certbot pair, SSL site disabled after the fix",
        probes,
        tree: t,
    };
    s.write();
    std::fs::remove_file(s.tree.path("sites-enabled/x-le-ssl.conf")).expect("a2dissite");
    s.tree
        .assert_syntax_ok("the fixed certbot pair with the SSL site disabled");
    let plain = s.tree.serve(&s.probes[..1]);
    let a = &plain.seen[0];
    assert!(
        a.status == 200 && a.process_group == "xapp" && a.libs == ["x/x_lib"],
        "certbot pair: with x-le-ssl.conf disabled, :80 lost its daemon:\n{}\n{}\n{}",
        table(&s.probes[..1], &plain.seen),
        wsgi_errors(&plain.error_log),
        s.tree.dump()
    );
}

/// Debian: one snippet with the Django site's alias, Included by a prod and
/// a staging vhost, each with its own daemon; staging selects none, so its
/// app runs embedded and cannot import what only the daemon's python-path
/// has (500). A line beside the alias would move prod too: the selection
/// goes into staging's own vhost.
#[test]
fn a_snippet_two_vhosts_include_is_fixed_in_the_vhost_that_needs_it() {
    let Some(apache) = require_or_skip("a_snippet_two_vhosts_include") else {
        return;
    };
    let t = Tree::new(&apache, Layout::Debian, false);
    let lib = t.lib("venv", "site_lib");
    let app = t.app("django/wsgi.py", &["site_lib"]);
    let snippet = t.put(
        "snippets/django-common.conf",
        &format!("WSGIScriptAlias / {app}\nWSGIApplicationGroup %{{GLOBAL}}\n"),
    );
    for (name, host, select) in [
        ("prod", "www.test", "\tWSGIProcessGroup prod\n"),
        ("staging", "staging.test", ""),
    ] {
        t.site(
            &format!("{name}.conf"),
            &format!(
                "<VirtualHost {}>\n\tServerName {host}\n\tWSGIDaemonProcess {name} processes=1 threads=2 python-path={lib}\n{select}\tInclude {}\n</VirtualHost>\n",
                t.vhost_addr(false),
                snippet.display()
            ),
        );
    }
    let probes = [
        Probe::new("django", "www.test", "/"),
        Probe::new("django", "staging.test", "/"),
    ];
    t.assert_syntax_ok("snippet servers before");
    let before = t.serve(&probes);
    assert_eq!(
        (before.seen[0].status, before.seen[0].process_group.as_str()),
        (200, "prod")
    );
    assert_eq!(before.seen[1].status, 500, "the setup: staging embedded");
    let run = t.wsgifix_config(&["--write"]);
    assert_eq!(run.code, 0, "{}", run.describe());
    let after = t.serve(&probes);
    let ctx = || format!("{}\n{}", table(&probes, &after.seen), t.dump());
    assert_eq!(
        (after.seen[0].status, after.seen[0].process_group.as_str()),
        (200, "prod"),
        "{}",
        ctx()
    );
    assert_eq!(
        (after.seen[1].status, after.seen[1].process_group.as_str()),
        (200, "staging"),
        "{}",
        ctx()
    );
    let snippet_text = std::fs::read_to_string(&snippet).unwrap();
    assert!(!snippet_text.contains("WSGIProcessGroup"), "{snippet_text}");
}
