//! The before/after cycle every issue-6 scenario goes through, and the
//! promises it holds each app to (see tests/e2e_server.rs).

use super::tree::{Layout, Probe, Run, Seen, Served, Snapshot, Tree};

/// The uid `user=nobody` gives a daemon (when the tests run as root).
pub fn nobody_uid() -> Option<u64> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))?
        .split(':')
        .nth(2)?
        .parse()
        .ok()
}

/// ` user=nobody` for a daemon when httpd runs as root (only root may
/// switch users), else nothing.
pub fn user_opt() -> &'static str {
    if super::running_as_root() {
        " user=nobody home=/tmp"
    } else {
        ""
    }
}

pub fn table(probes: &[Probe], seen: &[Seen]) -> String {
    probes
        .iter()
        .zip(seen)
        .map(|(p, s)| {
            format!(
                "  {:<44} {} group={:?} app_group={:?} pid={} uid={} libs={:?}{}\n",
                p.label(),
                s.status,
                s.process_group,
                s.application_group,
                s.pid,
                s.uid,
                s.libs,
                if s.status == 200 {
                    String::new()
                } else {
                    format!(" body={:?}", s.body.chars().take(200).collect::<String>())
                }
            )
        })
        .collect()
}

/// The lines of the error log that mod_wsgi wrote about requests.
pub fn wsgi_errors(log: &str) -> String {
    log.lines()
        .filter(|l| l.contains(":error]") || l.contains("wsgi:error"))
        .take(20)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A scenario: its tree and the requests it makes.
pub struct Scenario {
    pub name: &'static str,
    pub tree: Tree,
    pub probes: Vec<Probe>,
}

impl Scenario {
    pub fn serve(&self) -> Served {
        self.tree.serve(&self.probes)
    }

    /// `wsgifix --write --config MAIN`, then `apache2 -t`, then a second
    /// `--write` that must change nothing and exit 0. Returns the first run.
    pub fn write(&self) -> Run {
        let first = self.tree.wsgifix_config(&["--write"]);
        assert!(
            first.code == 0 || first.code == 1,
            "{}: {}\n{}",
            self.name,
            first.describe(),
            self.tree.dump()
        );
        let out = self.tree.check();
        assert!(
            out.ok,
            "{}: apache2 -t rejects what wsgifix wrote:\n{}\n{}\n{}",
            self.name,
            out.stderr,
            first.describe(),
            self.tree.dump()
        );
        let snap = self.tree.snapshot();
        let second = self.tree.wsgifix_config(&["--write"]);
        let changed = changed_files(&snap, &self.tree.snapshot());
        assert!(
            changed.is_empty() && second.code == first.code,
            "{}: a second --write changed {changed:?} (exit {} after {}):\n{}\n{}",
            self.name,
            second.code,
            first.code,
            second.describe(),
            self.tree.dump()
        );
        first
    }

    /// The promises of issue 6, after the fix. `keep`: apps that must stay
    /// in the daemon they had.
    pub fn assert_fixed(&self, before: &Served, after: &Served, run: &Run, keep: &[&str]) {
        let ctx = || {
            format!(
                "--- before ---\n{}--- after ---\n{}--- errors after ---\n{}\n--- {} ---\n{}",
                table(&self.probes, &before.seen),
                table(&self.probes, &after.seen),
                wsgi_errors(&after.error_log),
                run.describe(),
                self.tree.dump()
            )
        };
        let name = self.name;
        for (i, p) in self.probes.iter().enumerate() {
            let (b, a) = (&before.seen[i], &after.seen[i]);
            if b.status == 200 {
                assert_eq!(
                    a.status,
                    200,
                    "{name}: {} answered 200 before the fix and {} after\n{}",
                    p.label(),
                    a.status,
                    ctx()
                );
            }
            if a.status != 200 {
                continue;
            }
            assert!(
                !a.process_group.is_empty(),
                "{name}: {} still runs embedded\n{}",
                p.label(),
                ctx()
            );
            assert_eq!(
                a.application_group,
                "",
                "{name}: {} is not in the main interpreter\n{}",
                p.label(),
                ctx()
            );
            if b.status == 200 {
                assert_eq!(
                    (&a.libs, a.uid),
                    (&b.libs, b.uid),
                    "{name}: {} lost its daemon's options (python-path / user)\n{}",
                    p.label(),
                    ctx()
                );
            }
            if keep.contains(&p.app.as_str()) {
                assert_eq!(
                    a.process_group,
                    b.process_group,
                    "{name}: {} already ran right and was moved\n{}",
                    p.label(),
                    ctx()
                );
            }
        }
        // One daemon per app: probes of different apps never share a group
        // or a process.
        for (i, p) in self.probes.iter().enumerate() {
            for (j, q) in self.probes.iter().enumerate().skip(i + 1) {
                let (a, b) = (&after.seen[i], &after.seen[j]);
                if p.app == q.app || a.status != 200 || b.status != 200 {
                    continue;
                }
                assert!(
                    a.process_group != b.process_group && a.pid != b.pid,
                    "{name}: {} and {} share a daemon\n{}",
                    p.label(),
                    q.label(),
                    ctx()
                );
            }
        }
        // Already right before: own daemon, main interpreter, not shared.
        for (i, p) in self.probes.iter().enumerate() {
            let b = &before.seen[i];
            let alone =
                self.probes.iter().enumerate().all(|(j, q)| {
                    q.app == p.app || before.seen[j].process_group != b.process_group
                });
            if b.status == 200
                && !b.process_group.is_empty()
                && b.application_group.is_empty()
                && alone
            {
                assert_eq!(
                    after.seen[i].process_group,
                    b.process_group,
                    "{name}: {} already ran right and was moved\n{}",
                    p.label(),
                    ctx()
                );
            }
        }
    }

    /// The whole cycle: serve, check the setup with `setup`, fix, serve, hold
    /// to the promises.
    pub fn run(&self, keep: &[&str], setup: impl Fn(&[Seen]) -> Result<(), String>) {
        self.tree
            .assert_syntax_ok(&format!("{} before the fix", self.name));
        let before = self.serve();
        if let Err(why) = setup(&before.seen) {
            panic!(
                "{}: the setup does not show the problem: {why}\n{}\n{}",
                self.name,
                table(&self.probes, &before.seen),
                wsgi_errors(&before.error_log)
            );
        }
        let run = self.write();
        let after = self.serve();
        self.assert_fixed(&before, &after, &run, keep);
        // Every app is right now, so nothing was left to report.
        assert_eq!(
            run.code,
            0,
            "{}: --write fixed everything but exited {}:\n{}",
            self.name,
            run.code,
            run.describe()
        );
    }
}

pub fn changed_files(a: &Snapshot, b: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (p, v) in a {
        match b.get(p) {
            Some(w) if w == v => {}
            Some(w) if w.0 == v.0 => out.push(format!("{} (mtime only)", p.display())),
            Some(_) => out.push(format!("{} (contents)", p.display())),
            None => out.push(format!("{} (removed)", p.display())),
        }
    }
    for p in b.keys().filter(|p| !a.contains_key(*p)) {
        out.push(format!("{} (new)", p.display()));
    }
    out
}

pub fn shared(seen: &[Seen], group: &str) -> Result<(), String> {
    if seen
        .iter()
        .all(|s| s.status == 200 && s.process_group == group)
    {
        Ok(())
    } else {
        Err(format!("expected every app in daemon {group:?}"))
    }
}

/// The certbot pair written by `certbot --apache`: the `:80` vhost defines
/// a daemon and `sites-enabled/x-le-ssl.conf` repeats it for `:443`.
pub fn certbot_tree(apache: &super::Apache) -> (Tree, Vec<Probe>) {
    let t = Tree::new(apache, Layout::Debian, true);
    let lib = t.lib("x", "x_lib");
    let app = t.app("x.wsgi", &["x_lib"]);
    let body = format!(
        "\tServerName x.test\n\tWSGIDaemonProcess xapp{} processes=1 threads=2 python-path={lib}\n\tWSGIProcessGroup xapp\n\tWSGIApplicationGroup %{{GLOBAL}}\n\tWSGIScriptAlias / {app}\n",
        user_opt()
    );
    t.site(
        "x.conf",
        &format!(
            "<VirtualHost {}>\n{body}</VirtualHost>\n",
            t.vhost_addr(false)
        ),
    );
    t.site(
        "x-le-ssl.conf",
        &format!(
            "<IfModule mod_ssl.c>\n<VirtualHost {}>\n{body}\n{}</VirtualHost>\n</IfModule>\n",
            t.vhost_addr(true),
            t.ssl_lines("")
        ),
    );
    let probes = vec![
        Probe::new("x", "x.test", "/"),
        Probe::tls("x", "x.test", "/"),
    ];
    (t, probes)
}
