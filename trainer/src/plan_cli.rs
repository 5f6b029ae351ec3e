//! The binary's `plan` subcommand: its flags, and turning them into a
//! [`plan::PlanFilesRequest`] and the summary it prints; and `backtest --capacity`, the
//! backtest of planning under capacity.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use anyhow::{Context, Result};
use contactscore_trainer::config::Settings;
use contactscore_trainer::progress::Progress;
use contactscore_trainer::threads::Threads;
use contactscore_trainer::{backtest, plan};

/// Flags of `contactscore-trainer plan`.
#[derive(clap::Args)]
pub struct PlanArgs {
    /// Models directory.
    #[arg(long)]
    models_dir: PathBuf,
    /// Version (default: CURRENT).
    #[arg(long)]
    version: Option<String>,
    /// The list: the contacts file's columns (person_id, contact, channels, timezone), one
    /// or more rows per person; a person without a contact is planned over the contact
    /// points the state knows.
    #[arg(long)]
    list: PathBuf,
    /// Capacity: slot_start, attempts[, channel] (a line with a channel is its own
    /// capacity, one without is shared); a slot not listed has none. Omitted: unlimited.
    #[arg(long)]
    capacity: Option<PathBuf>,
    /// Start of the window (RFC 3339); slots are the whole UTC hours inside it.
    #[arg(long)]
    window_start: String,
    /// End of the window (RFC 3339).
    #[arg(long)]
    window_end: String,
    /// Attempts per person; a later one is for the case the earlier ones did not engage.
    #[arg(long, default_value_t = 1)]
    attempts_per_person: u32,
    /// Contact policy file (TOML, like examples/policy.toml); default: the default policy.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Output CSV.
    #[arg(long)]
    out: PathBuf,
    /// Also write the persons left unplanned and why (person_id, reason).
    #[arg(long)]
    unplanned: Option<PathBuf>,
}

fn instant(flag: &str, v: &str) -> Result<i64> {
    v.trim()
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|e| anyhow::anyhow!("{flag}: not an RFC 3339 timestamp ({e}): {v:?}"))
}

/// Plan the files and print what was planned. `threads` (the global `--threads`) score the
/// list; the plan does not depend on it.
pub fn run(a: PlanArgs, threads: Threads, progress: &Progress) -> Result<()> {
    let out = a.out.clone();
    let req = plan::PlanFilesRequest {
        models_dir: a.models_dir,
        version: a.version,
        list: a.list,
        capacity: a.capacity,
        window_start: instant("--window-start", &a.window_start)?,
        window_end: instant("--window-end", &a.window_end)?,
        attempts_per_person: a.attempts_per_person,
        policy: backtest::load_policy(a.policy.as_deref())?,
        out: a.out,
        unplanned: a.unplanned,
        threads: NonZeroUsize::new(threads.get()).unwrap_or(NonZeroUsize::MIN),
    };
    let s = plan::plan_files(&req, progress)?;
    let reasons: Vec<String> = s
        .unplanned
        .iter()
        .map(|(r, n)| format!("{} {n}", r.as_str()))
        .collect();
    println!(
        "planned {} attempts for {} of {} persons with {} (unplanned: {})",
        s.attempts,
        s.planned_persons,
        s.persons,
        s.version,
        reasons.join(", ")
    );
    println!(
        "expected engaged {:.2}, upper bound {:.2} (ratio {:.4}); {} model rows scored; wrote {}",
        s.expected_engaged,
        s.upper_bound,
        if s.upper_bound > 0.0 {
            s.expected_engaged / s.upper_bound
        } else {
            1.0
        },
        s.rows_scored,
        out.display()
    );
    Ok(())
}

/// `backtest --capacity N`: run the capacity backtest of `base`, print its table and say where
/// the report went.
pub fn capacity_backtest(
    base: backtest::BacktestRequest,
    per_hour: u32,
    settings: &Settings,
    progress: &Progress,
) -> Result<()> {
    let out = base.out.clone();
    let req = backtest::capacity::CapacityRequest { base, per_hour };
    let report = backtest::capacity::capacity_backtest(&req, settings, progress)
        .with_context(|| format!("backtesting into {}", out.display()))?;
    print!("{}", backtest::capacity::render(&report));
    progress.say(format_args!(
        "wrote {}",
        out.join(backtest::capacity::CAPACITY_REPORT_FILE).display()
    ));
    Ok(())
}
