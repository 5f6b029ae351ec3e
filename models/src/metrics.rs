//! Binary-classification metrics for calibrated probabilities: AUC, log loss, Brier, expected
//! calibration error with its reliability table, base rate, top-decile lift, and per-group
//! breakdowns.
//!
//! Reliability bins are equal-mass (quantile) bins: engaged rates here are small (5–20 %), so
//! equal-width bins would put nearly every prediction into the first one or two bins and hide
//! miscalibration where the mass is. Ties stay in one bin, so a bin can be larger than n/bins.

use serde::{Deserialize, Serialize};

/// Probabilities are clamped to `[EPS, 1 - EPS]` for log loss.
pub const EPS: f64 = 1e-15;

/// Reliability bins used for ECE in manifests and reports.
pub const ECE_BINS: usize = 10;

/// One bin of the reliability table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lowest prediction in the bin.
    pub lo: f64,
    /// Highest prediction in the bin.
    pub hi: f64,
    /// Rows in the bin.
    pub n: u64,
    /// Mean prediction.
    pub mean_predicted: f64,
    /// Observed positive rate.
    pub observed_rate: f64,
}

/// Metrics of probabilities against binary labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    /// Rows.
    pub n: u64,
    /// Positive rows.
    pub positives: u64,
    /// Positive rate.
    pub base_rate: f64,
    /// Area under the ROC curve (`None` with one class).
    pub auc: Option<f64>,
    /// Mean negative log-likelihood.
    pub log_loss: f64,
    /// Mean squared error of the probability.
    pub brier: f64,
    /// Expected calibration error: |mean predicted − observed| per bin, weighted by bin size.
    pub ece: f64,
    /// Positive rate in the top 10 % by probability divided by the base rate.
    pub lift_top_decile: Option<f64>,
    /// Non-empty reliability bins.
    pub reliability: Vec<ReliabilityBin>,
}

fn clean(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p }
}

/// All metrics. `probs` and `labels` must have equal length (callers guarantee it; in release
/// builds the common prefix is used).
pub fn binary_metrics(probs: &[f64], labels: &[bool], bins: usize) -> BinaryMetrics {
    debug_assert_eq!(probs.len(), labels.len());
    let n = probs.len().min(labels.len());
    let (probs, labels) = (&probs[..n], &labels[..n]);
    let positives = labels.iter().filter(|&&y| y).count();
    let base_rate = if n > 0 {
        positives as f64 / n as f64
    } else {
        0.0
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| clean(probs[a]).total_cmp(&clean(probs[b])));
    let reliability = reliability(probs, labels, &order, bins.max(1));
    let ece = if n > 0 {
        reliability
            .iter()
            .map(|b| b.n as f64 * (b.mean_predicted - b.observed_rate).abs())
            .sum::<f64>()
            / n as f64
    } else {
        0.0
    };
    let top = n / 10;
    let lift_top_decile = (top > 0 && positives > 0).then(|| {
        let hits = order[n - top..].iter().filter(|&&i| labels[i]).count();
        (hits as f64 / top as f64) / base_rate
    });
    BinaryMetrics {
        n: n as u64,
        positives: positives as u64,
        base_rate,
        auc: auc_sorted(probs, labels, &order),
        log_loss: log_loss(probs, labels),
        brier: brier(probs, labels),
        ece,
        lift_top_decile,
        reliability,
    }
}

fn reliability(
    probs: &[f64],
    labels: &[bool],
    order: &[usize],
    bins: usize,
) -> Vec<ReliabilityBin> {
    let n = order.len();
    let mut out = Vec::new();
    let mut start = 0;
    while start < n {
        let mut end = (start + n.div_ceil(bins)).min(n);
        // Keep ties together.
        while end < n && clean(probs[order[end]]) == clean(probs[order[end - 1]]) {
            end += 1;
        }
        let idx = &order[start..end];
        let m = idx.len() as f64;
        out.push(ReliabilityBin {
            lo: clean(probs[idx[0]]),
            hi: clean(probs[idx[idx.len() - 1]]),
            n: idx.len() as u64,
            mean_predicted: idx.iter().map(|&i| clean(probs[i])).sum::<f64>() / m,
            observed_rate: idx.iter().filter(|&&i| labels[i]).count() as f64 / m,
        });
        start = end;
    }
    out
}

/// Rank-based AUC (Mann–Whitney U); ties get half credit. `None` with one class.
pub fn auc(probs: &[f64], labels: &[bool]) -> Option<f64> {
    let n = probs.len().min(labels.len());
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| clean(probs[a]).total_cmp(&clean(probs[b])));
    auc_sorted(&probs[..n], &labels[..n], &order)
}

fn auc_sorted(probs: &[f64], labels: &[bool], order: &[usize]) -> Option<f64> {
    let pos = order.iter().filter(|&&i| labels[i]).count();
    let neg = order.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    // Sum of positive ranks, average rank for ties (ranks are 1-based).
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && clean(probs[order[j + 1]]) == clean(probs[order[i]]) {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg_rank * order[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j + 1;
    }
    let u = rank_sum - (pos as f64 * (pos as f64 + 1.0)) / 2.0;
    Some(u / (pos as f64 * neg as f64))
}

/// Mean negative log-likelihood, probabilities clamped to `[EPS, 1 - EPS]`.
pub fn log_loss(probs: &[f64], labels: &[bool]) -> f64 {
    let n = probs.len().min(labels.len());
    if n == 0 {
        return 0.0;
    }
    probs
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = clean(p).clamp(EPS, 1.0 - EPS);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum::<f64>()
        / n as f64
}

/// Mean squared error of the probability.
pub fn brier(probs: &[f64], labels: &[bool]) -> f64 {
    let n = probs.len().min(labels.len());
    if n == 0 {
        return 0.0;
    }
    probs
        .iter()
        .zip(labels)
        .map(|(&p, &y)| (clean(p) - f64::from(u8::from(y))).powi(2))
        .sum::<f64>()
        / n as f64
}

/// Pearson correlation; `None` when either side is constant or there are fewer than 2 values.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len());
    if n < 2 {
        return None;
    }
    let (ma, mb) = (
        a[..n].iter().sum::<f64>() / n as f64,
        b[..n].iter().sum::<f64>() / n as f64,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa.sqrt() * sbb.sqrt()))
}

/// Metrics per group key, sorted by key.
pub fn grouped_metrics<K: Ord + Clone>(
    keys: &[K],
    probs: &[f64],
    labels: &[bool],
    bins: usize,
) -> Vec<(K, BinaryMetrics)> {
    let mut groups: std::collections::BTreeMap<K, (Vec<f64>, Vec<bool>)> = Default::default();
    for ((k, &p), &y) in keys.iter().zip(probs).zip(labels) {
        let g = groups.entry(k.clone()).or_default();
        g.0.push(p);
        g.1.push(y);
    }
    groups
        .into_iter()
        .map(|(k, (p, y))| (k, binary_metrics(&p, &y, bins)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn auc_extremes_and_ties() {
        let y = [false, false, true, true];
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &y), Some(1.0));
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &y), Some(0.0));
        assert_eq!(auc(&[0.5; 4], &y), Some(0.5));
        assert_eq!(auc(&[0.1, 0.2], &[true, true]), None);
    }

    proptest! {
        #[test]
        fn auc_matches_brute_force(v in proptest::collection::vec((0u8..10, any::<bool>()), 2..60)) {
            let p: Vec<f64> = v.iter().map(|(s, _)| f64::from(*s) / 10.0).collect();
            let y: Vec<bool> = v.iter().map(|(_, y)| *y).collect();
            let (mut wins, mut pairs) = (0.0, 0.0);
            for i in 0..p.len() {
                for j in 0..p.len() {
                    if y[i] && !y[j] {
                        pairs += 1.0;
                        wins += if p[i] > p[j] { 1.0 } else if p[i] == p[j] { 0.5 } else { 0.0 };
                    }
                }
            }
            let want = (pairs > 0.0).then(|| wins / pairs);
            match (auc(&p, &y), want) {
                (Some(a), Some(b)) => prop_assert!((a - b).abs() < 1e-12),
                (a, b) => prop_assert_eq!(a, b),
            }
        }
    }

    #[test]
    fn log_loss_and_brier_by_hand() {
        let (p, y) = ([0.8, 0.4], [true, false]);
        let ll = (-(0.8_f64).ln() - (0.6_f64).ln()) / 2.0;
        assert!((log_loss(&p, &y) - ll).abs() < 1e-12);
        assert!((brier(&p, &y) - (0.04 + 0.16) / 2.0).abs() < 1e-12);
        assert!(log_loss(&[0.0, 1.0], &[true, false]).is_finite());
    }

    #[test]
    fn ece_is_small_when_calibrated_and_large_when_not() {
        let mut s = 42;
        let p: Vec<f64> = (0..100_000).map(|_| lcg(&mut s) * 0.4).collect();
        let y: Vec<bool> = p.iter().map(|&p| lcg(&mut s) < p).collect();
        let good = binary_metrics(&p, &y, 10);
        assert!(good.ece < 0.01, "{}", good.ece);
        let squashed: Vec<f64> = p.iter().map(|p| p * p).collect();
        let bad = binary_metrics(&squashed, &y, 10);
        assert!(bad.ece > 0.05, "{}", bad.ece);
        assert_eq!(good.reliability.iter().map(|b| b.n).sum::<u64>(), 100_000);
        assert!(good.lift_top_decile.unwrap_or(0.0) > 1.5);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let m = binary_metrics(&[], &[], 10);
        assert_eq!((m.n, m.auc, m.lift_top_decile), (0, None, None));
        let m = binary_metrics(&[f64::NAN, 0.5], &[true, false], 10);
        assert!(m.log_loss.is_finite());
        assert_eq!(pearson(&[1.0, 1.0], &[0.0, 1.0]), None);
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap_or(0.0) - 1.0).abs() < 1e-12);
        let g = grouped_metrics(
            &["b", "a", "b"],
            &[0.1, 0.2, 0.3],
            &[true, false, false],
            10,
        );
        assert_eq!(
            g.iter().map(|(k, m)| (*k, m.n)).collect::<Vec<_>>(),
            vec![("a", 1), ("b", 2)]
        );
    }
}
