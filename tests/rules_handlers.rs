//! Apps made by a `wsgi-script` handler in a `<Files>`/`<FilesMatch>`
//! inside a `<Directory>`: which scripts they stand for, which groups reach
//! them, and where their fixes go (served by real Apache in
//! `e2e_handlers.rs`).

mod common;

use common::engine::{codes, run};

fn site(files_open: &str, files_close: &str, groups: &str) -> String {
    format!(
        "<VirtualHost *:80>
    ServerName h.example
    WSGIDaemonProcess app processes=1 threads=2
    Alias /app /srv/app
    <Directory /srv/app>
{groups}        Options +ExecCGI
        {files_open}
            SetHandler wsgi-script
        {files_close}
    </Directory>
</VirtualHost>
"
    )
}

const GROUPS: &str = "        WSGIProcessGroup app\n        WSGIApplicationGroup %{GLOBAL}\n";

#[test]
fn groups_of_the_directory_reach_its_files_handler() {
    for (open, close) in [
        ("<Files app.wsgi>", "</Files>"),
        ("<Files *.wsgi>", "</Files>"),
        ("<FilesMatch \"\\.wsgi$\">", "</FilesMatch>"),
        ("<Files ~ \"\\.wsgi$\">", "</Files>"),
    ] {
        let r = run(&site(open, close, GROUPS));
        assert!(r.findings.is_empty(), "{open}: {:#?}", r.findings);
        assert!(r.fixed.is_none(), "{open}");
    }
}

#[test]
fn one_named_script_is_fixed_next_to_its_directory() {
    let text = site("<Files app.wsgi>", "</Files>", "")
        .replace("    WSGIDaemonProcess app processes=1 threads=2\n", "");
    let r = run(&text);
    assert_eq!(
        codes(&r),
        [("WSGI001", 7, true), ("WSGI003", 7, true)],
        "{:#?}",
        r.findings
    );
    let fixed = String::from_utf8(r.fixed.unwrap()).unwrap();
    // The daemon goes where httpd allows one (the vhost, not the
    // <Directory>), and it selects the one it defines.
    let daemon = fixed.find("\n    WSGIDaemonProcess app\n").expect(&fixed);
    assert!(daemon < fixed.find("<Directory").unwrap(), "{fixed}");
    assert!(
        fixed.contains("<Files app.wsgi>\n            WSGIProcessGroup app\n"),
        "{fixed}"
    );
    let again = run(&fixed);
    assert!(again.findings.is_empty(), "{:#?}", again.findings);
}

#[test]
fn a_pattern_of_scripts_in_their_own_interpreters_is_reported_not_merged() {
    // Every script `\.wsgi$` matches is an app in an interpreter of its
    // own: one daemon and %{GLOBAL} for them all would merge them.
    for (open, close) in [
        ("<FilesMatch \"\\.wsgi$\">", "</FilesMatch>"),
        ("<Files *.wsgi>", "</Files>"),
    ] {
        let r = run(&site(open, close, ""));
        assert_eq!(
            codes(&r),
            [("WSGI001", 8, false), ("WSGI003", 8, false)],
            "{open}: {:#?}",
            r.findings
        );
        assert!(
            r.findings.iter().all(|f| f
                .not_fixed
                .is_some_and(|why| why.contains("several scripts"))),
            "{open}: {:#?}",
            r.findings
        );
        assert!(r.fixed.is_none(), "{open}");
    }
}

#[test]
fn another_files_section_may_cover_only_some_of_a_pattern() {
    let text = site(
        "<FilesMatch \"\\.wsgi$\">",
        "</FilesMatch>\n        <Files app.wsgi>\n            WSGIProcessGroup app\n        </Files>",
        "        WSGIApplicationGroup %{GLOBAL}\n",
    );
    let r = run(&text);
    // Which scripts the daemon takes is not decidable: not "embedded" for
    // sure, and not fixed.
    assert!(r.fixed.is_none(), "{:#?}", r.findings);
    assert!(r.findings.iter().all(|f| !f.fixable), "{:#?}", r.findings);
}

#[test]
fn an_add_handler_for_a_whole_scope_makes_apps_of_exec_cgi_directories() {
    // Apache ran /h/app.py embedded, in sub-interpreter 'ah.test|/h/app.py':
    // the vhost's AddHandler applies in every directory that allows ExecCGI.
    let conf = "\
<VirtualHost *:80>
  ServerName ah.test
  AddHandler wsgi-script .py
  Alias /h /srv/h1
  <Directory /srv/h1>
    Options ExecCGI
  </Directory>
  <Directory /srv/static>
    Options Indexes
  </Directory>
</VirtualHost>
";
    let r = run(conf);
    // Reported at the Options line that makes the directory's files
    // scripts.
    assert_eq!(
        codes(&r),
        [("WSGI001", 6, false), ("WSGI003", 6, false)],
        "{:#?}",
        r.findings
    );
    assert!(
        r.findings
            .iter()
            .all(|f| f.message.contains("/h (/srv/h1)")),
        "{:#?}",
        r.findings
    );
    // Groups set for that directory reach its scripts.
    let right = conf
        .replace(
            "    Options ExecCGI\n",
            "    Options ExecCGI\n    WSGIProcessGroup h\n    WSGIApplicationGroup %{GLOBAL}\n",
        )
        .replace("  AddHandler", "  WSGIDaemonProcess h\n  AddHandler");
    let r = run(&right);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    // A handler in the directory itself is that app already.
    let own = conf.replace(
        "    Options ExecCGI\n",
        "    Options ExecCGI\n    AddHandler wsgi-script .py\n",
    );
    assert_eq!(run(&own).findings.len(), 2);
}

#[test]
fn an_alias_of_one_script_under_a_scope_handler_is_that_app() {
    // Apache served /one from daemon `one` in the main interpreter: the
    // groups of its <Location> (or of a <Files> of the script) reach it.
    let base = "\
<VirtualHost *:80>
  ServerName m.test
  AddHandler wsgi-script .wsgi
  WSGIDaemonProcess one python-path=/srv/lib1
  Alias /one /srv/m/s1/app.wsgi
  <Directory /srv/m/s1>
    Options ExecCGI
  </Directory>
  <Location /one>
    WSGIProcessGroup one
    WSGIApplicationGroup %{GLOBAL}
  </Location>
</VirtualHost>
";
    let files = base
        .replace("  <Location /one>\n    WSGIProcessGroup one\n    WSGIApplicationGroup %{GLOBAL}\n  </Location>\n", "")
        .replace(
            "    Options ExecCGI\n",
            "    Options ExecCGI\n    <Files app.wsgi>\n      WSGIProcessGroup one\n      WSGIApplicationGroup %{GLOBAL}\n    </Files>\n",
        );
    for text in [base.to_string(), files] {
        let r = run(&text);
        assert!(
            r.findings.is_empty() && r.fixed.is_none(),
            "{text}\n{:#?}",
            r.findings
        );
    }
    // Without the groups it is one app, fixed like any.
    let bare = base.replace("  <Location /one>\n    WSGIProcessGroup one\n    WSGIApplicationGroup %{GLOBAL}\n  </Location>\n", "")
        .replace("  WSGIDaemonProcess one python-path=/srv/lib1\n", "");
    let r = run(&bare);
    assert!(
        !r.findings.is_empty()
            && r.findings
                .iter()
                .all(|f| f.fixable && f.message.contains("/one (/srv/m/s1/app.wsgi)")),
        "{:#?}",
        r.findings
    );
    // A file of another type is not a script: the directory's own scripts,
    // whichever they are, are what the handler makes.
    let other = bare.replace("AddHandler wsgi-script .wsgi", "AddHandler wsgi-script .py");
    let r = run(&other);
    assert!(
        !r.findings.is_empty()
            && r.findings
                .iter()
                .all(|f| !f.fixable && f.message.contains("application /srv/m/s1 ")),
        "{:#?}",
        r.findings
    );
}

#[test]
fn a_files_match_that_spells_one_name_is_that_one_script() {
    // `^app\.wsgi$` takes app.wsgi alone: one app, fixed as a <Files
    // app.wsgi> is.
    let r = run(&site("<FilesMatch \"^app\\.wsgi$\">", "</FilesMatch>", "")
        .replace("    WSGIDaemonProcess app processes=1 threads=2\n", ""));
    assert_eq!(
        codes(&r),
        [("WSGI001", 7, true), ("WSGI003", 7, true)],
        "{:#?}",
        r.findings
    );
    assert!(r.findings[0]
        .message
        .contains("/app/app.wsgi (/srv/app/app.wsgi)"));
}

#[test]
fn a_handler_directory_served_by_document_root_is_every_script_in_it() {
    // A sweep's server: Apache ran one.wsgi and two.wsgi of the directory
    // each in its own sub-interpreter; a daemon for "the directory" put
    // both apps in one process. Which scripts it holds, only the disk says.
    let conf = "\
<VirtualHost *:80>
    ServerName ah.example
    DocumentRoot /srv/www
    <Directory /srv/www/scripts>
        Options ExecCGI
        AddHandler wsgi-script .wsgi
        Require all granted
    </Directory>
</VirtualHost>
";
    let r = run(conf);
    assert_eq!(
        codes(&r),
        [("WSGI001", 6, false), ("WSGI003", 6, false)],
        "{:#?}",
        r.findings
    );
    assert!(r.findings[0]
        .not_fixed
        .is_some_and(|w| w.contains("several scripts")));
}
