//! `score`: starting from a version's state snapshot, replay later attempts in time order and
//! predict each from what was known before it — how an out-of-time holdout is scored.

use std::path::{Path, PathBuf};

use contactscore_models::artifact::{LoadedVersion, Manifest, Registry};
use contactscore_models::{Channel, ContactNormalizer, Outcome};

use crate::ingest::{DispositionMap, IngestReport, InputPaths};
use crate::pipeline::{Prelude, Prepared, prepare};
use crate::progress::Progress;
use crate::replay::{Selection, replay};
use crate::threads::Threads;
use crate::{Result, TrainerError};

/// What to score.
#[derive(Debug, Clone)]
pub struct ScoreRequest {
    /// The models directory.
    pub models_dir: PathBuf,
    /// Version (default: CURRENT).
    pub version: Option<String>,
    /// Attempt files, read in order.
    pub attempts: Vec<PathBuf>,
    /// Carrier validations of the same period, applied at their instants.
    pub validations: Option<PathBuf>,
    /// Dialer code map (from `--config`).
    pub dispositions: DispositionMap,
    /// Bad rows allowed (0 = fail fast).
    pub max_bad_rows: u64,
    /// Threads for the replay; the scores are the same for any count.
    pub threads: Threads,
}

/// One scored attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The attempt id.
    pub attempt_id: String,
    /// Calibrated probability of the model's target, from the selected model.
    pub probability: f64,
    /// The same from the calibrated baseline.
    pub baseline: f64,
    /// Whether the actual outcome was a positive for the model's target.
    pub label: bool,
    /// The actual outcome.
    pub outcome: Outcome,
    /// Channel.
    pub channel: Channel,
    /// Local hour of the attempt in the recipient's zone.
    pub local_hour: u8,
    /// Whether the attempt is at or before the snapshot's cutoff (not out of time).
    pub stale: bool,
}

/// The scored attempts of a request.
#[derive(Debug)]
pub struct ScoreRun {
    /// The version's manifest.
    pub manifest: Manifest,
    /// Scored attempts in time order.
    pub scored: Vec<Scored>,
    /// What ingest saw.
    pub report: IngestReport,
}

/// Score every attempt of the request.
pub fn score(req: &ScoreRequest, progress: &Progress) -> Result<ScoreRun> {
    let registry = Registry::open(&req.models_dir)?;
    let LoadedVersion {
        manifest,
        model,
        mut state,
        evidence: _,
    } = registry.load(req.version.as_deref())?;
    let inputs = InputPaths {
        attempts: req.attempts.clone(),
        contacts: None,
        persons: None,
        validations: req.validations.clone(),
    };
    let prelude = Prelude {
        inputs: &inputs,
        normalizer: ContactNormalizer::new(&manifest.serving.default_region)?,
        dispositions: &req.dispositions,
        max_bad_rows: req.max_bad_rows,
        threads: req.threads,
        shard: None,
    };
    let Prepared { data, slots } = prepare(&prelude, &mut state, progress, |_| {})?;
    let cutoff = state.cutoff;
    let hour_idx = model.schema.index("local_hour").ok_or_else(|| {
        TrainerError::Internal("local_hour missing from the feature schema".into())
    })?;
    let target = model.target;
    let mut scored = Vec::with_capacity(data.attempts.len());
    replay(
        &mut state,
        &data,
        &slots,
        &model.schema,
        &Selection::all(&data),
        req.threads,
        |k, row, features| {
            let s = Scored {
                attempt_id: data.attempt_id(row).to_owned(),
                probability: model.predict(features),
                baseline: model.baseline().predict(features),
                label: target.is_positive(row.outcome),
                outcome: row.outcome,
                channel: row.channel,
                local_hour: features[hour_idx] as u8,
                stale: cutoff.is_some_and(|c| row.t <= c),
            };
            scored.push((k, s));
        },
        progress,
    )?;
    // Replay visits attempts person by person; report them in time order.
    scored.sort_unstable_by_key(|(k, _)| *k);
    let scored: Vec<Scored> = scored.into_iter().map(|(_, s)| s).collect();
    let stale = scored.iter().filter(|s| s.stale).count();
    if stale > 0 {
        progress.say(format_args!(
            "warning: {stale} of {} attempts are not after the model's training cutoff; they are \
             scored, but they are not an out-of-time test",
            scored.len()
        ));
    }
    Ok(ScoreRun {
        manifest,
        scored,
        report: data.report,
    })
}

/// Write `attempt_id,probability` rows.
pub fn write_scores(path: &Path, scored: &[Scored]) -> Result<()> {
    let csv = |e: csv::Error| TrainerError::csv(path, e);
    let mut w = csv::Writer::from_path(path).map_err(csv)?;
    w.write_record(["attempt_id", "probability"]).map_err(csv)?;
    for s in scored {
        w.write_record([s.attempt_id.as_str(), &format!("{:.6}", s.probability)])
            .map_err(csv)?;
    }
    w.flush().map_err(|e| TrainerError::io(path, e))
}
