//! Reading a server the way httpd reads it (apache-syntax.md §6, §7): the
//! main file, then each `Include`/`IncludeOptional` where it stands, with
//! `Define`, `UnDefine`, `${VAR}` and `ServerRoot` applied in read order.
//!
//! Each file is read and parsed once (a file included from two places gets
//! one [`FileId`], listed under both Include directives); the Includes of a
//! file are followed again at every place it is included, because the
//! Defines in force there may differ. The files one Include names are parsed
//! in parallel: a `conf.d/*.conf` of hundreds of files is most of a server.
//!
//! Conditional sections (`<IfModule>`, `<IfDefine>`, ...) are not evaluated
//! (modules compiled into httpd and `-D` arguments are unknown here), so an
//! Include inside one is followed when it can be and its failure is a
//! warning, not an error: httpd fails there only if the condition is true.

use super::fs::{self as sfs, Fs};
use super::vars::{envvars, Vars};
use super::{FileId, ServerFile, ServerModel};
use crate::analysis::NodePath;
use crate::collections::HashMap;
use crate::syntax::{self, logical, LineKind, Node};
use crate::writing::{read_config_in, DirCache, FileIdentity, ReadError};
use rayon::prelude::*;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

mod include;

/// httpd's AP_MAX_INCLUDE_DEPTH and AP_MAX_FNMATCH_DIR_DEPTH.
const MAX_INCLUDE_DEPTH: usize = 128;
const MAX_DIR_DEPTH: usize = 128;

/// Sections whose truth httpd decides while reading.
const CONDITIONALS: &[&str] = &[
    "IfModule",
    "IfDefine",
    "IfVersion",
    "IfFile",
    "IfDirective",
    "IfSection",
];

#[derive(Debug, Clone)]
pub struct DiscoverOptions {
    /// `--root`: the directory that stands for `/`.
    pub root: Option<PathBuf>,
    /// httpd's `-d`; `None`: the layout's default (see [`default_server_root`]).
    pub server_root: Option<PathBuf>,
    /// Follow a `ServerRoot` directive even when the main file does not lie
    /// below it. True for a config the user named; false for one a directory
    /// walk met, which may be a copy whose ServerRoot names this machine's
    /// live config.
    pub trust_server_root: bool,
    /// The environment httpd starts with; `None`: this process's, except
    /// under a root (another machine's environment is unknown here).
    pub env: Option<HashMap<Vec<u8>, Vec<u8>>>,
    pub max_file_size: u64,
    /// Read only files below this directory (a real path on this machine);
    /// Includes that lead elsewhere are skipped with a warning. For a tree a
    /// walk met: its absolute Includes name the machine it came from, and
    /// following them would read, and fix, this machine's live config.
    pub confine: Option<PathBuf>,
}

impl Default for DiscoverOptions {
    fn default() -> Self {
        DiscoverOptions {
            root: None,
            server_root: None,
            trust_server_root: true,
            env: None,
            max_file_size: 64 << 20,
            confine: None,
        }
    }
}

/// A message about one place: file (as shown to the user), line, column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.path.display(), self.message),
            _ => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// One file read, in read order: what `httpd -t -D DUMP_INCLUDES` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub depth: usize,
    pub file: FileId,
}

#[derive(Debug, Clone)]
pub struct Discovery {
    pub model: ServerModel,
    /// The main file's path on the server (absolute).
    pub main: PathBuf,
    /// ServerRoot at the end of the read (a server path).
    pub server_root: PathBuf,
    pub reads: Vec<Read>,
    pub warnings: Vec<Diagnostic>,
    /// What makes httpd refuse to start; the model then holds what was read
    /// before it.
    pub error: Option<Diagnostic>,
    pub fs: Fs,
    /// Each file's identity when it was read, by [`FileId`]: a write checks
    /// the file is still the one read.
    pub identities: Vec<FileIdentity>,
}

impl Discovery {
    /// The include tree as `httpd -t -D DUMP_INCLUDES` prints it, without
    /// the Include line numbers: `(*)` then two spaces per level.
    pub fn dump_includes(&self) -> String {
        let mut s = String::from("Included configuration files:\n");
        for r in &self.reads {
            let path = if r.file == 0 {
                self.main.clone()
            } else {
                self.model.files[r.file].path.clone()
            };
            let mark = if r.depth == 0 { "(*)" } else { "(N)" };
            s.push_str(&format!(
                "{}{mark} {}\n",
                "  ".repeat(r.depth + 1),
                path.display()
            ));
        }
        s
    }
}

/// Where httpd would start looking when neither `-d` nor `ServerRoot`
/// says: Debian's build uses the directory of apache2.conf (`/etc/apache2`,
/// which apache2ctl also passes as `-d` for other instances); the RHEL and
/// upstream layouts keep httpd.conf in `conf/` below the ServerRoot
/// (`/etc/httpd/conf/httpd.conf`). Otherwise the main file's directory.
pub fn default_server_root(main: &Path) -> PathBuf {
    let dir = main.parent().unwrap_or(Path::new("/"));
    let is_httpd_conf = main.file_name().is_some_and(|n| n == "httpd.conf");
    match dir.parent() {
        Some(up) if is_httpd_conf && dir.file_name().is_some_and(|n| n == "conf") => {
            up.to_path_buf()
        }
        _ => dir.to_path_buf(),
    }
}

/// Reads the server whose main file is `main` (a path on this machine, or
/// under `root` the path on the server or inside the root).
pub fn discover_server(main: &Path, opts: &DiscoverOptions) -> Discovery {
    let fs = match Fs::new(opts.root.as_deref()) {
        Ok(fs) => fs,
        Err(e) => {
            let d = Diagnostic {
                path: opts.root.clone().unwrap_or_default(),
                line: None,
                column: None,
                message: format!("cannot use as root: {}", sfs::strip_os_error(&e)),
            };
            return failed(main, d);
        }
    };
    let main_server = server_path_of(&fs, main);
    let shown = if fs.root().is_some() {
        main_server.clone()
    } else {
        main.to_path_buf()
    };
    let server_root = opts
        .server_root
        .as_ref()
        .map(|r| sfs::merge(Path::new("/"), r))
        .unwrap_or_else(|| default_server_root(&main_server));
    let mut env = match (&opts.env, fs.root()) {
        (Some(e), _) => e.clone(),
        (None, None) => Vars::process_env(),
        (None, Some(_)) => HashMap::default(),
    };
    if main_server.file_name().is_some_and(|n| n == "apache2.conf") {
        let dir = main_server.parent().unwrap_or(Path::new("/"));
        let file = dir.join("envvars");
        if let Ok((text, _)) = fs
            .locate(&file)
            .map_err(|e| e.to_string())
            .and_then(|h| sfs::read_regular(&h, opts.max_file_size))
        {
            envvars(&text, dir, &mut env);
        }
    }
    let mut w = Walker {
        fs,
        opts,
        vars: Vars::new(env),
        server_root,
        main_real: PathBuf::new(),
        files: Vec::new(),
        events: Vec::new(),
        by_identity: HashMap::default(),
        includes: HashMap::default(),
        stack: Vec::new(),
        reads: Vec::new(),
        warnings: Vec::new(),
        identities: Vec::new(),
        dirs: DirCache::default(),
    };
    let error = w.run(&main_server, &shown).err().map(|f| match f {
        Fail::Here(message) => Diagnostic {
            path: shown.clone(),
            line: None,
            column: None,
            message,
        },
        Fail::At(d) => d,
    });
    Discovery {
        model: ServerModel {
            files: w.files,
            includes: w.includes,
        },
        main: main_server,
        server_root: w.server_root,
        reads: w.reads,
        warnings: w.warnings,
        error,
        fs: w.fs,
        identities: w.identities,
    }
}

fn failed(main: &Path, d: Diagnostic) -> Discovery {
    Discovery {
        model: ServerModel::default(),
        main: main.to_path_buf(),
        server_root: PathBuf::from("/"),
        reads: Vec::new(),
        warnings: Vec::new(),
        error: Some(d),
        fs: Fs::default(),
        identities: Vec::new(),
    }
}

/// The server path of the main file: under a root, a path inside the root
/// is taken back to the server's view, any other is the server's own path.
fn server_path_of(fs: &Fs, main: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let abs = sfs::merge(&cwd, main);
    match fs.root() {
        None => abs,
        Some(root) => {
            let canon = abs
                .parent()
                .and_then(|d| std::fs::canonicalize(d).ok())
                .map(|d| d.join(abs.file_name().unwrap_or_default()));
            match canon.as_deref().and_then(|c| c.strip_prefix(root).ok()) {
                Some(rest) => Path::new("/").join(rest),
                None => sfs::merge(Path::new("/"), main),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Include { optional: bool },
    Define,
    UnDefine,
    ServerRoot,
}

/// A directive httpd executes while reading, with where it stands.
#[derive(Debug, Clone)]
struct Event {
    kind: EventKind,
    path: NodePath,
    line: u32,
    column: u32,
    text: Vec<u8>,
    conditional: bool,
}

fn collect_events(nodes: &[Node], prefix: &mut NodePath, conditional: bool, out: &mut Vec<Event>) {
    for (i, n) in nodes.iter().enumerate() {
        prefix.push(i);
        match n {
            Node::Line(l) if l.kind == LineKind::Directive => {
                let name = l.name_ref();
                let is = |wanted: &str| name.eq_ignore_ascii_case(wanted.as_bytes());
                let kind = if is("Include") {
                    Some(EventKind::Include { optional: false })
                } else if is("IncludeOptional") {
                    Some(EventKind::Include { optional: true })
                } else if is("Define") {
                    Some(EventKind::Define)
                } else if is("UnDefine") {
                    Some(EventKind::UnDefine)
                } else if is("ServerRoot") {
                    Some(EventKind::ServerRoot)
                } else {
                    None
                };
                if let Some(kind) = kind {
                    let (line, column) = l.content_position();
                    out.push(Event {
                        kind,
                        path: prefix.clone(),
                        line,
                        column,
                        text: l.logical().into_owned(),
                        conditional,
                    });
                }
            }
            Node::Section(s) => {
                let name = s.open.name_ref();
                // A macro body is a template, read only where it is used.
                if !name.eq_ignore_ascii_case(b"Macro") {
                    let cond = conditional
                        || CONDITIONALS
                            .iter()
                            .any(|c| name.eq_ignore_ascii_case(c.as_bytes()));
                    collect_events(&s.children, prefix, cond, out);
                }
            }
            _ => {}
        }
        prefix.pop();
    }
}

/// A failure: at the directive being executed, or already placed.
enum Fail {
    Here(String),
    At(Diagnostic),
}

/// A file read and parsed, before it gets an id.
struct Loaded {
    path: PathBuf,
    identity: FileIdentity,
    source: syntax::SharedBytes,
    tree: Result<syntax::SyntaxTree, syntax::SyntaxError>,
    /// The directives discovery acts on, found with the parse (in parallel).
    events: Vec<Event>,
}

struct Walker<'a> {
    fs: Fs,
    opts: &'a DiscoverOptions,
    vars: Vars,
    server_root: PathBuf,
    main_real: PathBuf,
    files: Vec<ServerFile>,
    events: Vec<Vec<Event>>,
    by_identity: HashMap<(u64, u64), FileId>,
    includes: HashMap<(FileId, NodePath), Vec<FileId>>,
    stack: Vec<FileId>,
    reads: Vec<Read>,
    warnings: Vec<Diagnostic>,
    identities: Vec<FileIdentity>,
    /// The directories the server's files are read from.
    dirs: DirCache,
}

impl Walker<'_> {
    fn run(&mut self, main: &Path, shown: &Path) -> Result<(), Fail> {
        let mut loaded = self.load_one(main).map_err(Fail::Here)?;
        loaded.path = shown.to_path_buf();
        self.main_real = loaded.identity.real.clone();
        let id = self.admit(loaded)?;
        self.reads.push(Read { depth: 0, file: id });
        self.stack.push(id);
        self.walk(id)
    }

    fn load_one(&self, path: &Path) -> Result<Loaded, String> {
        let shown = path.display();
        let host = self.fs.locate(path).map_err(|e| {
            format!(
                "Could not open configuration file {shown}: {}",
                sfs::strip_os_error(&e)
            )
        })?;
        // Regular files only, never blocking on a FIFO, size-capped: the
        // same reader the writes check against.
        let (source, identity) = read_config_in(&host, self.opts.max_file_size, Some(&self.dirs))
            .map_err(|e| match e {
            ReadError::NotRegular(_) => {
                format!("Access to file {shown} denied by server: not a regular file")
            }
            e => format!("Could not open configuration file {shown}: {e}"),
        })?;
        let source = std::sync::Arc::new(source);
        let tree = syntax::parse_shared(std::sync::Arc::clone(&source));
        let mut events = Vec::new();
        if let Ok(t) = &tree {
            collect_events(&t.nodes, &mut Vec::new(), false, &mut events);
        }
        Ok(Loaded {
            path: path.to_path_buf(),
            identity,
            source,
            tree,
            events,
        })
    }

    /// Gives a loaded file its id (the existing one when it was read before).
    fn admit(&mut self, l: Loaded) -> Result<FileId, Fail> {
        let key = (l.identity.dev, l.identity.ino);
        if let Some(&id) = self.by_identity.get(&key) {
            return Ok(id);
        }
        let tree = l.tree.map_err(|e| {
            Fail::At(Diagnostic {
                path: l.path.clone(),
                line: Some(e.line),
                column: Some(e.column),
                message: e.message,
            })
        })?;
        let id = self.files.len();
        self.files.push(ServerFile {
            path: l.path,
            real: l.identity.real.clone(),
            source: l.source,
            tree: std::sync::Arc::new(tree),
        });
        self.events.push(l.events);
        self.by_identity.insert(key, id);
        self.identities.push(l.identity);
        Ok(id)
    }

    fn walk(&mut self, id: FileId) -> Result<(), Fail> {
        let events = self.events[id].clone();
        for ev in &events {
            let mut undefined = Vec::new();
            let text = self.vars.resolve(&ev.text, &mut undefined);
            for name in undefined {
                self.warn(
                    id,
                    ev,
                    format!("Config variable ${{{name}}} is not defined"),
                );
            }
            let (_, rest) = logical::split_name(&text);
            let words = logical::words(rest);
            let r = match ev.kind {
                EventKind::Define => self.define(&words),
                EventKind::UnDefine => {
                    if let Some(n) = words.first() {
                        self.vars.undefine(n);
                    }
                    Ok(())
                }
                EventKind::ServerRoot => self.set_server_root(id, ev, &words),
                EventKind::Include { optional } => self.include(id, ev, &words, optional),
            };
            match r {
                Ok(()) => {}
                Err(f) if ev.conditional => {
                    let note = "; it is inside a conditional section, which wsgifix does not evaluate: httpd fails here only if it is true";
                    match f {
                        Fail::Here(m) => self.warn(id, ev, format!("{m}{note}")),
                        Fail::At(mut d) => {
                            d.message.push_str(note);
                            self.warnings.push(d);
                        }
                    }
                }
                Err(Fail::Here(m)) => return Err(Fail::At(self.place(id, ev, m))),
                Err(f) => return Err(f),
            }
        }
        Ok(())
    }

    fn place(&self, id: FileId, ev: &Event, message: String) -> Diagnostic {
        Diagnostic {
            path: self.files[id].path.clone(),
            line: Some(ev.line),
            column: Some(ev.column),
            message,
        }
    }

    fn warn(&mut self, id: FileId, ev: &Event, message: String) {
        let d = self.place(id, ev, message);
        self.warnings.push(d);
    }

    fn define(&mut self, words: &[Vec<u8>]) -> Result<(), Fail> {
        match words {
            [] => Err(Fail::Here("Define takes 1-2 arguments".into())),
            [name, ..] if name.contains(&b':') => {
                Err(Fail::Here("Variable name must not contain ':'".into()))
            }
            [name] => {
                self.vars.define(name, None);
                Ok(())
            }
            [name, value] => {
                self.vars.define(name, Some(value));
                Ok(())
            }
            _ => Err(Fail::Here("Define takes 1-2 arguments".into())),
        }
    }

    fn set_server_root(&mut self, id: FileId, ev: &Event, words: &[Vec<u8>]) -> Result<(), Fail> {
        let [arg] = words else {
            return Err(Fail::Here(
                "ServerRoot takes one argument, Common directory of server-related files (logs, confs, etc.)".into(),
            ));
        };
        // httpd merges a relative ServerRoot with its working directory,
        // which is `/` for a service.
        let cwd = match self.fs.root() {
            Some(_) => PathBuf::from("/"),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        };
        let p = sfs::merge(&cwd, &sfs::path_from_bytes(arg));
        let is_dir = self.fs.metadata(&p).is_ok_and(|m| m.is_dir());
        if !self.opts.trust_server_root {
            let below = self
                .fs
                .real(&p)
                .is_ok_and(|r| self.main_real.starts_with(r));
            if !is_dir || !below {
                let msg = format!(
                    "ServerRoot {} ignored: {} does not lie below it (a copy of another machine's tree? name it with --root); relative paths are read from {}",
                    p.display(),
                    self.files[0].path.display(),
                    self.server_root.display()
                );
                self.warn(id, ev, msg);
                return Ok(());
            }
        }
        if !is_dir {
            return Err(Fail::Here("ServerRoot must be a valid directory".into()));
        }
        self.server_root = p;
        Ok(())
    }
}
