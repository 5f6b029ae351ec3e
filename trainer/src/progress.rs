//! Progress reporting: a rows/s bar on an interactive terminal, nothing in logs or pipes; stage
//! summaries go to stderr either way.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// Where progress goes.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    bars: bool,
    quiet: bool,
}

impl Progress {
    /// Bars only when stderr is a terminal; summaries unless `quiet`.
    pub fn new(quiet: bool) -> Self {
        Self {
            bars: !quiet && std::io::stderr().is_terminal(),
            quiet,
        }
    }

    /// No output at all (tests, library use).
    pub fn silent() -> Self {
        Self {
            bars: false,
            quiet: true,
        }
    }

    /// Whether bars are drawn.
    pub fn bars(&self) -> bool {
        self.bars
    }

    /// A bar over `total` rows (hidden when not on a terminal).
    pub fn bar(&self, label: &str, total: u64) -> ProgressBar {
        if !self.bars {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template(
            "{prefix:>8} [{bar:30}] {human_pos}/{human_len} rows {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        bar.set_prefix(label.to_owned());
        bar
    }

    /// Print a one-line stage summary to stderr.
    pub fn say(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// Start timing a stage.
    pub fn timer(&self) -> Instant {
        Instant::now()
    }
}
