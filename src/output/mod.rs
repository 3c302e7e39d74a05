//! The command line's work: find the files, run the engine on each (in
//! parallel), and report — diffs and findings on stdout, errors and the
//! summary on stderr — in a deterministic order.

pub mod diff;
pub mod formats;
pub mod list_apps;
mod ordered;
mod process;
pub mod progress;
pub mod report;
pub mod units;
pub mod walk;

pub use process::{finish, process_all, process_bytes, process_item, process_units};

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::ColorChoice;

use crate::cli::{Cli, Format, Mode};
use crate::collections::HashSet;
use crate::engine::{self, Options};
use crate::rules::rule_by_code;
use crate::server;
use crate::writing::units::CommitUnits;
use formats::statistics::Statistics;
use formats::Extras;
use report::{FileError, Outcome, Summary};
use std::sync::Arc;
use walk::{Filters, Item};

/// Shown for standard input in diffs, findings and errors.
pub const STDIN_NAME: &str = "<stdin>";

/// How many units each worker may run ahead of the one being reported: enough
/// that a slow file does not stall the others, few enough that memory follows
/// the largest file, not the fleet.
const WINDOW_PER_JOB: usize = 16;

/// What every file is processed with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    pub format: Format,
    pub options: Options,
    /// Colour on stdout.
    pub color: bool,
    /// Colour on stderr, which may be a terminal when stdout is not.
    pub color_err: bool,
    /// `--statistics`, `--show-fixes`.
    pub extras: Extras,
    /// `-q`: no summary line, no notes.
    pub quiet: bool,
    /// `-v`: a line per file on stderr.
    pub verbose: bool,
    /// `--max-file-size`.
    pub max_file_size: u64,
    /// With `--write`: how (see `crate::writing`), and each server file's
    /// main config by canonical path (the unit it is committed with).
    pub write: Option<Arc<crate::writing::WriteOptions>>,
    pub units: Arc<CommitUnits>,
    /// `--exit-non-zero-on-fix`.
    pub exit_non_zero_on_fix: bool,
    /// The directories this run has read files from.
    pub dirs: Arc<crate::writing::DirCache>,
}

/// Runs the command line and returns the exit status.
pub fn run(cli: &Cli) -> i32 {
    let stderr = io::stderr();
    let mut err = stderr.lock();
    if let Some(code) = commands(cli, &mut err) {
        return code;
    }
    if let Some(code) = cli.explain {
        return explain(
            code,
            use_color(cli.color),
            &mut io::stdout().lock(),
            &mut err,
        );
    }
    match &cli.command {
        Some(crate::cli::Command::Checkpoints { state_dir, format }) => {
            let mut out = io::stdout().lock();
            return crate::writing::rollback::list(
                state_dir,
                *format == Format::Json,
                &mut out,
                &mut err,
            );
        }
        Some(crate::cli::Command::Rollback { id, state_dir }) => {
            crate::writing::signals::install();
            return crate::writing::rollback::rollback(state_dir, id.as_deref(), &mut err);
        }
        // Handled by `commands` above.
        Some(crate::cli::Command::Rules { .. } | crate::cli::Command::Generate { .. }) | None => {}
    }
    if cli.mode() == Mode::Write {
        crate::writing::signals::install();
    }

    let mut paths = cli.paths.clone();
    // Main configs named on the command line, or the system's.
    let mut named: Vec<PathBuf> = cli.config.iter().cloned().collect();
    if paths.is_empty() && named.is_empty() {
        let candidates: Vec<PathBuf> = walk::SYSTEM_DIRS
            .iter()
            .map(|d| match &cli.root {
                Some(r) => r.join(d.trim_start_matches('/')),
                None => PathBuf::from(d),
            })
            .collect();
        let candidates: Vec<&Path> = candidates.iter().map(PathBuf::as_path).collect();
        match walk::system_config_dir(&candidates) {
            Some(dir) => match server::main_config_in(&dir) {
                Some(main) => {
                    if !cli.quiet {
                        let _ = writeln!(
                            err,
                            "wsgifix: no PATH given; checking the server of {}",
                            main.display()
                        );
                    }
                    named.push(main);
                }
                None => {
                    if !cli.quiet {
                        let _ = writeln!(err, "wsgifix: no PATH given; checking {}", dir.display());
                    }
                    paths.push(dir);
                }
            },
            None => {
                let _ = writeln!(
                    err,
                    "wsgifix: error: no PATH given and no Apache configuration found in {}",
                    walk::SYSTEM_DIRS.join(", ")
                );
                return 2;
            }
        }
    }

    let filters = match Filters::new(&cli.include, &cli.exclude) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(err, "wsgifix: error: invalid glob: {e}");
            return 2;
        }
    };
    // Leftovers of killed runs go first, before anything reads them as
    // config: the journal's names, then `.wsgifix-*.tmp` in the
    // directories this run reads.
    let live = crate::writing::state::recover(&cli.state_dir, &mut err);
    if named.is_empty() && !cli.list_apps {
        let mut sweep = |dir: &Path| {
            crate::writing::state::sweep([dir], &live, &mut err);
        };
        let survey = walk::survey(&paths, &filters, &mut sweep);
        if !survey.has_main {
            return stream(cli, &paths, &filters, survey, &mut err);
        }
    }
    let mut notes = Vec::new();
    let mut items = walk::collect_noted(&paths, &filters, &mut notes);
    if !cli.quiet {
        for n in &notes {
            let _ = writeln!(err, "wsgifix: note: {n}");
        }
    }
    if items.is_empty() && named.is_empty() {
        return nothing_found(cli, &mut err);
    }
    let explicit: HashSet<PathBuf> = paths
        .iter()
        .filter(|p| p.is_file())
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let discover = server::DiscoverOptions {
        root: cli.root.clone(),
        max_file_size: cli.max_file_size,
        ..server::DiscoverOptions::default()
    };
    let mains = units::mains(&named, &items);
    let mut write = None;
    let mut _locks = Vec::new();
    if cli.mode() == Mode::Write {
        let opts = write_options(cli);
        // A server's files are read and fixed under its lock, so that a
        // concurrent run waits and then finds them fixed; one order for all
        // locks, so two runs never wait for each other.
        let mut keys: Vec<PathBuf> = mains
            .iter()
            .map(|(m, _)| m.canonicalize().unwrap_or_else(|_| m.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        for m in &keys {
            match crate::writing::state::lock(&cli.state_dir, m, &mut err) {
                Ok(l) => _locks.push(l),
                Err(e) => {
                    let _ = writeln!(err, "wsgifix: {e}");
                    return 2;
                }
            }
        }
        write = Some(Arc::new(opts));
    }
    let mut plan = units::plan(&mains, items.clone(), &explicit, &discover);
    // Leftovers of killed runs go before anything reads them as config:
    // the journal's names, then `.wsgifix-*.tmp` in every directory this
    // run reads (a server's too).
    let swept = crate::writing::state::sweep(
        units::dirs(&plan).iter().map(PathBuf::as_path),
        &live,
        &mut err,
    );
    if !swept.is_empty() {
        items = walk::collect(&paths, &filters);
        items.retain(|i| !matches!(i, Item::File(p) if swept.contains(p)));
        plan = units::plan(&mains, items, &explicit, &discover);
    }
    if cli.list_apps {
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        return list_apps::run(
            &plan,
            cli.format,
            cli.max_file_size,
            use_color_stderr(cli.color),
            &mut out,
            &mut err,
        );
    }
    // Only a write commits by unit.
    let commit = match write {
        Some(_) => units::commit_units(&plan),
        None => CommitUnits::default(),
    };
    let settings = settings(cli, write, commit);
    let run = process::Run {
        files: plan.iter().map(units::Unit::file_count).sum::<usize>() as u64,
        reads_stdin: plan
            .iter()
            .any(|u| matches!(u, units::Unit::Item(Item::Stdin))),
    };
    let steps = plan.iter().map(process::Step::Unit);
    let code =
        report_to_stdout(|out| process_units(steps, run, &settings, jobs(cli), out, &mut err));
    // The process ends when this returns (only main calls it): freeing every
    // tree of a 10 000-file server one by one would only delay the exit.
    std::mem::forget(plan);
    code
}

/// A run with no server in it: the walk streams into the pipeline, so that
/// memory follows the largest file, not the fleet.
fn stream(
    cli: &Cli,
    paths: &[PathBuf],
    filters: &Filters,
    survey: walk::Survey,
    err: &mut dyn Write,
) -> i32 {
    if !survey.anything {
        return nothing_found(cli, err);
    }
    let write = (cli.mode() == Mode::Write).then(|| Arc::new(write_options(cli)));
    let settings = settings(cli, write, CommitUnits::default());
    let run = process::Run {
        files: survey.files,
        reads_stdin: survey.reads_stdin,
    };
    let steps = walk::Walk::new(paths, filters, survey.seen).map(|w| match w {
        walk::Walked::Item(i) => process::Step::Item(i),
        walk::Walked::File(p) => process::Step::Walked(p),
        walk::Walked::Note(n) => process::Step::Note(n),
    });
    report_to_stdout(|out| process_units(steps, run, &settings, jobs(cli), out, err))
}

/// Runs `f` with buffered stdout; a failure to write it is an error (a
/// closed pipe is not: `| head` reads what it wants).
fn report_to_stdout(f: impl FnOnce(&mut dyn Write) -> i32) -> i32 {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let code = f(&mut out);
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            let _ = writeln!(
                io::stderr(),
                "wsgifix: error: cannot write to standard output: {e}"
            );
            2
        }
        _ => code,
    }
}

/// An empty or wrong directory must not pass as "nothing found".
fn nothing_found(cli: &Cli, err: &mut dyn Write) -> i32 {
    let _ = writeln!(
        err,
        "{}",
        report::warning_line(
            "no configuration file found; nothing was checked",
            use_color_stderr(cli.color)
        )
    );
    2
}

fn write_options(cli: &Cli) -> crate::writing::WriteOptions {
    crate::writing::WriteOptions::new(
        cli.state_dir.clone(),
        cli.verify_mode(),
        cli.root.clone(),
        std::env::args().collect(),
    )
}

fn jobs(cli: &Cli) -> usize {
    cli.jobs.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

fn settings(
    cli: &Cli,
    write: Option<Arc<crate::writing::WriteOptions>>,
    units: CommitUnits,
) -> Settings {
    Settings {
        max_file_size: cli.max_file_size,
        write,
        units: Arc::new(units),
        exit_non_zero_on_fix: cli.exit_non_zero_on_fix,
        dirs: Arc::default(),
        mode: cli.mode(),
        format: cli.format,
        options: Options {
            select: cli.select.iter().map(|s| s.to_string()).collect(),
            ignore: cli.ignore.iter().map(|s| s.to_string()).collect(),
            unverified: cli.mode() == Mode::Check,
        },
        color: cli.format == Format::Text && use_color(cli.color),
        color_err: use_color_stderr(cli.color),
        extras: Extras {
            statistics: cli.statistics,
            show_fixes: cli.show_fixes,
        },
        quiet: cli.quiet,
        verbose: cli.verbose,
    }
}

/// Subcommands and listings that do not look at files: `rules` /
/// `--list-rules`, `generate`. None when the run is about files.
fn commands(cli: &Cli, err: &mut dyn Write) -> Option<i32> {
    use crate::cli::Command;
    let mut out = io::stdout().lock();
    let r = match &cli.command {
        Some(Command::Rules {
            format: Format::Json,
        }) => formats::rules::json(&mut out),
        Some(Command::Rules { .. }) => formats::rules::text(&mut out),
        Some(Command::Generate { what }) => crate::generate::generate(*what, &mut out),
        None if cli.list_rules && cli.format == Format::Json => formats::rules::json(&mut out),
        None if cli.list_rules => formats::rules::text(&mut out),
        None | Some(Command::Checkpoints { .. } | Command::Rollback { .. }) => return None,
    };
    Some(match r.and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            let _ = writeln!(err, "wsgifix: error: cannot write to standard output: {e}");
            2
        }
    })
}

/// Like [`use_color`], for stderr: the same environment rules, but the
/// terminal test is on stderr.
pub fn use_color_stderr(choice: ColorChoice) -> bool {
    let set = |k: &str| std::env::var_os(k).map(|v| v != "0");
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if set("CLICOLOR_FORCE") == Some(true) {
                true
            } else if std::env::var_os("NO_COLOR").is_some() || set("CLICOLOR") == Some(false) {
                false
            } else {
                io::stderr().is_terminal()
            }
        }
    }
}

/// `--color`: always/never win; auto follows colored's reading of the
/// environment (CLICOLOR_FORCE beats NO_COLOR, else a terminal on stdout).
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            // Not the global SHOULD_COLORIZE: from_env reads the environment
            // now, with nothing overridden by anyone else in the process.
            colored::control::ShouldColorize::from_env().should_colorize()
        }
    }
}

fn explain(code: &str, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let Some(rule) = rule_by_code(code) else {
        let _ = writeln!(err, "wsgifix: error: unknown rule {code}");
        return 2;
    };
    let fix = if rule.has_fix {
        "fixable"
    } else {
        "not fixable"
    };
    let title = format!("{} ({}): {}", rule.code, rule.name, rule.summary);
    let title = if color {
        format!("\x1b[1m{title}\x1b[0m")
    } else {
        title
    };
    let text = format!("{title}\n{fix}\n\n{}\n", rule.explanation);
    match out.write_all(text.as_bytes()) {
        Ok(()) => 0,
        Err(_) => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::process::{display, exit_code};
    use super::*;

    fn settings(mode: Mode, format: Format) -> Settings {
        Settings {
            mode,
            format,
            options: Options::default(),
            color: false,
            color_err: false,
            extras: Extras::default(),
            quiet: false,
            verbose: false,
            max_file_size: crate::writing::DEFAULT_MAX_FILE_SIZE,
            write: None,
            units: Arc::default(),
            exit_non_zero_on_fix: false,
            dirs: Arc::default(),
        }
    }

    /// Only a run that writes nothing may skip parsing its fixes back: what
    /// `--dry-run` shows and `--write` writes has been read again.
    #[test]
    fn only_check_skips_the_print_back() {
        for (args, unverified) in [
            (["wsgifix", "--check", "x"], true),
            (["wsgifix", "--dry-run", "x"], false),
            (["wsgifix", "--write", "x"], false),
        ] {
            let cli = <Cli as clap::Parser>::try_parse_from(args).unwrap();
            let s = super::settings(&cli, None, CommitUnits::default());
            assert_eq!(s.options.unverified, unverified, "{args:?}");
        }
    }

    #[test]
    fn exit_codes_by_mode() {
        let mut s = Summary::default();
        assert_eq!(exit_code(&s, Mode::DryRun), 0);
        s.changed = 1;
        assert_eq!(exit_code(&s, Mode::DryRun), 1);
        assert_eq!(exit_code(&s, Mode::Check), 0);
        assert_eq!(exit_code(&s, Mode::Write), 0);
        s.findings = 1;
        assert_eq!(exit_code(&s, Mode::Check), 1);
        s.errors = 1;
        assert_eq!(exit_code(&s, Mode::Write), 2);
        assert_eq!(exit_code(&s, Mode::DryRun), 2);
    }

    #[test]
    fn syntax_error_is_reported_and_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.conf");
        let src = b"<VirtualHost *:80>\nServerName x\n";
        std::fs::write(&p, src).unwrap();
        let o = process_item(
            &Item::File(p.clone()),
            None,
            &settings(Mode::Write, Format::Text),
        );
        let e = o.error.expect("syntax error");
        assert_eq!(e.kind, "syntax");
        assert!(e.line.is_some() && e.column.is_some());
        assert!(!o.written && !o.changed);
        assert_eq!(std::fs::read(&p).unwrap(), src);
    }

    #[test]
    fn stdin_write_echoes_input_when_nothing_to_fix() {
        let src = Ok(b"ServerName x\r\n".to_vec());
        let o = process_item(
            &Item::Stdin,
            Some(&src),
            &settings(Mode::Write, Format::Text),
        );
        assert_eq!(o.path, STDIN_NAME);
        assert_eq!(o.stdout.as_deref(), Some(&b"ServerName x\r\n"[..]));
        assert!(o.error.is_none());
    }

    #[test]
    fn output_order_is_input_order_whatever_the_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let mut items = Vec::new();
        for i in 0..100 {
            let p = dir.path().join(format!("f{i:03}.conf"));
            // Every seventh file is broken, so errors interleave with results.
            let body = if i % 7 == 0 {
                "<Location />\n"
            } else {
                "ServerName x\n"
            };
            std::fs::write(&p, body).unwrap();
            items.push(Item::File(p));
        }
        let s = settings(Mode::DryRun, Format::Json);
        let mut first = None;
        for jobs in [1, 2, 4] {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let code = process_all(&items, &s, jobs, &mut out, &mut err);
            assert_eq!(code, 2);
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let paths: Vec<String> = v["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["path"].as_str().unwrap().to_string())
                .collect();
            let expected: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Item::File(p) => display(p),
                    _ => unreachable!(),
                })
                .collect();
            assert_eq!(paths, expected);
            assert_eq!(v["summary"]["errors"], 15);
            match &first {
                None => first = Some((out, err)),
                Some(f) => assert_eq!(f, &(out, err), "output differs with -j {jobs}"),
            }
        }
    }
}
