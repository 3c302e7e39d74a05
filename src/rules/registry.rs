//! Rule identities. Codes and names are stable: users put them in
//! `--select`/`--ignore` and in CI scripts.

#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub code: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    pub explanation: &'static str,
    pub has_fix: bool,
}

pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        code: "WSGI001",
        name: "embedded-mode",
        summary: "WSGI application runs in embedded mode",
        has_fix: true,
        explanation: "\
The application's effective process group is empty, so mod_wsgi runs it inside
Apache's own child processes (embedded mode). C extensions such as PyMongo,
NumPy or cryptography then share those processes with every other app and with
Apache itself, and they are restarted with Apache's children.

The PyMongo documentation asks for daemon mode: define a daemon process group
with WSGIDaemonProcess and select it with WSGIProcessGroup.

Fix: select a daemon process group that is defined in the app's scope and that
no other app selects; if there is none, add `WSGIDaemonProcess NAME` just
before the app's WSGIScriptAlias and select it for that app only. In a vhost
with one app the selection is a `WSGIProcessGroup` line in the vhost; with
several apps, or outside every <VirtualHost>, it goes in a `<Location /mount>`
for the app so it cannot capture other apps. When the server sets
WSGIPythonPath, the new daemon gets the same python-path= (daemons ignore
WSGIPythonPath).

Not fixed on Windows configs (.pyd modules, drive-letter paths): mod_wsgi has
no daemon mode there.",
    },
    RuleInfo {
        code: "WSGI002",
        name: "shared-process-group",
        summary: "several WSGI applications share one daemon process group",
        has_fix: true,
        explanation: "\
Two or more applications resolve to the same daemon process group. Running in
the main interpreter (%{GLOBAL}), they would share one Python interpreter and
interfere with each other's module state; PyMongo's documentation asks for one
daemon process group per application.

Fix: the first application keeps the daemon; every other one gets a copy of
the daemon definition (same options) under a new, unique name, selected for
that application only (a `<Location /mount>` holding its WSGIProcessGroup).

The same script mounted in the :80 and :443 virtual hosts of one ServerName is
one application and is left alone.",
    },
    RuleInfo {
        code: "WSGI003",
        name: "not-global-interpreter",
        summary: "WSGI application does not run in the main interpreter",
        has_fix: true,
        explanation: "\
The application's effective application group is not %{GLOBAL}, so mod_wsgi
runs it in a Python sub-interpreter (by default one per %{RESOURCE}). Many C
extensions do not support sub-interpreters: PyMongo's BSON extension has to use
a slower workaround, others crash or deadlock.

This is also reported when `WSGIApplicationGroup %{GLOBAL}` is written in a
section that does not cover the application (a <Directory> that does not hold
the script, a <Location> that does not cover the mount), or when an
`application-group=` option on the alias overrides it.

Fix: set %{GLOBAL} where the effective value comes from, or add
`WSGIApplicationGroup %{GLOBAL}` to the app's scope. A WSGIImportScript that
preloads into the old application group of the same daemon is changed to
application-group=%{GLOBAL} too, so the preload is not wasted.",
    },
    RuleInfo {
        code: "WSGI004",
        name: "undefined-process-group",
        summary: "WSGIProcessGroup names a daemon process group that is not defined",
        has_fix: false,
        explanation: "\
A WSGIProcessGroup directive or process-group= option names a daemon process
group that no WSGIDaemonProcess defines. httpd starts anyway, and every request
to the application fails with 500 and `No WSGI daemon process called 'X' has
been configured`.

No automatic fix: the intended name cannot be guessed. The message lists the
daemon names that are defined.",
    },
    RuleInfo {
        code: "WSGI005",
        name: "duplicate-daemon-name",
        summary: "the same daemon process group name is defined twice",
        has_fix: false,
        explanation: "\
Two WSGIDaemonProcess directives define the same name. Daemon names are global
to the whole server, so httpd refuses to start: `Name duplicates previous WSGI
daemon definition.` The usual cause is a copied virtual host (certbot's
-le-ssl.conf files).

Definitions in mutually exclusive <IfDefine X> / <IfDefine !X> branches are not
duplicates.

No automatic fix: which definition should win is the operator's decision. Both
places are reported.",
    },
];

/// Looks a rule up by code (`WSGI001`) or name (`embedded-mode`), ignoring case.
pub fn rule_by_code(code_or_name: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| {
        r.code.eq_ignore_ascii_case(code_or_name) || r.name.eq_ignore_ascii_case(code_or_name)
    })
}
