//! Inputs sweeps found httpd refusing at start-up that wsgifix accepted
//! (exit 0 or 1, even fixes): each is an error at its line, in httpd's
//! words, and real Apache refuses every one of them too.

mod common;

use wsgifix::engine::{process, Options};

/// (what, config, wsgifix's error).
const REFUSED: &[(&str, &str, &str)] = &[
    (
        "bom",
        "\u{feff}WSGIScriptAlias / /srv/a.wsgi\n",
        "1:1: Invalid command '\\xef\\xbb\\xbfWSGIScriptAlias'",
    ),
    (
        "daemon-in-directory",
        "<Directory /srv>\n  WSGIDaemonProcess d\n</Directory>\n",
        "2:3: WSGIDaemonProcess not allowed in <Directory> context",
    ),
    (
        "daemon-in-location",
        "<Location /x>\n  WSGIDaemonProcess d\n</Location>\n",
        "2:3: WSGIDaemonProcess not allowed in <Location> context",
    ),
    (
        "ifdefine-without-argument",
        "<IfDefine>\nWSGIScriptAlias / /srv/a.wsgi\n</IfDefine>\n",
        "1:1: <IfDefine> directive requires additional arguments",
    ),
    (
        "processes-zero",
        "WSGIDaemonProcess d processes=0\n",
        "1:1: Invalid process count for WSGI daemon process.",
    ),
    (
        "processes-not-a-number",
        "WSGIDaemonProcess d processes=abc\n",
        "1:1: Invalid process count for WSGI daemon process.",
    ),
    (
        "negative-timeout",
        "WSGIDaemonProcess d queue-timeout=-1\n",
        "1:1: Invalid queue timeout for WSGI daemon process.",
    ),
];

#[test]
fn what_httpd_refuses_is_an_error_at_its_line() {
    for (what, config, error) in REFUSED {
        let r = process(config.as_bytes(), &Options::default());
        let got = r.error.map(|e| e.to_string()).unwrap_or_default();
        assert!(got.starts_with(error), "{what}: {got:?}");
        assert!(r.fixed.is_none(), "{what}");
    }
    // What httpd accepts stays accepted.
    for config in [
        "WSGIDaemonProcess d processes=2 threads=0 queue-timeout=0\n",
        "<VirtualHost *:80>\n  WSGIDaemonProcess d\n</VirtualHost>\n",
        "# a comment\nWSGIDaemonProcess d processes={{ n }}\n",
    ] {
        let r = process(config.as_bytes(), &Options::default());
        assert!(r.error.is_none(), "{config}: {:?}", r.error);
    }
}

#[test]
fn real_apache_refuses_them_too() {
    let Some(apache) = common::apache::require_or_skip("httpd refusals") else {
        return;
    };
    let lab = common::apache::Lab::for_wsgi(&apache);
    for (what, config, _) in REFUSED {
        let out = lab.check_snippet(what, config);
        assert!(!out.ok(), "{what}: apache2 -t accepted it");
    }
    let out = lab.check_snippet(
        "accepted",
        "WSGIDaemonProcess d processes=2 threads=0 queue-timeout=0\n",
    );
    assert!(out.ok(), "{}", out.message());
}
