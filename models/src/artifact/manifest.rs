//! The manifest of a model version: what was trained, on what, how, and how well. Written as
//! `manifest.json`, read by `inspect`, the server and the nightly job's promotion step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Target;
use crate::family::{Family, HyperParams};
use crate::features::FeatureSchema;
use crate::metrics::BinaryMetrics;

/// Version of the on-disk artifact format. Bump on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// The time window a model was trained and validated on (RFC 3339, UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingWindow {
    /// First attempt.
    pub start: String,
    /// Start of the calibration slice (training rows are before it).
    pub calibration_start: String,
    /// Start of the test slice (family selection and the reported metrics).
    pub test_start: String,
    /// Last attempt (the state snapshot's cutoff).
    pub end: String,
}

/// How many rows went where.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RowCounts {
    /// Attempts replayed into the state (after de-duplication and skips).
    pub attempts: u64,
    /// Rows the families were fitted on.
    pub train: u64,
    /// Rows the calibrators were fitted on.
    pub calibration: u64,
    /// Rows the reported metrics were computed on.
    pub test: u64,
    /// Rows skipped as bad input, by reason (summed over files).
    pub skipped: BTreeMap<String, u64>,
}

/// Settings that scoring must reproduce exactly (normalisation and zone fallbacks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServingSettings {
    /// Region for national-format phone numbers.
    pub default_region: String,
    /// Zone used when contact, person and country give none.
    pub default_timezone: String,
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// The version id (directory name).
    pub version: String,
    /// Selected family.
    pub family: Family,
    /// Target stage.
    pub target: Target,
    /// When the version was written (RFC 3339).
    pub created_at: String,
    /// The trainer's version.
    pub code_version: String,
    /// Training window.
    pub window: TrainingWindow,
    /// Input files: paths, SHA-256 fingerprints, row counts, skips (the ingest report).
    pub inputs: serde_json::Value,
    /// Row counts.
    pub rows: RowCounts,
    /// Feature schema.
    pub feature_schema: FeatureSchema,
    /// Fingerprint of the feature schema.
    pub feature_fingerprint: String,
    /// Hyperparameters of every family.
    pub hyperparameters: HyperParams,
    /// Calibration method used.
    pub calibration: String,
    /// Out-of-time test metrics per fitted family (calibrated).
    pub metrics: BTreeMap<Family, BinaryMetrics>,
    /// Normalisation and zone settings.
    pub serving: ServingSettings,
    /// SHA-256 of every other file in the version directory.
    pub files: BTreeMap<String, String>,
}
