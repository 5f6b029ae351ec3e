//! Probability calibration: maps a family's raw score (log-odds) to a probability that matches
//! observed frequencies, fitted on a later-in-time slice than the model itself.
//!
//! Platt scaling (a logistic fit on the score) needs little data and keeps the ranking smooth;
//! isotonic regression (pool-adjacent-violators) corrects any monotone distortion but needs more
//! rows. `Auto` picks isotonic when there is enough data in both classes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Lower/upper bound of isotonic outputs, so log loss stays finite on unseen extremes.
const ISO_CLAMP: f64 = 1e-4;
/// Most knots an isotonic map keeps.
const MAX_KNOTS: usize = 4096;

/// Numerically stable logistic function.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Log-odds of `p`, clamped to `[1e-15, 1 - 1e-15]`.
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-15, 1.0 - 1e-15);
    (p / (1.0 - p)).ln()
}

/// How to calibrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// Isotonic with at least 20 000 rows and 200 of each class, else Platt.
    #[default]
    Auto,
    /// Platt scaling.
    Platt,
    /// Isotonic regression.
    Isotonic,
    /// No calibration: sigmoid of the raw score.
    None,
}

impl FromStr for CalibrationMethod {
    type Err = crate::contract::UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "platt" => Ok(Self::Platt),
            "isotonic" => Ok(Self::Isotonic),
            "none" => Ok(Self::None),
            _ => Err(crate::contract::UnknownValue {
                kind: "calibration method",
                value: s.to_owned(),
                expected: "auto, platt, isotonic, none",
            }),
        }
    }
}

impl fmt::Display for CalibrationMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Platt => "platt",
            Self::Isotonic => "isotonic",
            Self::None => "none",
        })
    }
}

/// A fitted calibration map from raw score to probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibrator {
    /// `p = sigmoid(score)`.
    Identity,
    /// `p = sigmoid(a * score + b)`.
    Platt {
        /// Slope.
        a: f64,
        /// Intercept.
        b: f64,
    },
    /// Monotone non-decreasing map: linear between knots, flat beyond the ends.
    Isotonic {
        /// Knot scores, ascending.
        x: Vec<f64>,
        /// Knot probabilities, non-decreasing.
        y: Vec<f64>,
    },
}

fn class_counts(labels: &[bool]) -> (usize, usize) {
    let pos = labels.iter().filter(|&&y| y).count();
    (pos, labels.len() - pos)
}

fn check(scores: &[f64], labels: &[bool]) -> Result<(usize, usize)> {
    let (pos, neg) = class_counts(labels);
    if scores.len() != labels.len() || pos == 0 || neg == 0 {
        return Err(Error::NotEnoughData(format!(
            "calibration needs both classes: {} scores, {pos} positive and {neg} negative labels",
            scores.len()
        )));
    }
    Ok((pos, neg))
}

/// NaN scores rank lowest.
fn finite(s: f64) -> f64 {
    if s.is_nan() { f64::MIN } else { s }
}

impl Calibrator {
    /// Fit with `method` (see [`CalibrationMethod`]).
    pub fn fit(method: CalibrationMethod, scores: &[f64], labels: &[bool]) -> Result<Self> {
        match method {
            CalibrationMethod::None => Ok(Self::Identity),
            CalibrationMethod::Platt => Self::fit_platt(scores, labels),
            CalibrationMethod::Isotonic => Self::fit_isotonic(scores, labels),
            CalibrationMethod::Auto => {
                let (pos, neg) = class_counts(labels);
                if labels.len() >= 20_000 && pos >= 200 && neg >= 200 {
                    Self::fit_isotonic(scores, labels)
                } else {
                    Self::fit_platt(scores, labels)
                }
            }
        }
    }

    /// Platt scaling by Newton's method with Platt's smoothed targets.
    pub fn fit_platt(scores: &[f64], labels: &[bool]) -> Result<Self> {
        let (pos, neg) = check(scores, labels)?;
        let hi = (pos as f64 + 1.0) / (pos as f64 + 2.0);
        let lo = 1.0 / (neg as f64 + 2.0);
        let (mut a, mut b) = (1.0_f64, 0.0_f64);
        for _ in 0..50 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-12, 0.0, 1e-12);
            for (&s, &y) in scores.iter().zip(labels) {
                let s = finite(s).clamp(-50.0, 50.0);
                let p = sigmoid(a * s + b);
                let t = if y { hi } else { lo };
                let w = (p * (1.0 - p)).max(1e-12);
                ga += (p - t) * s;
                gb += p - t;
                haa += w * s * s;
                hab += w * s;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-18 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            a -= da;
            b -= db;
            if da.abs() < 1e-10 && db.abs() < 1e-10 {
                break;
            }
        }
        if !(a.is_finite() && b.is_finite()) {
            return Err(Error::Fit {
                family: "calibration",
                reason: "Platt fit diverged".into(),
            });
        }
        Ok(Self::Platt { a, b })
    }

    /// Isotonic regression by pool-adjacent-violators.
    pub fn fit_isotonic(scores: &[f64], labels: &[bool]) -> Result<Self> {
        check(scores, labels)?;
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&i, &j| finite(scores[i]).total_cmp(&finite(scores[j])));
        // Blocks: (sum of scores, sum of labels, count).
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        let mut i = 0;
        while i < order.len() {
            let s0 = finite(scores[order[i]]);
            let mut blk = (0.0, 0.0, 0.0);
            while i < order.len() && finite(scores[order[i]]) == s0 {
                blk.0 += s0;
                blk.1 += f64::from(u8::from(labels[order[i]]));
                blk.2 += 1.0;
                i += 1;
            }
            blocks.push(blk);
            while blocks.len() > 1 {
                let n = blocks.len();
                let (prev, last) = (blocks[n - 2], blocks[n - 1]);
                if prev.1 / prev.2 < last.1 / last.2 {
                    break;
                }
                blocks[n - 2] = (prev.0 + last.0, prev.1 + last.1, prev.2 + last.2);
                blocks.pop();
            }
        }
        let mut x: Vec<f64> = Vec::with_capacity(blocks.len());
        let mut y: Vec<f64> = Vec::with_capacity(blocks.len());
        for (ss, sy, n) in blocks {
            x.push(ss / n);
            y.push((sy / n).clamp(ISO_CLAMP, 1.0 - ISO_CLAMP));
        }
        if x.len() > MAX_KNOTS {
            let step = (x.len() - 1) as f64 / (MAX_KNOTS - 1) as f64;
            let keep: Vec<usize> = (0..MAX_KNOTS)
                .map(|k| (k as f64 * step).round() as usize)
                .collect();
            x = keep.iter().map(|&k| x[k]).collect();
            y = keep.iter().map(|&k| y[k]).collect();
        }
        Ok(Self::Isotonic { x, y })
    }

    /// Probability for a raw score (NaN counts as the lowest score).
    pub fn apply(&self, score: f64) -> f64 {
        let s = finite(score);
        match self {
            Self::Identity => sigmoid(s),
            Self::Platt { a, b } => sigmoid(a * s + b),
            Self::Isotonic { x, y } => {
                let Some((&first, &last)) = x.first().zip(x.last()) else {
                    return 0.5;
                };
                if s <= first {
                    return y[0];
                }
                if s >= last {
                    return y[y.len() - 1];
                }
                let k = x.partition_point(|&v| v <= s);
                let (x0, x1, y0, y1) = (x[k - 1], x[k], y[k - 1], y[k]);
                if x1 > x0 {
                    y0 + (y1 - y0) * (s - x0) / (x1 - x0)
                } else {
                    y1
                }
            }
        }
    }

    /// The largest probability [`Self::apply`] can return for a score at most `max_score`
    /// (`None` = any score). Every map here is non-decreasing in the score (Platt when `a ≥
    /// 0`); otherwise, or when nothing bounds the score, 1. A tiny margin covers rounding.
    pub fn max_output(&self, max_score: Option<f64>) -> f64 {
        let p = match (self, max_score) {
            (Self::Isotonic { y, .. }, _) => y.iter().copied().fold(0.0, f64::max),
            (Self::Identity, Some(s)) => sigmoid(finite(s)),
            (Self::Platt { a, b }, Some(s)) if *a >= 0.0 => sigmoid(a * finite(s) + b),
            (Self::Identity | Self::Platt { .. }, _) => 1.0,
        };
        (p + 1e-12).min(1.0)
    }

    /// The method's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Identity => "none",
            Self::Platt { .. } => "platt",
            Self::Isotonic { .. } => "isotonic",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::log_loss;
    use proptest::prelude::*;

    fn data(n: usize, seed: u64, f: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<bool>) {
        let mut s = seed;
        let mut next = || {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let scores: Vec<f64> = (0..n).map(|_| next() * 8.0 - 4.0).collect();
        let labels = scores.iter().map(|&x| next() < f(x)).collect();
        (scores, labels)
    }

    #[test]
    fn platt_recovers_slope_and_intercept() {
        let (s, y) = data(50_000, 1, |x| sigmoid(2.0 * x - 1.0));
        match Calibrator::fit_platt(&s, &y) {
            Ok(Calibrator::Platt { a, b }) => {
                assert!((a - 2.0).abs() < 0.15, "a={a}");
                assert!((b + 1.0).abs() < 0.15, "b={b}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn isotonic_fixes_a_distorted_score_out_of_sample() {
        let truth = |x: f64| sigmoid(x).powi(3);
        let (s, y) = data(40_000, 2, truth);
        let (s2, y2) = data(40_000, 3, truth);
        let iso = Calibrator::fit_isotonic(&s, &y).unwrap_or(Calibrator::Identity);
        let raw: Vec<f64> = s2.iter().map(|&x| Calibrator::Identity.apply(x)).collect();
        let cal: Vec<f64> = s2.iter().map(|&x| iso.apply(x)).collect();
        assert!(log_loss(&cal, &y2) < log_loss(&raw, &y2) - 0.05);
        let json = serde_json::to_string(&iso).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Calibrator>(&json).ok(), Some(iso));
    }

    proptest! {
        #[test]
        fn isotonic_is_monotone(pairs in proptest::collection::vec((-5.0f64..5.0, any::<bool>()), 4..200),
                                probes in proptest::collection::vec(-6.0f64..6.0, 2..50)) {
            let s: Vec<f64> = pairs.iter().map(|p| p.0).collect();
            let mut y: Vec<bool> = pairs.iter().map(|p| p.1).collect();
            y[0] = true;
            y[1] = false;
            let c = Calibrator::fit_isotonic(&s, &y).unwrap_or(Calibrator::Identity);
            let mut probes = probes;
            probes.sort_by(f64::total_cmp);
            let out: Vec<f64> = probes.iter().map(|&x| c.apply(x)).collect();
            prop_assert!(out.windows(2).all(|w| w[0] <= w[1] + 1e-12));
            prop_assert!(out.iter().all(|p| (0.0..=1.0).contains(p)));
        }
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        assert!(Calibrator::fit_platt(&[0.1, 0.2], &[true, true]).is_err());
        assert!(Calibrator::fit_isotonic(&[], &[]).is_err());
        assert!(Calibrator::fit(CalibrationMethod::Auto, &[1.0], &[true]).is_err());
        assert_eq!(Calibrator::Identity.apply(f64::NAN), 0.0);
        assert!("magic".parse::<CalibrationMethod>().is_err());
    }
}
