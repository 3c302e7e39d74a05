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
//! `sigaction` is not in rustix's safe API, so this one module uses libc.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

static IN_COMMIT: AtomicUsize = AtomicUsize::new(0);
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    if IN_COMMIT.load(Ordering::SeqCst) == 0 {
        // Async-signal-safe: _exit only.
        unsafe { libc::_exit(128 + sig) };
    }
    PENDING.store(sig, Ordering::SeqCst);
}

/// Installs the handlers; call once, early.
pub fn install() {
    // SAFETY: the handler only touches atomics and calls _exit, both
    // async-signal-safe; sigaction is given a zeroed, filled-in struct.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
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
