//! `train`: ingest an attempt log, replay it into point-in-time features, fit and calibrate the
//! families on time-ordered slices, select one by out-of-time log loss, and publish a version.
//!
//! Time slices: attempts before `calibration_start` train the families; the next slice fits the
//! calibrators; the last slice (after `test_start`) selects the family and gives the reported
//! metrics. Nothing a model is judged on was seen while fitting or calibrating it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use contactscore_models::artifact::state_parts::StateFiles;
use contactscore_models::artifact::{
    ChampionComparison, Manifest, Registry, RowCounts, ServingSettings, TrainingWindow,
};
use contactscore_models::calibration::Calibrator;
use contactscore_models::family::Family;
use contactscore_models::features::{FeatureSchema, FeatureState};
use contactscore_models::metrics::{BinaryMetrics, ECE_BINS, binary_metrics};
use contactscore_models::model::{CalibratedModel, ResponseModel};
use sha2::{Digest, Sha256};

use crate::champion::{self, Challenger};
use crate::config::Settings;
use crate::ingest::{IngestReport, InputPaths};
use crate::pipeline::{Prelude, Prepared, prepare};
use crate::progress::{Progress, process_cpu_seconds};
use crate::slices::{Replayed, Slices, Window, check_slices, replay_slices, window};
use crate::threads::Threads;
use crate::timefmt::rfc3339;
use crate::{Result, TrainerError};

/// Minimum number of attempts worth training on.
pub const MIN_ATTEMPTS: usize = 1_000;

/// Which families to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyChoice {
    /// Fit all, keep the best out-of-time log loss.
    Auto,
    /// Fit this one (and the baseline, for comparison).
    Only(Family),
}

/// Whether the new version becomes `CURRENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Promotion {
    /// Always (the default of `train`).
    Always,
    /// Only if it is at least as good as the current version on the attempts after the current
    /// version's cutoff (see [`crate::champion`]); also when nothing is promoted yet.
    IfBetter,
    /// Never: publish only (promote later with `contactscore-trainer promote`).
    Never,
}

impl Promotion {
    /// The decision, given the comparison with the champion (`None`: there is no champion).
    pub fn decide(self, comparison: Option<&ChampionComparison>) -> bool {
        match self {
            Promotion::Always => true,
            Promotion::Never => false,
            Promotion::IfBetter => comparison.is_none_or(|c| c.challenger_wins().unwrap_or(false)),
        }
    }
}

/// What to train.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    /// Input files.
    pub inputs: InputPaths,
    /// The models directory.
    pub models_dir: PathBuf,
    /// Families.
    pub family: FamilyChoice,
    /// Whether to point `CURRENT` at the new version.
    pub promotion: Promotion,
    /// Bad rows allowed (0 = fail fast).
    pub max_bad_rows: u64,
    /// Threads for ingest, replay and fitting; the version is the same for any count.
    pub threads: Threads,
}

impl TrainRequest {
    /// Train on simulator output in `dir`: the attempts file `attempts` and validations file
    /// `validations` with the `contacts.csv` and `persons.csv` beside them, family chosen
    /// automatically, promoted, skipping up to `max_bad_rows` bad rows (the simulator's
    /// [`crate::simulate::SimulateSummary::bad_rows`]: what `demo`, `backtest` and the
    /// benchmarks do).
    pub fn on_simulated(
        dir: &Path,
        attempts: &str,
        validations: &str,
        models_dir: PathBuf,
        max_bad_rows: u64,
    ) -> Self {
        Self {
            inputs: InputPaths {
                attempts: vec![dir.join(attempts)],
                contacts: Some(dir.join("contacts.csv")),
                persons: Some(dir.join("persons.csv")),
                validations: Some(dir.join(validations)),
            },
            models_dir,
            family: FamilyChoice::Auto,
            promotion: Promotion::Always,
            max_bad_rows,
            threads: Threads::all(),
        }
    }
}

/// What training produced.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The published version's manifest.
    pub manifest: Manifest,
    /// Whether it was promoted.
    pub promoted: bool,
    /// Wall time per stage in seconds: `ingest`, `replay`, `fit_<family>` (fit + calibration +
    /// test scoring), `publish`, `total`.
    pub timings: Vec<(String, f64)>,
    /// CPU seconds of the process (all threads) for `ingest`, `replay` and `fit_<family>`: the
    /// basis of per-core throughput figures, and steadier than wall time on a shared machine.
    pub cpu_timings: Vec<(String, f64)>,
}

/// Wall and CPU time per stage, as [`TrainOutcome`] reports them.
#[derive(Default)]
pub(crate) struct Timings {
    pub(crate) wall: Vec<(String, f64)>,
    pub(crate) cpu: Vec<(String, f64)>,
}

impl Timings {
    pub(crate) fn cpu_since(&mut self, stage: &str, started: Option<f64>) {
        if let (Some(a), Some(b)) = (started, process_cpu_seconds()) {
            self.cpu.push((stage.to_owned(), b - a));
        }
    }
}

/// Run training end to end: read and seed, replay into the slices, fit each family, choose one,
/// compare it with the champion and publish.
pub fn train(req: &TrainRequest, settings: &Settings, progress: &Progress) -> Result<TrainOutcome> {
    let started = progress.timer();
    let cpu_started = process_cpu_seconds();
    let mut timings = Timings {
        wall: Vec::new(),
        cpu: Vec::new(),
    };
    let mut state = FeatureState::new(&settings.default_timezone)?;
    let prelude = Prelude {
        inputs: &req.inputs,
        normalizer: settings.normalizer,
        dispositions: &settings.dispositions,
        max_bad_rows: req.max_bad_rows,
        threads: req.threads,
        shard: None,
    };
    let Prepared { data, slots } = prepare(&prelude, &mut state, progress, |data| {
        timings
            .wall
            .push(("ingest".to_owned(), started.elapsed().as_secs_f64()));
        timings.cpu_since("ingest", cpu_started);
        progress.say(format_args!(
            "ingested {} attempts, {} persons, {} contact points in {:.1}s ({} bad rows skipped)",
            data.attempts.len(),
            data.persons.len(),
            data.contacts.len(),
            started.elapsed().as_secs_f64(),
            data.report.skipped_total()
        ));
    })?;
    let n = data.attempts.len();
    if n < MIN_ATTEMPTS {
        return Err(TrainerError::Model(
            contactscore_models::Error::NotEnoughData(format!(
                "{n} attempts after de-duplication; at least {MIN_ATTEMPTS} are needed to train"
            )),
        ));
    }
    let window = window(&data, settings);
    let schema = FeatureSchema::new(data.person_attrs.clone());
    let replayed = replay_slices(
        settings,
        req.threads,
        &window,
        &schema,
        &mut state,
        data,
        &slots,
        progress,
    )?;
    drop(slots);
    timings.wall.push(("replay".to_owned(), replayed.secs));
    if let Some(c) = replayed.cpu_secs {
        timings.cpu.push(("replay".to_owned(), c));
    }
    let fitting = Fitting {
        schema,
        attempts: n,
        window,
        replayed,
        state: StateSource::Ready(FittedState::Whole(state)),
    };
    fit_and_publish(req, settings, fitting, progress, timings, started)
}

/// What the fit and publish step takes from a replay (unsharded, or merged from shards).
pub(crate) struct Fitting {
    /// The feature schema the rows were built in.
    pub(crate) schema: FeatureSchema,
    /// Attempts in the log after de-duplication.
    pub(crate) attempts: usize,
    /// The slice boundaries.
    pub(crate) window: Window,
    /// The slices' rows, the evidence and ingest's report.
    pub(crate) replayed: Replayed,
    /// The end-of-history state.
    pub(crate) state: StateSource,
}

/// Where the end-of-history state comes from.
pub(crate) enum StateSource {
    /// Already in memory (the unsharded replay built it).
    Ready(FittedState),
    /// Read when it is published: after the fit, once the rows are dropped, so that a sharded
    /// run never holds the merged state and the fit's working set at once (BENCHMARKS.md,
    /// "Training 100M attempts").
    Later(Box<dyn FnOnce() -> Result<FittedState>>),
}

/// The end-of-history state to publish: whole, or as a sharded run's encoded parts (the loader
/// merges them into the same state).
pub(crate) enum FittedState {
    Whole(FeatureState),
    Parts(Vec<Vec<u8>>),
}

/// Fit each family on the replay's slices, choose one, compare it with the champion and publish
/// (the part of `train` after the replay, shared with the sharded run's `fit`).
pub(crate) fn fit_and_publish(
    req: &TrainRequest,
    settings: &Settings,
    fitting: Fitting,
    progress: &Progress,
    mut timings: Timings,
    started: std::time::Instant,
) -> Result<TrainOutcome> {
    let Fitting {
        schema,
        attempts: n,
        window,
        replayed,
        state,
    } = fitting;
    let seed = settings.hyperparameters.get().seed;
    check_slices(&replayed.slices)?;
    let (chosen, model, metrics) = fit_and_choose(
        req,
        settings,
        schema,
        &replayed.slices,
        progress,
        &mut timings,
    )?;

    let serving = ServingSettings {
        default_region: settings.default_region.clone(),
        default_timezone: settings.default_timezone.clone(),
    };
    let registry = Registry::open(&req.models_dir)?;
    let comparison = champion::compare(
        &registry,
        &Challenger {
            model: &model,
            target: settings.target,
            test: &replayed.slices.test,
            test_times: &replayed.test_times,
            serving: &serving,
        },
        &settings.champion,
    )?;
    let promote = req.promotion.decide(comparison.as_ref());
    let now = jiff::Timestamp::now();
    let mut manifest = Manifest {
        format_version: contactscore_models::artifact::FORMAT_VERSION,
        version: version_id(now, &replayed.report, seed, chosen),
        family: chosen,
        target: settings.target,
        created_at: now.to_string(),
        code_version: env!("CARGO_PKG_VERSION").to_owned(),
        window: TrainingWindow {
            start: rfc3339(window.first),
            calibration_start: rfc3339(window.calibration_start),
            test_start: rfc3339(window.test_start),
            end: rfc3339(window.last),
        },
        inputs: serde_json::to_value(&replayed.report)
            .map_err(|e| TrainerError::Internal(format!("ingest report: {e}")))?,
        rows: row_counts(n, &replayed),
        feature_fingerprint: model.schema.fingerprint(),
        feature_schema: model.schema.clone(),
        hyperparameters: settings.hyperparameters.get().clone(),
        calibration: model.primary.calibrator.name().to_owned(),
        metrics,
        serving,
        files: BTreeMap::new(),
        champion: comparison,
    };
    drop(replayed.slices);
    drop(replayed.test_times);
    let publish_started = progress.timer();
    let state = match state {
        StateSource::Ready(state) => state,
        StateSource::Later(read) => read()?,
    };
    let state_files = match &state {
        FittedState::Whole(state) => StateFiles::Whole(state),
        FittedState::Parts(parts) => StateFiles::Parts(parts),
    };
    registry.publish_state(&mut manifest, &model, state_files, &replayed.evidence)?;
    if promote {
        registry.promote(&manifest.version)?;
    }
    progress.say(format_args!(
        "published {} ({chosen}){} in {:.1}s total",
        manifest.version,
        if promote { ", promoted to CURRENT" } else { "" },
        started.elapsed().as_secs_f64()
    ));
    timings.wall.push((
        "publish".to_owned(),
        publish_started.elapsed().as_secs_f64(),
    ));
    timings
        .wall
        .push(("total".to_owned(), started.elapsed().as_secs_f64()));
    Ok(TrainOutcome {
        manifest,
        promoted: promote,
        timings: timings.wall,
        cpu_timings: timings.cpu,
    })
}

/// Fit and calibrate the requested families, measure each on the test slice, and assemble the
/// chosen one (with the baseline beside it unless the baseline is chosen).
fn fit_and_choose(
    req: &TrainRequest,
    settings: &Settings,
    schema: FeatureSchema,
    slices: &Slices,
    progress: &Progress,
    timings: &mut Timings,
) -> Result<(Family, ResponseModel, BTreeMap<Family, BinaryMetrics>)> {
    let families: Vec<Family> = match req.family {
        FamilyChoice::Auto => Family::ALL.to_vec(),
        FamilyChoice::Only(Family::Baseline) => vec![Family::Baseline],
        FamilyChoice::Only(f) => vec![Family::Baseline, f],
    };
    let mut fitted = BTreeMap::new();
    let mut metrics = BTreeMap::new();
    let params = settings.hyperparameters.fitting_on(req.threads.get());
    for family in families {
        let t = progress.timer();
        let cpu_started = process_cpu_seconds();
        let model = family.fit(&schema, &slices.train, &params)?;
        let scores = model.score_all(&slices.calibration);
        let calibrator = Calibrator::fit(settings.calibration, &scores, &slices.calibration.y)?;
        let calibrated = CalibratedModel { model, calibrator };
        let probs: Vec<f64> = (0..slices.test.len())
            .map(|i| calibrated.predict(slices.test.row(i)))
            .collect();
        let m = binary_metrics(&probs, &slices.test.y, ECE_BINS);
        let stage = format!("fit_{family}");
        timings.cpu_since(&stage, cpu_started);
        let cpu = timings
            .cpu
            .last()
            .filter(|(s, _)| *s == stage)
            .map_or(String::new(), |(_, c)| format!(", {c:.1} CPU s"));
        progress.say(format_args!(
            "{family:>8}: fitted in {:.1}s{cpu}; test log loss {:.4}, AUC {}, ECE {:.4}",
            t.elapsed().as_secs_f64(),
            m.log_loss,
            m.auc
                .map_or_else(|| "n/a".to_owned(), |a| format!("{a:.4}")),
            m.ece
        ));
        timings.wall.push((stage, t.elapsed().as_secs_f64()));
        metrics.insert(family, m);
        fitted.insert(family, calibrated);
    }
    let chosen = match req.family {
        FamilyChoice::Only(f) => f,
        FamilyChoice::Auto => best_family(&metrics),
    };
    let baseline = fitted
        .remove(&Family::Baseline)
        .ok_or_else(|| TrainerError::Internal("the baseline was not fitted".into()))?;
    let (primary, baseline) = if chosen == Family::Baseline {
        (baseline, None)
    } else {
        let primary = fitted
            .remove(&chosen)
            .ok_or_else(|| TrainerError::Internal(format!("{chosen} was not fitted")))?;
        (primary, Some(baseline))
    };
    let model = ResponseModel {
        schema,
        target: settings.target,
        primary,
        baseline,
    };
    Ok((chosen, model, metrics))
}

/// The manifest's row counts: attempts read, rows per slice, skipped rows per reason.
fn row_counts(attempts: usize, replayed: &Replayed) -> RowCounts {
    let mut skipped = BTreeMap::new();
    for f in &replayed.report.files {
        for (reason, count) in &f.skipped {
            *skipped.entry(reason.clone()).or_insert(0) += count;
        }
    }
    RowCounts {
        attempts: attempts as u64,
        train: replayed.slices.train.len() as u64,
        calibration: replayed.slices.calibration.len() as u64,
        test: replayed.slices.test.len() as u64,
        skipped,
    }
}

/// The family with the lowest out-of-time log loss (ties go to the simpler family).
pub fn best_family(metrics: &BTreeMap<Family, BinaryMetrics>) -> Family {
    metrics
        .iter()
        .min_by(|a, b| a.1.log_loss.total_cmp(&b.1.log_loss))
        .map_or(Family::Baseline, |(f, _)| *f)
}

/// Version ids sort by creation time: `20261123T101500Z-1a2b3c4d`, the suffix a hash of the input
/// fingerprints, seed and family.
fn version_id(now: jiff::Timestamp, report: &IngestReport, seed: u64, family: Family) -> String {
    let mut h = Sha256::new();
    for f in &report.files {
        h.update(f.sha256.as_bytes());
    }
    h.update(seed.to_le_bytes());
    h.update(family.as_str().as_bytes());
    h.update(now.as_nanosecond().to_le_bytes());
    // The digest's own hex, cut to its first 4 bytes.
    format!("{}-{:.8x}", now.strftime("%Y%m%dT%H%M%SZ"), h.finalize())
}

#[cfg(test)]
mod tests {
    use contactscore_models::artifact::ComparisonResult;

    use super::*;

    #[test]
    fn only_the_gate_looks_at_the_comparison() {
        let not_compared = ChampionComparison {
            champion: "v1".into(),
            after: Some("2026-01-01T00:00:00Z".into()),
            tolerance: 0.0,
            result: ComparisonResult::NotCompared {
                reason: "too few".into(),
            },
        };
        assert!(Promotion::Always.decide(Some(&not_compared)));
        assert!(!Promotion::Never.decide(None));
        // Nothing promoted yet: promote; nothing measured against a champion: do not.
        assert!(Promotion::IfBetter.decide(None));
        assert!(!Promotion::IfBetter.decide(Some(&not_compared)));
    }
}
