//! What the ranker (and the planner) need of a model: its feature schema and calibrated
//! probabilities, one row or a batch, with a bound on any probability; and the served model's
//! implementation of it.

use crate::features::FeatureSchema;

/// What the ranker needs of a model: its feature schema and a calibrated probability per row.
pub trait Scorer {
    /// The schema rows are built in.
    fn schema(&self) -> &FeatureSchema;
    /// Calibrated probability for one row.
    fn probability(&self, row: &[f32]) -> f64;
    /// Calibrated probabilities of every row of `rows` (row-major, `width` values each; a
    /// trailing partial row is ignored) into `out`, cleared first. Must equal
    /// [`Self::probability`] row by row, bit for bit: the ranking may not depend on how rows
    /// were batched. The default loops; scorers that batch faster override it.
    fn probabilities(&self, rows: &[f32], width: usize, out: &mut Vec<f64>) {
        out.clear();
        if width > 0 {
            out.extend(rows.chunks_exact(width).map(|r| self.probability(r)));
        }
    }
    /// An upper bound on the probability of any row (a plan's `upper_bound` uses it). The
    /// default, 1, always holds.
    fn max_probability(&self) -> f64 {
        1.0
    }
}

impl Scorer for crate::model::ResponseModel {
    fn schema(&self) -> &FeatureSchema {
        &self.schema
    }
    fn probability(&self, row: &[f32]) -> f64 {
        self.predict(row)
    }
    fn probabilities(&self, rows: &[f32], width: usize, out: &mut Vec<f64>) {
        self.predict_many(rows, width, out);
    }
    fn max_probability(&self) -> f64 {
        self.primary.max_probability()
    }
}
