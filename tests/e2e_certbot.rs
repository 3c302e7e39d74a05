//! certbot pairs under real Apache: `certbot --apache` copies a site's
//! `:80` vhost into `sites-enabled/NAME-le-ssl.conf` for `:443`, daemon
//! definition and all. httpd reads the copy first (`-` sorts before `.`),
//! yet the pair is one site: after a fix both ports serve each app from one
//! daemon with its options, and disabling the copy again (`a2dissite`)
//! leaves the `:80` vhost every daemon it selects.
//!
//! Without Apache or mod_wsgi the tests print why and pass, unless
//! `WSGIFIX_REQUIRE_APACHE=1` says this machine must have them.

mod common;
mod e2e_support;

use e2e_support::require_or_skip;
use e2e_support::scenario::{table, user_opt, wsgi_errors, Scenario};
use e2e_support::tree::{Layout, Probe, Tree};

/// Two apps, `a` and `b`, importing `modules`, in a certbot pair whose
/// vhosts hold `body` (after the ServerName) and the aliases.
fn pair(
    apache: &e2e_support::Apache,
    modules: &[&str],
    body: impl Fn(&Tree) -> String,
) -> Scenario {
    let t = Tree::new(apache, Layout::Debian, true);
    let text = format!(
        "\tServerName x.test\n{}\tWSGIScriptAlias /a {}\n\tWSGIScriptAlias /b {}\n",
        body(&t),
        t.app("a.wsgi", modules),
        t.app("b.wsgi", modules)
    );
    t.site(
        "x.conf",
        &format!(
            "<VirtualHost {}>\n{text}</VirtualHost>\n",
            t.vhost_addr(false)
        ),
    );
    t.site(
        "x-le-ssl.conf",
        &format!(
            "<IfModule mod_ssl.c>\n<VirtualHost {}>\n{text}\n{}</VirtualHost>\n</IfModule>\n",
            t.vhost_addr(true),
            t.ssl_lines("")
        ),
    );
    Scenario {
        name: "certbot pair",
        probes: vec![
            Probe::new("a", "x.test", "/a"),
            Probe::tls("a", "x.test", "/a"),
            Probe::new("b", "x.test", "/b"),
            Probe::tls("b", "x.test", "/b"),
        ],
        tree: t,
    }
}

/// Each app is served on both ports by one daemon of its own, in the main
/// interpreter, with the shared daemon's python-path when `libs`.
fn assert_split(s: &Scenario, libs: bool, context: &str) {
    let after = s.serve();
    let seen = &after.seen;
    let why = || {
        format!(
            "{}\n{}\n{context}\n{}",
            table(&s.probes, seen),
            wsgi_errors(&after.error_log),
            s.tree.dump()
        )
    };
    for a in seen {
        assert!(
            a.status == 200
                && !a.process_group.is_empty()
                && a.application_group.is_empty()
                && (!libs || a.libs == ["x/x_lib"]),
            "{}",
            why()
        );
    }
    assert_eq!(seen[0].process_group, seen[1].process_group, "{}", why());
    assert_eq!(seen[2].process_group, seen[3].process_group, "{}", why());
    assert_ne!(seen[0].process_group, seen[2].process_group, "{}", why());
    assert_ne!(seen[0].pid, seen[2].pid, "{}", why());
}

/// The fixed `:80` vhost alone (certbot's copy disabled) still serves both
/// apps from daemons it finds.
fn assert_plain_site_survives(s: &Scenario) {
    std::fs::remove_file(s.tree.path("sites-enabled/x-le-ssl.conf")).expect("a2dissite");
    s.tree
        .assert_syntax_ok("the fixed certbot pair with the SSL site disabled");
    let plain = [s.probes[0].clone(), s.probes[2].clone()];
    let served = s.tree.serve(&plain);
    for a in &served.seen {
        assert!(
            a.status == 200 && !a.process_group.is_empty(),
            "with x-le-ssl.conf disabled, :80 lost a daemon:\n{}\n{}\n{}",
            table(&plain, &served.seen),
            wsgi_errors(&served.error_log),
            s.tree.dump()
        );
    }
}

#[test]
fn certbot_pair_of_two_apps_sharing_a_daemon_is_split_on_both_ports() {
    let Some(apache) = require_or_skip("certbot_pair_of_two_apps_sharing_a_daemon") else {
        return;
    };
    let s = pair(&apache, &["x_lib"], |t| {
        format!(
            "\tWSGIDaemonProcess shared{} processes=1 threads=2 python-path={}\n\tWSGIProcessGroup shared\n\tWSGIApplicationGroup %{{GLOBAL}}\n",
            user_opt(),
            t.lib("x", "x_lib")
        )
    });
    assert!(
        !s.tree.check().ok,
        "the setup: apache2 -t refuses the duplicate daemon"
    );
    let run = s.write();
    assert_eq!(run.code, 0, "{}", run.describe());
    assert_split(&s, true, &run.describe());
    assert_plain_site_survives(&s);
}

#[test]
fn certbot_pair_of_embedded_apps_keeps_its_daemons_in_the_original_site() {
    let Some(apache) = require_or_skip("certbot_pair_of_embedded_apps") else {
        return;
    };
    let s = pair(&apache, &[], |_| String::new());
    s.tree.assert_syntax_ok("the embedded certbot pair");
    let before = s.serve();
    assert!(
        before
            .seen
            .iter()
            .all(|a| a.status == 200 && a.process_group.is_empty()),
        "the setup: every app runs embedded\n{}",
        table(&s.probes, &before.seen)
    );
    let run = s.write();
    assert_eq!(run.code, 0, "{}", run.describe());
    assert_split(&s, false, &run.describe());
    assert_plain_site_survives(&s);
}
