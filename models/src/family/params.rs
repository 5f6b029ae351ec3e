//! Hyperparameters of every family, with documented defaults, validated into
//! [`ValidHyperParams`] before any fitting starts (a value that exists is valid).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Gradient-boosted trees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbdtParams {
    /// Boosting rounds.
    pub iterations: usize,
    /// Shrinkage per round.
    pub learning_rate: f32,
    /// Maximum tree depth.
    pub max_depth: usize,
    /// Minimum hessian sum in a leaf.
    pub min_leaf_weight: f32,
    /// L2 regularisation on leaf weights.
    pub l2: f32,
    /// Histogram bins per feature.
    pub nbins: u16,
    /// Threads for fitting; 0 = the trainer's `--threads` (every core by default). The fitted
    /// trees are the same for any count.
    pub threads: usize,
    /// Which training rows each tree is grown on: `auto` (the default: every row up to
    /// `rows_per_tree` training rows, beyond that a random `rows_per_tree` share per tree),
    /// every row (`none`), a random `subsample` of them (`random`), or gradient-based one-side
    /// sampling (`goss`: the `top_rate` share of rows with the largest gradients plus a random
    /// `other_rate` share of the rest, reweighted, after `1 / learning_rate` warm-up rounds on
    /// every row). Sampling trades fit time for accuracy; BENCHMARKS.md ("Row sampling in the
    /// GBDT fit") measures both at 10M attempts, which is where `auto`'s default comes from.
    pub sample_method: RowSampling,
    /// With `auto`: trees see every row up to this many training rows, and a random share of
    /// this size beyond it.
    pub rows_per_tree: usize,
    /// Share of rows per tree with `sample_method = "random"`, in (0, 1].
    pub subsample: f32,
    /// With `goss`: share of rows with the largest gradients always kept.
    pub top_rate: f64,
    /// With `goss`: share of the remaining rows drawn at random.
    pub other_rate: f64,
}

/// How the rows a tree is grown on are chosen ([`GbdtParams::sample_method`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RowSampling {
    /// `none` up to `rows_per_tree` training rows, `random` with a `rows_per_tree` share beyond.
    #[default]
    Auto,
    /// Every training row.
    None,
    /// A random share (`subsample`) per tree.
    Random,
    /// Gradient-based one-side sampling (`top_rate`, `other_rate`).
    Goss,
}

impl Default for GbdtParams {
    fn default() -> Self {
        Self {
            iterations: 150,
            learning_rate: 0.1,
            max_depth: 6,
            min_leaf_weight: 20.0,
            l2: 1.0,
            nbins: 128,
            threads: 0,
            sample_method: RowSampling::Auto,
            rows_per_tree: 1_000_000,
            subsample: 1.0,
            top_rate: 0.2,
            other_rate: 0.1,
        }
    }
}

/// Logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticParams {
    /// L2 penalty.
    pub alpha: f64,
    /// Optimiser iterations.
    pub max_iterations: u64,
    /// At most this many training rows are used (an evenly spaced subsample beyond it): the
    /// optimiser is the slowest step and more rows change little for a linear model.
    pub max_rows: usize,
}

impl Default for LogisticParams {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            max_iterations: 100,
            max_rows: 100_000,
        }
    }
}

/// Hierarchical smoothed rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselineParams {
    /// Candidate smoothing strengths (pseudo-attempts); the one with the best training log loss
    /// is kept.
    pub strengths: Vec<f32>,
}

impl Default for BaselineParams {
    fn default() -> Self {
        Self {
            strengths: vec![1.0, 3.0, 10.0, 30.0],
        }
    }
}

/// All families' hyperparameters plus the seed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HyperParams {
    /// Seed for every random choice in fitting.
    pub seed: u64,
    /// Gradient-boosted trees.
    pub gbdt: GbdtParams,
    /// Logistic regression.
    pub logistic: LogisticParams,
    /// Baseline.
    pub baseline: BaselineParams,
}

/// Hyperparameters that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidHyperParams(HyperParams);

impl ValidHyperParams {
    /// The validated values.
    pub fn get(&self) -> &HyperParams {
        &self.0
    }

    /// These values, fitting the trees on `threads` threads unless `gbdt.threads` names a count
    /// of its own. The count changes no fitted value, so manifests keep the configured ones.
    pub fn fitting_on(&self, threads: usize) -> Self {
        let mut hp = self.0.clone();
        if hp.gbdt.threads == 0 {
            hp.gbdt.threads = threads;
        }
        Self(hp)
    }
}

impl HyperParams {
    /// Check every value; the error names the offending key.
    pub fn validate(self) -> Result<ValidHyperParams> {
        let bad = |key: &str, why: &str| Err(Error::InvalidConfig(format!("{key}: {why}")));
        let g = &self.gbdt;
        if g.iterations == 0 || g.iterations > 10_000 {
            return bad("gbdt.iterations", "must be in 1..=10000");
        }
        if !(g.learning_rate > 0.0 && g.learning_rate <= 1.0) {
            return bad("gbdt.learning_rate", "must be in (0, 1]");
        }
        if g.max_depth == 0 || g.max_depth > 16 {
            return bad("gbdt.max_depth", "must be in 1..=16");
        }
        if !(g.min_leaf_weight >= 0.0 && g.min_leaf_weight.is_finite()) {
            return bad("gbdt.min_leaf_weight", "must be a finite number >= 0");
        }
        if !(g.l2 >= 0.0 && g.l2.is_finite()) {
            return bad("gbdt.l2", "must be a finite number >= 0");
        }
        if g.nbins < 2 {
            return bad("gbdt.nbins", "must be at least 2");
        }
        if g.rows_per_tree < 1_000 {
            return bad("gbdt.rows_per_tree", "must be at least 1000");
        }
        if !(g.subsample > 0.0 && g.subsample <= 1.0) {
            return bad("gbdt.subsample", "must be in (0, 1]");
        }
        if !(g.top_rate > 0.0 && g.other_rate > 0.0 && g.top_rate + g.other_rate <= 1.0) {
            return bad(
                "gbdt.top_rate, gbdt.other_rate",
                "must both be above 0 with a sum of at most 1",
            );
        }
        let l = &self.logistic;
        if !(l.alpha >= 0.0 && l.alpha.is_finite()) {
            return bad("logistic.alpha", "must be a finite number >= 0");
        }
        if l.max_iterations == 0 {
            return bad("logistic.max_iterations", "must be at least 1");
        }
        if l.max_rows < 100 {
            return bad("logistic.max_rows", "must be at least 100");
        }
        if self.baseline.strengths.is_empty()
            || self
                .baseline
                .strengths
                .iter()
                .any(|s| !(*s > 0.0 && s.is_finite()))
        {
            return bad(
                "baseline.strengths",
                "must be a non-empty list of positive numbers",
            );
        }
        Ok(ValidHyperParams(self))
    }
}
