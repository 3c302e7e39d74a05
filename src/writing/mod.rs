//! Safe writes as root (SPEC.md §5, issue 7): per-server transactions
//! through held directory handles, checkpoints, configtest, rollback.
//!
//! [`commit`] writes the changed files of one *unit* (a server: a main config
//! and the files it includes; or a standalone file) as one transaction:
//!
//! 1. lock the unit (flock in the state dir; concurrent runs serialize);
//! 2. check every file through its held directory ([`replace::prepare`]):
//!    any file that cannot be written stops the whole unit before a byte
//!    is written;
//! 3. checkpoint the originals ([`checkpoint`]), durably;
//! 4. journal the temp names, then replace each file ([`replace`]);
//! 5. configtest ([`verify`]); on failure restore every file of the unit.
//!
//! A failure or a signal half-way restores the files already written, so a
//! server is never left with some files fixed and others not.

pub mod checkpoint;
pub mod fault;
pub mod meta;
pub mod read;
pub mod replace;
pub mod resolve;
pub mod rollback;
mod rounds;
pub mod signals;
pub mod state;
pub mod units;
pub mod verify;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use read::{read_config, read_config_in, FileIdentity, ReadError, DEFAULT_MAX_FILE_SIZE};
pub use replace::WriteError;
pub use resolve::DirCache;
pub use state::DEFAULT_STATE_DIR;
pub use verify::{VerifyMode, VerifyReport};

use checkpoint::{Checkpoint, Original};
use meta::Meta;
use replace::{prepare, replace, swap, sync_dir, temp_name, write_temp, Prepared, Temp};
use resolve::{open_dir_nofollow, HeldDir};
use rounds::{restore, stage, write_rounds, Staged};
use state::Journal;

/// Every temp name starts so (a dotfile: httpd's wildcard Includes skip it)
/// and never ends in `.conf`.
pub const TEMP_PREFIX: &str = ".wsgifix-";
pub const TEMP_SUFFIX: &str = ".tmp";

/// One file to replace.
#[derive(Debug, Clone)]
pub struct FileChange {
    /// As the user sees it.
    pub path: PathBuf,
    pub old: crate::syntax::SharedBytes,
    pub new: Vec<u8>,
    /// From [`read_config`]; checked before the file is replaced.
    pub identity: Option<FileIdentity>,
}

/// The changed files of one server (or one standalone file).
#[derive(Debug, Clone, Default)]
pub struct WriteUnit {
    pub main_config: Option<PathBuf>,
    pub changes: Vec<FileChange>,
}

/// What one run writes with. One checkpoint and one journal per run, made
/// on the first unit that writes.
#[derive(Debug)]
pub struct WriteOptions {
    pub state_dir: PathBuf,
    pub verify: VerifyMode,
    pub root: Option<PathBuf>,
    pub command_line: Vec<String>,
    session: Mutex<Session>,
}

#[derive(Debug)]
struct Session {
    run: String,
    journal: Option<Journal>,
    checkpoint: Option<Checkpoint>,
    units: usize,
}

impl WriteOptions {
    pub fn new(
        state_dir: PathBuf,
        verify: VerifyMode,
        root: Option<PathBuf>,
        command_line: Vec<String>,
    ) -> WriteOptions {
        WriteOptions {
            state_dir,
            verify,
            root,
            command_line,
            session: Mutex::new(Session {
                run: run_id(),
                journal: None,
                checkpoint: None,
                units: 0,
            }),
        }
    }

    /// The checkpoint this run made, if it wrote anything.
    pub fn checkpoint_id(&self) -> Option<String> {
        let s = self.session.lock().unwrap_or_else(|p| p.into_inner());
        s.checkpoint.as_ref().map(|c| c.id.clone())
    }
}

fn run_id() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let (stamp, _) = checkpoint::utc_stamp();
    match N.fetch_add(1, Ordering::SeqCst) {
        0 => format!("{stamp}-{}", std::process::id()),
        n => format!("{stamp}-{}.{n}", std::process::id()),
    }
}

/// What happened to one file of a unit.
#[derive(Debug)]
pub struct FileReport {
    pub path: PathBuf,
    pub real: Option<PathBuf>,
    /// The new bytes are in place.
    pub written: bool,
    pub error: Option<WriteError>,
}

#[derive(Debug, Default)]
pub struct CommitReport {
    /// In the order of the unit's changes.
    pub files: Vec<FileReport>,
    pub checkpoint: Option<String>,
    pub verify: Option<VerifyReport>,
    /// The signal that stopped the commit (the run should exit 128 + it).
    pub interrupted: Option<i32>,
    /// Things to say on stderr (leftovers, waits, restores).
    pub notes: Vec<String>,
}

/// `path` for a terminal: control characters escaped, bytes that are not
/// UTF-8 as `\xNN`.
pub fn escape_path(p: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    escape_bytes(p.as_os_str().as_bytes())
}

pub fn escape_bytes(b: &[u8]) -> String {
    // Printable ASCII, nearly every path and line, escapes to itself; the
    // char-by-char walk below was 2.5% of a fleet run.
    if b.iter().all(|c| matches!(c, b' '..=b'~')) {
        // ASCII is UTF-8: one copy, not a char at a time.
        if let Ok(text) = std::str::from_utf8(b) {
            return text.to_owned();
        }
    }
    escape_each_char(b)
}

fn escape_each_char(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}

/// Writes `unit` as one transaction; see the module docs.
pub fn commit(unit: WriteUnit, opts: &WriteOptions) -> CommitReport {
    let WriteUnit {
        main_config,
        changes,
    } = unit;
    commit_files(main_config, changes, opts, false)
}

/// Writes standalone files, each its own transaction (one file failing
/// stops no other), sharing one checkpoint unit and one journal entry.
pub fn commit_standalone(changes: Vec<FileChange>, opts: &WriteOptions) -> CommitReport {
    commit_files(None, changes, opts, true)
}

fn commit_files(
    main_config: Option<PathBuf>,
    changes: Vec<FileChange>,
    opts: &WriteOptions,
    independent: bool,
) -> CommitReport {
    let unit = WriteUnit {
        main_config,
        changes,
    };
    let mut rep = CommitReport {
        files: unit
            .changes
            .iter()
            .map(|c| FileReport {
                path: c.path.clone(),
                real: c.identity.as_ref().map(|i| i.real.clone()),
                written: false,
                error: None,
            })
            .collect(),
        ..CommitReport::default()
    };
    if unit.changes.is_empty() {
        return rep;
    }
    let _critical = signals::critical();
    let mut keys: Vec<PathBuf> = match &unit.main_config {
        Some(m) => vec![m.canonicalize().unwrap_or_else(|_| m.clone())],
        None => unit
            .changes
            .iter()
            .map(|c| {
                c.identity
                    .as_ref()
                    .map_or(c.path.clone(), |i| i.real.clone())
            })
            .collect(),
    };
    keys.sort();
    keys.dedup();
    let mut waits = Vec::new();
    let mut locks = Vec::new();
    for k in &keys {
        match state::lock(&opts.state_dir, k, &mut waits) {
            Ok(l) => locks.push(l),
            Err(e) => {
                fail_all(&mut rep, &format!("not written: cannot lock: {e}"));
                return rep;
            }
        }
    }
    rep.notes
        .extend(String::from_utf8_lossy(&waits).lines().map(String::from));

    // 2. Check everything before writing anything.
    let mut staged = Vec::new();
    let mut blocked = None;
    for (i, c) in unit.changes.iter().enumerate() {
        match stage(c) {
            Ok(Some(s)) => staged.push((i, s)),
            Ok(None) => {
                rep.notes.push(format!(
                    "{}: already holds the fixed content (written by a concurrent run)",
                    escape_path(&c.path)
                ));
            }
            Err(e) => {
                blocked.get_or_insert_with(|| escape_path(&c.path));
                rep.files[i].error = Some(e);
            }
        }
    }
    if let (Some(first), false) = (blocked, independent) {
        for f in rep.files.iter_mut().filter(|f| f.error.is_none()) {
            f.error = Some(WriteError::Transaction(format!(
                "not written: {first}, another file of this server, cannot be written, and a server is written whole or not at all"
            )));
        }
        return rep;
    }
    if staged.is_empty() {
        return rep;
    }

    // 3-4. Checkpoint, journal.
    let mut session = opts.session.lock().unwrap_or_else(|p| p.into_inner());
    let unit_no = session.units;
    session.units += 1;
    let temps: Vec<(OsString, OsString)> = (0..staged.len())
        .map(|n| {
            (
                temp_name(&session.run, unit_no, n),
                temp_name(&session.run, unit_no, n + staged.len()),
            )
        })
        .collect();
    if let Err(e) = begin(&mut session, opts, &unit, &staged, &temps) {
        for (i, _) in &staged {
            rep.files[*i].error = Some(WriteError::Transaction(format!("not written: {e}")));
        }
        return rep;
    }
    rep.checkpoint = session.checkpoint.as_ref().map(|c| c.id.clone());

    let (done, failed) = write_rounds(&mut rep, &staged, &temps, independent);
    let interrupted = rep.interrupted.or_else(signals::pending);
    if let (Some(first), false) = (failed, independent) {
        let why = format!("{first}, another file of this server, could not be written");
        restore(&mut rep, &staged, &done, &temps, &why);
    } else if let (Some(sig), false) = (interrupted, independent) {
        rep.interrupted = Some(sig);
        restore(
            &mut rep,
            &staged,
            &done,
            &temps,
            &format!("signal {sig} received"),
        );
    } else if interrupted.is_some() {
        // Standalone files written so far are whole transactions: kept.
        rep.interrupted = interrupted;
    } else {
        verify_unit(&mut rep, opts, &unit, &staged, &done, &temps);
    }
    if let Some(j) = session.journal.as_mut() {
        let _ = j.clear();
    }
    drop(locks);
    rep
}

fn fail_all(rep: &mut CommitReport, msg: &str) {
    for f in rep.files.iter_mut().filter(|f| f.error.is_none()) {
        f.error = Some(WriteError::Transaction(msg.to_string()));
    }
}

fn begin(
    session: &mut Session,
    opts: &WriteOptions,
    unit: &WriteUnit,
    staged: &[(usize, Staged)],
    temps: &[(OsString, OsString)],
) -> std::io::Result<()> {
    if session.checkpoint.is_none() {
        state::ensure_dir(&opts.state_dir)?;
        session.checkpoint = Some(Checkpoint::create(
            &opts.state_dir,
            &session.run,
            &opts.command_line,
        )?);
    }
    if session.journal.is_none() {
        session.journal = Some(Journal::create(&opts.state_dir, &session.run)?);
    }
    let originals: Vec<Original> = staged
        .iter()
        .map(|(_, s)| Original {
            path: &s.change.path,
            real: &s.prep.real,
            meta: &s.prep.meta,
            old: &s.change.old,
            new: &s.change.new,
        })
        .collect();
    let cp = session.checkpoint.as_mut().expect("created above");
    cp.add_unit(unit.main_config.as_deref(), &originals)
        .map_err(|e| std::io::Error::other(format!("cannot make the checkpoint: {e}")))?;
    let entries: Vec<(PathBuf, OsString)> = staged
        .iter()
        .zip(temps)
        .flat_map(|((_, s), (a, b))| {
            [
                (s.dir.path.clone(), a.clone()),
                (s.dir.path.clone(), b.clone()),
            ]
        })
        .collect();
    session
        .journal
        .as_mut()
        .expect("created above")
        .record(&entries)
}

fn verify_unit(
    rep: &mut CommitReport,
    opts: &WriteOptions,
    unit: &WriteUnit,
    staged: &[(usize, Staged)],
    done: &[(usize, FileIdentity)],
    temps: &[(OsString, OsString)],
) {
    let live = unit.main_config.is_some() && opts.root.is_none();
    let wanted = match &opts.verify {
        VerifyMode::Off => false,
        VerifyMode::Auto => live,
        VerifyMode::On | VerifyMode::Cmd(_) => true,
    };
    if !wanted || done.is_empty() {
        return;
    }
    let mut test = match verify::test_for(&opts.verify, unit.main_config.as_deref()) {
        Ok(t) => t,
        Err(why) => {
            rep.verify = Some(VerifyReport {
                command: String::new(),
                result: "skipped",
                message: why,
            });
            return;
        }
    };
    match test.run() {
        Ok(msg) => {
            rep.verify = Some(VerifyReport {
                command: test.display.clone(),
                result: "passed",
                message: msg,
            })
        }
        Err(msg) => {
            restore(
                rep,
                staged,
                done,
                temps,
                "the configtest failed after the write",
            );
            // The restored server, tested again, tells whether it failed
            // before the write too.
            let before = match test.run() {
                Ok(_) => "it passes on the restored files",
                Err(_) => "it fails on the restored files too: either the server was already broken, or it is started another way than this command (mod_wsgi-express's apachectl sets -D options and environment variables): give the command it is checked with as --verify-cmd; for a tree that is not a live server use --no-verify or --root",
            };
            rep.notes.push(format!(
                "configtest `{}` failed after the write; every file of the server was restored ({before}). Apache said:\n{msg}",
                test.display
            ));
            rep.verify = Some(VerifyReport {
                command: test.display.clone(),
                result: "failed",
                message: msg,
            });
        }
    }
}

/// Says on `err` what a commit wants said.
pub fn print_notes(rep: &CommitReport, err: &mut dyn Write) {
    for n in &rep.notes {
        let _ = writeln!(err, "wsgifix: {n}");
    }
}

#[cfg(test)]
mod escape_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_ascii_shortcut_escapes_as_the_char_walk_does(
            b in proptest::collection::vec(prop_oneof![0x1fu8..=0x7f, any::<u8>()], 0..40)
        ) {
            prop_assert_eq!(escape_bytes(&b), escape_each_char(&b));
        }
    }
}
