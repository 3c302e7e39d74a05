//! Merge order against real Apache: what `wsgifix --list-apps --format json`
//! says each app instance gets (effective `WSGIProcessGroup` and
//! `WSGIApplicationGroup`) must be what mod_wsgi really reports for a
//! request to that app (`mod_wsgi.process_group`,
//! `mod_wsgi.application_group`).
//!
//! The configs are generated, a bounded set from a fixed seed, so the same
//! cases run every time and a failure names its case. Each case is a small
//! RHEL-layout server: two name-based vhosts, a server-level mount, three
//! server-level daemons, and a few random `<Location>`, `<LocationMatch>`,
//! `<Directory>`, `<DirectoryMatch>`, `<Files>`, `<FilesMatch>` sections
//! or bare directives setting the groups, placed at server level early or
//! late (conf.d order), inside a vhost, in a file Included inside a vhost,
//! or in one file included twice (server level and inside a vhost).
//!
//! Without Apache or mod_wsgi the tests print why and pass, unless
//! `WSGIFIX_REQUIRE_APACHE=1` says this machine must have them.

mod common;
mod e2e_support;

use e2e_support::require_or_skip;
use e2e_support::tree::{Layout, Probe, Tree};
use std::fmt::Write as _;

/// How many configs are generated; each is served by its own httpd.
const CASES: u64 = 12;
/// Cases served at the same time.
const PARALLEL: usize = 3;
const SEED: u64 = 0x6e2e_5eed;

/// splitmix64: small, deterministic, no crate needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// conf.d/00-early.conf, read before the vhosts' files.
    ServerEarly,
    /// conf.d/zz-late.conf, read after them.
    ServerLate,
    /// Directly inside m.test's vhost.
    VhostM,
    /// In gen/m-inc.conf, Included inside m.test's vhost.
    VhostMInclude,
    /// In gen/twice.conf, Included at server level and inside n.test's vhost.
    Twice,
}

const PLACES: &[Place] = &[
    Place::ServerEarly,
    Place::ServerLate,
    Place::VhostM,
    Place::VhostMInclude,
    Place::Twice,
];

/// One generated piece of config.
#[derive(Debug, Clone)]
struct Piece {
    place: Place,
    /// `None`: bare directives at the place's level.
    section: Option<(&'static str, String)>,
    body: Vec<String>,
}

/// Section kinds and their arguments (`@APPS@` stands for the apps dir).
fn section_choices(kind: usize) -> (&'static str, &'static [&'static str]) {
    match kind {
        0 => (
            "Location",
            &["/", "/alpha", "/beta", "/beta/gamma", "/alph", "/delta"],
        ),
        1 => (
            "LocationMatch",
            // Each covers all of a mount's URLs or none of them (`^/alpha$`
            // would cover `/alpha` but not `/alpha/x`: no single answer).
            &[
                "^/alpha(/|$)",
                "^/beta",
                "gamma",
                "^/(alpha|delta)",
                "^/[a-z]+a",
            ],
        ),
        2 => (
            "Directory",
            &["@APPS@", "@APPS@/one", "@APPS@/two", "@APPS@/three"],
        ),
        3 => (
            "DirectoryMatch",
            &["/one$", "/one/", "/(two|three)", "apps/t", "alpha\\.wsgi$"],
        ),
        4 => (
            "Files",
            &["alpha.wsgi", "beta.wsgi", "*.wsgi", "gamma.wsgi"],
        ),
        5 => ("FilesMatch", &["^(beta|delta)", "\\.wsgi$", "^g"]),
        _ => ("", &[]),
    }
}

fn body(rng: &mut Rng) -> Vec<String> {
    let mut b = Vec::new();
    let which = rng.below(3);
    if which != 1 {
        b.push(format!("WSGIProcessGroup d{}", 1 + rng.below(3)));
    }
    if which != 0 {
        b.push(format!(
            "WSGIApplicationGroup {}",
            rng.pick(&["%{GLOBAL}", "g1", "g2"])
        ));
    }
    b
}

/// Kinds (see `section_choices`; 6 = bare directives) without regexes.
const PLAIN_KINDS: &[usize] = &[0, 2, 4, 6];
/// Every kind, regex sections included.
const ALL_KINDS: &[usize] = &[0, 1, 2, 3, 4, 5, 6];

fn generate(case: u64, kinds: &[usize]) -> Vec<Piece> {
    let mut rng = Rng(SEED ^ case.wrapping_mul(0x1000_0001) ^ kinds.len() as u64);
    let n = 3 + rng.below(4);
    (0..n)
        .map(|i| {
            // The first piece of each case cycles through the kinds and the
            // places, so all of them appear across the set.
            let kind = if i == 0 {
                kinds[(case as usize) % kinds.len()]
            } else {
                *rng.pick(kinds)
            };
            let place = if i == 0 {
                PLACES[(case as usize) % PLACES.len()]
            } else {
                *rng.pick(PLACES)
            };
            let (name, args) = section_choices(kind);
            let section = (!name.is_empty()).then(|| (name, rng.pick(args).to_string()));
            Piece {
                place,
                section,
                body: body(&mut rng),
            }
        })
        .collect()
}

fn render(pieces: &[Piece], place: Place, apps: &str, indent: &str) -> String {
    let mut s = String::new();
    for p in pieces.iter().filter(|p| p.place == place) {
        match &p.section {
            Some((name, arg)) => {
                let arg = arg.replace("@APPS@", apps);
                writeln!(s, "{indent}<{name} \"{arg}\">").unwrap();
                for l in &p.body {
                    writeln!(s, "{indent}    {l}").unwrap();
                }
                writeln!(s, "{indent}</{name}>").unwrap();
            }
            None => {
                for l in &p.body {
                    writeln!(s, "{indent}{l}").unwrap();
                }
            }
        }
    }
    s
}

fn probes() -> Vec<Probe> {
    vec![
        Probe::new("alpha", "m.test", "/alpha"),
        Probe::new("beta", "m.test", "/beta"),
        Probe::new("gamma", "m.test", "/beta/gamma"),
        Probe::new("alpha", "n.test", "/alpha"),
        Probe::new("delta", "m.test", "/delta"),
        Probe::new("delta", "n.test", "/delta"),
    ]
}

fn build(t: &Tree, pieces: &[Piece]) {
    let apps = t.p("apps");
    let alpha = t.app("one/alpha.wsgi", &[]);
    let beta = t.app("two/beta.wsgi", &[]);
    let gamma = t.app("two/gamma.wsgi", &[]);
    let delta = t.app("three/delta.wsgi", &[]);
    t.conf(
        "00-daemons.conf",
        "WSGIDaemonProcess d1 processes=1 threads=1\nWSGIDaemonProcess d2 processes=1 threads=1\nWSGIDaemonProcess d3 processes=1 threads=1\n",
    );
    t.conf(
        "00-early.conf",
        &render(pieces, Place::ServerEarly, &apps, ""),
    );
    t.conf("delta.conf", &format!("WSGIScriptAlias /delta {delta}\n"));
    t.put(
        "gen/m-inc.conf",
        &render(pieces, Place::VhostMInclude, &apps, ""),
    );
    t.put("gen/twice.conf", &render(pieces, Place::Twice, &apps, ""));
    let addr = t.vhost_addr(false);
    // The longer mount first: mod_wsgi takes the first alias that matches.
    t.site(
        "m.conf",
        &format!(
            "<VirtualHost {addr}>\n    ServerName m.test\n    WSGIScriptAlias /beta/gamma {gamma}\n    WSGIScriptAlias /beta {beta}\n    WSGIScriptAlias /alpha {alpha}\n{}    Include gen/m-inc.conf\n</VirtualHost>\n",
            render(pieces, Place::VhostM, &apps, "    ")
        ),
    );
    t.site(
        "n.conf",
        &format!(
            "<VirtualHost {addr}>\n    ServerName n.test\n    WSGIScriptAlias /alpha {alpha}\n    Include gen/twice.conf\n</VirtualHost>\n"
        ),
    );
    t.conf(
        "zz-late.conf",
        &format!(
            "{}Include gen/twice.conf\n",
            render(pieces, Place::ServerLate, &apps, "")
        ),
    );
}

/// `%{GLOBAL}` and `""` are the main interpreter; `%{RESOURCE}` (the
/// default) is `host[:port]|script_name` at run time.
fn listed_app_group(v: &str) -> String {
    match v {
        "" | "%{GLOBAL}" => String::new(),
        "%{RESOURCE}" => "%{RESOURCE}".into(),
        v if v.contains('|') => "%{RESOURCE}".into(),
        v => v.into(),
    }
}

fn seen_app_group(v: &str) -> String {
    if v.contains('|') {
        "%{RESOURCE}".into()
    } else {
        v.into()
    }
}

/// Runs one case; returns the mismatches (empty when wsgifix agrees).
fn run_case(apache: &e2e_support::Apache, case: u64, kinds: &[usize]) -> Result<(), String> {
    let pieces = generate(case, kinds);
    let t = Tree::new(apache, Layout::Rhel, false);
    build(&t, &pieces);
    let out = t.check();
    if !out.ok {
        return Err(format!(
            "case {case}: apache2 -t rejects the generated config:\n{}\n{}",
            out.stderr,
            t.dump()
        ));
    }
    let probes = probes();
    let served = t.serve(&probes);
    let run = t.wsgifix_config(&["--list-apps", "--format", "json"]);
    // Listing is not judging: any status but an error will do.
    if !(run.code == 0 || run.code == 1) {
        return Err(format!(
            "case {case}: {}\n--- Apache ---\n{}",
            run.describe(),
            e2e_support::scenario::table(&probes, &served.seen)
        ));
    }
    let v = run.json();
    let apps = v["apps"].as_array().cloned().unwrap_or_default();
    let mut bad = String::new();
    for (p, s) in probes.iter().zip(&served.seen) {
        if s.status != 200 || s.script_name != p.path {
            writeln!(
                bad,
                "  {}: Apache answered {} (script {:?}): {}",
                p.label(),
                s.status,
                s.script_name,
                s.body.chars().take(160).collect::<String>()
            )
            .unwrap();
            continue;
        }
        let listed = apps.iter().find(|a| {
            a["mount"] == p.path.as_str()
                && a["vhost"]
                    .as_str()
                    .is_some_and(|h| h.split(':').next() == Some(p.host.as_str()))
        });
        let Some(a) = listed else {
            writeln!(bad, "  {}: not in --list-apps", p.label()).unwrap();
            continue;
        };
        let pg = a["process_group"]["value"].as_str().unwrap_or("?");
        let ag = listed_app_group(a["application_group"]["value"].as_str().unwrap_or("?"));
        let want = (
            s.process_group.as_str(),
            seen_app_group(&s.application_group),
        );
        if (pg, ag.clone()) != want {
            writeln!(
                bad,
                "  {}: Apache: group {:?}, app group {:?}; --list-apps: group {pg:?} (from {}), app group {ag:?} (from {})",
                p.label(),
                s.process_group,
                s.application_group,
                a["process_group"]["source"],
                a["application_group"]["source"]
            )
            .unwrap();
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "case {case} (seed {SEED:#x}): --list-apps disagrees with Apache:\n{bad}--- generated pieces ---\n{pieces:#?}\n--- tree ---\n{}",
            t.dump()
        ))
    }
}

/// Serves every case of the set (`PARALLEL` httpds at a time) and fails
/// with all disagreements.
fn differential(test: &str, kinds: &[usize]) {
    let Some(apache) = require_or_skip(test) else {
        return;
    };
    let next = std::sync::atomic::AtomicU64::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| loop {
                let case = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if case >= CASES {
                    break;
                }
                if let Err(e) = run_case(&apache, case, kinds) {
                    failures.lock().unwrap().push((case, e));
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort_by_key(|(c, _)| *c);
    assert!(
        failures.is_empty(),
        "{test}: {} of {CASES} generated configs disagree:\n\n{}",
        failures.len(),
        failures
            .iter()
            .map(|(_, e)| e.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

/// `<Location>`, `<Directory>`, `<Files>` and bare directives, across files,
/// inside vhosts, through Includes, in a file included twice.
#[test]
fn list_apps_agrees_with_apache_on_plain_sections() {
    differential(
        "list_apps_agrees_with_apache_on_plain_sections",
        PLAIN_KINDS,
    );
}

/// The same with `<LocationMatch>`, `<DirectoryMatch>` and `<FilesMatch>`
/// mixed in (httpd merges regex sections after the plain ones of their
/// kind).
#[test]
fn list_apps_agrees_with_apache_on_regex_sections() {
    differential("list_apps_agrees_with_apache_on_regex_sections", ALL_KINDS);
}
