//! What each WSGI application really gets: its mounts, the contexts requests
//! reach it in (its instances), and the effective process group and
//! application group of each instance under httpd's merge and mod_wsgi's
//! precedence (modwsgi.md §4): alias options > per-directory sections that
//! really cover the app > virtual host > main server > default.
//!
//! The unit is the server: the walk starts at the main file and expands each
//! Include where it stands (`walk`), so a snippet included inside a
//! `<VirtualHost>` belongs to that vhost and a server-wide setting in
//! `conf-enabled/` reaches every vhost. A single file is a server of one file.

pub mod apps;
pub mod context;
pub mod coverage;
mod macros;
pub mod options;
pub mod preload;
mod resolve;
mod walk;

pub use apps::{instances, AppInstance, Effective};
pub use context::{ServerContext, ServerNames};
pub use macros::MacroExpansions;
pub use walk::View;

use crate::server::{FileId, ServerModel};
use crate::syntax::SyntaxTree;
use coverage::SectionKind;
use options::WsgiArgs;

/// From this many app instances (a server of a thousand vhosts) the work
/// done per instance is shared out over the cores; below it, the thread
/// that analyses the file does it alone.
pub const PARALLEL_INSTANCES: usize = 1024;

/// Where a node sits: indices into `children` from the file's top level.
pub type NodePath = Vec<usize>;

/// The main server (index 0) or one `<VirtualHost>`.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The last `ServerName` directly in the scope, as written.
    pub server_name: Option<String>,
    /// Where in read order the scope's first `ServerName` is: mod_wsgi
    /// checks a preload against the names read so far.
    pub server_name_order: usize,
    /// Read only under an `<IfDefine>`: maybe not there at all.
    pub conditional: bool,
    /// False for the main server.
    pub is_vhost: bool,
    /// The `<VirtualHost>` addresses (`*:80`).
    pub addresses: Vec<String>,
    /// Where the `<VirtualHost>` opens (file, path, line); main: file 0, line 0.
    pub file: FileId,
    pub path: NodePath,
    pub line: u32,
}

/// An enclosing per-directory section.
#[derive(Debug, Clone)]
pub struct SectionContext {
    pub kind: SectionKind,
    /// The section's argument (path, URL or pattern), unquoted.
    pub arg: String,
    /// True for the `~` (regex) form of Directory/Files/Location.
    pub regex: bool,
    pub file: FileId,
    pub path: NodePath,
    /// Its place in the server's read order: tells apart two walks of one
    /// file that is included twice.
    pub order: usize,
    pub line: u32,
}

/// Position and context shared by everything the analysis records.
#[derive(Debug, Clone)]
pub struct Site {
    /// The file the line is in; `path` is within that file's tree.
    pub file: FileId,
    pub path: NodePath,
    pub scope: usize,
    /// Per-directory sections around it, outermost first.
    pub sections: Vec<SectionContext>,
    /// `<IfDefine>` conditions around it: (name, negated).
    pub defines: Vec<(String, bool)>,
    pub line: u32,
    pub column: u32,
    /// Position in the order httpd reads the server (Includes expanded).
    pub order: usize,
}

/// The host of a `ServerName [scheme://]host[:port]`, which is what
/// mod_wsgi compares: httpd keeps the scheme and the port apart.
pub fn host_of(name: &str) -> &str {
    let name = match name.find(':') {
        Some(i) if name[i..].starts_with("://") => &name[i + 3..],
        _ => name,
    };
    match name.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => name,
    }
}

/// Two `<IfDefine>` condition sets that can never hold together.
pub fn exclusive_defines(a: &[(String, bool)], b: &[(String, bool)]) -> bool {
    a.iter()
        .any(|(name, neg)| b.iter().any(|(n2, neg2)| n2 == name && neg2 != neg))
}

impl Site {
    /// Directly in its scope: no per-directory section around it.
    pub fn at_scope_level(&self) -> bool {
        self.sections.is_empty()
    }

    /// Whether this is read whenever `other` is: it stands under no
    /// `<IfDefine>` that `other` does not.
    pub fn read_whenever(&self, other: &Site) -> bool {
        self.defines.iter().all(|c| other.defines.contains(c))
    }
}

#[derive(Debug, Clone)]
pub struct Daemon {
    pub name: String,
    pub site: Site,
    pub args: WsgiArgs,
    /// Defined by a `Use` of a `<Macro>` (its site is the `Use` line): a
    /// fix may select it, never copy, rename or remove it.
    pub by_macro: bool,
}

impl Daemon {
    /// Whether `other` is defined with the very same options: an app moved
    /// from one to the other keeps its python-path, user, processes ...
    pub fn same_options(&self, other: &Daemon) -> bool {
        let (x, y) = (&self.args.options, &other.args.options);
        x.len() == y.len()
            && x.iter()
                .zip(y)
                .all(|(o, p)| o.name == p.name && o.value == p.value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// `WSGIScriptAlias`
    Alias,
    /// `WSGIScriptAliasMatch`
    AliasMatch,
    /// `SetHandler`/`AddHandler wsgi-script` inside a section.
    Handler,
}

#[derive(Debug, Clone)]
pub struct Mount {
    pub kind: MountKind,
    pub site: Site,
    /// URL prefix (Alias), pattern (AliasMatch), or the section's URL for a
    /// handler in a `<Location>` (when known).
    pub url: Option<String>,
    /// Script path, or the directory that holds handler-mapped scripts.
    pub target: String,
    /// Alias options (`process-group=`, `application-group=`); empty for handlers.
    pub args: WsgiArgs,
    /// For handler mounts: the section that holds the SetHandler/AddHandler
    /// (for a scope's AddHandler, the `<Directory>` it makes scripts of).
    pub handler_section: Option<Box<SectionContext>>,
    /// Made by an AddHandler for a whole scope: a directory it reaches
    /// stands for all its scripts, whether or not an Alias maps it.
    pub by_scope_handler: bool,
    /// Written by a `Use` of a `<Macro>` (its site is the `Use` line): an
    /// app like any other, whose lines no fix may rewrite.
    pub by_macro: bool,
    /// The application this mount belongs to (index into `Analysis::apps`).
    pub app: usize,
}

impl Mount {
    /// What identifies the application: the script. The same script mounted
    /// in the :80 and :443 vhosts of one ServerName, or reached in several
    /// vhosts, is one app.
    pub fn app_key(&self, analysis: &Analysis) -> String {
        analysis.apps[self.app].clone()
    }

    /// Whether the mount may serve several scripts, each in a
    /// sub-interpreter of its own by default: a `WSGIScriptAliasMatch`
    /// whose target takes parts of the URL (`$1`), an alias of a directory,
    /// a wsgi-script handler for a directory an `Alias` maps (koji's
    /// handler directory, reached only through an alias of its one script,
    /// is one app). One daemon and `%{GLOBAL}` for the mount would put them
    /// all in one interpreter (modwsgi.md §9).
    /// A `WSGIScriptAliasMatch` whose script path takes parts of the URL
    /// (`$1`): no one script to preload. Parts after a script's own name
    /// (Mozilla's hg vhost: `.../dist/hgweb.wsgi$1`) are its PATH_INFO:
    /// that one script (Apache: one interpreter for every URL).
    pub fn target_takes_url_parts(&self) -> bool {
        self.kind == MountKind::AliasMatch
            && self
                .target
                .find('$')
                .is_some_and(|at| !names_a_script(&self.target[..at]))
    }

    pub fn serves_several_scripts(&self) -> bool {
        match self.kind {
            MountKind::AliasMatch => self.target_takes_url_parts(),
            // Review Board writes its one script as `.../reviewboard.wsgi/`.
            MountKind::Alias => {
                self.target.ends_with('/') && !names_a_script(self.target.trim_end_matches('/'))
            }
            MountKind::Handler => match self.handler_section.as_deref() {
                Some(s) => match s.kind {
                    // Without a <Directory> around it, a name stands for
                    // that file in every directory.
                    SectionKind::Files => {
                        coverage::is_pattern(s)
                            || coverage::enclosing_directory(&self.site.sections).is_none()
                    }
                    SectionKind::Location => {
                        s.regex || self.target.ends_with('/') || self.target == s.arg
                    }
                    // The directory itself stands for every script in it
                    // (a sweep's two scripts served through DocumentRoot
                    // were two apps, each in its own interpreter); one
                    // script of it reached through an Alias is one app.
                    SectionKind::Directory => s.regex || self.target == s.arg,
                    SectionKind::If(_) | SectionKind::Limit | SectionKind::Other => true,
                },
                None => true,
            },
        }
    }
}

/// Whether `path` ends in a file name of a WSGI script (`.wsgi`, `.py`):
/// what follows it in a URL's mapping is PATH_INFO of that one script.
fn names_a_script(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    [".wsgi", ".py"]
        .iter()
        .any(|ext| name.len() > ext.len() && name.ends_with(ext))
}

/// An app in a context requests reach: a mount, and the scope whose
/// settings apply to it (its own vhost; for a server-level mount, each vhost
/// that does not shadow it, and the main server when it takes requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    pub mount: usize,
    pub scope: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupKind {
    Process,
    Application,
}

impl GroupKind {
    pub fn directive(self) -> &'static str {
        match self {
            GroupKind::Process => "WSGIProcessGroup",
            GroupKind::Application => "WSGIApplicationGroup",
        }
    }
    pub fn option(self) -> &'static str {
        match self {
            GroupKind::Process => "process-group",
            GroupKind::Application => "application-group",
        }
    }
}

/// A `WSGIProcessGroup` or `WSGIApplicationGroup` directive.
#[derive(Debug, Clone)]
pub struct GroupDirective {
    pub kind: GroupKind,
    pub value: String,
    /// The value exactly as written (quotes included).
    pub value_text: Vec<u8>,
    pub site: Site,
    /// Written by a `Use` of a `<Macro>` (its site is the `Use` line): read,
    /// never rewritten.
    pub by_macro: bool,
}

#[derive(Debug, Clone)]
pub struct ImportScript {
    pub site: Site,
    pub args: WsgiArgs,
}

/// A `<Macro>` body: a template, analysed on its own and never rewritten.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    /// Its parameters as written (`$host`), which a `Use` replaces.
    pub params: Vec<String>,
    pub tree: SyntaxTree,
    pub file: FileId,
    /// Physical line of the body's first line in the file.
    pub first_line: u32,
    /// Its place in the server's read order (a `Use` takes a macro
    /// defined before it).
    pub order: usize,
}

/// A `Use` of a `<Macro>`: expanded once the whole server is read.
#[derive(Debug, Clone)]
pub struct MacroUse {
    pub site: Site,
    pub name: String,
    pub args: Vec<String>,
}

/// A directive httpd refuses at start-up that the analysis can name exactly.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub site: Site,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub scopes: Vec<Scope>,
    pub daemons: Vec<Daemon>,
    pub mounts: Vec<Mount>,
    pub groups: Vec<GroupDirective>,
    pub imports: Vec<ImportScript>,
    /// `Alias`/`AliasMatch` URL → target per scope, to find the script behind
    /// a `<Location>` that sets a wsgi-script handler.
    pub aliases: Vec<(usize, String, String)>,
    /// The main server's `WSGIPythonPath`, which daemons ignore.
    pub python_path: Option<String>,
    /// The main server's `WSGIPythonHome`.
    pub python_home: Option<String>,
    /// mod_wsgi on Windows has no daemon mode.
    pub windows: bool,
    pub templates: Vec<Template>,
    pub macro_uses: Vec<MacroUse>,
    /// `AddHandler wsgi-script` outside every section, with its extensions.
    pub scope_handlers: Vec<(Site, Vec<String>)>,
    /// `Options` lines allowing ExecCGI in a literal `<Directory>`.
    pub exec_cgi: Vec<Site>,
    /// Daemon names macro expansions define where no scope of this
    /// analysis holds them (inside a vhost the macro writes): taken.
    pub macro_daemon_names: Vec<String>,
    /// Each application's identity: its script target.
    pub apps: Vec<String>,
    /// Every instance, mount by mount.
    pub instances: Vec<Instance>,
    /// Ports of `Listen` directives, to tell whether the main server takes
    /// requests when there are vhosts.
    pub listen_ports: Vec<String>,
    /// Directives httpd refuses (a one-argument WSGIScriptAlias).
    pub errors: Vec<ConfigError>,
    /// The walk met Includes nested deeper than httpd allows.
    pub too_deep: bool,
    /// Scopes with a `WSGIRestrictProcess` (0: the main server, whose
    /// sections vhosts inherit): it names the daemons an app may use, so
    /// moving an app there to another daemon answers 500 (modwsgi.md §6).
    pub restricted_scopes: Vec<usize>,
    pub(crate) index: resolve::Index,
}

/// Where an effective value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `process-group=`/`application-group=` on the mount's alias.
    AliasOption,
    /// A directive (index into `Analysis::groups`).
    Directive(usize),
    /// Nothing sets it: embedded / `%{RESOURCE}`.
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub value: String,
    pub source: Source,
    /// Group directives in regex sections whose coverage of the app cannot
    /// be decided and that would win if they applied: the value is then not
    /// known for sure.
    pub undecided: Vec<usize>,
}

impl Resolved {
    /// mod_wsgi turns `%{GLOBAL}` into the empty string.
    pub fn is_global(&self) -> bool {
        self.value.is_empty() || self.value == "%{GLOBAL}"
    }

    /// Chosen per request from the environment (`%{ENV:..}`): nothing
    /// static to say. `%{SERVER}`, `%{HOST}` and `%{RESOURCE}` are
    /// sub-interpreters whatever the request, and mod_wsgi reads the
    /// tokens case-sensitively (`%{global}` is a sub-interpreter by that
    /// name).
    /// Decided per request (`%{ENV:..}`), or by a `${NAME}` this read
    /// cannot resolve (set in httpd's environment).
    pub fn is_dynamic(&self) -> bool {
        self.value.contains("%{ENV:") || self.value.contains("${")
    }

    pub fn is_certain(&self) -> bool {
        self.undecided.is_empty()
    }
}

/// Analyses one file on its own (its Includes are not followed).
/// Config bytes as the analysis' text: the buffer itself when it is UTF-8
/// (nearly always), read lossily otherwise.
pub(crate) fn into_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

pub fn analyse(tree: &SyntaxTree) -> Analysis {
    View::single(tree).analyse()
}

/// Analyses a whole server: file 0 and every file its Includes read, each
/// where it stands.
pub fn analyse_server(model: &ServerModel) -> Analysis {
    View::of(model).analyse()
}

impl Analysis {
    /// The ServerName requests of `scope` carry: its own, else the main
    /// server's (a vhost without one takes the main server's at runtime).
    /// The port is not part of it (mod_wsgi compares host names).
    pub fn server_name_of(&self, scope: usize) -> Option<&str> {
        let own = self.scopes[scope].server_name.as_deref();
        Some(host_of(own.or(self.scopes[0].server_name.as_deref())?))
    }

    /// "ServerName:port" of a vhost, for users (`None` for the main server).
    pub fn scope_label(&self, scope: usize) -> Option<String> {
        let s = &self.scopes[scope];
        if !s.is_vhost {
            return None;
        }
        let name = self.server_name_of(scope).unwrap_or("*");
        let port = s
            .addresses
            .first()
            .and_then(|a| a.rsplit_once(':').map(|(_, p)| p.to_string()))
            .unwrap_or_else(|| "*".to_string());
        Some(format!("{name}:{port}"))
    }

    /// The instances of mount `mount`.
    pub fn instances_of(&self, mount: usize) -> &[usize] {
        self.index
            .instances_by_mount
            .get(mount)
            .map_or(&[], Vec::as_slice)
    }
}
