//! `split`: the facts every shard of a sharded run must share, computed once over the whole
//! export and written to a small JSON file ([`SplitPlan`]): the slice boundaries in time, the
//! attempts per slice (which set the sampling rates), the persons file's attribute typing, the
//! present that implausible instants are judged by, and fingerprints of the inputs and settings
//! so that a replay or fit run against other files or another configuration is refused.
//!
//! The pass reads the export shard by shard, with the same readers, validation and
//! de-duplication as `train`, so its counts are exactly the unsharded run's. Each shard's
//! instants (as `(instant, count)` runs) and sorted attempt-id hashes go to a split partial on
//! disk ([`super::partial`]), which [`super::combine`] merges by streaming: memory is one shard's
//! ingest, whatever the export's size, and the partials can be made on several machines
//! (`split --shard I --of P --now T`, then `split-merge`). The one thing a shard cannot
//! de-duplicate is an attempt id reused for persons of two shards: the merge refuses such an
//! export (the unsharded run would keep only the first row).

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ShardFilter;
use super::combine::merge_partials;
use super::partial::write_partial;
use crate::config::Settings;
use crate::ingest::{AttrSpec, IngestOptions, IngestReport, InputPaths, file_sha256};
use crate::progress::Progress;
use crate::slices::Window;
use crate::threads::Threads;
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

/// How a split (or one shard's partial of it) ingests.
#[derive(Debug, Clone, Copy)]
pub struct SplitOptions {
    /// Bad rows allowed over the whole export (each shard's ingest also stops beyond it).
    pub max_bad_rows: u64,
    /// The present implausible instants are judged by: the same for every partial of a split.
    pub now: i64,
    /// Ingest threads.
    pub threads: Threads,
}

impl SplitOptions {
    /// The ingest options of the whole export (no shard, no attribute typing yet).
    pub(super) fn ingest_options(&self, settings: &Settings, progress: &Progress) -> IngestOptions {
        IngestOptions {
            normalizer: settings.normalizer,
            max_bad_rows: self.max_bad_rows,
            dispositions: settings.dispositions.clone(),
            progress: progress.bars(),
            now: self.now,
            threads: self.threads,
            shard: None,
            attr_specs: None,
        }
    }

    /// The persons file's attribute typing over the whole file (none without a persons file):
    /// its reader run alone, every bad row skipped (ingest proper counts them).
    pub(super) fn attr_specs(
        &self,
        inputs: &InputPaths,
        settings: &Settings,
        progress: &Progress,
    ) -> Result<Vec<AttrSpec>> {
        let base = self.ingest_options(settings, progress);
        crate::ingest::persons_attr_specs(inputs.persons.as_deref(), &base)
    }
}

/// Make the plan in one process: type the persons file's attributes over the whole file, write
/// each of the `shards` shards' split partial in turn under `scratch` (a directory this creates
/// and removes afterwards, whatever the outcome), then merge them as `split-merge` does. Memory:
/// one shard's ingest (the instants and id hashes go to the partials' files, not to memory).
/// Bad rows are allowed up to `opts.max_bad_rows` over the whole export, as in `train`.
pub fn split(
    inputs: &InputPaths,
    settings: &Settings,
    shards: u32,
    opts: &SplitOptions,
    scratch: &Path,
    progress: &Progress,
) -> Result<SplitPlan> {
    let of = shards.max(1);
    let result = (|| {
        let attr_specs = opts.attr_specs(inputs, settings, progress)?;
        let mut attempts = 0;
        for index in 0..of {
            let shard = ShardFilter::new(index, of)
                .ok_or_else(|| TrainerError::Internal("shard beyond the count".into()))?;
            let done = write_partial(
                inputs,
                settings,
                shard,
                opts,
                attr_specs.clone(),
                scratch,
                progress,
            )?;
            attempts += done.attempts;
            progress.say(format_args!(
                "split: shard {}/{of} read ({attempts} attempts so far)",
                index + 1
            ));
        }
        merge_partials(settings, scratch, of, opts.max_bad_rows, progress)
    })();
    if scratch.exists() {
        let _ = std::fs::remove_dir_all(scratch);
    }
    result
}

/// The inputs in reading order with the SHA-256 that `report` (an ingest's) found for each.
pub(super) fn input_fingerprints(
    inputs: &InputPaths,
    report: &IngestReport,
) -> Result<Vec<InputFingerprint>> {
    let mut fps = fingerprints(inputs, false)?;
    for (fp, file) in fps.iter_mut().zip(&report.files) {
        fp.sha256.clone_from(&file.sha256);
    }
    Ok(fps)
}
