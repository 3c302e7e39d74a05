//! Replacing a unit's files: each file checked through its held directory
//! and staged, the temps written and swapped in rounds, and the originals put
//! back when the transaction fails.

use super::*;

/// A file checked and ready to replace, through its held directory.
pub(super) struct Staged<'a> {
    pub(super) change: &'a FileChange,
    pub(super) dir: HeldDir,
    pub(super) name: OsString,
    pub(super) prep: Prepared,
}

/// Files written per round: their temps are made durable with one
/// `syncfs` instead of one fsync each, and each directory is fsynced once
/// per round. Bounded so the open temps stay far below the fd limit.
pub(super) const ROUND: usize = 128;

/// Writes the staged files in rounds of [`ROUND`]. Returns the files
/// written (index into `staged`, the new file's identity) and, when a
/// failure stops a transaction, the file that failed.
pub(super) fn write_rounds(
    rep: &mut CommitReport,
    staged: &[(usize, Staged)],
    temps: &[(OsString, OsString)],
    independent: bool,
) -> (Vec<(usize, FileIdentity)>, Option<String>) {
    use std::collections::BTreeMap;
    let mut done = Vec::new();
    for (r, round) in staged.chunks(ROUND).enumerate() {
        if let Some(sig) = signals::pending() {
            rep.interrupted = Some(sig);
            break;
        }
        let base = r * ROUND;
        let mut written: Vec<(usize, Temp)> = Vec::new();
        let mut failed = None;
        for (k, (i, s)) in round.iter().enumerate() {
            match write_temp(
                &s.dir,
                &s.prep,
                &s.change.new,
                &s.prep.meta,
                &temps[base + k].0,
            ) {
                Ok(t) => written.push((base + k, t)),
                Err(e) => {
                    failed.get_or_insert_with(|| escape_path(&s.change.path));
                    rep.files[*i].error = Some(e);
                    if !independent {
                        break;
                    }
                }
            }
        }
        // One syncfs per filesystem makes every temp of the round durable.
        let mut devs: BTreeMap<u64, &std::os::fd::OwnedFd> = BTreeMap::new();
        for (_, t) in &written {
            devs.entry(t.dev()).or_insert(t.fd());
        }
        let synced = devs.values().try_for_each(|fd| {
            fault::check("fsync-file")?;
            rustix::fs::syncfs(fd).map_err(std::io::Error::from)
        });
        if let Err(e) = synced {
            for (n, _) in &written {
                let (i, s) = &staged[*n];
                failed.get_or_insert_with(|| escape_path(&s.change.path));
                rep.files[*i].error = Some(WriteError::io(
                    &s.prep.real,
                    std::io::Error::new(e.kind(), e.to_string()),
                ));
            }
            for (n, t) in written {
                t.discard(&staged[n].1.dir);
            }
            if independent {
                continue;
            }
            return (done, failed);
        }
        if failed.is_some() && !independent {
            for (n, t) in written {
                t.discard(&staged[n].1.dir);
            }
            return (done, failed);
        }
        let mut dirs: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
        let mut rest = written.into_iter();
        for (n, t) in rest.by_ref() {
            let (i, s) = &staged[n];
            match swap(&s.dir, &s.name, &s.prep, &s.change.old, t) {
                Ok(id) => {
                    rep.files[*i].written = true;
                    dirs.entry(s.dir.path.clone()).or_default().push(n);
                    done.push((n, id));
                }
                Err(e) => {
                    failed.get_or_insert_with(|| escape_path(&s.change.path));
                    rep.files[*i].error = Some(e);
                    if !independent {
                        break;
                    }
                }
            }
            if signals::pending().is_some() && !independent {
                break;
            }
        }
        for (n, t) in rest {
            t.discard(&staged[n].1.dir);
        }
        for ns in dirs.values() {
            let dir = &staged[ns[0]].1.dir;
            if let Err(e) = sync_dir(dir) {
                for n in ns {
                    let (i, s) = &staged[*n];
                    rep.files[*i].error = Some(WriteError::NotDurable {
                        path: s.prep.real.clone(),
                        error: std::io::Error::new(e.kind(), e.to_string()),
                    });
                }
            }
        }
        if failed.is_some() && !independent {
            return (done, failed);
        }
    }
    (done, None)
}

/// Opens and checks one file. `Ok(None)`: it already holds the new bytes
/// (a concurrent run fixed it from the same content), nothing to do.
pub(super) fn stage(c: &FileChange) -> Result<Option<Staged<'_>>, WriteError> {
    let id = c.identity.as_ref().ok_or_else(|| {
        WriteError::io(
            &c.path,
            std::io::Error::other("no identity from read_config"),
        )
    })?;
    let (parent, name) = match (id.real.parent(), id.real.file_name()) {
        (Some(p), Some(n)) => (p, n.to_os_string()),
        _ => {
            return Err(WriteError::io(
                &id.real,
                std::io::Error::other("not a file path"),
            ))
        }
    };
    let dir = open_dir_nofollow(parent).map_err(|e| WriteError::io(&id.real, e))?;
    match prepare(&dir, &name, id, &c.old) {
        Ok(prep) => Ok(Some(Staged {
            change: c,
            dir,
            name,
            prep,
        })),
        Err(WriteError::ChangedOnDisk(p)) => {
            let now = read::read_config(&id.real, c.new.len() as u64 + 1);
            match now {
                Ok((bytes, _)) if bytes == c.new => Ok(None),
                _ => Err(WriteError::ChangedOnDisk(p)),
            }
        }
        Err(e) => Err(e),
    }
}

/// Puts back the originals of the files in `done`.
pub(super) fn restore(
    rep: &mut CommitReport,
    staged: &[(usize, Staged)],
    done: &[(usize, FileIdentity)],
    temps: &[(OsString, OsString)],
    why: &str,
) {
    for (n, written_id) in done.iter().rev() {
        let (i, s) = &staged[*n];
        let c = s.change;
        let r = prepare(&s.dir, &s.name, written_id, &c.new).and_then(|prep| {
            let m: &Meta = &s.prep.meta;
            replace(&s.dir, &s.name, &prep, &c.new, &c.old, m, &temps[*n].1)
        });
        match r {
            Ok(_) => {
                rep.files[*i].written = false;
                rep.files[*i].error = Some(WriteError::Transaction(format!(
                    "not written: restored to its original content because {why}"
                )));
            }
            Err(e) => {
                rep.files[*i].error = Some(WriteError::Transaction(format!(
                    "written, and could NOT be restored after {why}: {e}; `wsgifix rollback` restores the checkpoint"
                )));
            }
        }
    }
}
