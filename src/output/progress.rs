//! A progress bar on stderr for long runs over fleets: only on a terminal,
//! never with `-q`, and only once a run has taken about a second, so that
//! the usual quick run prints exactly what it always did.
//!
//! indicatif draws it; whatever the run prints meanwhile goes through
//! [`Progress::suspend`], which clears the bar, prints, and draws it again,
//! so diffs and findings are never torn by it.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run goes before the bar appears; tests set it to 0 with
/// `WSGIFIX_PROGRESS_AFTER_MS`, so that no test depends on timing.
const SHOW_AFTER: Duration = Duration::from_millis(1000);

pub struct Progress {
    bar: Option<ProgressBar>,
    shown: bool,
    start: Instant,
    after: Duration,
}

impl Progress {
    /// A bar over `total` files; `quiet` (or no terminal on stderr, or a
    /// dumb one) makes it a no-op.
    pub fn new(total: u64, quiet: bool) -> Progress {
        let terminal =
            std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        let after = std::env::var("WSGIFIX_PROGRESS_AFTER_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(SHOW_AFTER, Duration::from_millis);
        let bar = (terminal && !quiet && total > 1).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
            let style = ProgressStyle::with_template("{bar:30} {pos}/{len} files {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress {
            bar,
            shown: false,
            start: Instant::now(),
            after,
        }
    }

    /// `n` more files done.
    pub fn advance(&mut self, n: u64) {
        let Some(bar) = &self.bar else {
            return;
        };
        bar.inc(n);
        if !self.shown && self.start.elapsed() >= self.after {
            self.shown = true;
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.tick();
        }
    }

    /// Runs `f` (which prints) with the bar out of the way.
    /// The bar is drawn (so stdout must not be left half-written under it).
    pub fn shown(&self) -> bool {
        self.bar.is_some() && self.shown
    }

    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) if self.shown => bar.suspend(f),
            _ => f(),
        }
    }

    /// Removes the bar before the summary.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
