//! `train`: ingest an attempt log, replay it into point-in-time features, fit and calibrate the
//! families on time-ordered slices, select one by out-of-time log loss, and publish a version.
//!
//! Time slices: attempts before `calibration_start` train the families; the next slice fits the
//! calibrators; the last slice (after `test_start`) selects the family and gives the reported
//! metrics. Nothing a model is judged on was seen while fitting or calibrating it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use contactscore_models::artifact::{
    ChampionComparison, Manifest, Registry, RowCounts, RuleEvidence, ServingSettings,
    TrainingWindow,
};
use contactscore_models::calibration::Calibrator;
use contactscore_models::family::{Dataset, Family};
use contactscore_models::features::{FeatureSchema, FeatureState};
use contactscore_models::metrics::{BinaryMetrics, binary_metrics};
use contactscore_models::model::{CalibratedModel, ResponseModel};
use sha2::{Digest, Sha256};

use crate::champion::{self, Challenger};
use crate::config::Settings;
use crate::ingest::{IngestOptions, InputPaths, ingest};
use crate::progress::{Progress, process_cpu_seconds};
use crate::replay::{Selection, replay, seed_state, unit_hash};
use crate::threads::Threads;
use crate::timefmt::rfc3339;
use crate::{Result, TrainerError};

/// Minimum number of attempts worth training on.
pub const MIN_ATTEMPTS: usize = 1_000;

/// Reliability bins used for ECE in manifests and reports.
pub const ECE_BINS: usize = 10;

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
    /// CPU seconds of the process (all threads) for `ingest` and `replay`: the basis of
    /// per-core throughput figures.
    pub cpu_timings: Vec<(String, f64)>,
}

struct Slices {
    train: Dataset,
    calibration: Dataset,
    test: Dataset,
}

/// Run training end to end.
pub fn train(req: &TrainRequest, settings: &Settings, progress: &Progress) -> Result<TrainOutcome> {
    let started = progress.timer();
    let cpu_started = process_cpu_seconds();
    let opts = IngestOptions {
        normalizer: settings.normalizer,
        max_bad_rows: req.max_bad_rows,
        dispositions: settings.dispositions.clone(),
        progress: progress.bars(),
        now: IngestOptions::now(),
        threads: req.threads,
    };
    let data = ingest(&req.inputs, &opts)?;
    let mut timings = vec![("ingest".to_owned(), started.elapsed().as_secs_f64())];
    let cpu_ingested = process_cpu_seconds();
    let mut cpu_timings = Vec::new();
    if let (Some(a), Some(b)) = (cpu_started, cpu_ingested) {
        cpu_timings.push(("ingest".to_owned(), b - a));
    }
    let n = data.attempts.len();
    progress.say(format_args!(
        "ingested {n} attempts, {} persons, {} contact points in {:.1}s ({} bad rows skipped)",
        data.persons.len(),
        data.contacts.len(),
        started.elapsed().as_secs_f64(),
        data.report.skipped_total()
    ));
    announce(&data.report, progress);
    if n < MIN_ATTEMPTS {
        return Err(TrainerError::Model(
            contactscore_models::Error::NotEnoughData(format!(
                "{n} attempts after de-duplication; at least {MIN_ATTEMPTS} are needed to train"
            )),
        ));
    }
    let (t_first, t_last) = (data.attempts[0].t, data.attempts[n - 1].t);
    let span = (t_last - t_first).max(1) as f64;
    let calibration_start = t_last - (span * settings.validation_fraction) as i64;
    let test_start = calibration_start + (span * settings.validation_fraction / 2.0) as i64;
    let calib_idx = data.attempts.partition_point(|a| a.t < calibration_start);
    let test_idx = data.attempts.partition_point(|a| a.t < test_start);
    let rate = |count: usize, cap: usize| (cap as f64 / count.max(1) as f64).min(1.0);
    let rates = [
        rate(calib_idx, settings.max_train_rows),
        rate(test_idx - calib_idx, settings.max_eval_rows),
        rate(n - test_idx, settings.max_eval_rows),
    ];
    let seed = settings.hyperparameters.get().seed;

    let schema = FeatureSchema::new(data.person_attrs.clone());
    let mut state = FeatureState::new(&settings.default_timezone)?;
    let slots = seed_state(&mut state, &data)?;
    let width = schema.len();
    let selection = Selection::new(&data, |i, row| {
        let r = rates[usize::from(i >= calib_idx) + usize::from(i >= test_idx)];
        r >= 1.0 || unit_hash(data.attempt_id(row), seed) < r
    });
    // Slices are contiguous in time, so in ordinal space too.
    let (calib_from, test_from) = (selection.before(calib_idx), selection.before(test_idx));
    let mut slices = Slices {
        train: Dataset::with_rows(width, calib_from),
        calibration: Dataset::with_rows(width, test_from - calib_from),
        test: Dataset::with_rows(width, selection.len() - test_from),
    };
    let target = settings.target;
    // Each test row's attempt instant, for the comparison with the champion.
    let mut test_times = vec![0_i64; slices.test.len()];
    let replay_started = progress.timer();
    let cpu_replay_started = process_cpu_seconds();
    replay(
        &mut state,
        &data,
        &slots,
        &schema,
        &selection,
        req.threads,
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
    drop(slots);
    let secs = replay_started.elapsed().as_secs_f64();
    timings.push(("replay".to_owned(), secs));
    if let (Some(a), Some(b)) = (cpu_replay_started, process_cpu_seconds()) {
        cpu_timings.push(("replay".to_owned(), b - a));
    }
    progress.say(format_args!(
        "replayed {n} attempts in {secs:.1}s ({:.0} attempts/s{}); rows: train {}, calibration {}, test {}",
        n as f64 / secs.max(1e-9),
        cpu_timings
            .iter()
            .find(|(k, _)| k == "replay")
            .map_or(String::new(), |(_, c)| format!(", {c:.1} CPU s")),
        slices.train.len(),
        slices.calibration.len(),
        slices.test.len()
    ));
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
        let model = family.fit(&schema, &slices.train, &params)?;
        let scores = model.score_all(&slices.calibration);
        let calibrator = Calibrator::fit(settings.calibration, &scores, &slices.calibration.y)?;
        let calibrated = CalibratedModel { model, calibrator };
        let probs: Vec<f64> = (0..slices.test.len())
            .map(|i| calibrated.predict(slices.test.row(i)))
            .collect();
        let m = binary_metrics(&probs, &slices.test.y, ECE_BINS);
        progress.say(format_args!(
            "{family:>8}: fitted in {:.1}s; test log loss {:.4}, AUC {}, ECE {:.4}",
            t.elapsed().as_secs_f64(),
            m.log_loss,
            m.auc
                .map_or_else(|| "n/a".to_owned(), |a| format!("{a:.4}")),
            m.ece
        ));
        timings.push((format!("fit_{family}"), t.elapsed().as_secs_f64()));
        metrics.insert(family, m);
        fitted.insert(family, calibrated);
    }
    let chosen = match req.family {
        FamilyChoice::Only(f) => f,
        FamilyChoice::Auto => best_family(&metrics),
    };
    let baseline = fitted
        .remove(&Family::Baseline)
        .ok_or_else(|| TrainerError::Config("internal: the baseline was not fitted".into()))?;
    let (primary, baseline) = if chosen == Family::Baseline {
        (baseline, None)
    } else {
        let primary = fitted
            .remove(&chosen)
            .ok_or_else(|| TrainerError::Config(format!("internal: {chosen} was not fitted")))?;
        (primary, Some(baseline))
    };
    let calibration = primary.calibrator.name().to_owned();
    let model = ResponseModel {
        schema: schema.clone(),
        target,
        primary,
        baseline,
    };

    let serving = ServingSettings {
        default_region: settings.default_region.clone(),
        default_timezone: settings.default_timezone.clone(),
    };
    let registry = Registry::open(&req.models_dir)?;
    let comparison = champion::compare(
        &registry,
        &Challenger {
            model: &model,
            target,
            test: &slices.test,
            test_times: &test_times,
            serving: &serving,
        },
        &settings.champion,
    )?;
    let promote = req.promotion.decide(comparison.as_ref());

    let inputs = serde_json::to_value(&report)
        .map_err(|e| TrainerError::Config(format!("internal: ingest report: {e}")))?;
    let mut skipped = BTreeMap::new();
    for f in &report.files {
        for (reason, count) in &f.skipped {
            *skipped.entry(reason.clone()).or_insert(0) += count;
        }
    }
    let now = jiff::Timestamp::now();
    let mut manifest = Manifest {
        format_version: contactscore_models::artifact::FORMAT_VERSION,
        version: version_id(now, &report, seed, chosen),
        family: chosen,
        target,
        created_at: now.to_string(),
        code_version: env!("CARGO_PKG_VERSION").to_owned(),
        window: TrainingWindow {
            start: rfc3339(t_first),
            calibration_start: rfc3339(calibration_start),
            test_start: rfc3339(test_start),
            end: rfc3339(t_last),
        },
        inputs,
        rows: RowCounts {
            attempts: n as u64,
            train: slices.train.len() as u64,
            calibration: slices.calibration.len() as u64,
            test: slices.test.len() as u64,
            skipped,
        },
        feature_fingerprint: schema.fingerprint(),
        feature_schema: schema,
        hyperparameters: settings.hyperparameters.get().clone(),
        calibration,
        metrics,
        serving,
        files: BTreeMap::new(),
        champion: comparison,
    };
    let publish_started = progress.timer();
    registry.publish(&mut manifest, &model, &state, &evidence)?;
    if promote {
        registry.promote(&manifest.version)?;
    }
    progress.say(format_args!(
        "published {} ({chosen}){} in {:.1}s total",
        manifest.version,
        if promote { ", promoted to CURRENT" } else { "" },
        started.elapsed().as_secs_f64()
    ));
    timings.push((
        "publish".to_owned(),
        publish_started.elapsed().as_secs_f64(),
    ));
    timings.push(("total".to_owned(), started.elapsed().as_secs_f64()));
    Ok(TrainOutcome {
        manifest,
        promoted: promote,
        timings,
        cpu_timings,
    })
}

/// One notice per file for ignored columns, and the skipped-row counts by reason.
pub fn announce(report: &crate::ingest::IngestReport, progress: &Progress) {
    for f in &report.files {
        if !f.ignored_columns.is_empty() {
            progress.say(format_args!(
                "notice: {}: ignoring columns {}",
                f.path,
                f.ignored_columns.join(", ")
            ));
        }
        if !f.skipped.is_empty() {
            let reasons: Vec<String> = f.skipped.iter().map(|(r, c)| format!("{r} {c}")).collect();
            progress.say(format_args!(
                "skipped rows in {}: {}",
                f.path,
                reasons.join(", ")
            ));
        }
        if f.duplicates > 0 {
            progress.say(format_args!(
                "{}: {} duplicate ids counted once ({} with different content)",
                f.path, f.duplicates, f.conflicting_duplicates
            ));
        }
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
fn version_id(
    now: jiff::Timestamp,
    report: &crate::ingest::IngestReport,
    seed: u64,
    family: Family,
) -> String {
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
