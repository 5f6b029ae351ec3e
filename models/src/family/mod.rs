//! Model families: the learners that turn feature vectors into a raw score (log-odds), behind one
//! enum so callers never branch on the family. Calibration to probabilities happens in
//! [`crate::model`], on top of any family.
//!
//! Fitting follows linfa's pattern: hyperparameters are validated into [`ValidHyperParams`] first,
//! and `fit` returns a [`FittedModel`] that can only score.

pub mod baseline;
pub mod dataset;
pub mod flat_forest;
pub mod gbdt;
pub mod logistic;
pub mod params;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use baseline::BaselineModel;
pub use dataset::Dataset;
pub use gbdt::GbdtModel;
pub use logistic::LogisticModel;
pub use params::{
    BaselineParams, GbdtParams, HyperParams, LogisticParams, RowSampling, ValidHyperParams,
};

use crate::Result;
use crate::contract::UnknownValue;
use crate::features::FeatureSchema;

/// A model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Hierarchical smoothed rates, no learner: the floor every learner must beat.
    Baseline,
    /// L2-regularised logistic regression on standardised features (linfa-logistic).
    Logistic,
    /// Gradient-boosted trees (forust).
    Gbdt,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 3] = [Family::Baseline, Family::Logistic, Family::Gbdt];

    /// The family's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Baseline => "baseline",
            Family::Logistic => "logistic",
            Family::Gbdt => "gbdt",
        }
    }

    /// Fit this family on `train`.
    pub fn fit(
        self,
        schema: &FeatureSchema,
        train: &Dataset,
        params: &ValidHyperParams,
    ) -> Result<FittedModel> {
        Ok(match self {
            Family::Baseline => FittedModel::Baseline(BaselineModel::fit(schema, train, params)?),
            Family::Logistic => FittedModel::Logistic(LogisticModel::fit(schema, train, params)?),
            Family::Gbdt => FittedModel::Gbdt(Box::new(GbdtModel::fit(train, params)?)),
        })
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Family {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Family::ALL
            .into_iter()
            .find(|f| s.trim().eq_ignore_ascii_case(f.as_str()))
            .ok_or_else(|| UnknownValue {
                kind: "family",
                value: s.to_owned(),
                expected: "baseline, logistic, gbdt",
            })
    }
}

/// A fitted model of any family. It only scores: `score` returns uncalibrated log-odds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum FittedModel {
    /// See [`BaselineModel`].
    Baseline(BaselineModel),
    /// See [`LogisticModel`].
    Logistic(LogisticModel),
    /// See [`GbdtModel`] (boxed: the booster is much larger than the other variants).
    Gbdt(Box<GbdtModel>),
}

impl FittedModel {
    /// The family.
    pub fn family(&self) -> Family {
        match self {
            FittedModel::Baseline(_) => Family::Baseline,
            FittedModel::Logistic(_) => Family::Logistic,
            FittedModel::Gbdt(_) => Family::Gbdt,
        }
    }

    /// Raw log-odds score of one feature row.
    pub fn score(&self, row: &[f32]) -> f64 {
        match self {
            FittedModel::Baseline(m) => m.score(row),
            FittedModel::Logistic(m) => m.score(row),
            FittedModel::Gbdt(m) => m.score(row),
        }
    }

    /// Raw scores of every row of `rows` (row-major, `width` values each) into `out`, which
    /// is cleared first; the same values as [`Self::score`] row by row. The trees score the
    /// batch together (much cheaper per row); the other families loop.
    pub fn scores(&self, rows: &[f32], width: usize, out: &mut Vec<f64>) {
        match self {
            FittedModel::Gbdt(m) => m.scores(rows, width, out),
            FittedModel::Baseline(_) | FittedModel::Logistic(_) => {
                out.clear();
                if width > 0 {
                    out.extend(rows.chunks_exact(width).map(|r| self.score(r)));
                }
            }
        }
    }

    /// The largest raw score any row can get, when the family can tell: for trees, the base
    /// score plus every tree's largest leaf, summed in the order scoring sums them (rounding is
    /// monotone, so no row's sum exceeds it). `None` for the others (unbounded inputs).
    pub fn max_score(&self) -> Option<f64> {
        match self {
            FittedModel::Gbdt(m) => {
                let b = m.booster();
                let mut sum = -0.0_f64;
                for tree in &b.trees {
                    let leaf = tree
                        .nodes
                        .iter()
                        .filter(|n| n.is_leaf)
                        .map(|n| f64::from(n.weight_value))
                        .fold(f64::NEG_INFINITY, f64::max);
                    sum += leaf;
                }
                Some(b.base_score + sum).filter(|s| s.is_finite())
            }
            FittedModel::Baseline(_) | FittedModel::Logistic(_) => None,
        }
    }

    /// Scores of every row of `data`.
    pub fn score_all(&self, data: &Dataset) -> Vec<f64> {
        (0..data.len()).map(|i| self.score(data.row(i))).collect()
    }
}

#[cfg(test)]
mod test_rng;
#[cfg(test)]
mod tests;
