//! Running the units of a run: servers and standalone files, `jobs` at a
//! time, each reported in order as soon as every earlier one is; then the
//! summary and the exit status.

use super::*;

/// Processes `items`, each on its own, `jobs` at a time and reports each in
/// order. Returns the exit status.
pub fn process_all(
    items: &[Item],
    settings: &Settings,
    jobs: usize,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let run = Run {
        files: items.len() as u64,
        reads_stdin: items.contains(&Item::Stdin),
    };
    let steps = items.iter().cloned().map(Step::Item);
    process_units(steps, run, settings, jobs, out, err)
}

/// One step of a run, in output order.
#[derive(Debug)]
pub enum Step<'a> {
    /// Of a plan: a server or a standalone file.
    Unit(&'a units::Unit),
    /// Standalone: an explicit path, standard input or an error.
    Item(Item),
    /// A file a directory walk took, sniffed with its read.
    Walked(PathBuf),
    /// A walk's note (a file it skipped).
    Note(String),
}

/// What the steps of a run add up to, known before they are run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Files, for progress.
    pub files: u64,
    /// A step is standard input, read before the workers start.
    pub reads_stdin: bool,
}

/// What one step came to.
enum Done {
    Unit(usize, units::UnitResult),
    Note(String),
}

fn run_step(step: Step<'_>, stdin: Option<&io::Result<Vec<u8>>>, settings: &Settings) -> Done {
    let one = |o: Outcome| {
        Done::Unit(
            1,
            units::UnitResult {
                notes: Vec::new(),
                outcomes: vec![o],
            },
        )
    };
    match step {
        Step::Unit(u) => Done::Unit(u.file_count(), units::process_unit(u, stdin, settings)),
        Step::Item(i) => one(process_item(&i, stdin, settings)),
        Step::Walked(p) => match process_walked(p, settings) {
            Ok(o) => one(o),
            Err(note) => Done::Note(note),
        },
        Step::Note(n) => Done::Note(n),
    }
}

/// Processes `steps` (servers and standalone files) `jobs` at a time and
/// reports each in order. Returns the exit status.
pub fn process_units<'a>(
    steps: impl Iterator<Item = Step<'a>> + Send,
    run: Run,
    settings: &Settings,
    jobs: usize,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let pool = match super::ordered::pool(jobs) {
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
    let stdin_bytes = if run.reads_stdin {
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
    // What a file came to reads in order, on a terminal or in `2>&1 |
    // less`: its diff, then (on stderr) what the diff does not show. So
    // stdout is flushed before anything goes to stderr, and after every
    // file when a person watches it or a progress bar is drawn below it;
    // into a pipe or a file it is flushed only when its buffer fills.
    let watched = std::io::IsTerminal::is_terminal(&io::stdout());
    // Keep going after stdout closes (`| head`): files must still be
    // written and errors still reported.
    fn flush_out(stdout_ok: &mut bool, out: &mut dyn Write) {
        *stdout_ok = *stdout_ok && out.flush().is_ok();
    }
    let mut side = Vec::new();
    let mut report = |notes: &[String],
                      outcomes: Vec<Outcome>,
                      summary: &mut Summary,
                      eager: bool,
                      err: &mut dyn Write| {
        if !notes.is_empty() {
            flush_out(&mut stdout_ok, out);
            for n in notes {
                let _ = writeln!(err, "{n}");
            }
        }
        for o in &outcomes {
            summary.add(o);
            statistics.add(o);
            if stdout_ok {
                let r = match &mut machine {
                    Some(w) => w.file(out, o),
                    None => report_text(o, settings, out),
                };
                stdout_ok = r.is_ok();
            }
            side.clear();
            report_stderr(o, settings, &mut side);
            if eager || watched || !side.is_empty() {
                flush_out(&mut stdout_ok, out);
            }
            let _ = err.write_all(&side);
        }
    };
    let mut progress = progress::Progress::new(run.files, settings.quiet);
    super::ordered::for_each_in_order(
        &pool,
        steps,
        jobs.max(1) * WINDOW_PER_JOB,
        |step| run_step(step, stdin_bytes.as_ref(), settings),
        |done| {
            let (files, r) = match done {
                Done::Unit(files, r) => (files, r),
                Done::Note(n) => {
                    if !settings.quiet {
                        let eager = progress.shown();
                        progress.suspend(|| {
                            let notes = [format!("wsgifix: note: {n}")];
                            report(&notes, Vec::new(), &mut summary, eager, err);
                        });
                    }
                    return true;
                }
            };
            progress.advance(files as u64);
            // A write's own messages go to stderr as it commits.
            let eager = progress.shown() || queue.is_some();
            progress.suspend(|| {
                let mut outcomes = r.outcomes;
                if let Some(q) = &mut queue {
                    outcomes = q.take(outcomes, err);
                }
                report(&r.notes, outcomes, &mut summary, eager, err);
            });
            // A signal stops the run: nothing more is read or written.
            queue.as_ref().is_none_or(|q| q.interrupted.is_none())
        },
    );
    progress.finish();
    if let Some(q) = &mut queue {
        let rest = q.finish(err);
        report(&[], rest, &mut summary, false, err);
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

pub(super) fn exit_code(s: &Summary, mode: Mode) -> i32 {
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
                Some(Ok(bytes)) => {
                    process_bytes(path, std::sync::Arc::new(bytes.clone()), None, settings)
                }
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
            let read =
                crate::writing::read_config_in(p, settings.max_file_size, Some(&settings.dirs));
            process_read(p, read, settings)
        }
    }
}

/// Like [`process_item`] for a file a walk took, which is skipped, with
/// the note returned, when its bytes are no configuration.
pub fn process_walked(p: PathBuf, settings: &Settings) -> Result<Outcome, String> {
    let read = crate::writing::read_config_in(&p, settings.max_file_size, Some(&settings.dirs));
    let what = match &read {
        Ok((bytes, _)) => walk::sniff_head(bytes),
        // Binary or compressed, the file would not be reported as too large
        // or unreadable; only a second look can tell.
        Err(_) => walk::sniff(&p),
    };
    match what {
        Some(what) => Err(walk::skipped(&p, what)),
        None => Ok(process_read(&p, read, settings)),
    }
}

fn process_read(
    p: &PathBuf,
    read: Result<(Vec<u8>, crate::writing::FileIdentity), crate::writing::ReadError>,
    settings: &Settings,
) -> Outcome {
    let mut o = match read {
        Ok((bytes, identity)) => {
            // One copy of the file for the engine, its tree and the write's
            // check of what is replaced.
            let bytes = std::sync::Arc::new(bytes);
            let mut o = process_bytes(display(p), bytes.clone(), Some(p), settings);
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

pub(super) fn display(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The engine, then the diff and the write. `file` is None for stdin.
pub fn process_bytes(
    path: String,
    source: crate::syntax::SharedBytes,
    file: Option<&PathBuf>,
    settings: &Settings,
) -> Outcome {
    // A file of a server never comes here: servers are units of their own
    // (units::process_server), so a file read alone is its own server.
    let result = engine::process_shared(source.clone(), &settings.options, &Default::default());
    finish(path, &source, file, result, settings)
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
        match (file, fixed) {
            // Committed by the run loop (crate::writing::units); `old` and
            // `identity` are filled in by the caller, which read the file.
            // The fixed bytes move there: a copy would be a third file's
            // worth beside the source and the print.
            (Some(p), Some(new)) if settings.write.is_some() => {
                o.pending = Some(crate::writing::FileChange {
                    path: p.clone(),
                    old: Vec::new().into(),
                    new,
                    identity: None,
                });
            }
            // Standard input is a filter: out comes the fixed config, or the
            // input unchanged when there is nothing (or nothing safe) to fix.
            (None, fixed) if settings.format == Format::Text => {
                o.in_place = o.changed;
                // Printed is what a filter's write is: counted as fixed.
                o.written = o.changed;
                o.stdout = Some(fixed.unwrap_or_else(|| source.to_vec()));
            }
            _ => {}
        }
    }
    o
}
