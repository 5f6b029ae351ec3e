//! `train`'s time slices: where they start, and the replay that fills them with point-in-time
//! feature rows (sampled down to the configured row caps) — see [`crate::train`]'s docs.

use contactscore_models::artifact::RuleEvidence;
use contactscore_models::family::Dataset;
use contactscore_models::features::{FeatureSchema, FeatureState};

use crate::config::Settings;
use crate::ingest::{IngestReport, Ingested};
use crate::progress::{Progress, process_cpu_seconds};
use crate::replay::{Selection, replay, unit_hash};
use crate::threads::Threads;
use crate::{Result, TrainerError};

/// The time-ordered slices the families are fitted, calibrated and judged on.
pub(crate) struct Slices {
    pub train: Dataset,
    pub calibration: Dataset,
    pub test: Dataset,
}

/// Where the slices start (see the module docs). A sharded run computes it once, over every
/// shard (`split`), so every shard cuts its rows at the same instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// The first attempt's instant (unix seconds).
    pub first: i64,
    /// The last attempt's instant.
    pub last: i64,
    /// Attempts from here on calibrate.
    pub calibration_start: i64,
    /// Attempts from here on test.
    pub test_start: i64,
}

impl Window {
    /// The slice boundaries for attempts from `first` to `last`: the last
    /// `validation_fraction` of the time span is held out, its first half for calibration and
    /// its second for the test.
    pub fn new(first: i64, last: i64, settings: &Settings) -> Self {
        let span = (last - first).max(1) as f64;
        let calibration_start = last - (span * settings.validation_fraction) as i64;
        let test_start = calibration_start + (span * settings.validation_fraction / 2.0) as i64;
        Self {
            first,
            last,
            calibration_start,
            test_start,
        }
    }

    /// The slice of an attempt at `t`: 0 train, 1 calibration, 2 test.
    pub fn slice(&self, t: i64) -> usize {
        usize::from(t >= self.calibration_start) + usize::from(t >= self.test_start)
    }

    /// Attempts per slice among `times`.
    pub fn counts(&self, times: impl IntoIterator<Item = i64>) -> [usize; 3] {
        let mut counts = [0; 3];
        for t in times {
            counts[self.slice(t)] += 1;
        }
        counts
    }
}

/// The share of each slice's attempts that becomes a row, given the attempts per slice: the
/// configured caps (`max_train_rows`, `max_eval_rows`) over the counts, at most 1. Global in a
/// sharded run: every shard samples at the whole log's rates.
pub fn rates(counts: [usize; 3], settings: &Settings) -> [f64; 3] {
    let rate = |count: usize, cap: usize| (cap as f64 / count.max(1) as f64).min(1.0);
    [
        rate(counts[0], settings.max_train_rows),
        rate(counts[1], settings.max_eval_rows),
        rate(counts[2], settings.max_eval_rows),
    ]
}

/// Whether an attempt becomes a row: its id's [`unit_hash`] under its slice's rate.
pub(crate) fn sampled(rates: &[f64; 3], slice: usize, attempt_id: &str, seed: u64) -> bool {
    let r = rates[slice];
    r >= 1.0 || unit_hash(attempt_id, seed) < r
}

/// The replay's result: the slices, each test row's attempt instant (for the comparison with
/// the champion), the rule evidence the export holds, ingest's report, and the replay's wall and
/// CPU seconds.
pub(crate) struct Replayed {
    pub slices: Slices,
    pub test_times: Vec<i64>,
    pub evidence: RuleEvidence,
    pub report: IngestReport,
    pub secs: f64,
    pub cpu_secs: Option<f64>,
}

/// The slice boundaries of `data`'s attempts (sorted by time, at least one).
pub(crate) fn window(data: &Ingested, settings: &Settings) -> Window {
    let n = data.attempts.len();
    Window::new(data.attempts[0].t, data.attempts[n - 1].t, settings)
}

/// Replay every attempt into the state, keeping a sample of each slice's rows (capped at
/// `max_train_rows` / `max_eval_rows`); `data` is freed before returning, where memory peaks.
#[allow(clippy::too_many_arguments)]
pub(crate) fn replay_slices(
    settings: &Settings,
    threads: Threads,
    w: &Window,
    schema: &FeatureSchema,
    state: &mut FeatureState,
    data: Ingested,
    slots: &[u32],
    progress: &Progress,
) -> Result<Replayed> {
    let n = data.attempts.len();
    let calib_idx = data.attempts.partition_point(|a| a.t < w.calibration_start);
    let test_idx = data.attempts.partition_point(|a| a.t < w.test_start);
    let rates = rates([calib_idx, test_idx - calib_idx, n - test_idx], settings);
    let seed = settings.hyperparameters.get().seed;
    let width = schema.len();
    let selection = Selection::new(&data, |_, row| {
        sampled(&rates, w.slice(row.t), data.attempt_id(row), seed)
    });
    // Slices are contiguous in time, so in ordinal space too.
    let (calib_from, test_from) = (selection.before(calib_idx), selection.before(test_idx));
    let mut slices = Slices {
        train: Dataset::with_rows(width, calib_from),
        calibration: Dataset::with_rows(width, test_from - calib_from),
        test: Dataset::with_rows(width, selection.len() - test_from),
    };
    let target = settings.target;
    let mut test_times = vec![0_i64; slices.test.len()];
    let replay_started = progress.timer();
    let cpu_replay_started = process_cpu_seconds();
    replay(
        state,
        &data,
        slots,
        schema,
        &selection,
        threads,
        |k, row, features| {
            let label = target.is_positive(row.outcome);
            if k < calib_from {
                slices.train.set(k, features, label);
            } else if k < test_from {
                slices.calibration.set(k - calib_from, features, label);
            } else {
                slices.test.set(k - test_from, features, label);
                test_times[k - test_from] = row.t;
            }
        },
        progress,
    )?;
    // The contact-rule evidence this export provably holds: the server replays live opt-outs,
    // wrong parties and invalids onto this version unless they are listed here.
    let evidence = RuleEvidence::collect(
        data.attempts
            .iter()
            .map(|row| (data.attempt_id(row), row.outcome)),
    );
    // Only the report is needed from here on; free the attempt tables before fitting, where
    // memory peaks.
    let report = data.report.clone();
    drop(data);
    let secs = replay_started.elapsed().as_secs_f64();
    let cpu_secs = cpu_replay_started
        .zip(process_cpu_seconds())
        .map(|(a, b)| b - a);
    progress.say(format_args!(
        "replayed {n} attempts in {secs:.1}s ({:.0} attempts/s{}); rows: train {}, calibration {}, test {}",
        n as f64 / secs.max(1e-9),
        cpu_secs.map_or(String::new(), |c| format!(", {c:.1} CPU s")),
        slices.train.len(),
        slices.calibration.len(),
        slices.test.len()
    ));
    Ok(Replayed {
        slices,
        test_times,
        evidence,
        report,
        secs,
        cpu_secs,
    })
}

/// Every slice needs both classes.
pub(crate) fn check_slices(slices: &Slices) -> Result<()> {
    for (name, d) in [
        ("training", &slices.train),
        ("calibration", &slices.calibration),
        ("test", &slices.test),
    ] {
        if d.positives() == 0 || d.positives() == d.len() {
            return Err(TrainerError::Model(
                contactscore_models::Error::NotEnoughData(format!(
                    "the {name} slice has {} rows of which {} positive; both classes are needed \
                 (more history, or a larger validation_fraction)",
                    d.len(),
                    d.positives()
                )),
            ));
        }
    }
    Ok(())
}
