//! The analysis's fast path against a straightforward reference kept here.
//! Resolving an app's groups looks up the literal `<Location>`s above its
//! URL by key instead of comparing it with every section; the reference
//! compares every group directive of the request's scopes, in read order,
//! as httpd's merge does. Checked on random vhosts (URLs with doubled and
//! trailing slashes, nested prefixes, regex sections) and on the corpus.

mod common;

use proptest::prelude::*;
use wsgifix::analysis::coverage::{covers_all, merge_rank, Decision};
use wsgifix::analysis::{analyse, Analysis, GroupKind, Source};

/// The effective group of `kind` of instance `inst`, by scanning.
fn reference(a: &Analysis, inst: usize, kind: GroupKind) -> (String, Source, Vec<usize>) {
    let i = &a.instances[inst];
    let m = &a.mounts[i.mount];
    if let Some(o) = m.args.option(kind.option()) {
        return (o.value.to_string(), Source::AliasOption, Vec::new());
    }
    let levels: Vec<usize> = if i.scope == 0 {
        vec![0]
    } else {
        vec![0, i.scope]
    };
    let in_level = |l: usize| {
        a.groups
            .iter()
            .enumerate()
            .filter(move |(_, g)| g.site.scope == l && g.kind == kind)
    };
    let mut best = None;
    let mut unknown = Vec::new();
    for &l in &levels {
        for (gi, g) in in_level(l).filter(|(_, g)| !g.site.at_scope_level()) {
            let rank = merge_rank(&g.site);
            match covers_all(&g.site.sections, m) {
                Decision::Yes if best.as_ref().is_none_or(|(r, _)| rank >= *r) => {
                    best = Some((rank, gi))
                }
                Decision::Unknown => unknown.push((rank, gi)),
                _ => {}
            }
        }
    }
    let undecided: Vec<usize> = unknown
        .into_iter()
        .filter(|(r, _)| best.as_ref().is_none_or(|(b, _)| r > b))
        .map(|(_, gi)| gi)
        .collect();
    if let Some((_, gi)) = best {
        return (a.groups[gi].value.clone(), Source::Directive(gi), undecided);
    }
    for &l in levels.iter().rev() {
        if let Some((gi, g)) = in_level(l).rfind(|(_, g)| g.site.at_scope_level()) {
            return (g.value.clone(), Source::Directive(gi), undecided);
        }
    }
    let value = match kind {
        GroupKind::Process => String::new(),
        GroupKind::Application => "%{RESOURCE}".to_string(),
    };
    (value, Source::Default, undecided)
}

fn agree(source: &[u8]) -> Result<usize, String> {
    let Ok(tree) = wsgifix::syntax::parse(source) else {
        return Ok(0);
    };
    let a = analyse(&tree);
    for inst in 0..a.instances.len() {
        for kind in [GroupKind::Process, GroupKind::Application] {
            let fast = a.effective_of(inst, kind);
            let slow = reference(&a, inst, kind);
            let got = (
                fast.value.clone(),
                fast.source.clone(),
                fast.undecided.clone(),
            );
            if got != slow {
                return Err(format!(
                    "instance {inst} ({:?}), {kind:?}: fast {got:?}, reference {slow:?}",
                    a.mounts[a.instances[inst].mount].url
                ));
            }
        }
    }
    Ok(a.instances.len())
}

const URLS: &[&str] = &[
    "/", "//", "/a", "/a/", "//a", "/a/b", "/a//b/", "/ab", "/a/b/c", "/b", "/a-b", "/a.b",
];

/// One line of a vhost: an alias, a section with a group directive, or a
/// bare group directive.
fn line() -> impl Strategy<Value = String> {
    let url = prop::sample::select(URLS);
    let value = prop::sample::select(&["d1", "d2", "%{GLOBAL}", "g"][..]);
    let kind = prop::sample::select(&["WSGIProcessGroup", "WSGIApplicationGroup"][..]);
    let section = prop::sample::select(
        &[
            "Location",
            "Location",
            "LocationMatch",
            "Directory",
            "Files",
            "If",
        ][..],
    );
    prop_oneof![
        (url.clone(), 0u8..3).prop_map(|(u, n)| format!("WSGIScriptAlias {u} /srv/s{n}/app.wsgi")),
        (url.clone(), section, kind.clone(), value.clone()).prop_map(|(u, s, k, v)| {
            let arg = match s {
                "Directory" => "/srv/s1".to_string(),
                "Files" => "app.wsgi".to_string(),
                "If" => "true".to_string(),
                "LocationMatch" => format!("^{u}"),
                _ => u.to_string(),
            };
            format!("<{s} {arg}>\n  {k} {v}\n</{s}>")
        }),
        (kind, value).prop_map(|(k, v)| format!("{k} {v}")),
    ]
}

fn config() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(line(), 0..4),
        prop::collection::vec(prop::collection::vec(line(), 0..10), 1..3),
    )
        .prop_map(|(server, vhosts)| {
            let mut s = server.join("\n");
            s.push('\n');
            for (i, v) in vhosts.iter().enumerate() {
                s.push_str(&format!(
                    "<VirtualHost *:80>\nServerName v{i}\n{}\n</VirtualHost>\n",
                    v.join("\n")
                ));
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn indexed_resolution_equals_the_scan(config in config()) {
        agree(config.as_bytes()).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn corpus_resolution_equals_the_scan() {
    let Some(files) = common::corpus::files("") else {
        return;
    };
    let mut instances = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        instances += agree(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
    // The corpus holds about a hundred mod_wsgi app instances: a reader that found none
    // would make this test pass vacuously.
    assert!(
        instances > 50,
        "only {instances} app instances in the corpus"
    );
}
