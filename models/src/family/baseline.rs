//! The `baseline` family: hierarchical smoothed engaged rates, no learner.
//!
//! A global rate per (channel, local 3-hour block) is learned from the training rows; each
//! candidate's rate is then shrunk level by level toward the level above: person → person × hour
//! block → contact → contact × channel, each with `k` pseudo-attempts. It reads only counts the
//! features already carry, so it needs no state of its own. It is the floor every learner must
//! beat on out-of-time log loss.

use serde::{Deserialize, Serialize};

use super::{Dataset, ValidHyperParams};
use crate::calibration::logit;
use crate::features::FeatureSchema;
use crate::{Error, Result};

const CHANNELS: [&str; 5] = ["ch_voice", "ch_sms", "ch_whatsapp", "ch_rcs", "ch_email"];
/// (attempts, engaged) feature pairs from coarsest to finest level.
const LEVELS: [(&str, &str); 4] = [
    ("p_attempts_180d", "p_engaged_180d"),
    ("ph_block_attempts", "ph_block_engaged"),
    ("pc_attempts_180d", "pc_engaged_180d"),
    ("pcc_attempts_30d", "pcc_engaged_30d"),
];

/// Fitted baseline: the global rate table and the chosen smoothing strength.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineModel {
    /// Engaged rate per channel (rows) × 3-hour block (columns).
    pub prior: Vec<[f64; 8]>,
    /// Pseudo-attempts per level.
    pub strength: f64,
    channel_idx: [usize; 5],
    hour_idx: usize,
    level_idx: [(usize, usize); 4],
}

impl BaselineModel {
    /// Learn the global table and pick the smoothing strength with the best training log loss.
    pub fn fit(schema: &FeatureSchema, train: &Dataset, params: &ValidHyperParams) -> Result<Self> {
        if train.is_empty() {
            return Err(Error::NotEnoughData(
                "no training rows for the baseline".into(),
            ));
        }
        let idx = |name: &str| {
            schema.index(name).ok_or_else(|| Error::Fit {
                family: "baseline",
                reason: format!("feature {name} missing from the schema"),
            })
        };
        let mut channel_idx = [0; 5];
        for (slot, name) in channel_idx.iter_mut().zip(CHANNELS) {
            *slot = idx(name)?;
        }
        let mut level_idx = [(0, 0); 4];
        for (slot, (a, e)) in level_idx.iter_mut().zip(LEVELS) {
            *slot = (idx(a)?, idx(e)?);
        }
        let mut model = Self {
            prior: Vec::new(),
            strength: 1.0,
            channel_idx,
            hour_idx: idx("local_hour")?,
            level_idx,
        };
        let overall = (train.positives() as f64 + 1.0) / (train.len() as f64 + 2.0);
        let mut counts = vec![[(0.0_f64, 0.0_f64); 8]; 5];
        for i in 0..train.len() {
            let (c, b) = model.cell(train.row(i));
            counts[c][b].0 += 1.0;
            counts[c][b].1 += f64::from(u8::from(train.y[i]));
        }
        model.prior = counts
            .iter()
            .map(|row| row.map(|(n, e)| (e + 20.0 * overall) / (n + 20.0)))
            .collect();
        let mut best = (f64::INFINITY, 1.0);
        for &k in &params.get().baseline.strengths {
            model.strength = f64::from(k);
            let loss = (0..train.len())
                .map(|i| {
                    let p = model.rate(train.row(i));
                    if train.y[i] { -p.ln() } else { -(1.0 - p).ln() }
                })
                .sum::<f64>();
            if loss < best.0 {
                best = (loss, model.strength);
            }
        }
        model.strength = best.1;
        Ok(model)
    }

    fn cell(&self, row: &[f32]) -> (usize, usize) {
        let c = self
            .channel_idx
            .iter()
            .position(|&j| row[j] > 0.5)
            .unwrap_or(0);
        let hour = row[self.hour_idx];
        let b = if hour.is_finite() {
            (hour.clamp(0.0, 23.0) as usize) / 3
        } else {
            4
        };
        (c, b)
    }

    /// The smoothed engaged rate of a row.
    pub fn rate(&self, row: &[f32]) -> f64 {
        let (c, b) = self.cell(row);
        let mut p = self.prior.get(c).map_or(0.1, |r| r[b]);
        for &(a, e) in &self.level_idx {
            let attempts = count(row[a]);
            let engaged = count(row[e]).min(attempts);
            p = (engaged + self.strength * p) / (attempts + self.strength);
        }
        p.clamp(1e-6, 1.0 - 1e-6)
    }

    /// Log-odds of [`BaselineModel::rate`].
    pub fn score(&self, row: &[f32]) -> f64 {
        logit(self.rate(row))
    }
}

/// Features carry counts as `ln(1 + n)`; undo it.
fn count(v: f32) -> f64 {
    if v.is_finite() {
        f64::from(v).exp_m1().max(0.0)
    } else {
        0.0
    }
}
