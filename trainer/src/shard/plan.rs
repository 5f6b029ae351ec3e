//! `split`: the facts every shard of a sharded run must share, computed once over the whole
//! export and written to a small JSON file ([`SplitPlan`]): the slice boundaries in time, the
//! attempts per slice (which set the sampling rates), the persons file's attribute typing, the
//! present that implausible instants are judged by, and fingerprints of the inputs and settings
//! so that a replay or fit run against other files or another configuration is refused.
//!
//! The pass reads the export shard by shard (so its memory is one shard's ingest plus 24 bytes
//! per attempt: its instant and a 128-bit hash of its id), with the same readers, validation and
//! de-duplication as `train`, so its counts are exactly the unsharded run's. The one thing a
//! shard cannot de-duplicate is an attempt id reused for persons of two shards: the split
//! refuses such an export (the unsharded run would keep only the first row).

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::xxh3_128;

use super::ShardFilter;
use crate::config::Settings;
use crate::ingest::{AttrSpec, IngestOptions, IngestReport, InputPaths, file_sha256, ingest};
use crate::progress::Progress;
use crate::slices::Window;
use crate::threads::Threads;
use crate::train::MIN_ATTEMPTS;
use crate::{Result, TrainerError};

/// The plan's format version.
pub const PLAN_FORMAT: u32 = 1;

/// One input file as the plan saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFingerprint {
    /// The path as given.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
}

/// What `split` wrote: see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitPlan {
    /// [`PLAN_FORMAT`].
    pub format: u32,
    /// The present (unix seconds) every shard judges implausible instants by.
    pub now: i64,
    /// SHA-256 of the settings that shape rows and models (region, zone, target, dispositions,
    /// caps, validation fraction, calibration, hyperparameters).
    pub settings: String,
    /// The inputs, in reading order.
    pub inputs: Vec<InputFingerprint>,
    /// Attempts after de-duplication and bad rows.
    pub attempts: u64,
    /// The slice boundaries.
    pub window: Window,
    /// Attempts per slice (train, calibration, test): the sampling rates follow from them and
    /// the configured caps.
    pub counts: [u64; 3],
    /// The persons file's attribute typing over the whole file.
    pub attr_specs: Vec<AttrSpec>,
    /// Bad rows skipped over the whole export.
    pub bad_rows: u64,
}

impl SplitPlan {
    /// Attempts per slice as counts.
    pub fn counts(&self) -> [usize; 3] {
        self.counts.map(|c| c as usize)
    }

    /// Read a plan written by [`SplitPlan::write`].
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| TrainerError::io(path, e))?;
        let plan: Self = serde_json::from_slice(&bytes).map_err(|e| TrainerError::BadFile {
            file: path.to_owned(),
            reason: format!("not a split plan: {e}"),
        })?;
        if plan.format != PLAN_FORMAT {
            return Err(TrainerError::BadFile {
                file: path.to_owned(),
                reason: format!(
                    "split plan format {} (this build reads {PLAN_FORMAT})",
                    plan.format
                ),
            });
        }
        Ok(plan)
    }

    /// Write the plan as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| TrainerError::Internal(format!("split plan: {e}")))?;
        std::fs::write(path, bytes).map_err(|e| TrainerError::io(path, e))
    }

    /// Refuse other settings or other input files than the plan's.
    pub fn check(&self, inputs: &InputPaths, settings: &Settings) -> Result<()> {
        self.check_settings(settings)?;
        self.check_inputs(inputs)
    }

    /// Refuse other settings than the plan's.
    pub fn check_settings(&self, settings: &Settings) -> Result<()> {
        if self.settings != settings_digest(settings) {
            return Err(TrainerError::Config(
                "the configuration differs from the one the split plan was made with \
                 (use the same --config for split, replay and fit)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Refuse other input paths than the plan's (the shards' reports then check the contents).
    pub fn check_inputs(&self, inputs: &InputPaths) -> Result<()> {
        let given = fingerprints(inputs, false)?;
        let same = given.len() == self.inputs.len()
            && given
                .iter()
                .zip(&self.inputs)
                .all(|(a, b)| a.path == b.path);
        if !same {
            return Err(TrainerError::Config(
                "the input files differ from the ones the split plan was made on (give the same \
                 --attempts, --contacts, --persons and --validations, in the same order)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// The settings' fingerprint (see [`SplitPlan::settings`]).
pub fn settings_digest(settings: &Settings) -> String {
    let mut h = Sha256::new();
    let hyper = serde_json::to_string(settings.hyperparameters.get()).unwrap_or_default();
    let text = format!(
        "{}\n{}\n{:?}\n{:?}\n{}\n{}\n{}\n{hyper}\n{:?}",
        settings.default_region,
        settings.default_timezone,
        settings.target,
        settings.calibration,
        settings.validation_fraction,
        settings.max_train_rows,
        settings.max_eval_rows,
        settings.dispositions.entries(),
    );
    h.update(text.as_bytes());
    format!("{:x}", h.finalize())
}

/// The inputs in reading order, hashed when `hash` (else paths only).
fn fingerprints(inputs: &InputPaths, hash: bool) -> Result<Vec<InputFingerprint>> {
    inputs
        .attempts
        .iter()
        .chain(&inputs.contacts)
        .chain(&inputs.persons)
        .chain(&inputs.validations)
        .map(|p| {
            Ok(InputFingerprint {
                path: p.display().to_string(),
                sha256: if hash { file_sha256(p)? } else { String::new() },
            })
        })
        .collect()
}

/// Make the plan: type the persons file's attributes over the whole file, then ingest the
/// export shard by shard (`shards` passes, each reading one shard's persons) keeping only each
/// attempt's instant, and cut the window. Bad rows are allowed up to `max_bad_rows` over the
/// whole export, as in `train`.
pub fn split(
    inputs: &InputPaths,
    settings: &Settings,
    shards: u32,
    max_bad_rows: u64,
    threads: Threads,
    progress: &Progress,
) -> Result<SplitPlan> {
    let now = IngestOptions::now();
    let base = IngestOptions {
        normalizer: settings.normalizer,
        max_bad_rows,
        dispositions: settings.dispositions.clone(),
        progress: progress.bars(),
        now,
        threads,
        shard: None,
        attr_specs: None,
    };
    let attr_specs = attr_specs(inputs, &base)?;
    let mut times: Vec<i64> = Vec::new();
    // 128-bit hashes of every kept attempt id: an id kept by two shards (reused for two
    // persons) is one attempt to the unsharded run, which keeps only its first row.
    let mut ids: Vec<u128> = Vec::new();
    let mut reports: Vec<IngestReport> = Vec::new();
    for index in 0..shards.max(1) {
        let opts = IngestOptions {
            shard: ShardFilter::new(index, shards.max(1)),
            attr_specs: Some(attr_specs.clone()),
            ..base.clone()
        };
        let data = ingest(inputs, &opts)?;
        times.extend(data.attempts.iter().map(|a| a.t));
        ids.extend(data.attempt_ids.iter().map(|id| xxh3_128(id.as_bytes())));
        reports.push(data.report);
        progress.say(format_args!(
            "split: shard {}/{} read ({} attempts so far)",
            index + 1,
            shards.max(1),
            times.len()
        ));
    }
    let report = super::merge::reports(reports, max_bad_rows)?;
    ids.sort_unstable();
    let reused = ids.windows(2).filter(|w| w[0] == w[1]).count();
    drop(ids);
    if reused > 0 {
        return Err(TrainerError::BadFile {
            file: inputs.attempts[0].clone(),
            reason: format!(
                "{reused} attempt ids are used for more than one person: the unsharded run keeps \
                 only the first row of each, which sharding by person cannot reproduce; fix the \
                 export or train without --shards"
            ),
        });
    }
    let n = times.len();
    if n < MIN_ATTEMPTS {
        return Err(TrainerError::Model(
            contactscore_models::Error::NotEnoughData(format!(
                "{n} attempts after de-duplication; at least {MIN_ATTEMPTS} are needed to train"
            )),
        ));
    }
    let (first, last) = times
        .iter()
        .fold((i64::MAX, i64::MIN), |(a, b), &t| (a.min(t), b.max(t)));
    let window = Window::new(first, last, settings);
    let counts = window.counts(times.iter().copied()).map(|c| c as u64);
    let mut inputs_fp = fingerprints(inputs, false)?;
    for (fp, file) in inputs_fp.iter_mut().zip(&report.files) {
        fp.sha256.clone_from(&file.sha256);
    }
    progress.say(format_args!(
        "split: {n} attempts; slices train {}, calibration {}, test {}; {} bad rows skipped",
        counts[0],
        counts[1],
        counts[2],
        report.skipped_total(),
    ));
    Ok(SplitPlan {
        format: PLAN_FORMAT,
        now,
        settings: settings_digest(settings),
        inputs: inputs_fp,
        attempts: n as u64,
        window,
        counts,
        attr_specs,
        bad_rows: report.skipped_total(),
    })
}

/// The persons file's attribute typing over the whole file (none without a persons file): its
/// reader run alone, every bad row skipped (ingest proper counts them).
fn attr_specs(inputs: &InputPaths, base: &IngestOptions) -> Result<Vec<AttrSpec>> {
    crate::ingest::persons_attr_specs(inputs.persons.as_deref(), base)
}
