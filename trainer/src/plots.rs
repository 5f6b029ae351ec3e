//! `evaluate --plots DIR`: the evaluation as three SVG charts next to the tables, each with the
//! model and the calibrated baseline — reliability (mean predicted against observed per bin:
//! calibration at a glance), cumulative gains (the share of engagements reached by working the
//! highest-probability attempts first: what ranking buys a dialer), and the engaged rate by
//! local hour (observed against predicted: where the model misses the daily rhythm).

use std::path::{Path, PathBuf};

use contactscore_models::metrics::ReliabilityBin;

use crate::evaluate::Report;
use crate::score::Scored;
use crate::svg_chart::{Chart, Series};
use crate::{Result, TrainerError};

const MODEL: &str = "#1f77b4";
const BASELINE: &str = "#ff7f0e";
const OBSERVED: &str = "#2ca02c";
const RANDOM: &str = "#999999";

/// Points of the cumulative gains curve of `probs` against `labels` at 1 % steps of the
/// attempts, highest probability first: (share of attempts, share of positives). Attempts with
/// equal probabilities have no order among them, so a step inside such a group counts the
/// group's positives pro rata (the expected curve over every order of the ties). NaN counts as
/// 0, as in the metrics.
pub fn gains(probs: &[f64], labels: &[bool]) -> Vec<(f64, f64)> {
    let clean = |p: f64| if p.is_nan() { 0.0 } else { p };
    let mut order: Vec<usize> = (0..probs.len().min(labels.len())).collect();
    order.sort_by(|&a, &b| clean(probs[b]).total_cmp(&clean(probs[a])));
    let n = order.len();
    let total = order.iter().filter(|&&i| labels[i]).count().max(1) as f64;
    let mut out = vec![(0.0, 0.0)];
    let (mut done, mut hits) = (0usize, 0usize);
    let mut next = 1usize;
    while done < n {
        // The group of equal probabilities starting at `done`.
        let p = clean(probs[order[done]]);
        let len = order[done..]
            .iter()
            .take_while(|&&i| clean(probs[i]) == p)
            .count();
        let pos = order[done..done + len]
            .iter()
            .filter(|&&i| labels[i])
            .count();
        // Steps that fall inside or at the end of this group.
        while next <= 100 && next * n <= (done + len) * 100 {
            let inside = (next * n) as f64 / 100.0 - done as f64;
            let got = hits as f64 + pos as f64 * inside / len as f64;
            out.push((next as f64 / 100.0, got / total));
            next += 1;
        }
        done += len;
        hits += pos;
    }
    out
}

fn reliability(bins: &[ReliabilityBin]) -> Vec<(f64, f64)> {
    bins.iter()
        .map(|b| (b.mean_predicted, b.observed_rate))
        .collect()
}

/// Observed rate and mean predicted probabilities (model, baseline) per local hour with attempts.
fn by_hour(scored: &[Scored]) -> Vec<(u8, f64, f64, f64)> {
    let mut acc = [(0u64, 0u64, 0.0f64, 0.0f64); 24];
    for s in scored {
        let a = &mut acc[usize::from(s.local_hour.min(23))];
        a.0 += 1;
        a.1 += u64::from(s.label);
        a.2 += s.probability;
        a.3 += s.baseline;
    }
    acc.iter()
        .enumerate()
        .filter(|(_, a)| a.0 > 0)
        .map(|(h, a)| {
            let n = a.0 as f64;
            (h as u8, a.1 as f64 / n, a.2 / n, a.3 / n)
        })
        .collect()
}

fn series(name: &str, color: &'static str, points: Vec<(f64, f64)>, markers: bool) -> Series {
    Series {
        name: name.to_owned(),
        color,
        points,
        markers,
        dashed: false,
    }
}

/// Write `reliability.svg`, `gains.svg` and `by_hour.svg` for `report` into `dir` (created if
/// needed); returns the paths written.
pub fn write_plots(report: &Report, scored: &[Scored], dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| TrainerError::io(dir, e))?;
    let who = format!("{} ({})", report.version, report.family);
    let model_name = format!("model ({})", report.family);
    let (m, b) = (&report.overall.model, &report.overall.baseline);
    let rel_m = reliability(&m.reliability);
    let rel_b = reliability(&b.reliability);
    let rel_max = rel_m
        .iter()
        .chain(&rel_b)
        .flat_map(|&(x, y)| [x, y])
        .fold(0.0_f64, f64::max);
    let reliability = Chart {
        title: format!(
            "Reliability, {who}: ECE {:.4} (baseline {:.4})",
            m.ece, b.ece
        ),
        x_label: "mean predicted probability (per bin)".into(),
        y_label: format!("observed {} rate", report.target),
        x_max: rel_max,
        x_step: None,
        y_max: rel_max,
        diagonal: true,
        legend_bottom_right: true,
        series: vec![
            series(&model_name, MODEL, rel_m, true),
            series("baseline", BASELINE, rel_b, true),
        ],
    };

    let probs: Vec<f64> = scored.iter().map(|s| s.probability).collect();
    let base: Vec<f64> = scored.iter().map(|s| s.baseline).collect();
    let labels: Vec<bool> = scored.iter().map(|s| s.label).collect();
    let gains_chart = Chart {
        title: format!(
            "Cumulative gains, {who}: lift@10% {}",
            m.lift_top_decile
                .map_or_else(|| "n/a".into(), |l| format!("{l:.2}"))
        ),
        x_label: "share of attempts, highest probability first".into(),
        y_label: format!("share of {} outcomes reached", report.target),
        x_max: 1.0,
        x_step: None,
        y_max: 1.0,
        diagonal: false,
        legend_bottom_right: true,
        series: vec![
            series(&model_name, MODEL, gains(&probs, &labels), false),
            series("baseline", BASELINE, gains(&base, &labels), false),
            Series {
                dashed: true,
                ..series("random order", RANDOM, vec![(0.0, 0.0), (1.0, 1.0)], false)
            },
        ],
    };

    let hours = by_hour(scored);
    let pick = |f: fn(&(u8, f64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
        hours.iter().map(|h| (f64::from(h.0), f(h))).collect()
    };
    let hour_max = hours
        .iter()
        .flat_map(|h| [h.1, h.2, h.3])
        .fold(0.0_f64, f64::max);
    let hour_chart = Chart {
        title: format!("The {} rate by local hour, {who}", report.target),
        x_label: "local hour of the attempt".into(),
        y_label: format!("{} rate", report.target),
        x_max: 24.0,
        x_step: Some(3.0),
        y_max: hour_max,
        diagonal: false,
        legend_bottom_right: false,
        series: vec![
            series("observed", OBSERVED, pick(|h| h.1), true),
            series(
                &format!("{model_name}, mean predicted"),
                MODEL,
                pick(|h| h.2),
                false,
            ),
            series("baseline, mean predicted", BASELINE, pick(|h| h.3), false),
        ],
    };

    let mut written = Vec::new();
    for (name, chart) in [
        ("reliability.svg", reliability),
        ("gains.svg", gains_chart),
        ("by_hour.svg", hour_chart),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, chart.render()).map_err(|e| TrainerError::io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gains_of_a_perfect_and_a_useless_ranking() {
        // 2 positives of 10; the perfect order finds both in the first 20 %.
        let labels: Vec<bool> = (0..10).map(|i| i < 2).collect();
        let perfect: Vec<f64> = (0..10).map(|i| 1.0 - f64::from(i) / 10.0).collect();
        let g = gains(&perfect, &labels);
        assert_eq!(g.len(), 101);
        assert_eq!(g[0], (0.0, 0.0));
        assert_eq!(g[10], (0.1, 0.5));
        assert_eq!(g[20], (0.2, 1.0));
        assert_eq!(g[100], (1.0, 1.0));
        // The reverse order finds them last.
        let reverse: Vec<f64> = perfect.iter().map(|p| -p).collect();
        let g = gains(&reverse, &labels);
        assert_eq!(g[80], (0.8, 0.0));
        assert_eq!(g[100], (1.0, 1.0));
        assert!(g.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        // One probability for all (or NaN): no order, the expected curve is the diagonal,
        // whatever order the rows came in.
        for flat in [vec![0.3; 10], vec![f64::NAN; 10]] {
            let g = gains(&flat, &labels);
            assert!(g.iter().all(|&(x, y)| (x - y).abs() < 1e-12), "{g:?}");
        }
    }
}
