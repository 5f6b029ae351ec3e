//! The `logistic` family: L2-regularised logistic regression (linfa-logistic) on standardised
//! features, missing values filled with each feature's documented fill.
//!
//! Only the standardisation and the coefficients are kept, so scoring is a dot product. linfa
//! treats the *larger* label as positive; the fitted labels are checked and the sign flipped if
//! needed, so `score` is always the log-odds of engagement.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::{Dataset, ValidHyperParams};
use crate::features::FeatureSchema;
use crate::{Error, Result};

/// Fitted logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    /// Fill for missing values, per feature.
    pub fill: Vec<f32>,
    /// Mean used to standardise, per feature.
    pub mean: Vec<f64>,
    /// Standard deviation used to standardise (1 for constant features), per feature.
    pub scale: Vec<f64>,
    /// Coefficients on standardised features.
    pub weights: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
}

impl LogisticModel {
    /// Fit on (an evenly spaced subsample of at most `logistic.max_rows` of) `train`.
    pub fn fit(schema: &FeatureSchema, train: &Dataset, params: &ValidHyperParams) -> Result<Self> {
        let p = &params.get().logistic;
        let fail = |reason: String| Error::Fit {
            family: "logistic",
            reason,
        };
        let positives = train.positives();
        if positives == 0 || positives == train.len() {
            return Err(Error::NotEnoughData(format!(
                "logistic needs both classes; training rows: {}, positives: {positives}",
                train.len()
            )));
        }
        let d = train.n_features;
        let step = train.len().div_ceil(p.max_rows).max(1);
        let rows: Vec<usize> = (0..train.len()).step_by(step).collect();
        let mut fill = schema.fills();
        fill.resize(d, 0.0);
        let filled = |i: usize, j: usize| {
            let v = train.row(i)[j];
            f64::from(if v.is_finite() { v } else { fill[j] })
        };
        let n = rows.len() as f64;
        let mut mean = vec![0.0; d];
        let mut scale = vec![0.0; d];
        for &i in &rows {
            for (j, m) in mean.iter_mut().enumerate() {
                *m += filled(i, j) / n;
            }
        }
        for &i in &rows {
            for (j, s) in scale.iter_mut().enumerate() {
                *s += (filled(i, j) - mean[j]).powi(2) / n;
            }
        }
        for s in &mut scale {
            *s = if *s > 1e-12 { s.sqrt() } else { 1.0 };
        }
        let x = Array2::from_shape_fn((rows.len(), d), |(r, j)| {
            (filled(rows[r], j) - mean[j]) / scale[j]
        });
        let y = Array1::from_iter(rows.iter().map(|&i| train.y[i]));
        let fitted = LogisticRegression::default()
            .alpha(p.alpha)
            .max_iterations(p.max_iterations)
            .fit(&linfa::Dataset::new(x, y))
            .map_err(|e| fail(e.to_string()))?;
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        Ok(Self {
            fill,
            mean,
            scale,
            weights: fitted.params().iter().map(|w| sign * w).collect(),
            intercept: sign * fitted.intercept(),
        })
    }

    /// Log-odds of engagement for one row.
    pub fn score(&self, row: &[f32]) -> f64 {
        let mut z = self.intercept;
        for (j, &v) in row.iter().enumerate().take(self.weights.len()) {
            let v = f64::from(if v.is_finite() { v } else { self.fill[j] });
            z += self.weights[j] * (v - self.mean[j]) / self.scale[j];
        }
        z
    }
}
