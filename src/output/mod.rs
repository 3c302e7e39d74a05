//! The command line's work: find the files, run the engine on each (in
//! parallel), and report — diffs and findings on stdout, errors and the
//! summary on stderr — in a deterministic order.

pub mod diff;
pub mod formats;
pub mod list_apps;
pub mod progress;
pub mod report;
pub mod units;
pub mod walk;

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::ColorChoice;
use rayon::prelude::*;

use crate::cli::{Cli, Format, Mode};
use crate::engine::{self, Options};
use crate::rules::rule_by_code;
use crate::server;
use formats::statistics::Statistics;
use formats::Extras;
use report::{FileError, Outcome, Summary};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use walk::{Filters, Item};

/// Shown for standard input in diffs, findings and errors.
pub const STDIN_NAME: &str = "<stdin>";

/// How many files are held in memory at once per worker: enough to keep the
/// workers busy, few enough that memory follows the largest file, not the fleet.
const BATCH_PER_JOB: usize = 16;

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
    pub units: Arc<BTreeMap<PathBuf, PathBuf>>,
    /// `--exit-non-zero-on-fix`.
    pub exit_non_zero_on_fix: bool,
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
    let mut notes = Vec::new();
    let mut items = walk::collect_noted(&paths, &filters, &mut notes);
    if !cli.quiet {
        for n in &notes {
            let _ = writeln!(err, "wsgifix: note: {n}");
        }
    }
    if items.is_empty() && named.is_empty() {
        // An empty or wrong directory must not pass as "nothing found".
        let _ = writeln!(
            err,
            "{}",
            report::warning_line(
                "no configuration file found; nothing was checked",
                use_color_stderr(cli.color)
            )
        );
        return 2;
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
        let opts = crate::writing::WriteOptions::new(
            cli.state_dir.clone(),
            cli.verify_mode(),
            cli.root.clone(),
            std::env::args().collect(),
        );
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
    let settings = Settings {
        max_file_size: cli.max_file_size,
        write,
        units: Arc::new(units::commit_units(&plan)),
        exit_non_zero_on_fix: cli.exit_non_zero_on_fix,
        mode: cli.mode(),
        format: cli.format,
        options: Options {
            select: cli.select.iter().map(|s| s.to_string()).collect(),
            ignore: cli.ignore.iter().map(|s| s.to_string()).collect(),
        },
        color: cli.format == Format::Text && use_color(cli.color),
        color_err: use_color_stderr(cli.color),
        extras: Extras {
            statistics: cli.statistics,
            show_fixes: cli.show_fixes,
        },
        quiet: cli.quiet,
        verbose: cli.verbose,
    };
    let jobs = cli.jobs.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let code = process_units(&plan, &settings, jobs, &mut out, &mut err);
    let flushed = out.flush();
    match flushed {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            let _ = writeln!(err, "wsgifix: error: cannot write to standard output: {e}");
            2
        }
        _ => code,
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

/// Processes `items`, each on its own, `jobs` at a time and reports each in
/// order. Returns the exit status.
pub fn process_all(
    items: &[Item],
    settings: &Settings,
    jobs: usize,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let units: Vec<units::Unit> = items.iter().cloned().map(units::Unit::Item).collect();
    process_units(&units, settings, jobs, out, err)
}

/// Processes `units` (servers and standalone files) `jobs` at a time and
/// reports each in order. Returns the exit status.
pub fn process_units(
    units: &[units::Unit],
    settings: &Settings,
    jobs: usize,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(
                err,
                "wsgifix: error: cannot start {jobs} worker threads: {e}"
            );
            return 2;
        }
    };
    // Read before the workers start: only one `-` is allowed and it must not
    // be read from a worker while another is reporting.
    let stdin_bytes = if units
        .iter()
        .any(|u| matches!(u, units::Unit::Item(Item::Stdin)))
    {
        let mut buf = Vec::new();
        Some(io::stdin().lock().read_to_end(&mut buf).map(|_| buf))
    } else {
        None
    };

    let mut summary = Summary {
        mode: settings.mode.as_str(),
        ..Summary::default()
    };
    let mut stdout_ok = true;
    let mut machine = formats::reporter(settings.format, settings.mode, settings.extras, out)
        .unwrap_or_else(|_| {
            stdout_ok = false;
            None
        });
    let mut statistics = Statistics::default();
    // With --write, changed files go through safe commits, a server's
    // files together (crate::writing::units).
    let mut queue = settings
        .write
        .as_ref()
        .map(|w| crate::writing::units::Queue::new(Arc::clone(w), Arc::clone(&settings.units)));
    let mut report = |outcomes: Vec<Outcome>, summary: &mut Summary, err: &mut dyn Write| {
        for o in &outcomes {
            summary.add(o);
            statistics.add(o);
            if stdout_ok {
                let r = match &mut machine {
                    Some(w) => w.file(out, o),
                    None => report_text(o, settings, out),
                };
                // On a terminal, what a file came to reads in order: its diff,
                // then (on stderr) what the diff does not show.
                let r = r.and_then(|()| out.flush());
                // Keep going after stdout closes (`| head`): files must still
                // be written and errors still reported.
                stdout_ok = r.is_ok();
            }
            report_stderr(o, settings, err);
        }
    };
    let mut progress = progress::Progress::new(
        units.iter().map(units::Unit::file_count).sum::<usize>() as u64,
        settings.quiet,
    );
    for batch in units.chunks(jobs.max(1) * BATCH_PER_JOB) {
        let results: Vec<units::UnitResult> = pool.install(|| {
            batch
                .par_iter()
                .map(|unit| units::process_unit(unit, stdin_bytes.as_ref(), settings))
                .collect()
        });
        progress.advance(batch.iter().map(units::Unit::file_count).sum::<usize>() as u64);
        for r in results {
            progress.suspend(|| {
                units::write_notes(&r, err);
                let mut outcomes = r.outcomes;
                if let Some(q) = &mut queue {
                    outcomes = q.take(outcomes, err);
                }
                report(outcomes, &mut summary, err);
            });
        }
        // A signal stops the run: nothing more is read or written.
        if queue.as_ref().is_some_and(|q| q.interrupted.is_some()) {
            break;
        }
    }
    progress.finish();
    if let Some(q) = &mut queue {
        let rest = q.finish(err);
        report(rest, &mut summary, err);
    }
    let mut code = exit_code(&summary, settings.mode);
    if settings.exit_non_zero_on_fix && summary.written > 0 && code == 0 {
        code = 1;
    }
    let interrupted = queue.as_ref().and_then(|q| q.interrupted);
    if let Some(sig) = interrupted {
        code = 128 + sig;
    }
    summary.exit_code = code;
    let writes = queue.map(|q| q.writes).unwrap_or_default();
    if let Some(v) = writes.verify.as_ref().filter(|v| v.result == "skipped") {
        let _ = writeln!(err, "wsgifix: configtest skipped: {}", v.message);
    }
    if let (Some(w), true) = (&mut machine, stdout_ok) {
        stdout_ok = w.end(out, &summary, &writes).is_ok();
    }
    if settings.extras.statistics && settings.format == Format::Text {
        // --check's stdout is a report, where the table belongs; a diff's
        // stdout must stay a patch.
        if settings.mode == Mode::Check {
            if stdout_ok {
                stdout_ok = statistics.write_text(out).is_ok();
            }
        } else {
            let _ = statistics.write_text(err);
        }
    }
    if stdout_ok {
        stdout_ok = out.flush().is_ok();
    }
    if !stdout_ok {
        code = 2;
    }
    if !settings.quiet {
        let _ = writeln!(err, "{}", summary.line());
    }
    code
}

fn exit_code(s: &Summary, mode: Mode) -> i32 {
    if s.errors > 0 {
        return 2;
    }
    let something = match mode {
        // Unfixable findings count too: "nothing found" is what 0 promises.
        Mode::DryRun => s.changed > 0 || s.findings > 0,
        Mode::Check => s.findings > 0,
        // What --write could not fix is still there.
        Mode::Write => s.remaining > 0,
    };
    i32::from(something)
}

/// Errors, and in diff/write mode what the diff cannot show, go to stderr
/// whatever the format and whether or not stdout is still open.
fn report_stderr(o: &Outcome, settings: &Settings, err: &mut dyn Write) {
    if let Some(e) = &o.error {
        let _ = writeln!(err, "{}", e.render(&o.path, settings.color_err));
    }
    if settings.format == Format::Text && settings.mode != Mode::Check {
        // Findings the diff does not fix would otherwise go unseen.
        for f in o.findings.iter().filter(|f| !f.fixable || !o.changed) {
            let _ = writeln!(
                err,
                "{}",
                report::finding_line(&o.path, f, settings.color_err)
            );
        }
        if o.written {
            let shown = crate::writing::escape_bytes(o.path.as_bytes());
            // Through a symlink (Debian's sites-enabled/) the file written
            // is the target: say which.
            match o.real_path.as_deref().filter(|r| *r != o.path) {
                Some(real) => {
                    let real = crate::writing::escape_bytes(real.as_bytes());
                    let _ = writeln!(err, "fixed {shown} (wrote {real})");
                }
                None => {
                    let _ = writeln!(err, "fixed {shown}");
                }
            }
        }
        if settings.extras.show_fixes {
            let _ = formats::fixes::write_text(o, err);
        }
    }
    if settings.verbose {
        let _ = writeln!(err, "{}", report::verbose_line(o));
    }
}

fn report_text(o: &Outcome, settings: &Settings, out: &mut dyn Write) -> io::Result<()> {
    match settings.mode {
        Mode::Check => {
            for f in &o.findings {
                writeln!(out, "{}", report::finding_line(&o.path, f, settings.color))?;
            }
        }
        Mode::DryRun | Mode::Write => {
            if let Some(d) = &o.diff {
                out.write_all(d)?;
            }
            if let Some(bytes) = &o.stdout {
                out.write_all(bytes)?;
            }
        }
    }
    Ok(())
}

/// Reads, processes and (with `--write`) writes one item.
pub fn process_item(
    item: &Item,
    stdin: Option<&io::Result<Vec<u8>>>,
    settings: &Settings,
) -> Outcome {
    match item {
        Item::Error { path, message } => Outcome {
            path: display(path),
            error: Some(FileError::io("io", message.clone())),
            ..Outcome::default()
        },
        Item::Stdin => {
            let path = STDIN_NAME.to_string();
            match stdin {
                Some(Ok(bytes)) => process_bytes(path, bytes, None, settings),
                Some(Err(e)) => Outcome {
                    path,
                    error: Some(FileError::io("io", walk::strip_os_error(e))),
                    ..Outcome::default()
                },
                None => Outcome {
                    path,
                    error: Some(FileError::io("io", "standard input was not read")),
                    ..Outcome::default()
                },
            }
        }
        Item::File(p) => {
            let mut o = match crate::writing::read_config(p, settings.max_file_size) {
                Ok((bytes, identity)) => {
                    let mut o = process_bytes(display(p), &bytes, Some(p), settings);
                    o.real_path = Some(identity.real.to_string_lossy().into_owned());
                    if let Some(c) = &mut o.pending {
                        c.old = bytes;
                        c.identity = Some(identity);
                    }
                    o
                }
                Err(e) => Outcome {
                    path: display(p),
                    error: Some(FileError::io("io", e.to_string())),
                    ..Outcome::default()
                },
            };
            use std::os::unix::ffi::OsStrExt;
            let raw = p.as_os_str().as_bytes();
            if std::str::from_utf8(raw).is_err() {
                o.path_bytes = Some(raw.to_vec());
            }
            o
        }
    }
}

fn display(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The engine, then the diff and the write. `file` is None for stdin.
pub fn process_bytes(
    path: String,
    source: &[u8],
    file: Option<&PathBuf>,
    settings: &Settings,
) -> Outcome {
    // A file of a server never comes here: servers are units of their own
    // (units::process_server), so a file read alone is its own server.
    let result = engine::process(source, &settings.options);
    finish(path, source, file, result, settings)
}

/// What the engine made of one file, reported and diffed; with `--write`
/// the change is left pending for the unit's commit.
pub fn finish(
    path: String,
    source: &[u8],
    file: Option<&PathBuf>,
    result: engine::FileResult,
    settings: &Settings,
) -> Outcome {
    let mut o = Outcome {
        path,
        findings: result.findings,
        error: result.error.as_ref().map(FileError::from_engine),
        ..Outcome::default()
    };
    // Nothing that failed to parse, or whose fixes were discarded, is ever
    // fixed, even if the engine handed back bytes.
    let fixed = result
        .fixed
        .filter(|f| f.as_slice() != source && result.error.is_none());
    o.changed = fixed.is_some();
    let want_diff = settings.format.carries_diff() || settings.mode == Mode::DryRun;
    if let (Some(new), true) = (&fixed, want_diff) {
        o.diff = Some(diff::unified(&o.path, source, new, settings.color));
    }
    if let (Some(new), true) = (&fixed, settings.extras.show_fixes) {
        o.fix_notes = formats::fixes::describe(source, new);
    }
    if settings.mode == Mode::Write {
        match (file, &fixed) {
            // Committed by the run loop (crate::writing::units); `old` and
            // `identity` are filled in by the caller, which read the file.
            (Some(p), Some(new)) if settings.write.is_some() => {
                o.pending = Some(crate::writing::FileChange {
                    path: p.clone(),
                    old: Vec::new(),
                    new: new.clone(),
                    identity: None,
                });
            }
            // Standard input is a filter: out comes the fixed config, or the
            // input unchanged when there is nothing (or nothing safe) to fix.
            (None, _) if settings.format == Format::Text => {
                o.in_place = o.changed;
                o.stdout = Some(fixed.unwrap_or_else(|| source.to_vec()));
            }
            _ => {}
        }
    }
    o
}

#[cfg(test)]
mod tests {
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
