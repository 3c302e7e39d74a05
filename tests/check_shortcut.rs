//! `--check` says which findings `--write` would fix without parsing and
//! analysing its printed fixes again (`Options::unverified`). That shortcut
//! is sound only if the check it skips never fails where the fix loop has
//! accepted the fixes: the two paths must give the same findings, fixable
//! or not, the same fixed bytes and the same errors. Checked on every corpus
//! file, on the corpus read as servers, and on random files and servers.

mod common;

use common::random_config::{config, render};
use common::servers::model;
use proptest::prelude::*;
use wsgifix::engine::{process, process_server, Options};
use wsgifix::syntax;

fn options(unverified: bool) -> Options {
    Options {
        unverified,
        ..Options::default()
    }
}

/// Both paths' results for one file, as text; and whether a fix changed it.
fn file_both_ways(source: &[u8]) -> (String, String, bool) {
    let verified = process(source, &options(false));
    let unverified = process(source, &options(true));
    let changed = verified.fixed.is_some();
    (format!("{verified:?}"), format!("{unverified:?}"), changed)
}

/// Both paths' results for a server of (name, text) files, the main first.
fn server_both_ways(files: &[(&str, &str)]) -> (String, String, bool) {
    let m = model(files);
    let verified = process_server(&m, &options(false));
    let unverified = process_server(&m, &options(true));
    let changed = verified.files.iter().any(|f| f.fixed.is_some());
    (format!("{verified:?}"), format!("{unverified:?}"), changed)
}

#[test]
fn corpus_files_read_the_same_unverified() {
    let Some(files) = common::corpus::files("") else {
        return;
    };
    let mut fixed = 0;
    for path in &files {
        let source = std::fs::read(path).unwrap();
        let (verified, unverified, changed) = file_both_ways(&source);
        assert_eq!(verified, unverified, "{}", path.display());
        fixed += usize::from(changed);
    }
    // The shortcut is only tried where something is fixed.
    assert!(fixed >= 15, "only {fixed} corpus files are fixed");
}

#[test]
fn corpus_servers_read_the_same_unverified() {
    let Some(files) = common::corpus::files("wsgi") else {
        return;
    };
    let texts: Vec<(String, String)> = files
        .iter()
        .filter_map(|p| {
            let bytes = std::fs::read(p).ok()?;
            syntax::parse(&bytes).ok()?;
            let text = String::from_utf8(bytes).ok()?;
            let name = format!("sites/{}.conf", p.file_name()?.to_string_lossy());
            Some((name, text))
        })
        .collect();
    let mut fixed = 0;
    // Three sites a server: apps of different files share daemons and names.
    for chunk in texts.chunks(3) {
        let mut files = vec![("apache2.conf", "Include sites/*.conf\n")];
        files.extend(chunk.iter().map(|(n, t)| (n.as_str(), t.as_str())));
        let (verified, unverified, changed) = server_both_ways(&files);
        assert_eq!(
            verified,
            unverified,
            "{:?}",
            chunk.iter().map(|c| &c.0).collect::<Vec<_>>()
        );
        fixed += usize::from(changed);
    }
    assert!(fixed >= 5, "only {fixed} corpus servers are fixed");
}

fn rendered(items: &[common::random_config::Item]) -> String {
    let mut text = String::new();
    render(items, "", "    ", "\n", &mut text);
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_files_read_the_same_unverified(items in config()) {
        let (verified, unverified, _) = file_both_ways(rendered(&items).as_bytes());
        prop_assert_eq!(verified, unverified);
    }

    /// A main file whose Include is at the top level or inside a vhost, and
    /// the sites it reads.
    #[test]
    fn random_servers_read_the_same_unverified(
        main in config(),
        sites in prop::collection::vec(config(), 1..4),
        in_vhost in any::<bool>(),
    ) {
        let mut main = rendered(&main);
        main.push_str(if in_vhost {
            "<VirtualHost *:80>\n    ServerName a.example.com\n    Include sites/*.conf\n</VirtualHost>\n"
        } else {
            "Include sites/*.conf\n"
        });
        let names: Vec<String> = (0..sites.len()).map(|i| format!("sites/{i}.conf")).collect();
        let texts: Vec<String> = sites.iter().map(|s| rendered(s)).collect();
        let mut files = vec![("apache2.conf", main.as_str())];
        files.extend(names.iter().map(String::as_str).zip(texts.iter().map(String::as_str)));
        let (verified, unverified, _) = server_both_ways(&files);
        prop_assert_eq!(verified, unverified);
    }
}
