//! A `<Location>` below an app's URL that gives its URLs another daemon
//! (mod_wsgi's documentation delegates a Django site's `/admin` that way):
//! real Apache shows the part running apart, and a fix must keep it there.

mod common;
mod e2e_support;

use e2e_support::{require_or_skip, AppInfo, Lab};
use wsgifix::engine::{self, Options};

const MODULES: &[&str] = &["authz_core", "alias", "mime", "wsgi"];

fn serve(lab: &Lab, text: &str, urls: &[&str]) -> Vec<AppInfo> {
    lab.serve_site("site.conf", MODULES, text, urls)
}

fn groups(seen: &AppInfo) -> (&str, &str) {
    (&seen.process_group, &seen.application_group)
}

/// The documentation's shape: the site itself embedded, `/admin` in a
/// daemon of its own. An alias option `process-group=` would take `/admin`
/// too; with no `<Directory>` of the script alone, the embedded finding is
/// left (saying why), and `%{GLOBAL}` reaches both.
#[test]
fn a_delegated_admin_stays_in_its_daemon() {
    let Some(apache) = require_or_skip("a_delegated_admin_stays_in_its_daemon") else {
        return;
    };
    let lab = Lab::new(&apache);
    let script = lab.write_app("site/django.wsgi");
    let before = format!(
        "WSGIDaemonProcess django processes=1 threads=2\n\
         WSGIDaemonProcess django-admin processes=1 threads=2\n\
         WSGIScriptAlias / {}\n\
         <Location /admin>\n  WSGIProcessGroup django-admin\n</Location>\n",
        script.display()
    );
    let b = serve(&lab, &before, &["/", "/admin"]);
    assert_eq!(groups(&b[0]).0, "", "the setup: / embedded");
    assert_eq!(
        groups(&b[1]).0,
        "django-admin",
        "the setup: /admin delegated"
    );

    let r = engine::process(before.as_bytes(), &Options::default());
    let embedded: Vec<_> = r.findings.iter().filter(|f| f.code == "WSGI001").collect();
    assert_eq!(embedded.len(), 1, "{:#?}", r.findings);
    assert!(!embedded[0].fixable);
    assert!(
        embedded[0]
            .not_fixed
            .is_some_and(|w| w.contains("<Location> below its URL")),
        "{:#?}",
        embedded[0]
    );
    let fixed = String::from_utf8(r.fixed.expect("the WSGI003 fix")).unwrap();
    let a = serve(&lab, &fixed, &["/", "/admin"]);
    assert_eq!(groups(&a[0]), ("", ""), "{fixed}");
    assert_eq!(groups(&a[1]), ("django-admin", ""), "{fixed}");

    // With the script's own <Directory>, the site goes into a daemon there
    // (merged before every <Location>): /admin still runs in its own.
    let dir = script.parent().unwrap().display().to_string();
    let before = format!("{before}<Directory {dir}>\n  Require all granted\n</Directory>\n");
    let r = engine::process(before.as_bytes(), &Options::default());
    assert!(r.findings.iter().all(|f| f.fixable), "{:#?}", r.findings);
    let fixed = String::from_utf8(r.fixed.expect("a fix")).unwrap();
    let a = serve(&lab, &fixed, &["/", "/admin"]);
    assert!(!a[0].process_group.is_empty(), "{fixed}");
    assert_ne!(a[0].process_group, "django-admin", "{fixed}");
    assert_eq!(groups(&a[1]), ("django-admin", ""), "{fixed}");
    assert_ne!(a[0].pid, a[1].pid);
    let again = engine::process(fixed.as_bytes(), &Options::default());
    assert!(again.findings.is_empty(), "{:#?}", again.findings);
}

/// `/app/reports` runs in `slow`, which `/other` uses too: two apps in one
/// daemon, seen only through the deeper `<Location>`. `/other` moves to a
/// copy of `slow`; the reports stay where they ran.
#[test]
fn a_daemon_shared_with_part_of_an_app_is_split() {
    let Some(apache) = require_or_skip("a_daemon_shared_with_part_of_an_app") else {
        return;
    };
    let lab = Lab::new(&apache);
    let app = lab.write_app("app/app.wsgi");
    let other = lab.write_app("other/app.wsgi");
    let before = format!(
        "WSGIDaemonProcess main processes=1 threads=2\n\
         WSGIDaemonProcess slow processes=1 threads=2\n\
         WSGIApplicationGroup %{{GLOBAL}}\n\
         WSGIScriptAlias /app {}\n\
         <Location /app>\n  WSGIProcessGroup main\n</Location>\n\
         <Location /app/reports>\n  WSGIProcessGroup slow\n</Location>\n\
         WSGIScriptAlias /other {}\n\
         <Location /other>\n  WSGIProcessGroup slow\n</Location>\n",
        app.display(),
        other.display()
    );
    let urls = ["/app", "/app/reports", "/other"];
    let b = serve(&lab, &before, &urls);
    assert_eq!(groups(&b[1]).0, "slow");
    assert_eq!(groups(&b[2]).0, "slow");
    assert_eq!(b[1].pid, b[2].pid, "the setup: one process for both");

    let r = engine::process(before.as_bytes(), &Options::default());
    let shared: Vec<_> = r.findings.iter().filter(|f| f.code == "WSGI002").collect();
    assert_eq!(shared.len(), 1, "{:#?}", r.findings);
    assert!(
        shared[0].message.contains("/other"),
        "{}",
        shared[0].message
    );
    assert!(shared[0].fixable);
    let fixed = String::from_utf8(r.fixed.expect("a fix")).unwrap();
    let a = serve(&lab, &fixed, &urls);
    assert_eq!(groups(&a[0]), ("main", ""), "{fixed}");
    assert_eq!(groups(&a[1]), ("slow", ""), "{fixed}");
    assert_ne!(a[2].process_group, "slow", "{fixed}");
    assert_ne!(a[2].pid, a[1].pid);
    assert_ne!(a[2].pid, a[0].pid);
}
