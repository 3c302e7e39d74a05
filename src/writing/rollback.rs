//! `wsgifix checkpoints` and `wsgifix rollback [ID]`.
//!
//! A rollback puts back every file of a checkpoint exactly: bytes, owner,
//! mode and xattrs, through the same held-directory replacement as a
//! write. Each file must hold what that run wrote (it is restored) or
//! already the original (nothing to do). A file changed since (edited, or
//! fixed by a later run) is named and nothing at all is restored: half a
//! rollback would leave a server mixed.

use std::io::Write;
use std::path::Path;

use super::checkpoint::{self, FileEntry, Stored};
use super::escape_path;
use super::read::read_config;
use super::replace::{prepare, swap, sync_dir, temp_name, write_temp};
use super::resolve::open_dir_nofollow;
use super::state::{self, sha256_hex, Journal};

/// Prints the checkpoints, oldest first. Returns the exit status.
pub fn list(state_dir: &Path, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let all = match checkpoint::list(state_dir) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(
                err,
                "wsgifix: cannot read checkpoints in {}: {e}",
                state_dir.display()
            );
            return 2;
        }
    };
    let r = if json {
        let items: Vec<serde_json::Value> = all
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.info.id,
                    "created": s.info.created,
                    "command_line": s.info.command_line,
                    "files": s.files().map(|f| f.real.to_string_lossy()).collect::<Vec<_>>(),
                    "rolled_back": s.rolled_back,
                })
            })
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({"schema_version": 2, "checkpoints": items})
        )
    } else {
        let mut r = Ok(());
        if all.is_empty() {
            let _ = writeln!(err, "wsgifix: no checkpoints in {}", state_dir.display());
        }
        for s in &all {
            let n = s.files().count();
            let status = if s.rolled_back { "  (rolled back)" } else { "" };
            r = r.and_then(|_| {
                writeln!(
                    out,
                    "{}  {}  {n} file{}  {}{status}",
                    s.info.id,
                    s.info.created,
                    if n == 1 { "" } else { "s" },
                    s.info.command_line.join(" ")
                )
            });
        }
        r
    };
    i32::from(r.is_err()) * 2
}

enum Plan<'a> {
    Restore(&'a FileEntry, Vec<u8>, super::FileIdentity),
    AlreadyOld,
}

/// Restores checkpoint `id` (default: the newest). Returns the exit status.
pub fn rollback(state_dir: &Path, id: Option<&str>, err: &mut dyn Write) -> i32 {
    let all = match checkpoint::list(state_dir) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(err, "wsgifix: cannot read checkpoints: {e}");
            return 2;
        }
    };
    let chosen: Option<&Stored> = match id {
        Some(id) => all.iter().find(|s| s.info.id == id),
        None => all.last(),
    };
    let Some(cp) = chosen else {
        let _ = match id {
            Some(id) => writeln!(
                err,
                "wsgifix: no checkpoint {id} in {}",
                state_dir.display()
            ),
            None => writeln!(err, "wsgifix: no checkpoints in {}", state_dir.display()),
        };
        return 2;
    };
    // Lock every unit's server, as a write would, in one order.
    let mut keys: Vec<_> = cp
        .units
        .iter()
        .map(|u| {
            u.main_config
                .as_ref()
                .map(|m| m.canonicalize().unwrap_or_else(|_| m.clone()))
                .unwrap_or_else(|| u.files[0].real.clone())
        })
        .collect();
    keys.sort();
    keys.dedup();
    let mut locks = Vec::new();
    for k in &keys {
        match state::lock(state_dir, k, err) {
            Ok(l) => locks.push(l),
            Err(e) => {
                let _ = writeln!(err, "wsgifix: cannot lock {}: {e}", k.display());
                return 2;
            }
        }
    }

    let mut plans = Vec::new();
    let mut refused = Vec::new();
    for f in cp.files() {
        match read_config(&f.real, super::DEFAULT_MAX_FILE_SIZE) {
            Ok((now, ident)) => {
                let h = sha256_hex(&now);
                if h == f.new_sha256 {
                    plans.push(Plan::Restore(f, now, ident));
                } else if h == f.old_sha256 {
                    plans.push(Plan::AlreadyOld);
                } else {
                    refused.push(format!(
                        "{} changed since checkpoint {}",
                        escape_path(&f.real),
                        cp.info.id
                    ));
                }
            }
            Err(e) => refused.push(format!("{}: {e}", escape_path(&f.real))),
        }
    }
    if !refused.is_empty() {
        for r in &refused {
            let _ = writeln!(err, "wsgifix: {r}; not rolled back");
        }
        let _ = writeln!(
            err,
            "wsgifix: rollback of {} refused: nothing was restored",
            cp.info.id
        );
        return 2;
    }
    let run = format!("rollback-{}", std::process::id());
    let mut journal = match Journal::create(state_dir, &run) {
        Ok(j) => j,
        Err(e) => {
            let _ = writeln!(err, "wsgifix: {e}");
            return 2;
        }
    };
    let _critical = super::signals::critical();
    let mut code = 0;
    let mut restored = 0;
    let todo: Vec<_> = plans
        .iter()
        .filter_map(|p| match p {
            Plan::Restore(f, now, ident) => Some((*f, now, ident)),
            Plan::AlreadyOld => None,
        })
        .collect();
    // In rounds, like a write: one journal sync and one syncfs per round.
    for (r, round) in todo.chunks(128).enumerate() {
        let mut staged = Vec::new();
        let mut entries = Vec::new();
        for (k, (f, now, ident)) in round.iter().enumerate() {
            let s = (|| -> Result<_, String> {
                let old = std::fs::read(cp.dir.join(&f.copy)).map_err(|e| e.to_string())?;
                if sha256_hex(&old) != f.old_sha256 {
                    return Err("the checkpoint's copy is damaged (hash mismatch)".into());
                }
                let parent = f.real.parent().ok_or("no parent directory")?;
                let name = f.real.file_name().ok_or("no file name")?.to_os_string();
                let dir = open_dir_nofollow(parent).map_err(|e| e.to_string())?;
                let prep = prepare(&dir, &name, ident, now).map_err(|e| e.to_string())?;
                Ok((dir, name, prep, old))
            })();
            match s {
                Ok(s) => {
                    let temp = temp_name(&run, r, k);
                    entries.push((s.0.path.clone(), temp.clone()));
                    staged.push((*f, *now, s, temp));
                }
                Err(e) => {
                    code = 2;
                    let _ = writeln!(err, "wsgifix: {}: {e}", escape_path(&f.real));
                }
            }
        }
        if let Err(e) = journal.record(&entries) {
            let _ = writeln!(err, "wsgifix: cannot write the journal: {e}");
            return 2;
        }
        let mut temps = Vec::new();
        for (f, _, (dir, _, prep, old), temp) in &staged {
            match write_temp(dir, prep, old, &f.meta, temp) {
                Ok(t) => temps.push(Some(t)),
                Err(e) => {
                    code = 2;
                    temps.push(None);
                    let _ = writeln!(err, "wsgifix: {}: {e}", escape_path(&f.real));
                }
            }
        }
        // One syncfs per filesystem for the round's temps.
        let mut devs = std::collections::BTreeMap::new();
        for t in temps.iter().flatten() {
            devs.entry(t.dev()).or_insert(t.fd());
        }
        let synced = devs.values().try_for_each(|fd| {
            super::fault::check("fsync-file")?;
            rustix::fs::syncfs(fd).map_err(std::io::Error::from)
        });
        if let Err(e) = synced {
            let _ = writeln!(
                err,
                "wsgifix: cannot sync the restored files: {e}; nothing more restored"
            );
            return 2;
        }
        let mut dirs = std::collections::BTreeMap::new();
        for ((f, now, (dir, name, prep, _), _), t) in staged.iter().zip(temps) {
            let Some(t) = t else { continue };
            match swap(dir, name, prep, now, t) {
                Ok(_) => {
                    restored += 1;
                    dirs.entry(dir.path.clone()).or_insert(dir);
                    let _ = writeln!(err, "restored {}", escape_path(&f.real));
                }
                Err(e) => {
                    code = 2;
                    let _ = writeln!(err, "wsgifix: {}: {e}", escape_path(&f.real));
                }
            }
        }
        for (path, dir) in dirs {
            if let Err(e) = sync_dir(dir) {
                code = 2;
                let _ = writeln!(
                    err,
                    "wsgifix: restored in {}, but not durable: {e}",
                    escape_path(&path)
                );
            }
        }
    }
    let _ = journal.clear();
    if code == 0 {
        let _ = checkpoint::mark_rolled_back(cp);
    }
    let _ = writeln!(
        err,
        "wsgifix: rollback of {}: {restored} file{} restored",
        cp.info.id,
        if restored == 1 { "" } else { "s" }
    );
    code
}
