//! `demo`: the whole job on generated data, for a first look — simulate a log, hold out its last
//! days, train on the rest, and evaluate the new model out of time next to the baseline.

use std::path::{Path, PathBuf};

use contactscore_models::localtime::DAY;

use crate::config::Settings;
use crate::evaluate::{Report, evaluate};
use crate::ingest::DispositionMap;
use crate::progress::Progress;
use crate::score::{ScoreRequest, score};
use crate::simulate::{SimulateParams, simulate};
use crate::split::{split_by_time, split_on};
use crate::threads::Threads;
use crate::train::{TrainOutcome, TrainRequest, train};
use crate::{Result, TrainerError};

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoRequest {
    /// Output directory (data, models, scores).
    pub out: PathBuf,
    /// Simulated persons.
    pub persons: u32,
    /// Simulated days.
    pub days: u32,
    /// Days at the end held out for evaluation.
    pub holdout_days: u32,
    /// Seed.
    pub seed: u64,
}

/// Run the demo; returns the training outcome and the out-of-time evaluation.
pub fn demo(
    req: &DemoRequest,
    settings: &Settings,
    progress: &Progress,
) -> Result<(TrainOutcome, Report)> {
    if req.holdout_days == 0 || req.holdout_days >= req.days {
        return Err(TrainerError::Config(format!(
            "--holdout-days must be between 1 and --days - 1 (got {} of {})",
            req.holdout_days, req.days
        )));
    }
    let data = req.out.join("data");
    let params = SimulateParams {
        persons: req.persons,
        days: req.days,
        seed: req.seed,
        ..SimulateParams::default()
    };
    let sim = simulate(&params, &data)?;
    progress.say(format_args!(
        "simulated {} attempts for {} persons into {} ({} carrier lookups, {} of {} contact \
         points outside the numbering metadata's ranges, {} malformed rows)",
        sim.attempts,
        sim.persons,
        data.display(),
        sim.validations + sim.validated_contacts,
        sim.unlisted_contacts,
        sim.contacts,
        sim.bad_rows()
    ));
    let p = |f: &str| -> PathBuf { data.join(f) };
    let cutoff = params.start.as_second() + i64::from(req.days - req.holdout_days) * DAY;
    let (n_train, n_holdout) = split_by_time(
        &p("attempts.csv"),
        cutoff,
        &p("train_attempts.csv"),
        &p("holdout_attempts.csv"),
    )?;
    // Carrier lookups are split at the same instant: training must not see the holdout's.
    split_on(
        "validated_at",
        &p("validations.csv"),
        cutoff,
        &p("train_validations.csv"),
        &p("holdout_validations.csv"),
    )?;
    progress.say(format_args!(
        "split at day {}: {n_train} attempt rows to train on, {n_holdout} held out",
        req.days - req.holdout_days
    ));
    let models = req.out.join("models");
    // The simulator's malformed rows are bad rows: allow exactly as many as it wrote.
    let trained = train(
        &TrainRequest::on_simulated(
            &data,
            "train_attempts.csv",
            "train_validations.csv",
            models.clone(),
            sim.bad_rows(),
        ),
        settings,
        progress,
    )?;
    let run = score(
        &ScoreRequest {
            models_dir: models,
            version: Some(trained.manifest.version.clone()),
            attempts: vec![p("holdout_attempts.csv")],
            validations: Some(p("holdout_validations.csv")),
            dispositions: DispositionMap::default(),
            max_bad_rows: sim.bad_rows(),
            threads: Threads::all(),
        },
        progress,
    )?;
    crate::score::write_scores(&req.out.join("holdout_scores.csv"), &run.scored)?;
    let m = &trained.manifest;
    let report = evaluate(
        &m.version,
        m.family.as_str(),
        m.target.as_str(),
        &run.scored,
    );
    crate::plots::write_plots(&report, &run.scored, &req.out.join("plots"))?;
    Ok((trained, report))
}

/// Where the demo's outputs are, for the summary.
pub fn describe(out: &Path) -> String {
    format!(
        "data: {0}/data  models: {0}/models  holdout scores: {0}/holdout_scores.csv  plots: {0}/plots",
        out.display()
    )
}
