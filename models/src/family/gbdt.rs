//! The `gbdt` family: gradient-boosted trees fitted with forust-ml (pure Rust, histogram-based,
//! NaN treated as missing, log-loss objective).
//!
//! Chosen on measurement (see `docs/MODELS.md`): on 1M rows × 20 features it fitted in 11 s with
//! AUC 0.818, against 0.730 for linfa-logistic; linfa's and smartcore's trees and forests return
//! hard labels only.
//!
//! Scoring does not use forust's tree walk: the booster is compiled into a [`FlatForest`] when
//! the model is fitted or deserialised, which gives bit-identical scores several times faster
//! and scores a batch of rows at once (see `flat_forest`). The artifact still stores only the
//! booster, in the same JSON as before, so older artifacts load unchanged.

use forust_ml::GradientBooster;
use forust_ml::data::Matrix;
use forust_ml::sampler::SampleMethod;
use serde::{Deserialize, Serialize};

use super::flat_forest::{CompileError, FlatForest};
use super::params::{GbdtParams, RowSampling};
use super::{Dataset, ValidHyperParams};
use crate::{Error, Result};

/// Fitted gradient-boosted trees: the booster (what is saved) and its compiled form (what
/// scores).
#[derive(Deserialize)]
#[serde(try_from = "Stored")]
pub struct GbdtModel {
    booster: GradientBooster,
    flat: FlatForest,
}

/// The serialised form: the booster alone, exactly the layout the model had before the flat
/// forest existed.
#[derive(Deserialize)]
#[serde(rename = "GbdtModel")]
struct Stored {
    booster: GradientBooster,
}

/// Borrowing twin of [`Stored`] for serialising without a clone.
#[derive(Serialize)]
#[serde(rename = "GbdtModel")]
struct StoredRef<'a> {
    booster: &'a GradientBooster,
}

impl TryFrom<Stored> for GbdtModel {
    type Error = String;

    fn try_from(s: Stored) -> Result<Self, String> {
        Self::from_booster(s.booster)
            .map_err(|reason| format!("the gbdt model cannot be compiled for scoring: {reason}"))
    }
}

impl Serialize for GbdtModel {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        StoredRef {
            booster: &self.booster,
        }
        .serialize(ser)
    }
}

impl std::fmt::Debug for GbdtModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GbdtModel")
            .field("trees", &self.booster.trees.len())
            .finish()
    }
}

/// forust's sampling method and share for `rows` training rows under `g`
/// ([`GbdtParams::sample_method`](super::GbdtParams::sample_method)).
fn row_sampling(g: &GbdtParams, rows: usize) -> (SampleMethod, f32) {
    match g.sample_method {
        RowSampling::Auto if rows > g.rows_per_tree => (
            SampleMethod::Random,
            (g.rows_per_tree as f64 / rows as f64) as f32,
        ),
        RowSampling::Auto | RowSampling::None => (SampleMethod::None, 1.0),
        RowSampling::Random => (SampleMethod::Random, g.subsample),
        RowSampling::Goss => (SampleMethod::Goss, 1.0),
    }
}

impl GbdtModel {
    /// Fit on `train` with log loss.
    pub fn fit(train: &Dataset, params: &ValidHyperParams) -> Result<Self> {
        let hp = params.get();
        let g = &hp.gbdt;
        let fail = |reason: String| Error::Fit {
            family: "gbdt",
            reason,
        };
        if train.positives() == 0 || train.positives() == train.len() {
            return Err(Error::NotEnoughData(format!(
                "gbdt needs both classes; training rows: {}, positives: {}",
                train.len(),
                train.positives()
            )));
        }
        let (method, subsample) = row_sampling(g, train.len());
        let data = train.column_major_f64();
        let matrix = Matrix::new(&data, train.len(), train.n_features);
        let y: Vec<f64> = train.y.iter().map(|&b| f64::from(u8::from(b))).collect();
        let mut booster = GradientBooster::default()
            .set_iterations(g.iterations)
            .set_learning_rate(g.learning_rate)
            .set_max_depth(g.max_depth)
            .set_min_leaf_weight(g.min_leaf_weight)
            .set_l2(g.l2)
            .set_nbins(g.nbins)
            .set_seed(hp.seed)
            .set_sample_method(method)
            .set_subsample(subsample)
            .set_top_rate(g.top_rate)
            .set_other_rate(g.other_rate)
            .set_num_threads((g.threads > 0).then_some(g.threads));
        booster
            .fit_unweighted(&matrix, &y, None)
            .map_err(|e| fail(e.to_string()))?;
        // The thread count is how this machine fitted, not part of the model: forust's fit is
        // identical for any count, and the artifact must be too (`train --threads`).
        booster.num_threads = None;
        Self::from_booster(booster).map_err(|e| fail(format!("cannot compile the trees: {e}")))
    }

    /// Wrap a fitted booster, compiling it for scoring; the error says why it cannot be (see
    /// [`FlatForest::new`]).
    pub fn from_booster(booster: GradientBooster) -> Result<Self, CompileError> {
        let flat = FlatForest::new(&booster)?;
        Ok(Self { booster, flat })
    }

    /// Log-odds of engagement for one row.
    pub fn score(&self, row: &[f32]) -> f64 {
        self.flat.score(row)
    }

    /// Log-odds of every row of `rows` (row-major, `width` values each) into `out` (cleared
    /// first); the same values as [`Self::score`] row by row, several times cheaper per row.
    pub fn scores(&self, rows: &[f32], width: usize, out: &mut Vec<f64>) {
        self.flat.scores(rows, width, out);
    }

    /// The fitted booster (for comparing against forust's own prediction).
    pub fn booster(&self) -> &GradientBooster {
        &self.booster
    }

    /// Number of trees.
    pub fn trees(&self) -> usize {
        self.booster.trees.len()
    }
}
