//! Parses every file given (or below a directory) and reports round-trip
//! failures and syntax errors: a quick look at a config tree.
use std::path::Path;

fn visit(p: &Path, out: &mut Vec<std::path::PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for e in entries {
            visit(&e, out);
        }
    } else {
        out.push(p.to_path_buf());
    }
}

fn main() {
    let mut files = Vec::new();
    for a in std::env::args().skip(1) {
        visit(Path::new(&a), &mut files);
    }
    let (mut ok, mut err, mut bad) = (0, 0, 0);
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        match wsgifix::syntax::parse(&bytes) {
            Ok(t) => {
                if t.to_bytes() == bytes {
                    ok += 1
                } else {
                    bad += 1;
                    println!("ROUNDTRIP MISMATCH {}", f.display());
                }
            }
            Err(e) => {
                err += 1;
                println!("{}:{e}", f.display());
            }
        }
    }
    println!("ok={ok} syntax_errors={err} roundtrip_mismatch={bad}");
}
