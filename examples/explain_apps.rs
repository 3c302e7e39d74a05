//! Prints every WSGI mount of a file with its effective process and
//! application group and where each comes from (a development aid).
use wsgifix::analysis::{analyse, GroupKind};

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap();
        let tree = match wsgifix::syntax::parse(&bytes) {
            Ok(t) => t,
            Err(e) => {
                println!("{path}: {e}");
                continue;
            }
        };
        let a = analyse(&tree);
        println!(
            "=== {path} (scopes {}, daemons {:?})",
            a.scopes.len(),
            a.daemons.iter().map(|d| &d.name).collect::<Vec<_>>()
        );
        for m in &a.mounts {
            let pg = a.resolve(m, GroupKind::Process);
            let ag = a.resolve(m, GroupKind::Application);
            println!(
                "  line {} {:?} url={:?} target={} scope={} pg={:?} ({:?}) ag={:?} ({:?})",
                m.site.line,
                m.kind,
                m.url,
                m.target,
                m.site.scope,
                pg.value,
                pg.source,
                ag.value,
                ag.source
            );
        }
    }
}
