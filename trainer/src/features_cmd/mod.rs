//! The `features` command: the point-in-time feature rows of an attempt log, written to CSV or
//! Parquet for analysis outside the trainer (notebooks, other learners, audits of what a model
//! saw); the file formats are in `sink.rs`.
//!
//! Rows come from the same replay as training and scoring, so they are exactly the rows a model
//! is fitted on or scored with: each attempt's features from the state *before* it. Without a
//! models directory the log is replayed from an empty state, as `train` does (every attempt, no
//! row caps); with one, from the version's end-of-history snapshot in the version's feature
//! schema, as `score` does, and each row also carries the version's probability. Contact points
//! are never written, only attempt and person ids to join back on. Rows are grouped by person
//! (in time order within a person), which is how the replay visits them; the output is streamed,
//! so an export never holds more than one batch of rows.

mod sink;

use std::path::PathBuf;

use contactscore_models::artifact::{LoadedVersion, Registry};
use contactscore_models::features::{FeatureSchema, FeatureState};
use contactscore_models::model::ResponseModel;
use contactscore_models::{ContactNormalizer, Target};

use crate::config::Settings;
use crate::ingest::InputPaths;
use crate::pipeline::{Prelude, Prepared, prepare};
use crate::progress::Progress;
use crate::replay::{Selection, replay};
use crate::threads::Threads;
use crate::{Result, TrainerError};
use sink::Row;

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Input files (contacts and persons only without `models_dir`: a version's snapshot
    /// already holds them).
    pub inputs: InputPaths,
    /// Replay from this registry's version instead of from an empty state.
    pub models_dir: Option<PathBuf>,
    /// The version (default: CURRENT); only with `models_dir`.
    pub version: Option<String>,
    /// Output file: `.csv` or `.parquet`.
    pub out: PathBuf,
    /// Bad rows allowed (0 = fail fast).
    pub max_bad_rows: u64,
    /// Threads for the replay; the rows are the same for any count.
    pub threads: Threads,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Rows written (one per de-duplicated attempt).
    pub rows: u64,
    /// Feature columns per row.
    pub features: usize,
    /// The version replayed from, if any.
    pub version: Option<String>,
}

/// Where the replay starts and what scores the rows.
struct Start {
    state: FeatureState,
    schema: FeatureSchema,
    target: Target,
    normalizer: ContactNormalizer,
    model: Option<(String, ResponseModel)>,
}

/// Export the feature rows of `req` (see the module docs).
pub fn export(
    req: &ExportRequest,
    settings: &Settings,
    progress: &Progress,
) -> Result<ExportSummary> {
    // Check the output before any work: a known format, and not one of the inputs.
    let sink_kind = sink::Kind::of(&req.out)?;
    let same = |p: &PathBuf| match (p.canonicalize(), req.out.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        (Err(_), _) | (_, Err(_)) => false,
    };
    let inputs = req
        .inputs
        .attempts
        .iter()
        .chain(&req.inputs.contacts)
        .chain(&req.inputs.persons)
        .chain(&req.inputs.validations);
    if let Some(p) = inputs.clone().find(|p| same(p)) {
        return Err(TrainerError::Config(format!(
            "--out {}: names an input file; it would be overwritten",
            p.display()
        )));
    }
    let mut start = match &req.models_dir {
        None => {
            if req.version.is_some() {
                return Err(TrainerError::Config("--version needs --models-dir".into()));
            }
            Start {
                state: FeatureState::new(&settings.default_timezone)?,
                // Filled in from the persons file's attribute columns below.
                schema: FeatureSchema::new(Vec::new()),
                target: settings.target,
                normalizer: settings.normalizer,
                model: None,
            }
        }
        Some(dir) => {
            if req.inputs.contacts.is_some() || req.inputs.persons.is_some() {
                return Err(TrainerError::Config(
                    "--contacts and --persons are part of the version's state snapshot; pass \
                     only --attempts with --models-dir"
                        .into(),
                ));
            }
            let LoadedVersion {
                manifest,
                model,
                state,
                evidence: _,
            } = Registry::open(dir)?.load(req.version.as_deref())?;
            Start {
                state,
                schema: model.schema.clone(),
                target: model.target,
                normalizer: ContactNormalizer::new(&manifest.serving.default_region)?,
                model: Some((manifest.version, model)),
            }
        }
    };
    let prelude = Prelude {
        inputs: &req.inputs,
        normalizer: start.normalizer,
        dispositions: &settings.dispositions,
        max_bad_rows: req.max_bad_rows,
        threads: req.threads,
        shard: None,
    };
    let Prepared { data, slots } = prepare(&prelude, &mut start.state, progress, |_| {})?;
    if start.model.is_none() {
        start.schema = FeatureSchema::new(data.person_attrs.clone());
    }
    let mut sink = sink_kind.create(&req.out, &start.schema, start.model.is_some())?;
    let mut failed: Option<TrainerError> = None;
    let mut rows = 0u64;
    let mut stale = 0u64;
    let cutoff = start.model.as_ref().and(start.state.cutoff);
    let target = start.target;
    replay(
        &mut start.state,
        &data,
        &slots,
        &start.schema,
        &Selection::all(&data),
        req.threads,
        |_, row, features| {
            if failed.is_some() {
                return;
            }
            let r = Row {
                attempt_id: data.attempt_id(row),
                person_id: data.persons.name(row.person),
                channel: row.channel.as_str(),
                attempted_at: row.t,
                outcome: row.outcome.as_str(),
                label: target.is_positive(row.outcome),
                probability: start.model.as_ref().map(|(_, m)| m.predict(features)),
                features,
            };
            match sink.write(&r) {
                Ok(()) => rows += 1,
                Err(e) => failed = Some(e),
            }
            stale += u64::from(cutoff.is_some_and(|c| row.t <= c));
        },
        progress,
    )?;
    // On any error the sink is dropped unfinished, which removes its temporary file.
    if let Some(e) = failed {
        return Err(e);
    }
    sink.finish()?;
    if stale > 0 {
        progress.say(format_args!(
            "warning: {stale} of {rows} attempts are not after the version's training cutoff; \
             their rows are not out of time"
        ));
    }
    Ok(ExportSummary {
        rows,
        features: start.schema.len(),
        version: start.model.map(|(v, _)| v),
    })
}
