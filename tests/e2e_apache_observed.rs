//! Cases sweeps over public configs found wsgifix misreading, served by
//! real Apache before and after the fix: what mod_wsgi reports decides.

mod common;
mod e2e_support;

use e2e_support::{require_or_skip, AppInfo, Lab};
use wsgifix::engine::{self, Options};

const MODULES: &[&str] = &["authz_core", "alias", "mime", "wsgi"];

fn serve(lab: &Lab, name: &str, text: &str, urls: &[&str]) -> Vec<AppInfo> {
    lab.serve_site(name, MODULES, text, urls)
}

/// Ubuntu's openstack-dashboard.conf shape: the alias names its daemon with
/// `process-group=` before the daemon is defined, so `application-group=`
/// on it would preload the script before the daemon exists (httpd refuses
/// to start). The script's own `<Directory>` takes `%{GLOBAL}`.
#[test]
fn a_server_level_alias_before_its_daemon_gets_global_in_its_directory() {
    let Some(apache) = require_or_skip("server_level_alias_before_its_daemon") else {
        return;
    };
    let lab = Lab::new(&apache);
    let script = lab.write_app("horizon/wsgi.py");
    let dir = script.parent().unwrap().display().to_string();
    let before = format!(
        "WSGIScriptAlias /horizon {} process-group=horizon\nWSGIDaemonProcess horizon processes=1 threads=2\n<Directory {dir}>\n  Require all granted\n</Directory>\n",
        script.display()
    );
    let b = serve(&lab, "horizon.conf", &before, &["/horizon"]);
    assert_eq!(b[0].process_group, "horizon");
    assert_ne!(b[0].application_group, "", "the setup: a sub-interpreter");

    let r = engine::process(before.as_bytes(), &Options::default());
    assert!(r.findings.iter().all(|f| f.fixable), "{:#?}", r.findings);
    let fixed = String::from_utf8(r.fixed.expect("a fix")).unwrap();
    assert!(
        fixed.contains(&format!(
            "<Directory {dir}>\n  WSGIApplicationGroup %{{GLOBAL}}\n"
        )),
        "{fixed}"
    );
    let a = serve(&lab, "horizon.conf", &fixed, &["/horizon"]);
    assert_eq!(
        (a[0].process_group.as_str(), a[0].application_group.as_str()),
        ("horizon", ""),
        "{fixed}"
    );
}

/// climatewizard's README names the script itself in its `<Directory>`:
/// httpd applies it, so the app already runs right and nothing changes.
#[test]
fn a_directory_naming_the_script_is_seen_to_apply() {
    let Some(apache) = require_or_skip("a_directory_naming_the_script") else {
        return;
    };
    let lab = Lab::new(&apache);
    let script = lab.write_app("cw/app.wsgi");
    let glob = script.with_file_name("*.wsgi");
    for dir in [&script, &glob] {
        let text = format!(
            "WSGIDaemonProcess d1 processes=1 threads=2\nWSGIScriptAlias /app {}\n<Directory {}>\n    WSGIProcessGroup d1\n    WSGIApplicationGroup %{{GLOBAL}}\n    Require all granted\n</Directory>\n",
            script.display(),
            dir.display()
        );
        let seen = serve(&lab, "cw.conf", &text, &["/app"]);
        assert_eq!(
            (
                seen[0].process_group.as_str(),
                seen[0].application_group.as_str()
            ),
            ("d1", ""),
            "{text}"
        );
        let r = engine::process(text.as_bytes(), &Options::default());
        assert!(
            r.findings.is_empty() && r.fixed.is_none(),
            "{text}\n{:#?}",
            r.findings
        );
    }
}

/// CNAF's graphite vhost preloads its script into the embedded
/// interpreters; moved into a daemon, the app takes its preload along
/// (httpd accepts it: the new daemon is defined before the import).
#[test]
fn an_embedded_preload_follows_its_app_into_the_daemon() {
    let Some(apache) = require_or_skip("an_embedded_preload_follows_its_app") else {
        return;
    };
    let lab = Lab::new(&apache);
    let script = lab.write_app("graphite/graphite-web.wsgi");
    let s = script.display();
    let before = format!(
        "<VirtualHost *>\n    ServerName graphite.example.org\n    WSGIScriptAlias /graphite {s}\n    WSGIImportScript {s} process-group=%{{GLOBAL}} application-group=%{{GLOBAL}}\n</VirtualHost>\n"
    );
    let b = serve(&lab, "graphite.conf", &before, &["/graphite"]);
    assert_eq!(b[0].process_group, "", "the setup: embedded");

    let r = engine::process(before.as_bytes(), &Options::default());
    let fixed = String::from_utf8(r.fixed.expect("a fix")).unwrap();
    assert!(
        fixed.contains(&format!(
            "WSGIImportScript {s} process-group=graphite application-group=%{{GLOBAL}}\n"
        )),
        "{fixed}"
    );
    let a = serve(&lab, "graphite.conf", &fixed, &["/graphite"]);
    assert_eq!(
        (a[0].process_group.as_str(), a[0].application_group.as_str()),
        ("graphite", ""),
        "{fixed}"
    );
    let again = engine::process(fixed.as_bytes(), &Options::default());
    assert!(
        again.findings.is_empty() && again.fixed.is_none(),
        "{:#?}",
        again.findings
    );
}

/// A `<Location /app/>` takes `/app/x` but not `/app`: what runs where
/// depends on the request, so wsgifix neither calls the app right nor
/// fixes it.
#[test]
fn a_location_with_a_trailing_slash_splits_its_app() {
    let Some(apache) = require_or_skip("a_location_with_a_trailing_slash") else {
        return;
    };
    let lab = Lab::new(&apache);
    let script = lab.write_app("sub/app.wsgi");
    let text = format!(
        "<VirtualHost *>\n  WSGIDaemonProcess d1 processes=1 threads=2\n  WSGIScriptAlias /app {}\n  <Location /app/>\n    WSGIProcessGroup d1\n    WSGIApplicationGroup %{{GLOBAL}}\n  </Location>\n</VirtualHost>\n",
        script.display()
    );
    let site = lab.write("slash.conf", text.as_bytes());
    let base = lab.write_base("httpd-slash.conf", MODULES, &[&site]);
    lab.assert_syntax_ok(&base, "slash.conf");
    let server = lab.start(&base);
    let (bare, below) = (server.app("/app"), server.app("/app/x"));
    server.stop();
    assert_eq!(bare.process_group, "", "{bare:?}");
    assert_eq!(below.process_group, "d1", "{below:?}");
    let r = engine::process(text.as_bytes(), &Options::default());
    assert!(
        !r.findings.is_empty() && r.findings.iter().all(|f| !f.fixable) && r.fixed.is_none(),
        "{:#?}",
        r.findings
    );
}
