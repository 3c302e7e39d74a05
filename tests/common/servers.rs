//! In-memory servers for tests: files by name, Includes resolved by glob
//! over the names.

use std::path::PathBuf;
use wsgifix::collections::HashMap;
use wsgifix::server::{ServerFile, ServerModel};
use wsgifix::syntax::{self, LineKind, Node};

/// A server from (name, text) pairs, the main file first. Each Include's
/// argument is a glob over the other names, expanded in name order (as httpd
/// sorts a glob's matches).
pub fn model(files: &[(&str, &str)]) -> ServerModel {
    let mut m = ServerModel::default();
    for (name, text) in files {
        m.files.push(ServerFile {
            path: PathBuf::from(name),
            real: PathBuf::from(name),
            source: text.as_bytes().to_vec().into(),
            tree: syntax::parse(text.as_bytes())
                .expect("fixture parses")
                .into(),
        });
    }
    let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
    let mut includes = HashMap::default();
    for (id, f) in m.files.iter().enumerate() {
        let mut found = Vec::new();
        collect_includes(&f.tree.nodes, &mut Vec::new(), &mut found);
        for (path, pattern) in found {
            let glob = globset::Glob::new(&pattern).unwrap().compile_matcher();
            let mut hits: Vec<usize> = (0..names.len())
                .filter(|&i| glob.is_match(names[i]))
                .collect();
            hits.sort_by_key(|&i| names[i]);
            includes.insert((id, path), hits);
        }
    }
    m.includes = includes;
    m
}

fn collect_includes(nodes: &[Node], path: &mut Vec<usize>, out: &mut Vec<(Vec<usize>, String)>) {
    for (i, n) in nodes.iter().enumerate() {
        path.push(i);
        match n {
            Node::Line(l)
                if l.kind == LineKind::Directive
                    && (l.name_is("Include") || l.name_is("IncludeOptional")) =>
            {
                let arg = String::from_utf8_lossy(&l.args()[0]).into_owned();
                out.push((path.clone(), arg));
            }
            Node::Section(s) => collect_includes(&s.children, path, out),
            _ => {}
        }
        path.pop();
    }
}
