//! Progress of long work: a bar with ETA when stderr is a terminal, a log line every few seconds
//! otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a plain progress line is logged when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    state: Mutex<(u64, Instant)>,
    started: Instant,
}

impl Progress {
    /// No output at all (short jobs).
    pub fn hidden() -> Self {
        Self { bar: None, total: 0, state: Mutex::new((0, Instant::now())), started: Instant::now() }
    }

    /// Progress over `total` units.
    pub fn new(total: u64, label: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let style =
                ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} units, {elapsed} elapsed, ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(label.to_string());
            bar
        });
        Self { bar, total, state: Mutex::new((0, Instant::now())), started: Instant::now() }
    }

    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            return;
        }
        if self.total == 0 {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.0 += 1;
        let done = state.0;
        if state.1.elapsed() >= LOG_EVERY || done == self.total {
            state.1 = Instant::now();
            let elapsed = self.started.elapsed().as_secs_f64();
            let eta = if done > 0 { elapsed / done as f64 * (self.total - done) as f64 } else { 0.0 };
            tracing::info!(
                units.done = done,
                units.total = self.total,
                eta_s = eta.round() as u64,
                "progress: {done}/{} units, about {:.0}s left",
                self.total,
                eta
            );
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
