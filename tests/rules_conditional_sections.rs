//! Sections httpd reads only under a condition (`<IfDefine>`, `<IfModule>`),
//! as sweeps found them in real servers and real Apache + mod_wsgi served
//! them: what httpd decides is decided here too, and what only httpd's
//! command line decides is not guessed.

mod common;

use common::engine::{codes, fixed_text, run};

/// The modules a Debian server loads before its sites (mods-enabled/).
const LOADS: &str = "\
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule wsgi_module /usr/lib/apache2/modules/mod_wsgi.so
";

#[test]
fn an_if_module_of_a_module_not_loaded_is_not_read() {
    // Apache (no mod_ssl loaded) served /a embedded: the <IfModule
    // mod_ssl.c> group is skipped. With mod_ssl loaded it applies.
    let site = "\
<VirtualHost *:80>
  ServerName iv.example
  WSGIDaemonProcess ga
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias /a /srv/a.wsgi
  <IfModule mod_ssl.c>
    <Location /a>
      WSGIProcessGroup ga
    </Location>
  </IfModule>
</VirtualHost>
";
    let r = run(&format!("{LOADS}{site}"));
    assert_eq!(codes(&r), [("WSGI001", 9, true)], "{:#?}", r.findings);
    let ssl = "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n";
    let r = run(&format!("{LOADS}{ssl}{site}"));
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    // Its negation, with the module loaded, is not read either (the
    // 2.2-compatibility blocks of OpenStack's configs).
    let negated = site.replace("mod_ssl.c", "!mod_authz_core.c");
    let r = run(&format!("{LOADS}{negated}"));
    assert_eq!(codes(&r), [("WSGI001", 9, true)], "{:#?}", r.findings);
    // A file read alone says nothing of the server's modules: read.
    let r = run(site);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    // An MPM is named by its source file too (event.c for mpm_event).
    for loaded in [
        "event.c",
        "mpm_event_module",
        "mod_alias.c",
        "alias_module",
        "mod_version.c",
    ] {
        let r = run(&format!("{LOADS}{}", site.replace("mod_ssl.c", loaded)));
        assert!(r.findings.is_empty(), "{loaded}: {:#?}", r.findings);
    }
}

#[test]
fn a_certbot_copy_in_if_module_mod_ssl_without_mod_ssl_is_no_duplicate() {
    // Apache (no mod_ssl): Syntax OK, the :80 site served from kallithea.
    let conf = format!(
        "{LOADS}<IfModule mod_ssl.c>\n<VirtualHost *:443>\n  ServerName k.example\n  \
         WSGIDaemonProcess kallithea\n  WSGIProcessGroup kallithea\n  WSGIApplicationGroup %{{GLOBAL}}\n  \
         WSGIScriptAlias / /srv/k.wsgi\n</VirtualHost>\n</IfModule>\n\
         <VirtualHost *:80>\n  ServerName k.example\n  WSGIDaemonProcess kallithea\n  \
         WSGIProcessGroup kallithea\n  WSGIApplicationGroup %{{GLOBAL}}\n  \
         WSGIScriptAlias / /srv/k.wsgi\n</VirtualHost>\n"
    );
    let r = run(&conf);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}

#[test]
fn a_group_under_an_if_define_only_the_command_line_decides_is_undecided() {
    // Apache started without -D SSL served /b embedded and /d alone in
    // `other`: /d is right and stays; /b's group depends on -D SSL.
    let conf = "\
<VirtualHost *:80>
    ServerName e2.example
    WSGIDaemonProcess other
    WSGIApplicationGroup %{GLOBAL}
    WSGIScriptAlias /b /srv/b.wsgi
    WSGIScriptAlias /d /srv/d.wsgi
    <IfDefine SSL>
    <Location /b>
        WSGIProcessGroup other
    </Location>
    </IfDefine>
    <Location /d>
        WSGIProcessGroup other
    </Location>
</VirtualHost>
";
    let r = run(conf);
    assert_eq!(codes(&r), [("WSGI001", 5, false)], "{:#?}", r.findings);
    assert!(
        r.findings[0].message.contains("<IfDefine SSL>"),
        "{}",
        r.findings[0].message
    );
    assert!(r.fixed.is_none());
}

#[test]
fn an_app_only_an_if_define_mounts_leaves_the_daemon_to_the_one_always_read() {
    // Apache without -D SSL: no /admin at all, / alone in `main`. The
    // fix for the pair goes into the <IfDefine SSL> branch.
    let conf = "\
<VirtualHost *:80>
    ServerName id.example
    WSGIDaemonProcess main
    WSGIProcessGroup main
    WSGIApplicationGroup %{GLOBAL}
    <IfDefine SSL>
        WSGIScriptAlias /admin /srv/admin.wsgi
    </IfDefine>
    WSGIScriptAlias / /srv/main.wsgi
</VirtualHost>
";
    let r = run(conf);
    assert_eq!(codes(&r), [("WSGI002", 7, true)], "{:#?}", r.findings);
    let fixed = fixed_text(&r);
    assert!(
        fixed.contains("    WSGIScriptAlias / /srv/main.wsgi\n"),
        "{fixed}"
    );
    let branch = &fixed[fixed.find("<IfDefine SSL>").unwrap()..fixed.find("</IfDefine>").unwrap()];
    assert!(branch.contains("WSGIDaemonProcess admin"), "{fixed}");
}

#[test]
fn an_if_version_every_2_4_release_answers_alike_is_decided() {
    // OpenStack's 2.2-compatibility blocks: Apache 2.4 skipped the
    // `< 2.4` group and served /a embedded, read the `>= 2.4` one for /b.
    let conf = "\
<VirtualHost *:80>
  ServerName v.example
  WSGIDaemonProcess ga
  WSGIDaemonProcess gb
  WSGIApplicationGroup %{GLOBAL}
  WSGIScriptAlias /a /srv/a.wsgi
  WSGIScriptAlias /b /srv/b.wsgi
  <IfVersion < 2.4>
    <Location /a>
      WSGIProcessGroup ga
    </Location>
  </IfVersion>
  <IfVersion >= 2.4>
    <Location /b>
      WSGIProcessGroup gb
    </Location>
  </IfVersion>
</VirtualHost>
";
    let r = run(conf);
    assert_eq!(codes(&r), [("WSGI001", 6, true)], "{:#?}", r.findings);
    // A patch level decides `>= 2.4.10`: read, as before.
    let r = run(&conf.replace("< 2.4>", ">= 2.4.10>"));
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}
