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
    /// How this version compared with the version that was `CURRENT` when it was trained
    /// (absent when there was none, and in manifests written before the comparison existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub champion: Option<ChampionComparison>,
}

/// A new version (the challenger) against the version that was `CURRENT` when it was trained
/// (the champion), on the challenger's test attempts after the champion's training cutoff: rows
/// neither model was fitted or calibrated on, scored with the same point-in-time features. This
/// is what the nightly job's promotion gate decides on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChampionComparison {
    /// The champion's version id.
    pub champion: String,
    /// The champion's training cutoff (RFC 3339): only test attempts after it are compared
    /// (absent when the champion could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// How much higher the challenger's log loss may be and still count as a win (fresher
    /// state, and differences this small are noise).
    pub tolerance: f64,
    /// The figures, or why there are none.
    pub result: ComparisonResult,
}

/// The result of a [`ChampionComparison`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ComparisonResult {
    /// Both models scored the same rows.
    Compared {
        /// The new version's metrics on those rows.
        challenger: BinaryMetrics,
        /// The champion's metrics on the same rows.
        champion: BinaryMetrics,
    },
    /// No comparison was possible (too few fresh rows, another target, ...).
    NotCompared {
        /// Why, in words.
        reason: String,
    },
}

impl ChampionComparison {
    /// Whether the challenger is at least as good as the champion: its out-of-time log loss
    /// (the criterion families are selected by) at most `tolerance` above the champion's;
    /// `None` when nothing was compared.
    pub fn challenger_wins(&self) -> Option<bool> {
        match &self.result {
            ComparisonResult::Compared {
                challenger,
                champion,
            } => Some(challenger.log_loss <= champion.log_loss + self.tolerance),
            ComparisonResult::NotCompared { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::binary_metrics;

    fn compared(challenger_loss: f64, champion_loss: f64, tolerance: f64) -> ChampionComparison {
        let metrics = |loss: f64| BinaryMetrics {
            log_loss: loss,
            ..binary_metrics(&[0.2, 0.8], &[false, true], 2)
        };
        ChampionComparison {
            champion: "v1".into(),
            after: Some("2026-01-01T00:00:00Z".into()),
            tolerance,
            result: ComparisonResult::Compared {
                challenger: metrics(challenger_loss),
                champion: metrics(champion_loss),
            },
        }
    }

    #[test]
    fn the_challenger_wins_within_the_tolerance_only() {
        assert_eq!(compared(0.30, 0.31, 0.0).challenger_wins(), Some(true));
        assert_eq!(compared(0.31, 0.31, 0.0).challenger_wins(), Some(true));
        assert_eq!(compared(0.3004, 0.30, 0.0005).challenger_wins(), Some(true));
        assert_eq!(
            compared(0.3006, 0.30, 0.0005).challenger_wins(),
            Some(false)
        );
        assert_eq!(compared(0.31, 0.30, 0.0).challenger_wins(), Some(false));
        let not = ChampionComparison {
            result: ComparisonResult::NotCompared {
                reason: "too few".into(),
            },
            ..compared(0.3, 0.3, 0.0)
        };
        assert_eq!(not.challenger_wins(), None);
        // Round trip through JSON, as the manifest stores it.
        let json = serde_json::to_string(&not).expect("json");
        assert!(json.contains("\"kind\":\"not_compared\""), "{json}");
        assert_eq!(
            serde_json::from_str::<ChampionComparison>(&json).expect("parse"),
            not
        );
    }
}
