//! Issue 6 end to end, the part that holds on main today: whole multi-file
//! servers (Debian and RHEL layouts) served by real Apache httpd + mod_wsgi.
//! An already-correct server gets no edits (every byte and mtime kept), and
//! certbot's `-le-ssl.conf` copy is refused by httpd and reported by
//! wsgifix. The fixes themselves, before and after `--write`, are in
//! tests/e2e_server_fixes.rs (the cycle: tests/e2e_support/scenario.rs).
//!
//! Without Apache or mod_wsgi the tests print why and pass, unless
//! `WSGIFIX_REQUIRE_APACHE=1` says this machine must have them.

mod common;
mod e2e_support;

use e2e_support::require_or_skip;
use e2e_support::scenario::{certbot_tree, changed_files, table};
use e2e_support::tree::{Layout, Probe, Tree};
use std::collections::BTreeMap;

#[test]
fn certbot_pair_is_refused_before_and_reported() {
    let Some(apache) = require_or_skip("certbot_pair_is_refused_before_and_reported") else {
        return;
    };
    let (t, _) = certbot_tree(&apache);
    let out = t.check();
    assert!(
        !out.ok
            && out
                .stderr
                .contains("Name duplicates previous WSGI daemon definition"),
        "certbot pair: apache2 -t should refuse the duplicate daemon:\n{}\n{}",
        out.stderr,
        t.dump()
    );
    let check = t.wsgifix_config(&["--check"]);
    assert!(
        check.code == 1
            && check.stdout.contains("WSGI005")
            && check.stdout.contains("x-le-ssl.conf"),
        "certbot pair: WSGI005 not reported in x-le-ssl.conf:\n{}",
        check.describe()
    );
}

/// An already-correct multi-file server: a server-level snippet app with
/// its own daemon via alias options, sites with their own daemons, one site
/// with two apps in `<Location>`s. wsgifix must not touch a byte (nor an
/// mtime) and exit 0.
fn correct_server(layout: Layout) {
    let name = format!("correct_{layout:?}_server_gets_no_edits");
    let Some(apache) = require_or_skip(&name) else {
        return;
    };
    let t = Tree::new(&apache, layout, false);
    let lib = t.lib("status", "status_lib");
    let status = t.app("status.wsgi", &["status_lib"]);
    t.conf(
        "status.conf",
        &format!(
            "WSGIDaemonProcess status processes=1 threads=2 python-path={lib}\nWSGIScriptAlias /status {status} process-group=status application-group=%{{GLOBAL}}\n"
        ),
    );
    let shop = t.app("shop.wsgi", &[]);
    t.site(
        "shop.conf",
        &format!(
            "<VirtualHost {}>\n    ServerName shop.test\n    WSGIDaemonProcess shop processes=1 threads=2\n    WSGIProcessGroup shop\n    WSGIApplicationGroup %{{GLOBAL}}\n    WSGIScriptAlias /shop {shop}\n</VirtualHost>\n",
            t.vhost_addr(false)
        ),
    );
    let a = t.app("blog/a.wsgi", &[]);
    let b = t.app("blog/b.wsgi", &[]);
    t.site(
        "blog.conf",
        &format!(
            "<VirtualHost {}>\n    ServerName blog.test\n    WSGIApplicationGroup %{{GLOBAL}}\n    WSGIDaemonProcess blog_a processes=1 threads=2\n    WSGIScriptAlias /a {a}\n    <Location /a>\n        WSGIProcessGroup blog_a\n    </Location>\n    WSGIDaemonProcess blog_b processes=1 threads=2\n    WSGIScriptAlias /b {b}\n    <Location /b>\n        WSGIProcessGroup blog_b\n    </Location>\n</VirtualHost>\n",
            t.vhost_addr(false)
        ),
    );
    let probes = vec![
        Probe::new("status", "shop.test", "/status"),
        Probe::new("status", "blog.test", "/status"),
        Probe::new("shop", "shop.test", "/shop"),
        Probe::new("blog_a", "blog.test", "/a"),
        Probe::new("blog_b", "blog.test", "/b"),
    ];
    t.assert_syntax_ok(&name);
    let before = t.serve(&probes);
    let mut groups = BTreeMap::new();
    for (p, s) in probes.iter().zip(&before.seen) {
        assert!(
            s.status == 200 && !s.process_group.is_empty() && s.application_group.is_empty(),
            "{name}: setup: {} is not right:\n{}",
            p.label(),
            table(&probes, &before.seen)
        );
        groups
            .entry(s.process_group.clone())
            .or_insert(p.app.clone());
        assert_eq!(
            groups[&s.process_group], p.app,
            "{name}: setup shares a daemon"
        );
    }
    let snap = t.snapshot();
    let run = t.wsgifix_config(&["--write"]);
    let changed = changed_files(&snap, &t.snapshot());
    assert!(
        run.code == 0 && changed.is_empty(),
        "{name}: changed {changed:?}\n{}\n{}",
        run.describe(),
        t.dump()
    );
    let check = t.wsgifix_config(&["--check"]);
    assert_eq!(
        check.code,
        0,
        "{name}: findings on a correct server:\n{}",
        check.describe()
    );
}

#[test]
fn correct_debian_server_gets_no_edits() {
    correct_server(Layout::Debian);
}

#[test]
fn correct_rhel_server_gets_no_edits() {
    correct_server(Layout::Rhel);
}
