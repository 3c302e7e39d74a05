//! The parallel walk against the walk file after file. The files one
//! Include of the main server reads are analysed in parallel and joined in
//! read order; the joined analysis must be the one the plain walk gives,
//! field for field: vhost numbering, read order, handler scripts found
//! through `Alias`es of earlier files, last-wins main-server settings.
//! Checked on random servers and on the corpus read as one server.

mod common;

use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;
use wsgifix::analysis::{Analysis, NodePath, View};
use wsgifix::collections::HashMap;
use wsgifix::server::{FileId, ServerFile, ServerModel};
use wsgifix::syntax::{self, Node, SyntaxTree};

/// Both walks of `model`, as text: every field the walk fills in and
/// `finish` derives the rest from (the index's hash maps print in no fixed
/// order).
fn both(model: &ServerModel) -> (String, String) {
    let view = View::of(model);
    // The walk goes parallel only where there are threads to share it:
    // four, whatever this machine has.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let parallel = pool.install(|| view.analyse());
    (text_of(&parallel), text_of(&view.analyse_in_order()))
}

fn text_of(a: &Analysis) -> String {
    format!(
        "{:#?}",
        (
            (&a.scopes, &a.daemons, &a.mounts, &a.groups, &a.imports),
            (&a.aliases, &a.python_path, &a.python_home, a.windows),
            (&a.templates, &a.apps, &a.instances, &a.listen_ports),
            (&a.errors, a.too_deep, &a.restricted_scopes),
        )
    )
}

/// Where the `Include`s of a tree are, in file order.
fn includes_in(nodes: &[Node], path: &mut NodePath, out: &mut Vec<NodePath>) {
    for (i, n) in nodes.iter().enumerate() {
        path.push(i);
        match n {
            Node::Line(l) if l.name_is("include") => out.push(path.clone()),
            Node::Line(_) => {}
            Node::Section(s) => includes_in(&s.children, path, out),
        }
        path.pop();
    }
}

fn file(name: &str, tree: SyntaxTree) -> ServerFile {
    let source = tree.to_bytes();
    ServerFile {
        path: PathBuf::from(name),
        real: PathBuf::from(name),
        source: source.into(),
        tree: Arc::new(tree),
    }
}

/// A server: `main`, then `sites` (what the main file's Includes read), then
/// `leaves` (what the sites' Includes read, so there is no cycle). Include
/// number k of a file reads the files `pick(k)` chooses.
fn server(main: &str, sites: &[String], leaves: &[String]) -> Option<ServerModel> {
    let mut files = vec![file("main.conf", syntax::parse(main.as_bytes()).ok()?)];
    for (i, s) in sites.iter().enumerate() {
        files.push(file(
            &format!("site{i}.conf"),
            syntax::parse(s.as_bytes()).ok()?,
        ));
    }
    for (i, s) in leaves.iter().enumerate() {
        files.push(file(
            &format!("leaf{i}.conf"),
            syntax::parse(s.as_bytes()).ok()?,
        ));
    }
    let site_ids: Vec<FileId> = (1..=sites.len()).collect();
    let leaf_ids: Vec<FileId> = (sites.len() + 1..files.len()).collect();
    let mut includes: HashMap<(FileId, NodePath), Vec<FileId>> = HashMap::default();
    for (id, f) in files.iter().enumerate() {
        let mut at = Vec::new();
        includes_in(&f.tree.nodes, &mut Vec::new(), &mut at);
        for (k, path) in at.into_iter().enumerate() {
            let read: Vec<FileId> = if id == 0 {
                // Every site, in turns starting at k: each Include of the main
                // file reads several, some of them twice.
                site_ids
                    .iter()
                    .cycle()
                    .skip(k)
                    .take(site_ids.len())
                    .copied()
                    .collect()
            } else if id > sites.len() {
                Vec::new()
            } else {
                leaf_ids
                    .iter()
                    .copied()
                    .filter(|l| (l + k + id) % 2 == 0)
                    .collect()
            };
            includes.insert((id, path), read);
        }
    }
    Some(ServerModel { files, includes })
}

/// A line of any file: what the analysis reads, in the forms whose result
/// depends on what came before (aliases behind handlers, last ServerName).
fn line() -> impl Strategy<Value = String> {
    let n = 0u8..3;
    prop_oneof![
        n.clone().prop_map(|n| format!("ServerName s{n}.example")),
        n.clone().prop_map(|n| format!("WSGIPythonPath /p{n}")),
        n.clone().prop_map(|n| format!("WSGIPythonHome /h{n}")),
        n.clone().prop_map(|n| format!("Listen 80{n}")),
        n.clone().prop_map(|n| format!("Alias /a{n} /srv/a{n}")),
        n.clone()
            .prop_map(|n| format!("WSGIDaemonProcess d{n} threads=2 python-path=/srv/d{n}")),
        n.clone().prop_map(|n| format!("WSGIProcessGroup d{n}")),
        Just("WSGIApplicationGroup %{GLOBAL}".to_string()),
        n.clone()
            .prop_map(|n| format!("WSGIScriptAlias /a{n} /srv/a{n}.wsgi")),
        n.clone()
            .prop_map(|n| format!("WSGIScriptAliasMatch ^/m{n}/(.*) /srv/m{n}.wsgi")),
        n.clone().prop_map(|n| format!(
            "<Location /a{n}>\n  SetHandler wsgi-script\n  WSGIProcessGroup d{n}\n</Location>"
        )),
        n.clone().prop_map(|n| format!(
            "<Directory /srv/a{n}>\n  AddHandler wsgi-script .py\n</Directory>"
        )),
        n.clone()
            .prop_map(|n| format!("<IfDefine !X>\n  WSGIApplicationGroup g{n}\n</IfDefine>")),
        n.clone().prop_map(|n| format!(
            "WSGIImportScript /srv/a{n}.wsgi process-group=d{n} application-group=%{{GLOBAL}}"
        )),
        Just("WSGIScriptAlias /only-one-argument".to_string()),
        Just("<Macro App $u>\n  WSGIScriptAlias $u /srv/m.wsgi\n</Macro>".to_string()),
        Just("Include more".to_string()),
    ]
}

/// A file: server-level lines and vhosts, in any order.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            line(),
            prop::collection::vec(line(), 0..6).prop_map(|lines| format!(
                "<VirtualHost *:80>\n{}\n</VirtualHost>",
                lines.join("\n")
            )),
        ],
        0..6,
    )
    .prop_map(|blocks| blocks.join("\n") + "\n")
}

/// The main file: lines around one or more Includes of the sites, one of
/// them inside a section (the sites then walk inside it).
fn main_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(line(), 0..4),
        prop::collection::vec(line(), 0..4),
        prop::sample::select(&["", "<IfDefine X>", "<Location /a1>", "<VirtualHost *:81>"][..]),
    )
        .prop_map(|(before, after, around)| {
            let before: Vec<String> = before.into_iter().filter(|l| l != "Include more").collect();
            let after: Vec<String> = after.into_iter().filter(|l| l != "Include more").collect();
            let mut s = before.join("\n");
            s.push_str("\nInclude sites\n");
            if !around.is_empty() {
                let close = around[1..].split(' ').next().unwrap_or("");
                s.push_str(&format!("{around}\nInclude sites\n</{close}>\n"));
            }
            s.push_str(&after.join("\n"));
            s.push('\n');
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn the_parallel_walk_equals_the_walk_in_order(
        main in main_text(),
        sites in prop::collection::vec(text(), 2..6),
        leaves in prop::collection::vec(text(), 0..3),
    ) {
        let Some(model) = server(&main, &sites, &leaves) else {
            return Ok(());
        };
        let (parallel, in_order) = both(&model);
        if parallel != in_order {
            let d = similar::TextDiff::from_lines(&in_order, &parallel);
            let diff = d.unified_diff().context_radius(6).to_string();
            prop_assert!(false, "the walks differ:\n{}", diff);
        }
    }
}

/// The corpus as one server: its files read by an Include of the main
/// server, again inside a vhost (walked in order there) and inside an
/// `<IfDefine>` and a `<Location>` (walked in parallel, inside them).
#[test]
fn the_corpus_as_one_server_walks_the_same_in_parallel() {
    let Some(paths) = common::corpus::files("") else {
        return;
    };
    let main = "ServerName main.example\nInclude corpus\n<VirtualHost *:80>\nInclude corpus\n</VirtualHost>\n<IfDefine X>\nInclude corpus\n</IfDefine>\n<Location /app>\nInclude corpus\n</Location>\nAlias /late /srv/late\n";
    let mut files = vec![file("main.conf", syntax::parse(main.as_bytes()).unwrap())];
    for p in &paths {
        let bytes = std::fs::read(p).unwrap();
        if let Ok(tree) = syntax::parse(&bytes) {
            files.push(file(&p.display().to_string(), tree));
        }
    }
    let read: Vec<FileId> = (1..files.len()).collect();
    assert!(
        read.len() > 100,
        "too few corpus files parsed: {}",
        read.len()
    );
    let includes = [vec![1], vec![2, 0], vec![3, 0], vec![4, 0]]
        .into_iter()
        .map(|path| ((0, path), read.clone()))
        .collect();
    let model = ServerModel { files, includes };
    let (parallel, in_order) = both(&model);
    let a = View::of(&model).analyse();
    assert!(
        a.mounts.len() > 100 && a.scopes.len() > 100,
        "the corpus server has {} mounts and {} scopes",
        a.mounts.len(),
        a.scopes.len()
    );
    assert!(parallel == in_order, "the parallel walk differs");
}

/// A `Define` in one of the files an Include reads decides the
/// `<IfDefine>`s of the files after it, which a walk beside it would not
/// know: the walk goes on in order from there, and reads as the walk in
/// order does.
#[test]
fn a_define_in_an_included_file_reaches_the_files_after_it() {
    let main = "Include sites\n";
    let mut files = vec![file("main.conf", syntax::parse(main.as_bytes()).unwrap())];
    let site = |k: usize| {
        match k {
        3 => "Define LIVE\n".to_string(),
        _ => format!(
            "<IfDefine !LIVE>\nWSGIDaemonProcess dead{k}\n</IfDefine>\n<IfDefine LIVE>\nWSGIDaemonProcess live{k}\n</IfDefine>\n"
        ),
    }
    };
    for k in 0..24 {
        files.push(file(
            &format!("site{k}.conf"),
            syntax::parse(site(k).as_bytes()).unwrap(),
        ));
    }
    let read: Vec<FileId> = (1..files.len()).collect();
    let model = ServerModel {
        files,
        includes: [((0, vec![0]), read)].into_iter().collect(),
    };
    let (parallel, in_order) = both(&model);
    assert!(parallel == in_order, "the parallel walk differs");
    let a = View::of(&model).analyse_in_order();
    let names: Vec<&str> = a.daemons.iter().map(|d| d.name.as_str()).collect();
    // Before the Define both branches are read; after it only LIVE's.
    assert!(
        names.contains(&"dead0") && names.contains(&"live0"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"dead4") && names.contains(&"live23"),
        "{names:?}"
    );
}
