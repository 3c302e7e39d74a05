//! A server is what httpd reads: a main config and every file its Includes
//! reach, in httpd's order and by httpd's rules (globs, directories,
//! ServerRoot, Define and ${VAR}, envvars, --root). Read orders are compared
//! with what real Apache lists (`-t -D DUMP_INCLUDES`) where it is present.

mod common;

use assert_cmd::Command;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Instant;
use wsgifix::engine::{process_in, Options};
use wsgifix::server::{self, discover_server, DiscoverOptions, Discovery};

fn write(root: &Path, name: &str, text: &str) {
    let p = root.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn opts() -> DiscoverOptions {
    DiscoverOptions {
        env: Some(Default::default()),
        ..DiscoverOptions::default()
    }
}

/// The files in read order, relative to `root`, indented two spaces per
/// include level.
fn order(d: &Discovery, root: &Path) -> Vec<String> {
    let root = root.canonicalize().unwrap();
    d.reads
        .iter()
        .map(|r| {
            let p = &d.model.files[r.file].path;
            let rel = p
                .strip_prefix(&root)
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| p.clone());
            format!("{}{}", "  ".repeat(r.depth), rel.display())
        })
        .collect()
}

/// A Debian tree as the packages lay it out: envvars, ports.conf, modules,
/// conf-enabled/ and sites-enabled/ as symlinks into *-available/.
fn debian(root: &Path) {
    write(
        root,
        "apache2.conf",
        "# Debian\nDefaultRuntimeDir ${APACHE_RUN_DIR}\nIncludeOptional mods-enabled/*.load\nIncludeOptional mods-enabled/*.conf\nInclude ports.conf\nIncludeOptional conf-enabled/*.conf\nIncludeOptional sites-enabled/*.conf\n",
    );
    write(root, "envvars", "unset HOME\nexport APACHE_RUN_USER=www-data\nexport APACHE_RUN_DIR=/var/run/apache2$SUFFIX\n");
    write(
        root,
        "ports.conf",
        "Listen 80\n<IfModule ssl_module>\n\tListen 443\n</IfModule>\n",
    );
    write(
        root,
        "mods-available/wsgi.load",
        "# LoadModule wsgi_module mod_wsgi.so\n",
    );
    write(
        root,
        "mods-available/wsgi.conf",
        "<IfModule mod_wsgi.c>\n</IfModule>\n",
    );
    write(root, "mods-available/ssl.load", "# not enabled\n");
    write(root, "conf-available/security.conf", "ServerTokens OS\n");
    write(root, "conf-available/x2go.conf", "WSGIDaemonProcess x2go\n");
    write(
        root,
        "sites-available/000-default.conf",
        "<VirtualHost *:80>\n\tInclude snippets/app.conf\n</VirtualHost>\n",
    );
    write(
        root,
        "sites-available/disabled.conf",
        "<VirtualHost *:80>\n</VirtualHost>\n",
    );
    write(
        root,
        "snippets/app.conf",
        "WSGIScriptAlias /app /srv/app.wsgi\n",
    );
    fs::create_dir_all(root.join("mods-enabled")).unwrap();
    fs::create_dir_all(root.join("conf-enabled")).unwrap();
    fs::create_dir_all(root.join("sites-enabled")).unwrap();
    symlink(
        "../mods-available/wsgi.load",
        root.join("mods-enabled/wsgi.load"),
    )
    .unwrap();
    symlink(
        "../mods-available/wsgi.conf",
        root.join("mods-enabled/wsgi.conf"),
    )
    .unwrap();
    symlink(
        "../conf-available/security.conf",
        root.join("conf-enabled/security.conf"),
    )
    .unwrap();
    symlink(
        "../conf-available/x2go.conf",
        root.join("conf-enabled/x2go.conf"),
    )
    .unwrap();
    symlink(
        "../sites-available/000-default.conf",
        root.join("sites-enabled/000-default.conf"),
    )
    .unwrap();
    write(
        root,
        "conf-enabled/security.conf.dpkg-old",
        "ServerTokens Full\n",
    );
}

fn rhel(root: &Path) {
    fs::create_dir_all(root).unwrap();
    write(
        root,
        "conf/httpd.conf",
        &format!(
            "ServerRoot \"{}\"\nInclude conf.modules.d/*.conf\nIncludeOptional conf.d/*.conf\n",
            root.canonicalize().unwrap().display()
        ),
    );
    write(
        root,
        "conf.modules.d/00-base.conf",
        "# LoadModule a_module modules/mod_a.so\n",
    );
    write(
        root,
        "conf.modules.d/10-wsgi.conf",
        "# LoadModule wsgi_module modules/mod_wsgi.so\n",
    );
    write(
        root,
        "conf.d/welcome.conf",
        "<LocationMatch \"^/+$\">\n</LocationMatch>\n",
    );
    write(root, "conf.d/app.conf", "WSGIScriptAlias / /srv/app.wsgi\n");
    write(root, "conf.d/README", "not read: not *.conf\n");
}

#[test]
fn debian_layout_in_httpd_order_with_symlinks_and_includes_where_they_stand() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    debian(root);
    let d = discover_server(&root.join("apache2.conf"), &opts());
    assert!(d.error.is_none(), "{:?}", d.error);
    assert_eq!(
        order(&d, root),
        [
            "apache2.conf",
            "  mods-enabled/wsgi.load",
            "  mods-enabled/wsgi.conf",
            "  ports.conf",
            "  conf-enabled/security.conf",
            "  conf-enabled/x2go.conf",
            "  sites-enabled/000-default.conf",
            "    snippets/app.conf",
        ]
    );
    // The path httpd names, and the file a write replaces.
    let site = &d.model.files[6];
    assert!(site.path.ends_with("sites-enabled/000-default.conf"));
    assert!(site.real.ends_with("sites-available/000-default.conf"));
    // The snippet's Include stands inside the <VirtualHost> (node 0, child 0).
    assert_eq!(d.model.included_by(6, &[0, 0]), &[7]);
    assert_eq!(d.model.included_by(0, &[6]), &[6]);
    assert_eq!(d.model.included_by(0, &[2]), &[1]);
    assert_eq!(d.model.included_by(0, &[4]), &[3]);
    // envvars was read: no warning for ${APACHE_RUN_DIR}.
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

#[test]
fn rhel_layout_follows_server_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    rhel(root);
    let d = discover_server(&root.join("conf/httpd.conf"), &opts());
    assert!(d.error.is_none(), "{:?}", d.error);
    assert_eq!(
        order(&d, root),
        [
            "conf/httpd.conf",
            "  conf.modules.d/00-base.conf",
            "  conf.modules.d/10-wsgi.conf",
            "  conf.d/app.conf",
            "  conf.d/welcome.conf",
        ]
    );
    // Without the ServerRoot directive, RHEL's layout puts it above conf/.
    write(root, "conf/httpd.conf", "IncludeOptional conf.d/*.conf\n");
    let d = discover_server(&root.join("conf/httpd.conf"), &opts());
    assert_eq!(
        order(&d, root)[1..],
        ["  conf.d/app.conf", "  conf.d/welcome.conf"]
    );
}

#[test]
fn a_file_included_twice_is_read_once_and_listed_under_both_includes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "httpd.conf",
        "<VirtualHost *:80>\n  Include common.conf\n</VirtualHost>\n<VirtualHost *:443>\n  Include common.conf\n</VirtualHost>\n",
    );
    write(root, "common.conf", "WSGIApplicationGroup %{GLOBAL}\n");
    let d = discover_server(&root.join("httpd.conf"), &opts());
    assert_eq!(d.model.files.len(), 2);
    assert_eq!(d.model.included_by(0, &[0, 0]), &[1]);
    assert_eq!(d.model.included_by(0, &[1, 0]), &[1]);
    assert_eq!(
        order(&d, root),
        ["httpd.conf", "  common.conf", "  common.conf"]
    );
}

#[test]
fn globs_directories_and_dotfiles_as_httpd_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "httpd.conf", "Include inc/\nInclude [g]lob/*/x.conf\nIncludeOptional none/*.conf\nIncludeOptional [n]one.d/*.conf\n");
    for f in [
        "inc/b.conf",
        "inc/a.conf~",
        "inc/.hidden",
        "inc/sub/c.conf",
        "inc/B.conf",
    ] {
        write(root, f, "# x\n");
    }
    for f in [
        "glob/b/x.conf",
        "glob/a/x.conf",
        "glob/.dot/x.conf",
        "glob/file",
        "glob/a/y.conf",
    ] {
        write(root, f, "# x\n");
    }
    // A wildcard in a directory component skips a symlink to a directory.
    symlink("a", root.join("glob/c")).unwrap();
    let d = discover_server(&root.join("httpd.conf"), &opts());
    assert!(d.error.is_none(), "{:?}", d.error);
    assert_eq!(
        order(&d, root),
        [
            "httpd.conf",
            "  inc/.hidden",
            "  inc/B.conf",
            "  inc/a.conf~",
            "  inc/b.conf",
            "  inc/sub/c.conf",
            "  glob/a/x.conf",
            "  glob/b/x.conf",
        ]
    );
}

#[test]
fn define_and_variables_in_include_paths_in_read_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "httpd.conf",
        "IncludeOptional ${SITE}/early.conf\nDefine SITE sites\nInclude ${SITE}/a.conf\nInclude ${FROM_ENV}.conf\nUnDefine SITE\nIncludeOptional ${SITE}/a.conf\n",
    );
    write(root, "sites/a.conf", "# a\n");
    write(root, "envfile.conf", "# e\n");
    let mut o = opts();
    o.env = Some(
        [(b"FROM_ENV".to_vec(), b"envfile".to_vec())]
            .into_iter()
            .collect(),
    );
    let d = discover_server(&root.join("httpd.conf"), &o);
    assert!(d.error.is_none(), "{:?}", d.error);
    assert_eq!(
        order(&d, root),
        ["httpd.conf", "  sites/a.conf", "  envfile.conf"]
    );
    // Before the Define and after the UnDefine ${SITE} stays literal, as
    // httpd keeps it, with its warning.
    let w: Vec<String> = d.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].ends_with("httpd.conf:1:1: Config variable ${SITE} is not defined"),
        "{w:?}"
    );
    assert!(w[1].contains("httpd.conf:6:1:"), "{w:?}");
}

#[test]
fn a_missing_include_is_an_error_at_its_line_and_column_but_not_for_include_optional() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "httpd.conf", "IncludeOptional gone.conf\nIncludeOptional gone.d/*.conf\nIncludeOptional *.none\n  Include gone.conf\n");
    let d = discover_server(&root.join("httpd.conf"), &opts());
    let e = d.error.expect("error");
    assert_eq!((e.line, e.column), (Some(4), Some(3)));
    let gone = root.canonicalize().unwrap().join("gone.conf");
    assert_eq!(
        e.message,
        format!(
            "Could not open configuration file {}: No such file or directory",
            gone.display()
        )
    );
    write(root, "httpd.conf", "Include *.none\n");
    let e = discover_server(&root.join("httpd.conf"), &opts())
        .error
        .unwrap();
    assert_eq!(
        e.message,
        format!(
            "No matches for the wildcard '*.none' in '{}', failing",
            root.canonicalize().unwrap().display()
        )
    );
    // Inside a conditional section, whose truth is not known here, it is a
    // warning: httpd fails only if the section is true.
    write(
        root,
        "httpd.conf",
        "<IfModule mod_x.c>\n  Include gone.conf\n</IfModule>\n",
    );
    let d = discover_server(&root.join("httpd.conf"), &opts());
    assert!(d.error.is_none());
    assert!(
        d.warnings[0].message.contains("conditional"),
        "{:?}",
        d.warnings
    );
}

#[test]
fn a_syntax_error_in_an_included_file_names_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "httpd.conf", "Include bad.conf\n");
    write(root, "bad.conf", "# ok\n<VirtualHost *:80>\n");
    let e = discover_server(&root.join("httpd.conf"), &opts())
        .error
        .unwrap();
    assert!(e.path.ends_with("bad.conf"));
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("was not closed"), "{}", e.message);
}

#[test]
fn symlink_loops_and_recursive_includes_end_fast_with_httpd_style_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "httpd.conf", "Include conf.d/\n");
    write(root, "conf.d/a.conf", "# a\n");
    // Two links back up: read naively, 2^40 paths before ELOOP stops it.
    symlink(".", root.join("conf.d/loop1")).unwrap();
    symlink("..", root.join("conf.d/loop2")).unwrap();
    let t = Instant::now();
    let e = discover_server(&root.join("httpd.conf"), &opts())
        .error
        .unwrap();
    assert!(
        e.message.contains("Too many levels of symbolic links"),
        "{}",
        e.message
    );
    assert!(t.elapsed().as_secs() < 10, "took {:?}", t.elapsed());

    write(root, "httpd.conf", "Include self.conf\n");
    write(root, "self.conf", "Include httpd.conf\n");
    let e = discover_server(&root.join("httpd.conf"), &opts())
        .error
        .unwrap();
    assert!(
        e.message
            .starts_with("Exceeded maximum include depth of 128"),
        "{}",
        e.message
    );
    assert!(e.path.ends_with("self.conf"));
}

#[test]
fn a_fifo_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "httpd.conf", "Include conf.d/\n");
    fs::create_dir(root.join("conf.d")).unwrap();
    let fifo = root.join("conf.d/pipe.conf");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let e = discover_server(&root.join("httpd.conf"), &opts())
        .error
        .unwrap();
    assert!(
        e.message.ends_with("denied by server: not a regular file"),
        "{}",
        e.message
    );
}

#[test]
fn root_resolves_absolute_paths_and_links_inside_the_copy() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let etc = root.join("etc/apache2");
    debian(&etc);
    // Absolute paths as on the host.
    write(
        &etc,
        "apache2.conf",
        "Include /etc/apache2/ports.conf\nIncludeOptional /etc/apache2/sites-enabled/*.conf\n",
    );
    symlink(
        "/etc/apache2/sites-available/disabled.conf",
        etc.join("sites-enabled/zz.conf"),
    )
    .unwrap();
    let o = DiscoverOptions {
        root: Some(root.to_path_buf()),
        ..opts()
    };
    for main in [
        PathBuf::from("/etc/apache2/apache2.conf"),
        etc.join("apache2.conf"),
    ] {
        let d = discover_server(&main, &o);
        assert!(d.error.is_none(), "{:?}", d.error);
        let paths: Vec<String> = d
            .model
            .files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "/etc/apache2/apache2.conf",
                "/etc/apache2/ports.conf",
                "/etc/apache2/sites-enabled/000-default.conf",
                "/etc/apache2/snippets/app.conf",
                "/etc/apache2/sites-enabled/zz.conf",
            ]
        );
        let real = root
            .canonicalize()
            .unwrap()
            .join("etc/apache2/sites-available/disabled.conf");
        assert_eq!(d.model.files[4].real, real);
    }
}

/// What real Apache lists, line numbers left out.
fn apache_includes(main: &Path, server_root: &Path) -> Option<String> {
    let apache = common::apache::require_or_skip("dump_includes")?;
    let out = std::process::Command::new(&apache.bin)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/bin")
        .arg("-d")
        .arg(server_root)
        .arg("-f")
        .arg(main)
        .args(["-t", "-D", "DUMP_INCLUDES", "-C"])
        .arg(format!(
            "LoadModule info_module {}",
            apache.modules_dir.join("mod_info.so").display()
        ))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let re = regex::Regex::new(r"\(\d+\)").unwrap();
    Some(re.replace_all(&text, "(N)").into_owned())
}

#[test]
fn read_order_matches_apache_dump_includes() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let deb = base.join("debian");
    debian(&deb);
    // httpd gets no envvars here; give it the same view.
    write(&deb, "envvars", "");
    write(
        &deb,
        "apache2.conf",
        &fs::read_to_string(deb.join("apache2.conf"))
            .unwrap()
            .replace("DefaultRuntimeDir ${APACHE_RUN_DIR}\n", ""),
    );
    let rh = base.join("rhel");
    rhel(&rh);
    let g = base.join("globs");
    write(&g, "httpd.conf", "Include inc/\nDefine D glob\nInclude [g]lob/*/x.conf\nIncludeOptional ${D}/b/*\n<VirtualHost *:80>\nInclude inc/sub/c.conf\n</VirtualHost>\n");
    for f in [
        "inc/b.conf",
        "inc/a.conf~",
        "inc/.hidden",
        "inc/sub/c.conf",
        "glob/b/x.conf",
        "glob/a/x.conf",
        "glob/.d/x.conf",
    ] {
        write(&g, f, "# x\n");
    }
    for (main, sr) in [
        (deb.join("apache2.conf"), deb.clone()),
        (rh.join("conf/httpd.conf"), rh.clone()),
        (g.join("httpd.conf"), g.clone()),
    ] {
        let ours = discover_server(&main, &opts());
        assert!(ours.error.is_none(), "{:?}", ours.error);
        let Some(theirs) = apache_includes(&main, &sr) else {
            return;
        };
        assert_eq!(ours.dump_includes(), theirs, "{}", main.display());
    }
}

// --- The per-file engine with the server's names (until the server engine) ---

/// A Debian-style tree: apache2.conf including conf-enabled/ and
/// sites-enabled/.
fn debian_tree(root: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(root.join("conf-enabled")).unwrap();
    fs::create_dir_all(root.join("sites-enabled")).unwrap();
    fs::write(
        root.join("apache2.conf"),
        "IncludeOptional conf-enabled/*.conf\nIncludeOptional sites-enabled/*.conf\n",
    )
    .unwrap();
    for (name, text) in files {
        fs::write(root.join(name), text).unwrap();
    }
}

fn run_in(root: &Path, file: &str) -> wsgifix::engine::FileResult {
    let d = discover_server(&root.join("apache2.conf"), &opts());
    let ctx = server::contexts(&d.model);
    let real = root.join(file).canonicalize().unwrap();
    let id = d.model.files.iter().position(|f| f.real == real).unwrap();
    process_in(&d.model.files[id].source, &Options::default(), &ctx[id])
}

#[test]
fn new_daemon_names_avoid_names_of_other_files() {
    let dir = tempfile::tempdir().unwrap();
    debian_tree(
        dir.path(),
        &[
            (
                "conf-enabled/legacy.conf",
                "WSGIDaemonProcess my_app processes=2\n",
            ),
            (
                "sites-enabled/b.conf",
                "<VirtualHost *:80>\n    WSGIScriptAlias /my_app /srv/b/app.wsgi\n</VirtualHost>\n",
            ),
        ],
    );
    let r = run_in(dir.path(), "sites-enabled/b.conf");
    let fixed = String::from_utf8(r.fixed.expect("fixed")).unwrap();
    assert!(fixed.contains("WSGIDaemonProcess my_app-2\n"), "{fixed}");
}

#[test]
fn daemons_of_other_files_are_defined_and_duplicates_across_files_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let site = "<VirtualHost *:80>\n    ServerName a.example.com\n    WSGIDaemonProcess site\n    WSGIProcessGroup site\n    WSGIApplicationGroup %{GLOBAL}\n    WSGIScriptAlias / /srv/a/a.wsgi\n</VirtualHost>\n";
    debian_tree(
        dir.path(),
        &[
            ("sites-enabled/a.conf", site),
            (
                "sites-enabled/a-le-ssl.conf",
                &site.replace("*:80", "*:443"),
            ),
            (
                "sites-enabled/z.conf",
                "<Location /z>\n    WSGIProcessGroup site\n</Location>\n",
            ),
        ],
    );
    // httpd reads a-le-ssl.conf before a.conf ('-' sorts before '.').
    let first = run_in(dir.path(), "sites-enabled/a-le-ssl.conf");
    assert!(first.findings.iter().all(|f| f.code != "WSGI005"));
    let second = run_in(dir.path(), "sites-enabled/a.conf");
    let dup = second
        .findings
        .iter()
        .find(|f| f.code == "WSGI005")
        .expect("duplicate");
    assert!(dup.message.contains("a-le-ssl.conf:3"), "{}", dup.message);
    let z = run_in(dir.path(), "sites-enabled/z.conf");
    assert!(
        z.findings.iter().all(|f| f.code != "WSGI004"),
        "{:?}",
        z.findings
    );
}

#[test]
fn config_option_follows_includes_and_writes_the_whole_server() {
    let dir = tempfile::tempdir().unwrap();
    debian_tree(
        dir.path(),
        &[
            ("conf-enabled/legacy.conf", "WSGIDaemonProcess my_app\n"),
            (
                "sites-enabled/b.conf",
                "<VirtualHost *:80>\n    WSGIScriptAlias /my_app /srv/b/app.wsgi\n</VirtualHost>\n",
            ),
        ],
    );
    let main = dir.path().join("apache2.conf");
    Command::cargo_bin("wsgifix")
        .unwrap()
        .arg("--write")
        // A partial tree, not a server Apache could load: no configtest.
        .arg("--no-verify")
        .env("WSGIFIX_STATE_DIR", dir.path().join(".state"))
        .arg("--config")
        .arg(&main)
        .assert()
        .code(0);
    // The server-level daemon no app selects is the app's; no second
    // definition of its name (httpd would refuse to start).
    let b = fs::read_to_string(dir.path().join("sites-enabled/b.conf")).unwrap();
    assert!(b.contains("WSGIProcessGroup my_app\n"), "{b}");
    assert!(!b.contains("WSGIDaemonProcess"), "{b}");
    Command::cargo_bin("wsgifix")
        .unwrap()
        .arg("--check")
        .arg("--config")
        .arg(&main)
        .assert()
        .code(0);
}
