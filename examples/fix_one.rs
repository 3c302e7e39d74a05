//! Prints the findings for one file and the fixed text (a development aid;
//! the real command line is `wsgifix`).
fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap();
        let r = wsgifix::engine::process(&bytes, &Default::default());
        println!("=== {path}");
        for f in &r.findings {
            println!(
                "{}:{}:{} {} [{}] {}",
                path,
                f.line,
                f.column,
                f.code,
                if f.fixable { "fix" } else { "-" },
                f.message
            );
        }
        if let Some(e) = &r.error {
            println!("ERROR {e}");
        }
        if let Some(fixed) = &r.fixed {
            let old = String::from_utf8_lossy(&bytes);
            let new = String::from_utf8_lossy(fixed);
            print!(
                "{}",
                similar::TextDiff::from_lines(&old, &new)
                    .unified_diff()
                    .context_radius(2)
            );
        }
    }
}
