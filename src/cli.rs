//! Command-line arguments (SPEC.md §5). Validation that clap can do happens
//! here, so every usage error leaves through clap and exits with status 2.

use std::path::PathBuf;

use clap::{ArgGroup, ColorChoice, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use globset::{Glob, GlobBuilder};

use crate::rules::rule_by_code;

const AFTER_HELP: &str = "\
PATH may be a file, a directory (walked recursively in sorted order; symlinked
directories are not followed; every regular file is taken unless --include /
--exclude say otherwise) or - for standard input. Paths named on the command
line are always processed. With no PATH, wsgifix looks at /etc/apache2,
/etc/httpd and /usr/local/apache2/conf and takes the first that exists.

--write writes each server (a main config and its Includes; or a standalone
file) as one transaction: a checkpoint of the originals first (see `wsgifix
checkpoints`, `wsgifix rollback`), then each file atomically through held
directory handles, keeping owner, mode, ACLs and xattrs, then the configtest
(--verify, on by default for a live server); if it fails, every file of the
server is restored.

Exit status:
  0  nothing found (or --write left nothing to fix)
  1  --dry-run would change a file or found something, --check found anything,
     --write left findings it could not fix, or (--exit-non-zero-on-fix)
     --write changed files
  2  usage error, an I/O or syntax error in any file (other files are still
     processed), a file that could not be written, or a failed configtest
The exit status never depends on --format.";

/// Audit and fix Apache httpd + mod_wsgi configurations.
///
/// wsgifix finds and fixes what keeps Python C extensions (PyMongo, NumPy,
/// cryptography) from running safely under mod_wsgi: embedded mode, daemon
/// process groups shared by several applications, and sub-interpreters
/// instead of the main interpreter (%{GLOBAL}).
#[derive(Debug, Parser)]
#[command(name = "wsgifix", version, after_help = AFTER_HELP)]
#[command(group(ArgGroup::new("mode").args(["dry_run", "write", "check"])))]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Files, directories, or - for standard input.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Print the unified diff of all fixes (the default).
    #[arg(long)]
    pub dry_run: bool,

    /// Apply the fixes in place (atomically; symlinks are written through).
    /// With -, print the fixed config on standard output.
    #[arg(long)]
    pub write: bool,

    /// Print findings only, one per line: FILE:LINE:COL CODE message.
    #[arg(long)]
    pub check: bool,

    /// Only run these rules (codes or names, comma-separated).
    #[arg(long, value_name = "CODE,...", value_delimiter = ',', value_parser = parse_rule)]
    pub select: Vec<&'static str>,

    /// Never run these rules (codes or names, comma-separated).
    #[arg(long, value_name = "CODE,...", value_delimiter = ',', value_parser = parse_rule)]
    pub ignore: Vec<&'static str>,

    /// List every rule (code, name, fixable, summary) and exit; the same as
    /// `wsgifix rules`.
    #[arg(long)]
    pub list_rules: bool,

    /// Explain a rule (code or name) and exit.
    #[arg(long, value_name = "CODE", value_parser = parse_rule)]
    pub explain: Option<&'static str>,

    /// Only take files matching GLOB when walking a directory (repeatable;
    /// matched against the path below the directory and against the file name).
    #[arg(long, value_name = "GLOB", value_parser = parse_glob)]
    pub include: Vec<Glob>,

    /// Skip files and directories matching GLOB when walking (repeatable).
    #[arg(long, value_name = "GLOB", value_parser = parse_glob)]
    pub exclude: Vec<Glob>,

    /// Treat FILE as a server's main config: its Include/IncludeOptional
    /// files (globs, directories, relative to ServerRoot) are processed too,
    /// and daemon names are checked across the whole server. A walk treats
    /// any apache2.conf or httpd.conf it meets the same way.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// DIR stands for / (a collected copy of another machine's tree):
    /// absolute Include and ServerRoot paths, absolute symlinks and --config
    /// resolve inside it, and diffs name files as the server does
    /// (a/etc/apache2/...), so `patch -p1 -d /` applies them on the host.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// List every app instance instead of judging it: per vhost, the mount,
    /// the script, the process and application group it really gets, and
    /// the file:line each comes from (text, json or json-lines).
    #[arg(long, conflicts_with_all = ["dry_run", "write", "check"])]
    pub list_apps: bool,

    /// Run the server's configtest after --write and restore every file of
    /// the server if it fails (default: on for a live server, i.e. a main
    /// config written without --root).
    #[arg(long, overrides_with = "no_verify")]
    pub verify: bool,

    /// Never run the configtest after --write.
    #[arg(long, overrides_with = "verify")]
    pub no_verify: bool,

    /// The configtest to run after --write (with `sh -c`; the main config is
    /// in $WSGIFIX_MAIN_CONFIG). Implies --verify.
    #[arg(long, value_name = "CMD", conflicts_with = "no_verify")]
    pub verify_cmd: Option<String>,

    /// Where checkpoints, the write journal and lock files live.
    #[arg(long, value_name = "DIR", env = "WSGIFIX_STATE_DIR", default_value = crate::writing::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,

    /// Refuse to read files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::writing::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,

    /// With --write: exit 1 when files were changed.
    #[arg(long)]
    pub exit_non_zero_on_fix: bool,

    /// Report format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Count the findings per rule (text: a table after the report, on
    /// stdout with --check, else on stderr; json formats: a "statistics" key).
    #[arg(long)]
    pub statistics: bool,

    /// Say what each fix did: which findings it fixed and which lines it
    /// added or changed (text: on stderr; json formats: "fixes" per file).
    #[arg(long)]
    pub show_fixes: bool,

    /// Print the settings in effect (command line, wsgifix.toml files,
    /// defaults) and where each came from, and exit.
    #[arg(long)]
    pub show_settings: bool,

    /// Print only errors and the report itself: no summary line, no notes.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also say which files were checked and what each came to, on stderr.
    #[arg(short, long)]
    pub verbose: bool,

    /// Colour the output (auto: when standard output is a terminal; honours
    /// NO_COLOR and CLICOLOR_FORCE).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Number of files processed in parallel (default: number of CPUs).
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

/// Subcommands. A PATH that is named like one needs a `./` in front.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the checkpoints --write made, oldest first.
    Checkpoints {
        #[arg(long, value_name = "DIR", env = "WSGIFIX_STATE_DIR", default_value = crate::writing::DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Restore the files of a checkpoint exactly (default: the newest).
    /// Refuses, naming it, any file changed since, and then restores nothing.
    Rollback {
        /// The checkpoint, as `wsgifix checkpoints` lists it.
        id: Option<String>,
        #[arg(long, value_name = "DIR", env = "WSGIFIX_STATE_DIR", default_value = crate::writing::DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
    /// List every rule: code, name, whether wsgifix fixes it, summary.
    Rules {
        /// text: a table; json: one document.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write the man page or shell completions to standard output (for
    /// packagers; the .deb ships the output of these).
    #[command(hide = true)]
    Generate {
        #[command(subcommand)]
        what: Generate,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Generate {
    /// The man page, wsgifix(1), in roff.
    Man,
    /// The completion script for SHELL.
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Diffs (or --check lines) on stdout; findings the diff does not show,
    /// errors and the summary on stderr.
    Text,
    /// One JSON document on stdout.
    Json,
    /// One JSON object per file, then a summary object, one per line.
    JsonLines,
    /// One SARIF 2.1.0 log, for code-scanning and review tools.
    Sarif,
    /// GitHub Actions annotations (::error file=..,line=..::message).
    Github,
}

impl Format {
    /// The formats whose file records hold the diff.
    pub fn carries_diff(self) -> bool {
        matches!(self, Format::Json | Format::JsonLines)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    DryRun,
    Write,
    Check,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DryRun => "dry-run",
            Mode::Write => "write",
            Mode::Check => "check",
        }
    }
}

impl Cli {
    /// How --write verifies; see `writing::verify`.
    pub fn verify_mode(&self) -> crate::writing::VerifyMode {
        use crate::writing::VerifyMode;
        match (&self.verify_cmd, self.verify, self.no_verify) {
            (Some(c), _, _) => VerifyMode::Cmd(c.clone()),
            (None, true, _) => VerifyMode::On,
            (None, false, true) => VerifyMode::Off,
            (None, false, false) => VerifyMode::Auto,
        }
    }

    pub fn mode(&self) -> Mode {
        if self.write {
            Mode::Write
        } else if self.check {
            Mode::Check
        } else {
            Mode::DryRun
        }
    }
}

/// Accepts a code or a name and yields the canonical code, because
/// `engine::Options` compares codes only.
fn parse_rule(s: &str) -> Result<&'static str, String> {
    match rule_by_code(s.trim()) {
        Some(rule) => Ok(rule.code),
        None => {
            let known: Vec<String> = crate::rules::RULES
                .iter()
                .map(|r| format!("{} ({})", r.code, r.name))
                .collect();
            Err(format!("unknown rule; known rules: {}", known.join(", ")))
        }
    }
}

fn parse_glob(s: &str) -> Result<Glob, String> {
    GlobBuilder::new(s)
        .build()
        .map_err(|e| e.kind().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn names_map_to_codes() {
        let cli = Cli::try_parse_from(["wsgifix", "--select", "embedded-mode,wsgi003"]).unwrap();
        assert_eq!(cli.select, vec!["WSGI001", "WSGI003"]);
    }

    #[test]
    fn modes_are_exclusive() {
        assert!(Cli::try_parse_from(["wsgifix", "--write", "--check"]).is_err());
        let cli = Cli::try_parse_from(["wsgifix", "x"]).unwrap();
        assert_eq!(cli.mode(), Mode::DryRun);
    }
}
