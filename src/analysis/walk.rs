//! The walk of a server in httpd's read order: file 0 from the top, each
//! `Include`/`IncludeOptional` expanded where it stands with the context it
//! stands in (main server or vhost, enclosing sections, `<IfDefine>`s).

use super::coverage;
use super::macros::MacroExpansions;
use super::options::{self, WsgiArgs};
use super::*;
use crate::collections::HashMap;
use crate::server::vars::Vars;
use crate::syntax::{logical, Line, LineKind, Node, Section};

mod conditions;
mod handlers;
mod merge;

/// httpd refuses Include nesting deeper than this (and it ends cycles).
const MAX_INCLUDE_DEPTH: usize = 128;

/// The trees of a server and how its Includes map to files: a borrowed view,
/// so the engine can analyse edited trees without building a model.
pub struct View<'a> {
    pub trees: Vec<&'a SyntaxTree>,
    pub includes: Option<&'a HashMap<(FileId, NodePath), Vec<FileId>>>,
    /// Macro expansions read by earlier analyses of the same server.
    pub macros: Option<&'a MacroExpansions>,
}

impl<'a> View<'a> {
    pub fn single(tree: &'a SyntaxTree) -> View<'a> {
        View {
            trees: vec![tree],
            includes: None,
            macros: None,
        }
    }

    pub fn of(model: &'a ServerModel) -> View<'a> {
        View {
            trees: model.files.iter().map(|f| &*f.tree).collect(),
            includes: Some(&model.includes),
            macros: None,
        }
    }

    fn included_by(&self, file: FileId, path: &[usize]) -> &'a [FileId] {
        self.includes
            .and_then(|m| m.get(&(file, path.to_vec())))
            .map_or(&[], Vec::as_slice)
    }

    /// The analysis of the server. The files one Include of the main
    /// server reads (`sites-enabled/*.conf`) are walked in parallel and
    /// joined in read order: the result is the walk's, file after file.
    pub fn analyse(&self) -> Analysis {
        self.analyse_with(true)
    }

    /// The same walk on one thread, file after file: the reference the
    /// parallel walk is checked against.
    #[doc(hidden)]
    pub fn analyse_in_order(&self) -> Analysis {
        self.analyse_with(false)
    }

    fn analyse_with(&self, parallel: bool) -> Analysis {
        let mut a = Analysis {
            scopes: vec![Scope::default()],
            ..Analysis::default()
        };
        if let Some(tree) = self.trees.first() {
            let mut ctx = Walk {
                view: self,
                file: 0,
                scope: 0,
                sections: Vec::new(),
                defines: Vec::new(),
                vars: Vars::default(),
                modules: Vec::new(),
                defines_changed: false,
                path: Vec::new(),
                order: 0,
                depth: 0,
                handlers: Vec::new(),
                parallel,
            };
            ctx.walk(&tree.nodes, &mut a);
            a.resolve_handlers(&ctx.handlers);
            a.add_scope_handler_mounts();
        }
        a.finish(self.macros);
        a
    }
}

/// A handler mount whose URL and script come from the `Alias`es read before
/// it, which a walk of one file among several does not all see: resolved
/// once the walk is joined.
struct PendingHandler {
    mount: usize,
    /// How many entries of `Analysis::aliases` precede it in read order.
    aliases_seen: usize,
}

struct Walk<'v, 'a> {
    view: &'v View<'a>,
    file: FileId,
    scope: usize,
    sections: Vec<SectionContext>,
    defines: Vec<(String, bool)>,
    /// `Define`s read so far outside every `<IfDefine>`: they decide the
    /// `<IfDefine>`s of their names, and what `${NAME}` stands for (httpd
    /// substitutes it in every argument as it reads the line; Tero
    /// Karvinen's Django guide names each site's daemon `${TUSER}` and
    /// Undefines it after the site).
    vars: Vars,
    /// What `<IfModule>` can name of the modules `LoadModule` loaded so
    /// far outside every `<IfDefine>`: identifier and source file name.
    /// Empty until the first one: a file read alone says nothing of them.
    modules: Vec<String>,
    defines_changed: bool,
    path: NodePath,
    /// Counts lines in read order.
    order: usize,
    depth: usize,
    handlers: Vec<PendingHandler>,
    /// Whether an Include of several files may walk them in parallel (not
    /// inside such a walk: one level of parallelism is plenty).
    parallel: bool,
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Walk<'_, '_> {
    fn site(&self, line: &Line) -> Site {
        let (l, c) = line.content_position();
        Site {
            file: self.file,
            path: self.path.clone(),
            scope: self.scope,
            sections: self.sections.clone(),
            defines: self.defines.clone(),
            line: l,
            column: c,
            order: self.order,
        }
    }

    fn walk(&mut self, nodes: &[Node], a: &mut Analysis) {
        for (i, node) in nodes.iter().enumerate() {
            self.path.push(i);
            self.order += 1;
            match node {
                Node::Line(line) if line.kind == LineKind::Directive => self.directive(line, a),
                Node::Line(_) => {}
                Node::Section(s) => self.section(s, a),
            }
            self.path.pop();
        }
    }

    /// Walks the files an Include reads, each from its top, in this context.
    fn include(&mut self, a: &mut Analysis) {
        let files = self.view.included_by(self.file, &self.path);
        if files.is_empty() {
            return;
        }
        if self.depth >= MAX_INCLUDE_DEPTH {
            a.too_deep = true;
            return;
        }
        // Only at the main server's level: there, what one file sets for the
        // scope it stands in (ServerName, WSGIPythonPath) is one value
        // whose last setting wins, which the join can replay in order.
        let in_order = if self.parallel
            && self.scope == 0
            && files.len() > 1
            && rayon::current_num_threads() > 1
        {
            self.include_in_parallel(files, a)
        } else {
            files
        };
        for &f in in_order {
            let Some(tree) = self.view.trees.get(f) else {
                continue;
            };
            let path = std::mem::take(&mut self.path);
            let file = std::mem::replace(&mut self.file, f);
            self.depth += 1;
            self.walk(&tree.nodes, a);
            self.depth -= 1;
            self.file = file;
            self.path = path;
        }
    }

    fn section(&mut self, s: &Section, a: &mut Analysis) {
        let (written, mut args) = s.name_and_args();
        for arg in args.iter_mut() {
            if conditions::has_variable(arg) {
                *arg = self.substitute(arg);
            }
        }
        let name = String::from_utf8_lossy(&written).to_ascii_lowercase();
        if args.is_empty() && conditions::NEEDS_ARGUMENT.contains(&name.as_str()) {
            a.errors.push(ConfigError {
                site: self.site(&s.open),
                message: format!(
                    "<{}> directive requires additional arguments",
                    lossy(&written)
                ),
            });
            return;
        }
        match name.as_str() {
            "virtualhost" if self.scope == 0 => {
                a.scopes.push(Scope {
                    server_name: None,
                    server_name_order: 0,
                    conditional: !self.defines.is_empty(),
                    is_vhost: true,
                    addresses: args.iter().map(|w| lossy(w)).collect(),
                    file: self.file,
                    path: self.path.clone(),
                    line: s.open.line,
                });
                let outer = std::mem::replace(&mut self.scope, a.scopes.len() - 1);
                self.walk(&s.children, a);
                self.scope = outer;
            }
            // mod_wsgi is loaded wherever a WSGI directive is read: what only a
            // server without it reads is never a WSGI app (Apache answered
            // 404 for such a block's mount).
            "ifmodule"
                if args
                    .first()
                    .is_some_and(|m| m == b"!mod_wsgi.c" || m == b"!wsgi_module") => {}
            // In a server read with its LoadModules, httpd's answer is
            // known (sweeps: Debian's certbot copy in <IfModule mod_ssl.c>
            // without mod_ssl, <IfModule !mod_authz_core.c> with it).
            "ifmodule" => {
                let arg = args.first().map(|a| lossy(a)).unwrap_or_default();
                let (negated, module) = conditions::negation(&arg);
                if self
                    .module_loaded(module)
                    .is_none_or(|loaded| loaded != negated)
                {
                    self.walk(&s.children, a)
                }
            }
            "ifversion" => {
                let words: Vec<String> = args.iter().map(|w| lossy(w)).collect();
                if conditions::if_version(&words) != Some(false) {
                    self.walk(&s.children, a)
                }
            }
            "iffile" | "ifdirective" | "ifsection" => self.walk(&s.children, a),
            "ifdefine" => {
                let arg = args.first().map(|a| lossy(a)).unwrap_or_default();
                let (negated, define) = conditions::negation(&arg);
                let define = define.to_string();
                // After `Define X`, httpd reads <IfDefine X> always and
                // <IfDefine !X> never.
                if self.vars.is_defined(define.as_bytes()) {
                    if !negated {
                        self.walk(&s.children, a);
                    }
                    return;
                }
                self.defines.push((define, negated));
                self.walk(&s.children, a);
                self.defines.pop();
            }
            "macro" => {
                let mut body = Vec::new();
                for c in &s.children {
                    if let Node::Line(l) = c {
                        body.extend_from_slice(l.raw());
                    }
                }
                // Numbered as the file numbers its lines: what the checks
                // say of the body ("at line N") is then true of the file.
                let first_line = s.open.line + s.open.newline_count();
                if let Ok(tree) = crate::syntax::parse_from_line(&body, first_line) {
                    a.templates.push(Template {
                        name: args.first().map(|a| lossy(a)).unwrap_or_default(),
                        params: args.iter().skip(1).map(|a| lossy(a)).collect(),
                        tree,
                        file: self.file,
                        first_line,
                        order: self.order,
                    });
                }
            }
            _ => {
                let (kind, regex, arg) = coverage::classify_section(&name, &args);
                self.sections.push(SectionContext {
                    kind,
                    arg,
                    regex,
                    file: self.file,
                    path: self.path.clone(),
                    order: self.order,
                    line: s.open.line,
                });
                self.walk(&s.children, a);
                self.sections.pop();
            }
        }
    }

    fn directive(&mut self, line: &Line, a: &mut Analysis) {
        // httpd reads a UTF-8 byte-order mark as part of the first word
        // (Ubuntu's cinder site: "Invalid command '\xef\xbb\xbfListen'").
        if line.line == 1 && line.raw().starts_with(b"\xEF\xBB\xBF") {
            let word = logical::words(&line.raw()[3..])
                .into_iter()
                .next()
                .unwrap_or_default();
            a.errors.push(ConfigError {
                site: self.site(line),
                message: format!(
                    "Invalid command '\\xef\\xbb\\xbf{}': the file starts with a UTF-8 byte-order mark, which httpd reads as part of the first directive's name",
                    lossy(&word)
                ),
            });
            return;
        }
        // Most directives matter to no rule: recognise the few that do without
        // joining the line, or building strings, for the rest.
        let known = logical::raw_name(line.raw()).map(relevant);
        if known == Some(None) {
            return;
        }
        let text = line.logical();
        let (name, rest) = logical::split_name(&text);
        let Some(lower) = known.flatten().or_else(|| relevant(&name)) else {
            return;
        };
        let substituted;
        let rest = if conditions::has_variable(rest) {
            substituted = self.substitute(rest);
            &substituted[..]
        } else {
            rest
        };
        match lower {
            "include" | "includeoptional" => self.include(a),
            "servername" if self.sections.is_empty() => {
                if let Some(v) = logical::words(rest).first() {
                    // httpd keeps the last ServerName of a scope.
                    let scope = &mut a.scopes[self.scope];
                    if scope.server_name.is_none() {
                        scope.server_name_order = self.order;
                    }
                    scope.server_name = Some(lossy(v));
                }
            }
            "listen" if self.scope == 0 => {
                if let Some(v) = logical::words(rest).first() {
                    let v = lossy(v);
                    let port = v.rsplit_once(':').map_or(v.as_str(), |(_, p)| p);
                    a.listen_ports.push(port.to_string());
                }
            }
            "wsgidaemonprocess" => {
                if self.refused_in_section("WSGIDaemonProcess", line, a) {
                    return;
                }
                let args = options::parse(rest, 1);
                if let Some(message) = options::daemon_refusal(&args) {
                    a.errors.push(ConfigError {
                        site: self.site(line),
                        message: message.to_string(),
                    });
                    return;
                }
                if let Some(name) = args.words.first().map(|w| w.to_string()) {
                    a.daemons.push(Daemon {
                        name,
                        site: self.site(line),
                        args,
                        by_macro: false,
                    });
                }
            }
            "wsgiprocessgroup" | "wsgiapplicationgroup" => self.group(lower, line, rest, a),
            "wsgiscriptalias" | "wsgiscriptaliasmatch" => {
                let directive = if lower == "wsgiscriptalias" {
                    "WSGIScriptAlias"
                } else {
                    "WSGIScriptAliasMatch"
                };
                if !self.refused_in_section(directive, line, a) {
                    self.alias(lower, line, rest, a);
                }
            }
            "sethandler" | "addhandler" => self.handler(line, rest, a),
            "alias" | "aliasmatch" => {
                let words = logical::words(rest);
                if words.len() >= 2 {
                    a.aliases
                        .push((self.scope, lossy(&words[0]), lossy(&words[1])));
                }
            }
            "wsgirestrictprocess" => a.restricted_scopes.push(self.scope),
            "define" | "undefine" if self.defines.is_empty() => {
                let words = logical::words(rest);
                if let Some(name) = words.first() {
                    self.defines_changed = true;
                    if lower == "define" {
                        self.vars.define(name, words.get(1).map(Vec::as_slice));
                    } else {
                        self.vars.undefine(name);
                    }
                }
            }
            "options" => {
                let in_directory = self
                    .sections
                    .last()
                    .is_some_and(|s| s.kind == coverage::SectionKind::Directory && !s.regex);
                let exec = logical::words(rest).iter().any(|w| {
                    [&b"ExecCGI"[..], b"+ExecCGI", b"All"]
                        .iter()
                        .any(|o| w.eq_ignore_ascii_case(o))
                });
                if in_directory && exec {
                    a.exec_cgi.push(self.site(line));
                }
            }
            "use" => {
                let mut words = logical::words(rest).into_iter().map(|w| lossy(&w));
                if let Some(name) = words.next() {
                    a.macro_uses.push(MacroUse {
                        site: self.site(line),
                        name,
                        args: words.collect(),
                    });
                }
            }
            "wsgiimportscript" => {
                if self.refused_in_section("WSGIImportScript", line, a) {
                    return;
                }
                a.imports.push(ImportScript {
                    site: self.site(line),
                    args: options::parse(rest, 1),
                });
            }
            "wsgipythonpath" | "wsgipythonhome" if self.scope == 0 && self.sections.is_empty() => {
                if let Some(v) = logical::words(rest).first() {
                    let slot = match lower {
                        "wsgipythonpath" => &mut a.python_path,
                        _ => &mut a.python_home,
                    };
                    *slot = Some(lossy(v));
                }
            }
            "loadmodule" | "loadfile" => {
                if lower == "loadmodule" && self.defines.is_empty() {
                    self.record_module(rest);
                }
                if let Some(file) = logical::words(rest).last() {
                    let f = lossy(file).to_ascii_lowercase();
                    if f.ends_with(".pyd") || f.ends_with(".dll") {
                        a.windows = true;
                    }
                }
            }
            _ => {}
        }
    }

    fn group(&mut self, lower: &str, line: &Line, rest: &[u8], a: &mut Analysis) {
        let kind = if lower == "wsgiprocessgroup" {
            GroupKind::Process
        } else {
            GroupKind::Application
        };
        let mut pos = 0;
        let start = rest.iter().take_while(|&&b| logical::is_space(b)).count();
        if let Some(v) = logical::next_word(rest, &mut pos) {
            let mut end = pos;
            while end > start && logical::is_space(rest[end - 1]) {
                end -= 1;
            }
            a.groups.push(GroupDirective {
                kind,
                value: lossy(&v),
                value_text: rest[start..end].to_vec(),
                site: self.site(line),
                by_macro: false,
            });
        }
    }

    fn alias(&mut self, lower: &str, line: &Line, rest: &[u8], a: &mut Analysis) {
        let args = options::parse(rest, 2);
        let (kind, canonical, help) = if lower == "wsgiscriptalias" {
            (
                MountKind::Alias,
                "WSGIScriptAlias",
                "Map location to target WSGI script file.",
            )
        } else {
            (
                MountKind::AliasMatch,
                "WSGIScriptAliasMatch",
                "Map location pattern to target WSGI script file.",
            )
        };
        if args.words.len() < 2 {
            // httpd's own words (mod_wsgi appends the command's help text).
            a.errors.push(ConfigError {
                site: self.site(line),
                message: format!("{canonical} requires at least two arguments, {help}"),
            });
            return;
        }
        if let Some(message) = options::alias_refusal(&args) {
            a.errors.push(ConfigError {
                site: self.site(line),
                message: message.to_string(),
            });
            return;
        }
        if coverage::is_windows_path(&args.words[1]) {
            a.windows = true;
        }
        a.mounts.push(Mount {
            kind,
            site: self.site(line),
            url: Some(args.words[0].to_string()),
            target: args.words[1].to_string(),
            args,
            handler_section: None,
            by_scope_handler: false,
            by_macro: false,
            app: 0,
        });
    }

    fn handler(&mut self, line: &Line, rest: &[u8], a: &mut Analysis) {
        let words = logical::words(rest);
        let is_wsgi = words.first().is_some_and(|h| {
            h.eq_ignore_ascii_case(b"wsgi-script")
                || h.eq_ignore_ascii_case(b"application/x-httpd-wsgi")
        });
        if !is_wsgi {
            return;
        }
        // httpd matches `<Files>` against a file's name: one written with a
        // `/` (an absolute path) applies to nothing.
        if self
            .sections
            .iter()
            .any(|s| s.kind == coverage::SectionKind::Files && !s.regex && s.arg.contains('/'))
        {
            return;
        }
        let Some(section) = self.sections.last().cloned() else {
            // For the scope: every file of that type in a directory whose
            // Options allow ExecCGI is a script (mod_wsgi's own check).
            if line.name_is("AddHandler") {
                let extensions = words.iter().skip(1).map(|w| lossy(w)).collect();
                a.scope_handlers.push((self.site(line), extensions));
            }
            return;
        };
        self.handlers.push(PendingHandler {
            mount: a.mounts.len(),
            aliases_seen: a.aliases.len(),
        });
        a.mounts.push(Mount {
            kind: MountKind::Handler,
            site: self.site(line),
            url: None,
            target: String::new(),
            args: WsgiArgs::default(),
            handler_section: Some(Box::new(section)),
            by_scope_handler: false,
            by_macro: false,
            app: 0,
        });
    }
}

/// The directives the analysis reads, lower-cased.
/// The lower-case name of a directive the analysis reads, if it is one.
fn relevant(name: &[u8]) -> Option<&'static str> {
    RELEVANT
        .iter()
        .find(|d| name.eq_ignore_ascii_case(d.as_bytes()))
        .copied()
}

const RELEVANT: &[&str] = &[
    "include",
    "includeoptional",
    "servername",
    "listen",
    "wsgidaemonprocess",
    "wsgiprocessgroup",
    "wsgiapplicationgroup",
    "wsgiscriptalias",
    "wsgiscriptaliasmatch",
    "sethandler",
    "addhandler",
    "alias",
    "aliasmatch",
    "wsgiimportscript",
    "wsgirestrictprocess",
    "use",
    "options",
    "define",
    "undefine",
    "wsgipythonpath",
    "wsgipythonhome",
    "loadmodule",
    "loadfile",
];
