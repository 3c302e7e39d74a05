//! Fault injection for tests, in debug builds only.
//!
//! `WSGIFIX_FAULT=point[,point...]` makes the named step fail with EIO
//! (`fsync-file`, `fsync-dir`, `checkpoint`) or take its fallback
//! (`no-tmpfile`: O_TMPFILE unsupported; `no-exchange`: RENAME_EXCHANGE
//! unsupported). `WSGIFIX_FAULT_SLEEP_MS=N` sleeps N ms before each file's
//! final check, to widen race windows in tests. Release builds compile the
//! hooks away, so production behaviour never depends on the environment.

use std::io;

pub const ENV: &str = "WSGIFIX_FAULT";

/// Is the fault `point` switched on?
pub fn on(point: &str) -> bool {
    if !cfg!(debug_assertions) {
        return false;
    }
    std::env::var(ENV).is_ok_and(|v| v.split(',').any(|p| p.trim() == point))
}

/// Fails with EIO when `point` is switched on.
pub fn check(point: &str) -> io::Result<()> {
    if on(point) {
        Err(io::Error::other(format!(
            "injected fault at {point} (Input/output error)"
        )))
    } else {
        Ok(())
    }
}

pub fn sleep() {
    if !cfg!(debug_assertions) {
        return;
    }
    if let Some(ms) = std::env::var("WSGIFIX_FAULT_SLEEP_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}
