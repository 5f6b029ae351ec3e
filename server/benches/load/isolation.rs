//! Times `rank::rank` called directly, one thread, no gRPC: what one Rank costs before any
//! transport, how many model rows it scores and what the model scoring costs per row; for a
//! GBDT model, both with the served scorer (flat forest, one batch per Rank) and with the former
//! path (forust's own tree walk, one row at a time), alternately in the same process, and
//! whether the two return identical rankings.

use std::cell::Cell;
use std::time::Instant;

use contactscore_models::family::FittedModel;
use contactscore_models::features::{FeatureSchema, FeatureState};
use contactscore_models::model::ResponseModel;
use contactscore_models::policy::Policy;
use contactscore_models::rank::{self, RankQuery, Ranking, Scorer};
use contactscore_server::Config;

use crate::Args;
use crate::drive::SplitMix;
use crate::report::pct;

/// How a counting scorer scores.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Path {
    /// What the server runs: `ResponseModel::predict_many` on the whole batch.
    Served,
    /// The scoring before the flat forest: forust's row walk on an f64 copy, one row per call.
    ForustRows,
}

impl Path {
    fn label(self) -> &'static str {
        match self {
            Path::Served => "served (flat forest, one batch per call)",
            Path::ForustRows => "former (forust tree walk, one row at a time)",
        }
    }
}

/// Counts (and optionally times) the model rows `rank::rank` scores.
struct CountingScorer<'a> {
    model: &'a ResponseModel,
    path: Path,
    timed: bool,
    rows: Cell<u64>,
    nanos: Cell<u64>,
}

impl CountingScorer<'_> {
    fn former(&self, row: &[f32]) -> f64 {
        let FittedModel::Gbdt(g) = &self.model.primary.model else {
            return self.model.predict(row);
        };
        let b = g.booster();
        let row64: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
        let raw = b.base_score
            + b.trees
                .iter()
                .map(|t| t.predict_row_from_row_slice(&row64, &b.missing))
                .sum::<f64>();
        self.model.primary.calibrator.apply(raw)
    }

    fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        if !self.timed {
            return f();
        }
        let t = Instant::now();
        let out = f();
        self.nanos
            .set(self.nanos.get() + t.elapsed().as_nanos() as u64);
        out
    }
}

impl Scorer for CountingScorer<'_> {
    fn schema(&self) -> &FeatureSchema {
        &self.model.schema
    }
    fn probability(&self, row: &[f32]) -> f64 {
        self.rows.set(self.rows.get() + 1);
        self.time(|| match self.path {
            Path::Served => self.model.predict(row),
            Path::ForustRows => self.former(row),
        })
    }
    fn probabilities(&self, rows: &[f32], width: usize, out: &mut Vec<f64>) {
        match self.path {
            Path::Served => {
                self.time(|| self.model.predict_many(rows, width, out));
                self.rows.set(self.rows.get() + out.len() as u64);
            }
            // The former ranker called `probability` once per slot.
            Path::ForustRows => {
                out.clear();
                out.extend(rows.chunks_exact(width.max(1)).map(|r| self.probability(r)));
            }
        }
    }
}

/// One pass over the persons: per-call nanoseconds (sorted), wall seconds, rows scored, model
/// nanoseconds (when timed), suggestions and blocked.
struct Pass {
    per_call: Vec<u64>,
    wall: f64,
    rows: u64,
    model_nanos: u64,
    suggestions: usize,
    blocked: usize,
}

/// Time `rank::rank` called directly on the grown state (no gRPC, one thread), the query the
/// server builds for `contacts: []`: what one Rank costs before any transport.
pub(crate) fn rank_in_isolation(
    args: &Args,
    state: &FeatureState,
    model: &ResponseModel,
    as_of: i64,
) {
    if args.isolated == 0 {
        return;
    }
    let policy = Policy::default();
    let defaults = Config::default();
    let mut rng = SplitMix(args.seed ^ 0x1501_a7ed);
    let slots: Vec<u32> = (0..args.isolated)
        .map(|_| rng.below(state.len() as u64) as u32)
        .collect();
    let query = |slot| RankQuery {
        slot: Some(slot),
        contacts: None,
        rejected: Vec::new(),
        channels: Vec::new(),
        as_of,
        horizon_hours: defaults.default_horizon_hours,
        max_suggestions: defaults.default_max_suggestions as usize,
        person_zone: None,
    };
    let scorer = |path, timed| CountingScorer {
        model,
        path,
        timed,
        rows: 0.into(),
        nanos: 0.into(),
    };
    let pass = |path: Path, timed: bool| {
        let scorer = scorer(path, timed);
        let (mut suggestions, mut blocked) = (0usize, 0usize);
        let mut per_call = Vec::with_capacity(slots.len());
        let all = Instant::now();
        for &s in &slots {
            let t = Instant::now();
            let r = rank::rank(state, &scorer, &policy, &query(s));
            per_call.push(t.elapsed().as_nanos() as u64);
            suggestions += r.suggestions.len();
            blocked += r.blocked.len();
        }
        let wall = all.elapsed().as_secs_f64();
        per_call.sort_unstable();
        Pass {
            per_call,
            wall,
            rows: scorer.rows.get(),
            model_nanos: scorer.nanos.get(),
            suggestions,
            blocked,
        }
    };
    let gbdt = matches!(model.primary.model, FittedModel::Gbdt(_));
    let paths: &[Path] = if gbdt {
        &[Path::Served, Path::ForustRows]
    } else {
        &[Path::Served]
    };
    // Untimed passes for the per-call figures, then timed passes for the model's share,
    // alternating the paths so a change in machine load hits both.
    let plain: Vec<Pass> = paths.iter().map(|&p| pass(p, false)).collect();
    let timed: Vec<Pass> = paths.iter().map(|&p| pass(p, true)).collect();
    let n = slots.len() as f64;
    for ((&path, p), t) in paths.iter().zip(&plain).zip(&timed) {
        println!(
            "rank::rank in isolation, 1 thread, {} persons, {}: mean {:.0} µs, p50 {:.0} µs, \
             p99 {:.0} µs, max {:.0} µs ({:.0} calls/s); per call {:.1} model rows scored, {:.1} \
             suggestions, {:.1} blocked; model scoring ≈ {:.0} % of the time ({:.2} µs per row)",
            slots.len(),
            path.label(),
            p.wall / n * 1e6,
            pct(&p.per_call, 0.50) / 1e3,
            pct(&p.per_call, 0.99) / 1e3,
            pct(&p.per_call, 1.0) / 1e3,
            n / p.wall,
            p.rows as f64 / n,
            p.suggestions as f64 / n,
            p.blocked as f64 / n,
            t.model_nanos as f64 / 1e9 / t.wall * 100.0,
            t.model_nanos as f64 / 1e3 / t.rows.max(1) as f64,
        );
    }
    if gbdt {
        let (served, former) = (scorer(Path::Served, false), scorer(Path::ForustRows, false));
        let differ = slots
            .iter()
            .filter(|&&s| {
                let a: Ranking = rank::rank(state, &served, &policy, &query(s));
                a != rank::rank(state, &former, &policy, &query(s))
            })
            .count();
        println!(
            "served vs former scoring: {differ} of {} rankings differ (suggestions, slots, order, \
             probabilities compared exactly)",
            slots.len()
        );
    }
}
