//! A response model as trainer and server use it: a fitted family plus its calibrator, the
//! calibrated baseline kept beside it for comparison, the feature schema and the target.

use serde::{Deserialize, Serialize};

use crate::Target;
use crate::calibration::Calibrator;
use crate::family::{Family, FittedModel};
use crate::features::FeatureSchema;

/// A fitted family with the calibrator fitted on its out-of-time scores.
#[derive(Debug, Serialize, Deserialize)]
pub struct CalibratedModel {
    /// The learner.
    pub model: FittedModel,
    /// Maps the learner's raw score to a probability.
    pub calibrator: Calibrator,
}

impl CalibratedModel {
    /// Calibrated probability for one feature row.
    pub fn predict(&self, row: &[f32]) -> f64 {
        self.calibrator.apply(self.model.score(row))
    }

    /// Calibrated probabilities of every row of `rows` (row-major, `width` values each) into
    /// `out` (cleared first): [`Self::predict`] row by row, with the learner scoring the batch
    /// at once (see [`FittedModel::scores`]).
    pub fn predict_many(&self, rows: &[f32], width: usize, out: &mut Vec<f64>) {
        self.model.scores(rows, width, out);
        for p in out.iter_mut() {
            *p = self.calibrator.apply(*p);
        }
    }

    /// The family.
    pub fn family(&self) -> Family {
        self.model.family()
    }

    /// An upper bound on the probability of any row: the calibrator's largest output over the
    /// scores the learner can give (1 when that is not known).
    pub fn max_probability(&self) -> f64 {
        self.calibrator.max_output(self.model.max_score())
    }
}

/// Everything needed to turn a feature row into a calibrated probability.
#[derive(Debug, Serialize, Deserialize)]
pub struct ResponseModel {
    /// The schema the model was trained on.
    pub schema: FeatureSchema,
    /// What the probability is of.
    pub target: Target,
    /// The selected model.
    pub primary: CalibratedModel,
    /// The calibrated baseline, for side-by-side evaluation; `None` when the primary is the
    /// baseline itself.
    pub baseline: Option<CalibratedModel>,
}

impl ResponseModel {
    /// Calibrated probability of the target for one feature row.
    pub fn predict(&self, row: &[f32]) -> f64 {
        self.primary.predict(row)
    }

    /// [`Self::predict`] for every row of `rows` (row-major, `width` values each) into `out`
    /// (cleared first), scored as one batch.
    pub fn predict_many(&self, rows: &[f32], width: usize, out: &mut Vec<f64>) {
        self.primary.predict_many(rows, width, out);
    }

    /// The calibrated baseline (the primary model when it is the baseline).
    pub fn baseline(&self) -> &CalibratedModel {
        self.baseline.as_ref().unwrap_or(&self.primary)
    }
}
