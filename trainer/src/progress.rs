//! Progress reporting: a rows/s bar on an interactive terminal, nothing in logs or pipes; stage
//! summaries go to stderr either way. [`Progress`] is where a command's progress goes;
//! [`ReadBar`] is ingest's spinner over the rows of the file being read.

use std::io::IsTerminal;
use std::path::Path;
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

/// Ingest's read bar: a rows/s spinner on stderr naming the file being read, shown only when
/// asked for ([`crate::ingest::IngestOptions::progress`]) and stderr is a terminal.
pub(crate) struct ReadBar(Option<ProgressBar>);

impl ReadBar {
    /// A spinner if `wanted` and stderr is a terminal, else nothing.
    pub(crate) fn new(wanted: bool) -> Self {
        if !wanted || !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {msg}: {human_pos} rows ({per_sec}, {elapsed})")
        {
            bar.set_style(style);
        }
        Self(Some(bar))
    }

    /// Start a file (the message names the kind and the file name, never its contents).
    pub(crate) fn start(&self, kind: &str, path: &Path) {
        if let Some(bar) = &self.0 {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            bar.set_message(format!("reading {kind} {name}"));
        }
    }

    /// Called for every row; redraws every 64Ki rows.
    #[inline]
    pub(crate) fn row(&self, rows_read: u64) {
        if rows_read & 0xFFFF == 0
            && let Some(bar) = &self.0
        {
            bar.inc(0x10000);
        }
    }

    /// Ingest is done: clear the spinner.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// CPU time (user + system) the whole process has used so far, in seconds, from
/// `/proc/self/stat`; `None` where that file does not exist. Used for per-core throughput figures,
/// which wall time overstates on a busy machine and understates for multi-threaded stages.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name (which may contain spaces); utime and stime are
    // fields 14 and 15 of the whole line, in clock ticks (100 per second on Linux).
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

#[cfg(test)]
mod tests {
    use super::process_cpu_seconds;

    #[test]
    fn cpu_seconds_grow_with_work() {
        // Work until the counter shows 20 ms of CPU: on a loaded machine the wall time this takes
        // is unknown, so the bound is generous and only catches a counter that never moves.
        let before = process_cpu_seconds().expect("linux /proc");
        let mut x = 0u64;
        let t = std::time::Instant::now();
        let mut after = before;
        while after < before + 0.02 && t.elapsed().as_secs() < 60 {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            }
            std::hint::black_box(x);
            after = process_cpu_seconds().expect("linux /proc");
        }
        assert!(
            after >= before + 0.02,
            "{before} → {after} in {:?}",
            t.elapsed()
        );
    }
}
