//! Signals during `--write`.
//!
//! SIGTERM, SIGINT and SIGHUP (an SSH drop) outside a commit end the
//! process at once: nothing is half-done then (temps are unnamed, the lock
//! goes with the process). Inside a commit the handler only records the
//! signal; the commit finishes the file it is on (each file is old or new at
//! every moment anyway), restores the files of the unit it already wrote,
//! clears its journal, and the run exits with 128 + the signal. SIGXFSZ
//! (`ulimit -f`) is ignored, so an oversized write fails with EFBIG and is
//! reported like any other write error instead of killing the process.
//!
//! signal-hook installs the handlers (sigaction with SA_RESTART): its
//! `low_level::exit` is the async-signal-safe `_exit`, and a handler that
//! does nothing is how SIGXFSZ is ignored.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGXFSZ};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

static IN_COMMIT: AtomicUsize = AtomicUsize::new(0);
static PENDING: AtomicI32 = AtomicI32::new(0);

fn on_signal(sig: i32) {
    if IN_COMMIT.load(Ordering::SeqCst) == 0 {
        signal_hook::low_level::exit(128 + sig);
    }
    PENDING.store(sig, Ordering::SeqCst);
}

/// Installs the handlers; call once, early.
pub fn install() {
    for sig in [SIGTERM, SIGINT, SIGHUP] {
        // SAFETY: the handler only touches atomics and calls _exit, both
        // async-signal-safe.
        let _ = unsafe { signal_hook::low_level::register(sig, move || on_signal(sig)) };
    }
    // SAFETY: an empty handler is async-signal-safe.
    let _ = unsafe { signal_hook::low_level::register(SIGXFSZ, || {}) };
}

/// The signal received during a commit, if any.
pub fn pending() -> Option<i32> {
    match PENDING.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// While alive, signals are recorded instead of ending the process.
pub struct Critical(());

pub fn critical() -> Critical {
    IN_COMMIT.fetch_add(1, Ordering::SeqCst);
    Critical(())
}

impl Drop for Critical {
    fn drop(&mut self) {
        IN_COMMIT.fetch_sub(1, Ordering::SeqCst);
    }
}
