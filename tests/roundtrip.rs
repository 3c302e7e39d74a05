//! Lossless round trip and a sane tree on every real config of the shared
//! corpus, as written and converted to CRLF (SPEC §1, "Lossless").

mod syntax_support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use syntax_support::{all_lines, check_tree, to_crlf};
use wsgifix::syntax::{parse, LineKind, SyntaxError, SyntaxTree};

fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        assert!(
            std::env::var("WSGIFIX_REQUIRE_CORPUS").as_deref() != Ok("1"),
            "corpus {} is absent and WSGIFIX_REQUIRE_CORPUS=1",
            dir.display()
        );
        eprintln!(
            "SKIP: corpus folder {} is absent; the corpus round-trip tests did not run",
            dir.display()
        );
        None
    }
}

/// File name → (verdict, message) from HTTPD-VERDICTS.tsv.
fn verdicts(corpus: &Path) -> HashMap<String, (String, String)> {
    let text = std::fs::read_to_string(corpus.join("apache/HTTPD-VERDICTS.tsv"))
        .expect("apache/HTTPD-VERDICTS.tsv is readable");
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            let name = f.next().unwrap_or_default().to_string();
            let verdict = f.next().unwrap_or_default().to_string();
            let message = f.next().unwrap_or_default().to_string();
            (name, (verdict, message))
        })
        .collect()
}

struct CorpusFile {
    path: PathBuf,
    name: String,
    /// Apache's verdict; `None` for files it was not run on.
    verdict: Option<(String, String)>,
    /// The `.tsv` files describe the corpus; they are not configs.
    metadata: bool,
}

fn corpus_files(corpus: &Path) -> Vec<CorpusFile> {
    let verdicts = verdicts(corpus);
    let mut files = Vec::new();
    for sub in ["apache", "wsgi"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(corpus.join(sub))
            .unwrap_or_else(|e| panic!("cannot list corpus/{sub}: {e}"))
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let verdict = if sub == "apache" {
                verdicts.get(&name).cloned()
            } else {
                None
            };
            let metadata = name.ends_with(".tsv");
            files.push(CorpusFile {
                path,
                name,
                verdict,
                metadata,
            });
        }
    }
    files
}

/// Parses `bytes`, enforcing the verdict rules; returns the tree when there
/// is one, or a failure description.
fn parse_checked(
    file: &CorpusFile,
    bytes: &[u8],
    variant: &str,
) -> Result<Option<SyntaxTree>, String> {
    let label = format!("{} ({variant})", file.name);
    match parse(bytes) {
        Ok(tree) => check_tree(bytes, &tree)
            .map(|()| Some(tree))
            .map_err(|e| format!("{label}: {e}")),
        Err(e) => match &file.verdict {
            Some((v, msg)) if v == "read-error" => {
                check_same_error_as_apache(&e, msg).map_err(|why| format!("{label}: {why}"))?;
                Ok(None)
            }
            Some((v, _)) => Err(format!(
                "{label}: Apache's verdict is {v}, but the parser says {e}"
            )),
            None if file.metadata => Ok(None),
            None => Err(format!("{label}: real mod_wsgi config fails to parse: {e}")),
        },
    }
}

/// A file Apache refused while reading may fail here only with the error
/// Apache gave, at the line Apache gave: any other error means the parser
/// stumbled on something Apache got past.
fn check_same_error_as_apache(e: &SyntaxError, apache: &str) -> Result<(), String> {
    if !apache.contains(&e.message) {
        return Err(format!("parser error {e} is not Apache's error: {apache}"));
    }
    let at_line = [
        format!("FILE:{}:", e.line),
        format!("line {} of FILE", e.line),
    ];
    if !at_line.iter().any(|l| apache.contains(l.as_str())) {
        return Err(format!(
            "parser error {e} is on another line than Apache's: {apache}"
        ));
    }
    Ok(())
}

#[test]
fn corpus_round_trips_and_parses_where_apache_does() {
    let Some(corpus) = corpus_dir() else { return };
    let files = corpus_files(&corpus);
    assert!(
        files.iter().filter(|f| !f.metadata).count() >= 100,
        "the corpus looks truncated: {} files",
        files.len()
    );
    let mut failures = Vec::new();
    let mut parsed = 0;
    for file in &files {
        let bytes = std::fs::read(&file.path).expect("corpus file is readable");
        match parse_checked(file, &bytes, "as is") {
            Ok(Some(_)) => parsed += 1,
            Ok(None) => {}
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every config Apache read without a syntax error parsed, so this can
    // only fall if the verdict file and the folder disagree.
    assert!(parsed >= 100, "only {parsed} files parsed");
}

#[test]
fn corpus_converted_to_crlf_round_trips_and_means_the_same() {
    let Some(corpus) = corpus_dir() else { return };
    let mut failures = Vec::new();
    let mut compared = 0;
    for file in &corpus_files(&corpus) {
        let lf = std::fs::read(&file.path).expect("corpus file is readable");
        let crlf = to_crlf(&lf);
        let crlf_tree = match parse_checked(file, &crlf, "CRLF") {
            Ok(t) => t,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        // The CRLF copy must parse exactly when the original does, into the
        // same lines with the same meaning.
        let lf_result = parse(&lf);
        let (lf_tree, crlf_tree) = match (lf_result, crlf_tree) {
            (Ok(a), Some(b)) => (a, b),
            (Err(_), None) => {
                let crlf_err = parse(&crlf).err();
                let lf_err = parse(&lf).err();
                if crlf_err != lf_err {
                    failures.push(format!(
                        "{}: errors differ: LF {lf_err:?}, CRLF {crlf_err:?}",
                        file.name
                    ));
                }
                continue;
            }
            (a, b) => {
                failures.push(format!(
                    "{}: LF parse ok={} but CRLF parse ok={}",
                    file.name,
                    a.is_ok(),
                    b.is_some()
                ));
                continue;
            }
        };
        let (a, b) = (all_lines(&lf_tree), all_lines(&crlf_tree));
        if a.len() != b.len() {
            failures.push(format!(
                "{}: {} lines as LF, {} as CRLF",
                file.name,
                a.len(),
                b.len()
            ));
            continue;
        }
        for (x, y) in a.iter().zip(&b) {
            if x.logical() != y.logical() || x.kind != y.kind || x.line != y.line {
                failures.push(format!(
                    "{}: line {} reads {:?} ({:?}) as LF but {:?} ({:?}) as CRLF",
                    file.name,
                    x.line,
                    String::from_utf8_lossy(&x.logical()),
                    x.kind,
                    String::from_utf8_lossy(&y.logical()),
                    y.kind
                ));
                break;
            }
        }
        if syntax_support::outline(&lf_tree) != syntax_support::outline(&crlf_tree) {
            failures.push(format!(
                "{}: tree structure differs between LF and CRLF",
                file.name
            ));
        }
        compared += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared >= 100, "only {compared} files compared");
}

#[test]
fn corpus_section_counts_agree_with_the_text() {
    let Some(corpus) = corpus_dir() else { return };
    let mut failures = Vec::new();
    for file in corpus_files(&corpus).iter().filter(|f| !f.metadata) {
        let bytes = std::fs::read(&file.path).expect("corpus file is readable");
        let Ok(tree) = parse(&bytes) else { continue };
        // Count, straight from the text, logical lines whose first byte opens
        // or closes a section, outside <Macro>/<Perl> bodies (whose lines are
        // text); the tree must hold one Section node per opener and one
        // closer per closer line.
        let mut openers = 0usize;
        let mut closers = 0usize;
        let mut opaque_depth = 0usize;
        for (_, text) in syntax_support::httpd_logical_lines(&bytes) {
            let word: Vec<u8> = text
                .iter()
                .copied()
                .take_while(|&b| !syntax_support::is_c_space(b))
                .collect();
            let lower = String::from_utf8_lossy(&word).to_ascii_lowercase();
            let opaque_open = lower == "<macro" || lower == "<perl>" || lower == "<macro>";
            let opaque_close = lower == "</macro>" || lower == "</perl>";
            if opaque_depth > 0 {
                if opaque_open {
                    opaque_depth += 1;
                } else if opaque_close {
                    opaque_depth -= 1;
                    if opaque_depth == 0 {
                        closers += 1;
                    }
                }
                continue;
            }
            let kind = syntax_support::expected_kind(&text);
            if kind == LineKind::Close {
                closers += 1;
            } else if kind == LineKind::Open {
                openers += 1;
                if opaque_open {
                    opaque_depth = 1;
                }
            }
        }
        let (mut sections, mut closed) = (0usize, 0usize);
        count_sections(&tree.nodes, &mut sections, &mut closed);
        if sections != openers || closed != closers {
            failures.push(format!(
                "{}: text has {openers} openers/{closers} closers, tree {sections} sections/{closed} closed",
                file.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn count_sections(nodes: &[wsgifix::syntax::Node], sections: &mut usize, closed: &mut usize) {
    for n in nodes {
        if let wsgifix::syntax::Node::Section(s) = n {
            *sections += 1;
            if s.close.is_some() {
                *closed += 1;
            }
            count_sections(&s.children, sections, closed);
        }
    }
}
