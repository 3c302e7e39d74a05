//! The run loop's side of `--write`: outcomes that carry a pending change
//! are grouped into units and committed.
//!
//! A file of a server (per `units`, file → main config) waits until the end
//! of the run, when every file of its server has been processed, and the
//! server is committed as one transaction; its outcomes are reported then.
//! Any other file is a unit of its own, committed at once.

use crate::collections::HashMap;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crate::output::report::{FileError, Outcome, RunWrites};

use super::{commit, commit_standalone, print_notes, CommitReport, WriteOptions, WriteUnit};

/// Each server file's main config, by real path: the unit a file is
/// committed with.
pub type CommitUnits = HashMap<PathBuf, PathBuf>;

pub struct Queue {
    opts: Arc<WriteOptions>,
    units: Arc<CommitUnits>,
    deferred: BTreeMap<PathBuf, Vec<Outcome>>,
    pub writes: RunWrites,
    /// The signal that stopped a commit: the run exits 128 + it.
    pub interrupted: Option<i32>,
}

impl Queue {
    pub fn new(opts: Arc<WriteOptions>, units: Arc<CommitUnits>) -> Queue {
        Queue {
            opts,
            units,
            deferred: BTreeMap::new(),
            writes: RunWrites::default(),
            interrupted: None,
        }
    }

    fn unit_of(&self, o: &Outcome) -> Option<PathBuf> {
        let real = match &o.pending {
            Some(p) => p.identity.as_ref()?.real.clone(),
            None => PathBuf::from(o.real_path.as_ref()?),
        };
        self.units.get(&real).cloned()
    }

    /// Takes a batch's outcomes; returns those ready to report, in order.
    /// The batch's standalone files are committed together (each still its
    /// own transaction), sharing the checkpoint's and journal's syncs.
    pub fn take(&mut self, batch: Vec<Outcome>, err: &mut dyn Write) -> Vec<Outcome> {
        let mut ready = Vec::new();
        let mut standalone = Vec::new();
        // A server's fix may change one file for a finding reported in
        // another (WSGI005: certbot's copy goes, the original stays); so
        // when a server has anything to write, all of its files wait for
        // its commit, which decides whether their findings were fixed.
        let writing: std::collections::BTreeSet<PathBuf> = batch
            .iter()
            .filter(|o| o.pending.is_some())
            .filter_map(|o| self.unit_of(o))
            .collect();
        for o in batch {
            if let Some(main) = self.unit_of(&o).filter(|m| writing.contains(m)) {
                self.deferred.entry(main).or_default().push(o);
                continue;
            }
            if o.pending.is_some() {
                standalone.push(ready.len());
            }
            ready.push(o);
        }
        if standalone.is_empty() {
            return ready;
        }
        let changes = standalone
            .iter()
            .filter_map(|&k| ready[k].pending.take())
            .collect();
        let rep = self.commit(None, changes, err);
        let mut files = rep.files.into_iter();
        for &k in &standalone {
            let f = files.next();
            self.apply(&mut ready[k], f);
        }
        ready
    }

    /// Commits the servers; returns their outcomes.
    pub fn finish(&mut self, err: &mut dyn Write) -> Vec<Outcome> {
        let mut ready = Vec::new();
        for (main, mut outs) in std::mem::take(&mut self.deferred) {
            let had_change: Vec<bool> = outs.iter().map(|o| o.pending.is_some()).collect();
            let changes = outs.iter_mut().filter_map(|o| o.pending.take()).collect();
            let rep = self.commit(Some(main), changes, err);
            let committed = rep.files.iter().all(|f| f.error.is_none());
            let mut files = rep.files.into_iter();
            for (o, changed) in outs.iter_mut().zip(had_change) {
                if changed {
                    self.apply(o, files.next());
                } else {
                    // Unchanged itself, fixed by what its server wrote.
                    o.in_place = committed && o.error.is_none();
                }
            }
            ready.extend(outs);
        }
        ready
    }

    fn commit(
        &mut self,
        main: Option<PathBuf>,
        changes: Vec<super::FileChange>,
        err: &mut dyn Write,
    ) -> CommitReport {
        let mut rep = if self.interrupted.is_some() {
            // After a signal nothing more is written.
            CommitReport {
                files: changes
                    .iter()
                    .map(|c| super::FileReport {
                        path: c.path.clone(),
                        real: c.identity.as_ref().map(|i| i.real.clone()),
                        written: false,
                        error: Some(super::WriteError::Transaction(
                            "not written: the run was interrupted by a signal".into(),
                        )),
                    })
                    .collect(),
                ..CommitReport::default()
            }
        } else if main.is_none() {
            commit_standalone(changes, &self.opts)
        } else {
            commit(
                WriteUnit {
                    main_config: main,
                    changes,
                },
                &self.opts,
            )
        };
        print_notes(&rep, err);
        if rep.checkpoint.is_some() {
            self.writes.checkpoint = rep.checkpoint.take();
        }
        // The first failure is the one to see; else the last test run.
        if let Some(v) = rep.verify.take() {
            let failed_before = self
                .writes
                .verify
                .as_ref()
                .is_some_and(|x| x.result == "failed");
            if !failed_before {
                self.writes.verify = Some(v);
            }
        }
        self.interrupted = self.interrupted.or(rep.interrupted);
        rep
    }

    fn apply(&mut self, o: &mut Outcome, f: Option<super::FileReport>) {
        let Some(f) = f else {
            return;
        };
        o.real_path = f.real.as_ref().map(|r| r.to_string_lossy().into_owned());
        o.written = f.written;
        if f.written {
            if let Some(r) = &o.real_path {
                self.writes.written.push(r.clone());
            }
        }
        o.in_place = f.written || (f.error.is_none() && o.changed);
        if let Some(e) = f.error {
            o.error = Some(FileError::io(e.kind(), e.to_string()));
        }
    }
}
