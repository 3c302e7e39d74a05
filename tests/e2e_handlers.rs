//! Apps made by a `wsgi-script` handler in a `<Files>` or `<FilesMatch>`
//! inside the `<Directory>` an `Alias` maps, served by real Apache: the
//! groups set around the handler are the ones the app gets, so an app that
//! already runs right is left alone and only the embedded one is fixed.

mod common;
mod e2e_support;

use e2e_support::{require_or_skip, AppInfo, Lab};
use wsgifix::engine::{self, Options};

const MODULES: &[&str] = &["authz_core", "alias", "mime", "wsgi"];

/// `/right` runs in its daemon and the main interpreter by the groups of
/// its `<Directory>`, around a `<FilesMatch>`; `/plain`'s one `<Files>`
/// script runs embedded.
fn site(lab: &Lab) -> String {
    lab.write_app("right/app.wsgi");
    lab.write_app("plain/app.wsgi");
    let apps = lab.path("apps");
    let a = apps.display();
    format!(
        "<VirtualHost *>
    WSGIDaemonProcess right processes=1 threads=2
    Alias /right {a}/right
    <Directory {a}/right>
        WSGIProcessGroup right
        WSGIApplicationGroup %{{GLOBAL}}
        Options +ExecCGI
        <FilesMatch \"\\.wsgi$\">
            SetHandler wsgi-script
        </FilesMatch>
        Require all granted
    </Directory>
    Alias /plain {a}/plain
    <Directory {a}/plain>
        Options +ExecCGI
        <Files app.wsgi>
            SetHandler wsgi-script
        </Files>
        Require all granted
    </Directory>
</VirtualHost>
"
    )
}

fn serve(lab: &Lab, text: &str) -> (AppInfo, AppInfo) {
    let site = lab.write("site.conf", text.as_bytes());
    let base = lab.write_base("httpd.conf", MODULES, &[&site]);
    lab.assert_syntax_ok(&base, "the handler site");
    let server = lab.start(&base);
    let right = server.app("/right/app.wsgi");
    let plain = server.app("/plain/app.wsgi");
    server.stop();
    (right, plain)
}

#[test]
fn groups_around_a_files_handler_are_seen_and_an_embedded_one_is_fixed() {
    let Some(apache) = require_or_skip("groups_around_a_files_handler") else {
        return;
    };
    let lab = Lab::new(&apache);
    let before = site(&lab);
    let (right, plain) = serve(&lab, &before);
    assert_eq!(
        (
            right.process_group.as_str(),
            right.application_group.as_str()
        ),
        ("right", ""),
        "the setup: /right runs right already"
    );
    assert_eq!(plain.process_group, "", "the setup: /plain runs embedded");

    let r = engine::process(before.as_bytes(), &Options::default());
    assert!(r.error.is_none(), "{:?}", r.error);
    let right_lines = 2..=12;
    let on_right: Vec<_> = r
        .findings
        .iter()
        .filter(|f| right_lines.contains(&f.line))
        .collect();
    assert!(on_right.is_empty(), "an app that runs right: {on_right:#?}");
    let on_plain: Vec<_> = r.findings.iter().map(|f| (f.code, f.line)).collect();
    assert!(
        on_plain.contains(&("WSGI001", 17)) && on_plain.contains(&("WSGI003", 17)),
        "{:#?}",
        r.findings
    );
    assert!(r.findings.iter().all(|f| f.fixable), "{:#?}", r.findings);

    let fixed = String::from_utf8(r.fixed.expect("a fix for /plain")).unwrap();
    let again = engine::process(fixed.as_bytes(), &Options::default());
    assert!(
        again.findings.is_empty() && again.fixed.is_none(),
        "{:#?}",
        again.findings
    );
    let (right_after, plain_after) = serve(&lab, &fixed);
    assert_eq!(
        (
            right_after.process_group.as_str(),
            right_after.application_group.as_str()
        ),
        ("right", ""),
        "/right moved:\n{fixed}"
    );
    assert!(
        !plain_after.process_group.is_empty()
            && plain_after.process_group != "right"
            && plain_after.application_group.is_empty()
            && plain_after.pid != right_after.pid,
        "/plain is not in a daemon of its own in the main interpreter: {plain_after:?}\n{fixed}"
    );
}
