//! Differential test of the syntax tree against real Apache.
//!
//! For every input Apache accepts, `apache2 -t -D DUMP_CONFIG` prints the
//! directive tree httpd built from it. The same view is computed from
//! wsgifix's syntax tree (comments and blanks dropped, continuations joined,
//! `${VAR}` resolved, read-time directives omitted, conditionals evaluated,
//! mod_info's printing quirks emulated) and the two must agree line for line:
//! nesting, directive name (case-insensitively: httpd prints the module's
//! spelling), the raw argument text, and the line number httpd recorded (the
//! last physical line of a continued directive).
//!
//! The truth of `<IfModule>`, `<IfVersion>`, `<IfFile>`, `<IfDirective>` and
//! `<IfSection>` headers is asked of httpd itself (a probe config that
//! `Define`s a marker inside each), since this test checks the parser, not a
//! re-implementation of those tests. `<IfDefine>`, `Define` and `UnDefine`
//! are positional and are replayed here.

mod common;

use common::apache::{self, Lab};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use wsgifix::syntax::{self, logical, Line, LineKind, Node, Section, SyntaxTree};

/// Directives httpd runs while reading (EXEC_ON_READ): they never reach the
/// tree, so DUMP_CONFIG does not show them.
const EXEC_ON_READ: &[&str] = &[
    "include",
    "includeoptional",
    "define",
    "undefine",
    "loadmodule",
    "loadfile",
    "serverroot",
    "defaultruntimedir",
    "use",
    "undefmacro",
];

/// Read-time conditional sections whose truth httpd is asked for.
const PROBED: &[&str] = &[
    "ifmodule",
    "ifversion",
    "iffile",
    "ifdirective",
    "ifsection",
];

/// An environment variable the lab passes to httpd, so `${VAR}` from the
/// environment is exercised too.
const ENV_VAR: (&str, &str) = ("WSGIFIX_DUMP_ENV", "/tmp/from-env");

/// One line of the dump: a directive or section opener (with its args) or a
/// section closer (`rest == None`, no line number).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    depth: usize,
    line: u32,
    /// Lower-cased: httpd prints the canonical spelling, the file may not.
    name: Vec<u8>,
    rest: Option<Vec<u8>>,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = String::from_utf8_lossy(&self.name);
        let pad = "  ".repeat(self.depth);
        match &self.rest {
            Some(r) => write!(
                f,
                "{pad}{:>4}: {name} {:?}",
                self.line,
                String::from_utf8_lossy(r)
            ),
            None => write!(f, "{pad}      {name}"),
        }
    }
}

fn lower(b: &[u8]) -> Vec<u8> {
    b.to_ascii_lowercase()
}

/// The DUMP_CONFIG entries that httpd attributes to `file`, and the other
/// real files (not mod_macro expansions) the dump shows after the base
/// config.
fn parse_dump(stdout: &[u8], file: &str, base: &str) -> (Vec<Entry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut others = Vec::new();
    let mut current = String::new();
    let mut pending_line = 0u32;
    for raw in stdout.split(|&b| b == b'\n') {
        if let Some(f) = raw.strip_prefix(b"# In file: ") {
            current = String::from_utf8_lossy(f).into_owned();
            if current != file
                && current != base
                && !current.starts_with("macro '")
                && !others.contains(&current)
            {
                others.push(current.clone());
            }
            continue;
        }
        let indent = raw.iter().take_while(|&&b| b == b' ').count();
        let body = &raw[indent..];
        if body.is_empty() {
            continue;
        }
        if let Some(n) = body.strip_prefix(b"#") {
            let n = String::from_utf8_lossy(n);
            pending_line = n.trim().trim_end_matches(':').trim().parse().unwrap_or(0);
            continue;
        }
        if current != file {
            pending_line = 0;
            continue;
        }
        let depth = indent / 2;
        if body.starts_with(b"</") {
            entries.push(Entry {
                depth,
                line: 0,
                name: lower(body),
                rest: None,
            });
        } else {
            let sp = body.iter().position(|&b| b == b' ').unwrap_or(body.len());
            entries.push(Entry {
                depth,
                line: pending_line,
                name: lower(&body[..sp]),
                rest: Some(body.get(sp + 1..).unwrap_or_default().to_vec()),
            });
        }
        pending_line = 0;
    }
    (entries, others)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cond {
    True,
    False,
    /// httpd refused the header on its own; the message says why.
    Invalid(String),
}

/// Replays what httpd does while reading one file, on wsgifix's tree.
struct Projector<'a> {
    conds: &'a HashMap<Vec<u8>, Cond>,
    env: &'a [(String, String)],
    /// Names `Define`d (and `-D DUMP_CONFIG`), compared case-sensitively as
    /// `<IfDefine>` does.
    defines: Vec<Vec<u8>>,
    /// `Define`d values, keyed lower-case: apr tables ignore case.
    vars: BTreeMap<Vec<u8>, Vec<u8>>,
    out: Vec<Entry>,
    /// Conditional headers (resolved) whose truth is not known yet.
    unknown: Vec<Vec<u8>>,
    invalid: Vec<String>,
    uses_macro: bool,
}

impl<'a> Projector<'a> {
    fn new(conds: &'a HashMap<Vec<u8>, Cond>, env: &'a [(String, String)]) -> Self {
        Projector {
            conds,
            env,
            defines: vec![b"DUMP_CONFIG".to_vec()],
            vars: BTreeMap::new(),
            out: Vec::new(),
            unknown: Vec::new(),
            invalid: Vec::new(),
            uses_macro: false,
        }
    }

    /// `ap_resolve_env`: `${NAME}` from Defines, then the environment;
    /// anything else (undefined, `$` without `{`, no `}`) stays literal.
    fn resolve(&self, s: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            if s[i] == b'$' && s.get(i + 1) == Some(&b'{') {
                if let Some(close) = s[i + 2..].iter().position(|&b| b == b'}') {
                    let name = &s[i + 2..i + 2 + close];
                    let value = self.vars.get(&lower(name)).cloned().or_else(|| {
                        self.env
                            .iter()
                            .find(|(k, _)| k.as_bytes() == name)
                            .map(|(_, v)| v.as_bytes().to_vec())
                    });
                    if let Some(v) = value {
                        out.extend_from_slice(&v);
                        i += close + 3;
                        continue;
                    }
                }
            }
            out.push(s[i]);
            i += 1;
        }
        out
    }

    /// Returns whether anything under `nodes` reaches the dump's tree (a
    /// `Use` counts: its expansion is shown under the macro's own name).
    fn walk(&mut self, nodes: &[Node], depth: usize) -> bool {
        let mut any = false;
        for n in nodes {
            any |= match n {
                Node::Line(l) if l.kind == LineKind::Directive => self.directive(l, depth),
                Node::Line(_) => false,
                Node::Section(s) => self.section(s, depth),
            };
        }
        any
    }

    fn directive(&mut self, l: &Line, depth: usize) -> bool {
        let text = self.resolve(&l.logical());
        let (name, rest) = logical::split_name(&text);
        let mut name = name.into_owned();
        if name.is_empty() {
            // httpd skips a line whose first word is empty (`"" x`).
            return false;
        }
        if name.get(1) != Some(&b'/') && name.ends_with(b">") {
            name.pop();
        }
        let lname = lower(&name);
        match lname.as_slice() {
            b"define" => {
                let w = logical::words(rest);
                if let Some(n) = w.first() {
                    if !self.defines.contains(n) {
                        self.defines.push(n.clone());
                    }
                    if let Some(v) = w.get(1) {
                        self.vars.insert(lower(n), v.clone());
                    }
                }
                return false;
            }
            b"undefine" => {
                if let Some(n) = logical::words(rest).first() {
                    self.defines.retain(|d| d != n);
                    self.vars.remove(&lower(n));
                }
                return false;
            }
            b"use" => {
                self.uses_macro = true;
                return true;
            }
            n if EXEC_ON_READ.iter().any(|e| e.as_bytes() == n) => return false,
            _ => {}
        }
        self.out.push(Entry {
            depth,
            line: last_physical_line(l),
            name: lname,
            rest: Some(rest.to_vec()),
        });
        true
    }

    fn section(&mut self, s: &Section, depth: usize) -> bool {
        let text = self.resolve(&s.open.logical());
        let (name, rest) = logical::split_name(&text);
        let mut name = name.into_owned();
        if name.ends_with(b">") {
            name.pop();
        }
        // httpd hands `<Else>` the argument string ">".
        let rest: &[u8] = if rest.is_empty() { b">" } else { rest };
        let bare = lower(name.get(1..).unwrap_or_default());
        if bare == b"ifdefine" {
            return self.if_define(rest) && self.walk(&s.children, depth);
        }
        if PROBED.iter().any(|p| p.as_bytes() == bare) {
            return match self.conds.get(&text) {
                Some(Cond::True) => self.walk(&s.children, depth),
                Some(Cond::False) => false,
                Some(Cond::Invalid(why)) => {
                    self.invalid.push(why.clone());
                    false
                }
                None => {
                    if !self.unknown.contains(&text) {
                        self.unknown.push(text);
                    }
                    false
                }
            };
        }
        if bare == b"macro" {
            return false;
        }
        self.out.push(Entry {
            depth,
            line: last_physical_line(&s.open),
            name: lower(&name),
            rest: Some(rest.to_vec()),
        });
        if self.walk(&s.children, depth + 1) {
            let mut close = b"</".to_vec();
            close.extend_from_slice(&bare);
            close.push(b'>');
            self.out.push(Entry {
                depth,
                line: 0,
                name: close,
                rest: None,
            });
        }
        // An empty section is still printed (as a leaf).
        true
    }

    fn if_define(&self, rest: &[u8]) -> bool {
        let cut = rest.iter().rposition(|&b| b == b'>').unwrap_or(rest.len());
        let arg = logical::words(&rest[..cut])
            .into_iter()
            .next()
            .unwrap_or_default();
        match arg.strip_prefix(b"!") {
            Some(n) => !self.defines.iter().any(|d| d == n),
            None => self.defines.contains(&arg),
        }
    }
}

/// httpd records the line counter after reading the whole logical line. A
/// continuation into the end of the file counts one more line: httpd bumps
/// the counter before the read that finds nothing.
fn last_physical_line(l: &Line) -> u32 {
    let continues_into_eof = logical::join(l.raw()).continues;
    l.line + l.newline_count() - u32::from(l.raw().ends_with(b"\n")) + u32::from(continues_into_eof)
}

/// Asks httpd which of `headers` (full `<IfX ...>` lines) are true: each
/// becomes a section holding a marker `Define`. A batch httpd refuses is
/// retried header by header so one bad header is pinned down.
fn probe(lab: &Lab, tag: &str, headers: &[Vec<u8>]) -> Vec<Cond> {
    let run = |hs: &[&Vec<u8>]| -> Result<Vec<bool>, String> {
        let mut body = Vec::new();
        for (i, h) in hs.iter().enumerate() {
            let (name, _) = logical::split_name(h);
            let name = name.strip_prefix(b"<").unwrap_or(&name);
            let name = name.strip_suffix(b">").unwrap_or(name);
            body.extend_from_slice(h);
            body.extend_from_slice(format!("\nDefine WSGIFIX_PROBE_{i}\n</").as_bytes());
            body.extend_from_slice(name);
            body.extend_from_slice(b">\n");
        }
        let file = lab.write(&format!("probe-{tag}.conf"), &body);
        let conf = lab.write_base(&format!("probe-base-{tag}.conf"), Some(&file), "");
        let defs = lab.defines(&conf)?;
        Ok((0..hs.len())
            .map(|i| defs.contains(&format!("WSGIFIX_PROBE_{i}")))
            .collect())
    };
    let all: Vec<&Vec<u8>> = headers.iter().collect();
    match run(&all) {
        Ok(v) => v
            .into_iter()
            .map(|b| if b { Cond::True } else { Cond::False })
            .collect(),
        Err(_) => headers
            .iter()
            .map(|h| match run(&[h]) {
                Ok(v) if v[0] => Cond::True,
                Ok(_) => Cond::False,
                Err(e) => Cond::Invalid(format!(
                    "httpd refuses {:?} on its own: {e}",
                    String::from_utf8_lossy(h)
                )),
            })
            .collect(),
    }
}

/// What comparing one input gave.
enum Outcome {
    /// Apache refused the input; nothing to compare.
    Rejected(String),
    Skipped(String),
    Compared,
    Mismatch(String),
}

struct Differ {
    lab: Lab,
    conds: HashMap<Vec<u8>, Cond>,
    /// DUMP_CONFIG lines that matched, over all inputs compared.
    entries_compared: usize,
}

impl Differ {
    fn new(apache: &apache::Apache) -> Differ {
        let mut lab = Lab::new(apache, apache.loadable_modules());
        assert!(
            lab.loads("wsgi_module") && lab.loads("macro_module"),
            "mod_wsgi and mod_macro must load; loaded: {:?}",
            lab.modules.iter().map(|m| &m.name).collect::<Vec<_>>()
        );
        // As under Debian's apache2ctl, which the corpus's Debian configs
        // expect (`${APACHE_LOG_DIR}`).
        lab.set_debian_env();
        lab.env.push((ENV_VAR.0.to_string(), ENV_VAR.1.to_string()));
        Differ {
            lab,
            conds: HashMap::new(),
            entries_compared: 0,
        }
    }

    /// Includes `path` from the base config, dumps it, and compares.
    fn compare(&mut self, tag: &str, path: &Path, bytes: &[u8]) -> Outcome {
        let conf = self
            .lab
            .write_base(&format!("base-{tag}.conf"), Some(path), "");
        let out = self.lab.dump_config(&conf);
        if !out.ok() {
            return Outcome::Rejected(out.message().replace('\n', " | "));
        }
        let tree: SyntaxTree = match syntax::parse(bytes) {
            Ok(t) => t,
            Err(e) => {
                return Outcome::Mismatch(format!(
                    "Apache accepts it but wsgifix::syntax::parse fails: {e}"
                ))
            }
        };
        let projector = loop {
            let mut p = Projector::new(&self.conds, &self.lab.env);
            p.walk(&tree.nodes, 0);
            if p.unknown.is_empty() {
                break p;
            }
            let unknown = std::mem::take(&mut p.unknown);
            drop(p);
            for (h, c) in unknown.iter().zip(probe(&self.lab, tag, &unknown)) {
                self.conds.insert(h.clone(), c);
            }
        };
        if let Some(why) = projector.invalid.first() {
            return Outcome::Skipped(why.clone());
        }
        let (dumped, others) = parse_dump(
            &out.stdout,
            &path.display().to_string(),
            &conf.display().to_string(),
        );
        if !others.is_empty() {
            return Outcome::Skipped(format!("its Includes pull in {}", others.join(", ")));
        }
        match first_difference(&dumped, &projector.out) {
            None => {
                self.entries_compared += dumped.len();
                Outcome::Compared
            }
            Some(d) => Outcome::Mismatch(d),
        }
    }
}

/// Where two entry lists first differ, shown with a little context.
fn first_difference(apache: &[Entry], ours: &[Entry]) -> Option<String> {
    let n = apache.len().max(ours.len());
    let i = (0..n).find(|&i| apache.get(i) != ours.get(i))?;
    let show = |v: &[Entry]| -> String {
        let lo = i.saturating_sub(2);
        let hi = (i + 3).min(v.len());
        v[lo.min(hi)..hi]
            .iter()
            .enumerate()
            .map(|(k, e)| format!("{} {e}", if lo + k == i { ">" } else { " " }))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Some(format!(
        "entry {i} differs ({} entries from Apache, {} from wsgifix)\n  Apache DUMP_CONFIG:\n{}\n  wsgifix projection:\n{}",
        apache.len(),
        ours.len(),
        show(apache),
        show(ours)
    ))
}

fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("WSGIFIX_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    // httpd prints the path it opened in normalized form.
    dir.canonicalize().unwrap_or(dir)
}

/// An account that exists on every Debian/Ubuntu machine with Apache.
const KNOWN_ACCOUNT: &[u8] = b"www-data";

/// Compares one corpus file. Many mod_wsgi configs name system users that
/// exist only where the app is deployed (`user=keystone`), and httpd exits
/// at the first unknown one before it can dump anything; such a file is
/// compared with that name replaced, in `user=`/`group=` options and
/// `User`/`Group` directives only (no line changes, so line numbers hold).
/// Returns the names replaced.
fn compare_with_accounts(
    differ: &mut Differ,
    tag: &str,
    path: &Path,
    bytes: Vec<u8>,
) -> (Outcome, Vec<String>) {
    let mut input = bytes;
    let mut input_path = path.to_path_buf();
    let mut renamed: Vec<String> = Vec::new();
    loop {
        let outcome = differ.compare(tag, &input_path, &input);
        if let Outcome::Rejected(why) = &outcome {
            let missing = ["bad user name ", "bad group name "]
                .iter()
                .find_map(|m| why.split(m).nth(1))
                .and_then(|rest| rest.split([' ', '|']).next())
                .map(str::to_string);
            if let Some(account) = missing.filter(|a| !renamed.contains(a) && renamed.len() < 4) {
                input = replace_account(&input, account.as_bytes());
                input_path = differ.lab.write(&format!("renamed-{tag}.conf"), &input);
                renamed.push(account);
                continue;
            }
        }
        return (outcome, renamed);
    }
}

/// `user=NAME`/`group=NAME` (as whole options) and `User NAME`/`Group NAME`
/// (as whole directives) with NAME replaced by `KNOWN_ACCOUNT`.
fn replace_account(input: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let at_word = i == 0 || logical::is_space(input[i - 1]);
        let key = [&b"user="[..], b"group=", b"User ", b"Group "]
            .into_iter()
            .find(|k| at_word && input[i..].starts_with(k));
        if let Some(k) = key {
            let v = i + k.len();
            let end = v + name.len();
            if input[v..].starts_with(name) && input.get(end).is_none_or(|&b| logical::is_space(b))
            {
                out.extend_from_slice(k);
                out.extend_from_slice(KNOWN_ACCOUNT);
                i = end;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

#[test]
fn corpus_agrees_with_apache_dump_config() {
    let Some(apache) = apache::require_or_skip("corpus_agrees_with_apache_dump_config") else {
        return;
    };
    let corpus = corpus_dir();
    if !corpus.join("apache").is_dir() {
        assert!(
            std::env::var("WSGIFIX_REQUIRE_CORPUS").as_deref() != Ok("1"),
            "corpus {} is absent and WSGIFIX_REQUIRE_CORPUS=1",
            corpus.display()
        );
        eprintln!(
            "corpus_agrees_with_apache_dump_config: skipped: no corpus at {}",
            corpus.display()
        );
        return;
    }
    let mut files: Vec<PathBuf> = ["apache", "wsgi"]
        .iter()
        .flat_map(|d| std::fs::read_dir(corpus.join(d)).expect("read corpus dir"))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "tsv"))
        .collect();
    files.sort();
    let verdict_ok: Vec<String> = std::fs::read_to_string(corpus.join("apache/HTTPD-VERDICTS.tsv"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let name = f.next()?;
            (f.next()? == "ok").then(|| name.to_string())
        })
        .collect();

    let mut differ = Differ::new(&apache);
    let (mut compared, mut rejected, mut skipped, mut failures) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, path) in files.iter().enumerate() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).expect("read corpus file");
        let (outcome, renamed) = compare_with_accounts(&mut differ, &format!("c{i}"), path, bytes);
        let name = if renamed.is_empty() {
            name
        } else {
            format!("{name} (accounts {renamed:?} renamed)")
        };
        match outcome {
            Outcome::Compared => compared.push(name),
            Outcome::Rejected(why) => rejected.push((name, why)),
            Outcome::Skipped(why) => skipped.push(format!("{name}: {why}")),
            Outcome::Mismatch(d) => failures.push(format!("{name}: {d}")),
        }
    }
    let ok_rejected: Vec<&(String, String)> = rejected
        .iter()
        .filter(|(n, _)| verdict_ok.contains(n))
        .collect();
    let ok_compared = compared.iter().filter(|n| verdict_ok.contains(n)).count();
    eprintln!(
        "compared {} files ({} lines of DUMP_CONFIG; {ok_compared} of the {} files 'ok' in \
         HTTPD-VERDICTS.tsv); Apache rejected {} ({} of them 'ok' there: {:?}); skipped {}:\n  {}",
        compared.len(),
        differ.entries_compared,
        verdict_ok.len(),
        rejected.len(),
        ok_rejected.len(),
        ok_rejected,
        skipped.len(),
        skipped.join("\n  ")
    );
    if std::env::var_os("WSGIFIX_DUMP_VERBOSE").is_some() {
        for (n, why) in &rejected {
            eprintln!("rejected: {n}: {why}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus files differ from Apache's DUMP_CONFIG:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // On the reference machine (Apache 2.4.71, Debian modules) every file
    // HTTPD-VERDICTS.tsv calls ok is compared, and 109 files in all; a
    // little slack allows for another Apache build.
    assert!(
        compared.len() >= 100,
        "only {} corpus files were compared: {compared:?}",
        compared.len()
    );
    assert!(
        ok_compared + 3 >= verdict_ok.len(),
        "only {ok_compared} of the {} files HTTPD-VERDICTS.tsv calls ok were compared",
        verdict_ok.len()
    );
    assert!(skipped.len() <= 3, "too many files skipped: {skipped:#?}");
}

/// Inputs that stress the reader: each is accepted by Apache (asserted)
/// and must project to exactly what httpd dumped.
const TRICKY: &[(&str, &[u8])] = &[
    (
        "continuation inside quotes",
        b"Alias /q \"/tmp/a b\\\n   c\"\nDirectoryIndex one.html\n",
    ),
    (
        "continuation inside a header value",
        b"Header set X-Cont \"a\\\n b\" \\\n  env=!nope\n",
    ),
    (
        "comment swallows the next physical line",
        b"# comment \\\nAlias /swallowed /tmp/swallowed\nAlias /kept /tmp/kept\n",
    ),
    (
        "continuation in a section header",
        b"<VirtualHost \\\n  127.0.0.1:8080 \\\n  >\nServerName cont.example\n</VirtualHost>\n",
    ),
    (
        "carriage return mid-line and before LF",
        b"DirectoryIndex a.html\rb.html\nDirectoryIndex crlf.html \r\nAlias /cr /tmp/cr\r\n",
    ),
    (
        "NUL cuts the rest of the physical line",
        b"Alias /nul /tmp/nul\0 garbage\" here\nAlias /after-nul /tmp/x\n",
    ),
    (
        "tabs, vertical tab and form feed",
        b"\tAlias\t/tab\t/tmp/tab\t\nDirectoryIndex\x0bvt.html\x0cff.html\n",
    ),
    (
        "If with > inside its expression, ElseIf, Else",
        b"<If \"%{QUERY_STRING} =~ /a>b/\">\n  Header set X-If one\n</If>\n<ElseIf \"-n '>'\">\n  Header set X-If two\n</ElseIf>\n<Else>\n  Header set X-If three\n</Else>\n<If \"true\">\n</If>\n<Else>\n</Else>\n",
    ),
    (
        "closer and conditional closer on one line",
        b"<IfModule mod_alias.c>\n<Directory /tmp>\nOptions None\n</Directory> </IfModule>\nAlias /after /tmp/after\n",
    ),
    (
        "empty sections print no closer",
        b"<Location /empty>\n</Location>\n<Location /full>\n  <Limit GET>\n  </Limit>\n</Location>\n",
    ),
    (
        "Define, UnDefine and environment variables",
        b"Define DV /tmp/dv\nDefine DQ \"a.html b.html\"\nAlias /dv ${DV}\nDirectoryIndex ${dq}\nAlias /env ${WSGIFIX_DUMP_ENV}\nAlias /undef $${NOPE_UNDEFINED}x\nUnDefine DV\nAlias /dv2 ${DV}\n",
    ),
    (
        "IfDefine, IfVersion, IfModule branches",
        b"<IfDefine DUMP_CONFIG>\nAlias /dc /tmp/dc\n</IfDefine>\n<IfDefine !NOPE>\n<IfDefine NOPE>\nthis is not a directive\n</IfDefine>\nAlias /nope /tmp/nope\n</IfDefine>\nDefine LATE\n<IfDefine LATE>\nAlias /late /tmp/late\n</IfDefine>\n<IfVersion >= 2.4>\nAlias /v24 /tmp/v24\n</IfVersion>\n<IfVersion < 2.0>\nnot read\n</IfVersion>\n<IfModule !mod_wsgi.c>\nnot read\n</IfModule>\n<ifmodule wsgi_module>\nWSGIRestrictEmbedded Off\n</ifmodule>\n",
    ),
    (
        "backslashes at line ends",
        b"Alias /dbl /tmp/a\\\\\n/more\nDirectoryIndex x\\\\\n\n  y.html\nDirectoryIndex b\\\n.html\nDirectoryIndex z\\",
    ),
    (
        "CRLF file with continuations",
        b"<Directory /tmp>\r\n  Options \\\r\n    None\r\n</Directory>\r\n",
    ),
    (
        "names in any case, quoted names, junk after openers and closers",
        b"<directory /tmp> # trailing text\n options none\n</DIRECTORY> junk\n\"DirectoryIndex\" q.html\n\"\" skipped words\nDirectoryIndex>\n",
    ),
    (
        "mod_macro expansions are not ours",
        b"<Macro M $x>\nAlias /m$x /tmp/m$x\n</Macro>\nUse M 1\n<VirtualHost 127.0.0.1:8081>\n  Use M 2\n</VirtualHost>\nUndefMacro M\n",
    ),
    (
        "quoted section names",
        b"\"<Directory\" /tmp>\nOptions None\n\"</Directory>\"\n'<Location' /q>\n</Location>\n",
    ),
    (
        "NUL and CR around continuations",
        b"DirectoryIndex a\\\n b.html\0 \\\nDirectoryIndex nul-stops-continuation.html\n\0 whole line cut\nDirectoryIndex cr\\\r\\\n\nDirectoryIndex after-cr.html\n",
    ),
    (
        "true conditional left open at end of file",
        b"<IfModule mod_alias.c>\nAlias /open /tmp/open\n<Location /in-open>\nOptions None\n</Location>\n",
    ),
    (
        "closer split by a continuation",
        b"<Location /split>\nOptions None\n</Location\\\n>\n",
    ),
    (
        "continuation into end of file",
        b"DirectoryIndex eof.html\\\n",
    ),
    (
        "bytes that are not UTF-8 and leading continuations",
        b"DirectoryIndex caf\xe9.html\n  \\\n  DirectoryIndex lead.html\n",
    ),
];

#[test]
fn tricky_inputs_agree_with_apache_dump_config() {
    let Some(apache) = apache::require_or_skip("tricky_inputs_agree_with_apache_dump_config")
    else {
        return;
    };
    let mut differ = Differ::new(&apache);
    let mut failures = Vec::new();
    for (i, (what, bytes)) in TRICKY.iter().enumerate() {
        let path = differ.lab.write(&format!("tricky-{i}.conf"), bytes);
        match differ.compare(&format!("t{i}"), &path, bytes) {
            Outcome::Compared => {}
            Outcome::Rejected(why) => failures.push(format!("{what}: Apache rejects it: {why}")),
            Outcome::Skipped(why) => failures.push(format!("{what}: not compared: {why}")),
            Outcome::Mismatch(d) => failures.push(format!("{what}: {d}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} tricky inputs differ:\n\n{}",
        failures.len(),
        TRICKY.len(),
        failures.join("\n\n")
    );
}
