//! The trainer's configuration file (TOML), with documented defaults, validated into [`Settings`]
//! before any work starts. Every key is optional; unknown keys are an error so typos surface.

use std::path::Path;

use contactscore_models::calibration::CalibrationMethod;
use contactscore_models::family::{HyperParams, ValidHyperParams};
use contactscore_models::{ContactNormalizer, Target};
use serde::Deserialize;

use crate::ingest::DispositionMap;
use crate::{Result, TrainerError};

/// The configuration file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Region for national-format phone numbers (ISO 3166 alpha-2).
    pub default_region: String,
    /// Zone used when contact, person and country give none (IANA).
    pub default_timezone: String,
    /// `engaged` (default), `converted` or `reached`.
    pub target: String,
    /// `auto` (isotonic with enough rows, else Platt), `isotonic`, `platt` or `none`.
    pub calibration: String,
    /// Fraction of the time span held out at the end: its first half calibrates, its second half
    /// selects the family and gives the reported metrics.
    pub validation_fraction: f64,
    /// At most this many training rows are kept (deterministic subsample by attempt id).
    pub max_train_rows: usize,
    /// At most this many rows in each of the calibration and test slices.
    pub max_eval_rows: usize,
    /// The promotion gate compares the new version with `CURRENT` only on at least this many
    /// test attempts after `CURRENT`'s training cutoff (fewer: no comparison, no promotion
    /// under `--promote-if-better`).
    pub champion_min_rows: usize,
    /// ... and promotes a version whose log loss there is at most this much above `CURRENT`'s.
    pub champion_tolerance: f64,
    /// Hyperparameters of the families.
    pub hyperparameters: HyperParams,
    /// Dialer codes → canonical outcomes.
    pub dispositions: toml::Table,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            default_region: "BR".into(),
            default_timezone: "America/Sao_Paulo".into(),
            target: "engaged".into(),
            calibration: "auto".into(),
            validation_fraction: 0.2,
            max_train_rows: 2_000_000,
            max_eval_rows: 1_000_000,
            champion_min_rows: 1_000,
            champion_tolerance: 0.0005,
            hyperparameters: HyperParams {
                seed: 42,
                ..HyperParams::default()
            },
            dispositions: toml::Table::new(),
        }
    }
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Contact normaliser built from `default_region`.
    pub normalizer: ContactNormalizer,
    /// `default_region` as given (validated).
    pub default_region: String,
    /// `default_timezone` (validated).
    pub default_timezone: String,
    /// Target stage.
    pub target: Target,
    /// Calibration method.
    pub calibration: CalibrationMethod,
    /// See [`Config::validation_fraction`].
    pub validation_fraction: f64,
    /// See [`Config::max_train_rows`].
    pub max_train_rows: usize,
    /// See [`Config::max_eval_rows`].
    pub max_eval_rows: usize,
    /// The promotion gate (`champion_min_rows`, `champion_tolerance`).
    pub champion: Gate,
    /// Validated hyperparameters.
    pub hyperparameters: ValidHyperParams,
    /// Disposition map.
    pub dispositions: DispositionMap,
}

/// The promotion gate's settings (config `champion_min_rows`, `champion_tolerance`); see
/// [`crate::champion`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    /// Fewest fresh rows worth comparing on.
    pub min_rows: usize,
    /// Log-loss increase still accepted as "at least as good".
    pub tolerance: f64,
}

impl Config {
    /// Read a config file; `None` gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path).map_err(|e| TrainerError::io(path, e))?;
        toml::from_str(&text).map_err(|e| {
            TrainerError::Config(format!("{}: {}", path.display(), e.to_string().trim()))
        })
    }

    /// Validate every value; errors name the key.
    pub fn validate(self) -> Result<Settings> {
        let bad = |key: &str, why: String| TrainerError::Config(format!("config {key}: {why}"));
        let normalizer = ContactNormalizer::new(&self.default_region)?;
        jiff::tz::TimeZone::get(&self.default_timezone).map_err(|_| {
            bad(
                "default_timezone",
                format!(
                    "{} is not an IANA zone",
                    contactscore_models::quote(&self.default_timezone)
                ),
            )
        })?;
        let target = self
            .target
            .parse::<Target>()
            .map_err(|e| bad("target", e.to_string()))?;
        let calibration = self
            .calibration
            .parse::<CalibrationMethod>()
            .map_err(|e| bad("calibration", e.to_string()))?;
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 0.9) {
            return Err(bad("validation_fraction", "must be in (0, 0.9)".into()));
        }
        if self.max_train_rows < 1000 || self.max_eval_rows < 1000 {
            return Err(bad(
                "max_train_rows / max_eval_rows",
                "must be at least 1000".into(),
            ));
        }
        if self.champion_min_rows == 0 {
            return Err(bad("champion_min_rows", "must be at least 1".into()));
        }
        if !(self.champion_tolerance >= 0.0 && self.champion_tolerance.is_finite()) {
            return Err(bad(
                "champion_tolerance",
                "must be a finite number >= 0".into(),
            ));
        }
        Ok(Settings {
            normalizer,
            default_region: normalizer.default_region().to_owned(),
            default_timezone: self.default_timezone,
            target,
            calibration,
            validation_fraction: self.validation_fraction,
            max_train_rows: self.max_train_rows,
            max_eval_rows: self.max_eval_rows,
            champion: Gate {
                min_rows: self.champion_min_rows,
                tolerance: self.champion_tolerance,
            },
            hyperparameters: self.hyperparameters.validate()?,
            dispositions: DispositionMap::from_toml_table(&self.dispositions)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_example_is_the_defaults_and_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/trainer.toml");
        let c = Config::load(Some(&path)).unwrap_or_else(|e| panic!("{e}"));
        let d = Config::default();
        assert_eq!(c.hyperparameters, d.hyperparameters);
        assert_eq!(
            (c.max_train_rows, c.max_eval_rows),
            (d.max_train_rows, d.max_eval_rows)
        );
        assert_eq!(
            (c.champion_min_rows, c.champion_tolerance),
            (d.champion_min_rows, d.champion_tolerance)
        );
        assert!(c.validate().is_ok());
    }

    #[test]
    fn errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("c.toml");
        let check = |text: &str, want: &str| {
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
            let err = Config::load(Some(&path))
                .and_then(Config::validate)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(want), "{text:?}: {err}");
        };
        check("target = \"sales\"", "target");
        check("default_timezone = \"Mars/Base\"", "default_timezone");
        check("default_region = \"XX\"", "XX");
        check("validation_fraction = 1.5", "validation_fraction");
        check("champion_min_rows = 0", "champion_min_rows");
        check("champion_tolerance = -1.0", "champion_tolerance");
        check("[hyperparameters.gbdt]\nmax_depth = 0", "gbdt.max_depth");
        check("colour = 1", "colour");
        check("[dispositions]\nNA = \"maybe\"", "NA");
    }
}
