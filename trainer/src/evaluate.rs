//! `evaluate`: score later attempts with a version and report AUC, log loss, Brier, ECE with its
//! reliability table, base rate and top-decile lift — overall, by channel and by local hour — next
//! to the calibrated baseline's figures.

use std::fmt::Write as _;

use contactscore_models::metrics::{BinaryMetrics, ECE_BINS, binary_metrics, grouped_metrics};
use serde::Serialize;

use crate::score::Scored;

/// Metrics of the selected model next to the baseline's.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    /// The selected model.
    pub model: BinaryMetrics,
    /// The calibrated baseline.
    pub baseline: BinaryMetrics,
}

/// The evaluation report (also written as JSON with `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Version evaluated.
    pub version: String,
    /// Its family.
    pub family: String,
    /// Its target.
    pub target: String,
    /// Attempts scored.
    pub attempts: u64,
    /// Attempts at or before the training cutoff (not out of time).
    pub stale_attempts: u64,
    /// Over all attempts.
    pub overall: Pair,
    /// Per channel.
    pub by_channel: Vec<(String, Pair)>,
    /// Per local hour of the attempt.
    pub by_local_hour: Vec<(u8, Pair)>,
}

/// Compute the report from scored attempts.
pub fn evaluate(version: &str, family: &str, target: &str, scored: &[Scored]) -> Report {
    let probs: Vec<f64> = scored.iter().map(|s| s.probability).collect();
    let base: Vec<f64> = scored.iter().map(|s| s.baseline).collect();
    let labels: Vec<bool> = scored.iter().map(|s| s.label).collect();
    let channels: Vec<String> = scored
        .iter()
        .map(|s| s.channel.as_str().to_owned())
        .collect();
    let hours: Vec<u8> = scored.iter().map(|s| s.local_hour).collect();
    let pairs = |model: Vec<(String, BinaryMetrics)>, baseline: Vec<(String, BinaryMetrics)>| {
        model
            .into_iter()
            .zip(baseline)
            .map(|((k, m), (_, b))| {
                (
                    k,
                    Pair {
                        model: m,
                        baseline: b,
                    },
                )
            })
            .collect::<Vec<_>>()
    };
    let by_channel = pairs(
        grouped_metrics(&channels, &probs, &labels, ECE_BINS),
        grouped_metrics(&channels, &base, &labels, ECE_BINS),
    );
    let by_local_hour = grouped_metrics(&hours, &probs, &labels, ECE_BINS)
        .into_iter()
        .zip(grouped_metrics(&hours, &base, &labels, ECE_BINS))
        .map(|((h, m), (_, b))| {
            (
                h,
                Pair {
                    model: m,
                    baseline: b,
                },
            )
        })
        .collect();
    Report {
        version: version.to_owned(),
        family: family.to_owned(),
        target: target.to_owned(),
        attempts: scored.len() as u64,
        stale_attempts: scored.iter().filter(|s| s.stale).count() as u64,
        overall: Pair {
            model: binary_metrics(&probs, &labels, ECE_BINS),
            baseline: binary_metrics(&base, &labels, ECE_BINS),
        },
        by_channel,
        by_local_hour,
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "   n/a".to_owned(), |v| format!("{v:6.4}"))
}

fn row(out: &mut String, label: &str, p: &Pair) {
    let (m, b) = (&p.model, &p.baseline);
    let _ = writeln!(
        out,
        "{label:<10} {:>8} {:>7.4} | {:>7.4} {} {:>7.4} {:>7.4} {:>6} | {:>7.4} {} {:>7.4} {:>7.4}",
        m.n,
        m.base_rate,
        m.log_loss,
        opt(m.auc),
        m.brier,
        m.ece,
        m.lift_top_decile
            .map_or_else(|| "n/a".to_owned(), |l| format!("{l:.2}")),
        b.log_loss,
        opt(b.auc),
        b.brier,
        b.ece,
    );
}

/// Human-readable tables.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "version {} ({}, target {}): {} attempts{}",
        r.version,
        r.family,
        r.target,
        r.attempts,
        if r.stale_attempts > 0 {
            format!(" ({} not after the training cutoff)", r.stale_attempts)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "{:<10} {:>8} {:>7} | {:>7} {:>6} {:>7} {:>7} {:>6} | {:>7} {:>6} {:>7} {:>7}",
        "",
        "n",
        "base",
        "logloss",
        "AUC",
        "brier",
        "ECE",
        "lift10",
        "base:ll",
        "AUC",
        "brier",
        "ECE"
    );
    row(&mut out, "overall", &r.overall);
    for (c, p) in &r.by_channel {
        row(&mut out, c, p);
    }
    for (h, p) in &r.by_local_hour {
        row(&mut out, &format!("hour {h:02}"), p);
    }
    let _ = writeln!(
        out,
        "\nreliability (model): predicted range, n, mean predicted, observed"
    );
    for b in &r.overall.model.reliability {
        let _ = writeln!(
            out,
            "  [{:.4}, {:.4}] {:>8} {:.4} {:.4}",
            b.lo, b.hi, b.n, b.mean_predicted, b.observed_rate
        );
    }
    out
}
