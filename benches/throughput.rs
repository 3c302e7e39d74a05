//! Parse + print throughput of the syntax front end (SPEC §6).
//!
//! `cargo bench --bench throughput` prints one table per input: MB/s for a
//! plain copy (the floor any parser is measured against), the grammar alone,
//! the tree build, tree build + `print()` (an unedited tree hands its buffer
//! back) and tree build + `to_bytes()` (a copy), each the median of several
//! runs after a warm-up, plus peak heap relative to the input size.
//!
//! Every input is round-tripped and the grammar's line count checked against
//! the tree before anything is timed, so a parser that drops or invents bytes
//! fails here instead of reporting a fast number.
//!
//! `WSGIFIX_BENCH_MB` sets the size of the generated config (default 32).

use pest::Parser;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};
use wsgifix::syntax::grammar::{HttpdGrammar, Rule};
use wsgifix::syntax::{self, visit_lines};

/// Counts live heap bytes and their high-water mark. The bench is single
/// threaded, so relaxed atomics are exact; their cost is the same for every
/// measurement and small next to the work measured.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Relaxed) + n;
    PEAK.fetch_max(now, Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        grew(l.size());
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        grew(l.size());
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new >= l.size() {
            grew(new - l.size());
        } else {
            LIVE.fetch_sub(l.size() - new, Relaxed);
        }
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Heap bytes allocated at the high-water mark of `f`, beyond what was live
/// before it ran.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    f();
    PEAK.load(Relaxed) - base
}

/// A set of buffers, each parsed as one file.
struct Input {
    name: String,
    files: Vec<Vec<u8>>,
}

impl Input {
    fn bytes(&self) -> usize {
        self.files.iter().map(Vec::len).sum()
    }
}

fn grammar_pairs(b: &[u8]) -> usize {
    // The tree builder reads non-UTF-8 files as Latin-1; every input here is
    // UTF-8, which check() asserts.
    let text = std::str::from_utf8(b).expect("bench inputs are UTF-8");
    let file = HttpdGrammar::parse(Rule::file, text)
        .expect("the grammar accepts every input")
        .next()
        .expect("one file pair");
    file.into_inner().count()
}

/// Asserts that every file round-trips and that the grammar yields one pair
/// per line of the tree (plus EOI) unless the builder merged lines.
fn check(input: &Input) {
    for (i, f) in input.files.iter().enumerate() {
        assert!(
            std::str::from_utf8(f).is_ok(),
            "{} file {i} is not UTF-8",
            input.name
        );
        let tree = syntax::parse(f).unwrap_or_else(|e| panic!("{} file {i}: {e}", input.name));
        assert!(
            tree.to_bytes() == *f && **tree.print() == *f,
            "{} file {i}: round trip differs",
            input.name
        );
        let mut lines = 0;
        visit_lines(&tree.nodes, &mut |_| lines += 1);
        assert!(
            grammar_pairs(f) > lines,
            "{} file {i}: grammar found fewer lines than the tree",
            input.name
        );
    }
}

/// Median seconds of `f` over at least 3 and at most 9 runs after one
/// warm-up, stopping early once about `budget` has been spent.
fn median_secs(budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < 3 || (times.len() < 9 && start.elapsed() < budget) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn report(input: &Input, budget: Duration) {
    check(input);
    let total = input.bytes();
    let mb = total as f64 / 1e6;
    println!();
    println!(
        "{}: {:.1} MB in {} file(s)",
        input.name,
        mb,
        input.files.len()
    );
    println!(
        "  {:<22} {:>9} {:>10} {:>12}",
        "stage", "MB/s", "ms/run", "peak heap"
    );

    // Peak heap is measured on the largest file alone: memory grows with the
    // largest file, not with the set (SPEC §6).
    let largest = input.files.iter().max_by_key(|f| f.len()).expect("files");
    let row = |stage: &str, secs: f64, peak: Option<usize>| {
        let peak = match peak {
            Some(p) => format!("{:.1}x input", p as f64 / largest.len() as f64),
            None => String::new(),
        };
        println!(
            "  {:<22} {:>9.1} {:>10.1} {:>12}",
            stage,
            mb / secs,
            secs * 1e3,
            peak
        );
    };

    let copy = || {
        for f in &input.files {
            black_box(black_box(f.as_slice()).to_vec());
        }
    };
    row("copy (baseline)", median_secs(budget, copy), None);

    let grammar = || {
        for f in &input.files {
            black_box(grammar_pairs(black_box(f)));
        }
    };
    let peak = peak_during(|| {
        black_box(grammar_pairs(largest));
    });
    row("grammar only", median_secs(budget, grammar), Some(peak));

    let parse = || {
        for f in &input.files {
            black_box(syntax::parse(black_box(f)).expect("checked"));
        }
    };
    let peak = peak_during(|| {
        black_box(syntax::parse(largest).expect("checked"));
    });
    row("parse (tree)", median_secs(budget, parse), Some(peak));

    // `print` hands an unedited tree's buffer back; `to_bytes` copies it.
    let printers: [(&str, Printer); 2] = [
        ("parse + print", |t| black_box(t.print()).len()),
        ("parse + to_bytes", |t| black_box(t.to_bytes()).len()),
    ];
    for (stage, print) in printers {
        let parse_print = || {
            for f in &input.files {
                let tree = syntax::parse(black_box(f)).expect("checked");
                assert_eq!(print(&tree), f.len());
            }
        };
        let peak = peak_during(|| {
            print(&syntax::parse(largest).expect("checked"));
        });
        row(stage, median_secs(budget, parse_print), Some(peak));
    }
}

/// Prints a tree and gives the length of what it printed.
type Printer = fn(&syntax::SyntaxTree) -> usize;

fn collect(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .expect("readable corpus dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for e in entries {
            collect(&e, out);
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    }
}

/// The real-config corpus, every file that httpd's reader accepts, repeated
/// until about 4 MB: many small files, as a fleet run sees them.
fn corpus() -> Option<Input> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let mut paths = Vec::new();
    collect(&root, &mut paths);
    let once: Vec<Vec<u8>> = paths
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|b| syntax::parse(b).is_ok())
        .collect();
    let size: usize = once.iter().map(Vec::len).sum();
    if size == 0 {
        return None;
    }
    let passes = (4_000_000 / size).max(1);
    let files: Vec<Vec<u8>> = (0..passes).flat_map(|_| once.iter().cloned()).collect();
    Some(Input {
        name: format!("corpus ({} files x {passes})", once.len()),
        files,
    })
}

/// A fleet-style config: a commented preamble, then virtual hosts with the
/// directives mod_wsgi deployments use, nested sections, comments, and
/// backslash continuations.
fn generated(target: usize) -> String {
    const PREAMBLE: &str = "\
# This is the main Apache server configuration file.  It contains the
# configuration directives that give the server its instructions.
# See http://httpd.apache.org/docs/2.4/ for detailed information about
# the directives and /usr/share/doc/apache2/README.Debian about Debian specific
# hints.
#
ServerRoot \"/etc/apache2\"
Mutex file:${APACHE_LOCK_DIR} default
PidFile ${APACHE_PID_FILE}
Timeout 300
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
User ${APACHE_RUN_USER}
Group ${APACHE_RUN_GROUP}
HostnameLookups Off
ErrorLog ${APACHE_LOG_DIR}/error.log
LogLevel warn
IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf
Include ports.conf

<Directory />
\tOptions FollowSymLinks
\tAllowOverride None
\tRequire all denied
</Directory>

AccessFileName .htaccess
<FilesMatch \"^\\.ht\">
\tRequire all denied
</FilesMatch>
LogFormat \"%v:%p %h %l %u %t \\\"%r\\\" %>s %O \\\"%{Referer}i\\\" \\\"%{User-Agent}i\\\"\" vhost_combined
LogFormat \"%h %l %u %t \\\"%r\\\" %>s %O \\\"%{Referer}i\\\" \\\"%{User-Agent}i\\\"\" combined

WSGIPythonHome /opt/venvs/default
WSGIRestrictEmbedded On
";
    let mut s = String::with_capacity(target + 4096);
    s.push_str(PREAMBLE);
    let mut i = 0usize;
    while s.len() < target {
        use std::fmt::Write;
        if i % 10 == 0 {
            s.push_str(
                "\n# The ServerName directive sets the request scheme, hostname and port that\n\
                 # the server uses to identify itself. This is used when creating\n\
                 # redirection URLs. In the context of virtual hosts, the ServerName\n\
                 # specifies what hostname must appear in the request's Host: header to\n\
                 # match this virtual host.\n#\n",
            );
        }
        write!(
            s,
            "\n<VirtualHost *:{port}>\n\
             \x20   ServerName site{i}.example.com\n\
             \x20   ServerAlias www.site{i}.example.com api.site{i}.example.com\n\
             \x20   ServerAdmin webmaster@site{i}.example.com\n\
             \x20   DocumentRoot /srv/www/site{i}/public\n\
             \n\
             \x20   ErrorLog ${{APACHE_LOG_DIR}}/site{i}-error.log\n\
             \x20   CustomLog ${{APACHE_LOG_DIR}}/site{i}-access.log combined\n\
             \n\
             \x20   WSGIDaemonProcess site{i} user=www-data group=www-data processes=2 threads=15 \\\n\
             \x20       python-home=/opt/venvs/site{i} python-path=/srv/www/site{i} \\\n\
             \x20       display-name=%{{GROUP}} lang='en_US.UTF-8' locale='en_US.UTF-8'\n\
             \x20   WSGIProcessGroup site{i}\n\
             \x20   WSGIApplicationGroup %{{GLOBAL}}\n\
             \x20   WSGIScriptAlias / /srv/www/site{i}/app/wsgi.py process-group=site{i}\n\
             \x20   WSGIPassAuthorization On\n\
             \n\
             \x20   <Directory /srv/www/site{i}/app>\n\
             \x20       <Files wsgi.py>\n\
             \x20           Require all granted\n\
             \x20       </Files>\n\
             \x20   </Directory>\n\
             \n\
             \x20   Alias /static/ \"/srv/www/site{i}/static/\"\n\
             \x20   <Location /static/>\n\
             \x20       Options -Indexes +FollowSymLinks\n\
             \x20       ExpiresActive On\n\
             \x20       ExpiresDefault \"access plus 1 month\"\n\
             \x20   </Location>\n\
             \n\
             \x20   <IfModule mod_headers.c>\n\
             \t\tHeader always set X-Frame-Options \"SAMEORIGIN\"\n\
             \t\tHeader always set Strict-Transport-Security \"max-age=63072000; includeSubDomains\"\n\
             \x20   </IfModule>\n\
             \n\
             \x20   # Send plain HTTP to HTTPS; keep ACME challenges reachable.\n\
             \x20   RewriteEngine On\n\
             \x20   #RewriteLog /var/log/apache2/rewrite.log\n\
             \x20   RewriteCond %{{REQUEST_URI}} !^/\\.well-known/acme-challenge/ [NC]\n\
             \x20   RewriteCond %{{HTTPS}} off\n\
             \x20   RewriteRule ^(.*)$ https://%{{HTTP_HOST}}$1 [R=301,L]\n\
             </VirtualHost>\n",
            port = if i % 2 == 0 { 80 } else { 443 },
        )
        .expect("writing to a String");
        i += 1;
    }
    s
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too,
    // so keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let budget = Duration::from_millis(if quick { 1 } else { 2500 });
    let mb: usize = std::env::var("WSGIFIX_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 1 } else { 32 });

    // WSGIFIX_BENCH_STAGE=none|grammar|parse|print|to_bytes runs one stage once over
    // the inputs and exits: for instruction counts, which a shared machine's
    // load does not change (`valgrind --tool=callgrind`, minus `none`).
    if let Ok(stage) = std::env::var("WSGIFIX_BENCH_STAGE") {
        let lf = generated(mb * 1_000_000).into_bytes();
        let mut files = corpus().map(|c| c.files).unwrap_or_default();
        files.push(lf);
        let total: usize = files.iter().map(Vec::len).sum();
        for f in &files {
            match stage.as_str() {
                "grammar" => {
                    black_box(grammar_pairs(f));
                }
                "parse" => {
                    black_box(syntax::parse(f).expect("parses"));
                }
                "print" => {
                    black_box(syntax::parse(f).expect("parses").print());
                }
                "to_bytes" => {
                    black_box(syntax::parse(f).expect("parses").to_bytes());
                }
                _ => {}
            }
        }
        println!("stage {stage}: {total} bytes");
        return;
    }
    println!("wsgifix syntax throughput, one thread (MB = 10^6 bytes)");
    if let Some(c) = corpus() {
        report(&c, budget);
    } else {
        println!("corpus not found; skipped");
    }
    let lf = generated(mb * 1_000_000);
    let crlf = lf.replace('\n', "\r\n");
    report(
        &Input {
            name: "generated, LF".into(),
            files: vec![lf.into_bytes()],
        },
        budget,
    );
    report(
        &Input {
            name: "generated, CRLF".into(),
            files: vec![crlf.into_bytes()],
        },
        budget,
    );
}
