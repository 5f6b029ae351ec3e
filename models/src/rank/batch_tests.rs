//! Property test of batch scoring in the ranking: on random histories and policies, `rank` with
//! a real gradient-boosted model (rows built into one buffer, scored by the flat forest in one
//! batch) returns exactly what the former one-row-at-a-time loop returned with forust's own
//! tree walk: same suggestions, slots, order and probabilities, bit for bit.

use std::sync::OnceLock;

use proptest::prelude::*;

use super::*;
use crate::calibration::Calibrator;
use crate::family::{Dataset, FittedModel, GbdtModel, HyperParams};
use crate::model::{CalibratedModel, ResponseModel};
use crate::policy::proptests::{BASE, build_state, case, config};

/// A GBDT fitted on rows whose label depends on the local hour, the channel and a count, so
/// different slots get different scores and, trees being piecewise constant, many slots tie.
fn model() -> &'static ResponseModel {
    static MODEL: OnceLock<ResponseModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let schema = FeatureSchema::new(Vec::new());
        let w = schema.len();
        let col = |n: &str| schema.index(n).expect("feature in the default schema");
        let (hour, voice, att) = (col("local_hour"), col("ch_voice"), col("pcc_attempts_30d"));
        let mut d = Dataset::new(w);
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..4_000 {
            let mut row: Vec<f32> = (0..w)
                .map(|_| {
                    if next() < 0.3 {
                        f32::NAN
                    } else {
                        (next() * 3.0) as f32
                    }
                })
                .collect();
            let h = (next() * 24.0).floor();
            row[hour] = h as f32;
            row[voice] = f32::from(u8::from(next() < 0.4));
            let z = -1.5
                + if (9.0..12.0).contains(&h) { 1.2 } else { 0.0 }
                + 0.6 * f64::from(row[voice])
                - 0.3 * attempts(row[att]);
            d.push(&row, next() < 1.0 / (1.0 + (-z).exp()));
        }
        let mut hp = HyperParams::default();
        hp.gbdt.iterations = 40;
        hp.gbdt.threads = 1;
        let hp = hp.validate().expect("valid parameters");
        let gbdt = GbdtModel::fit(&d, &hp).expect("gbdt fits");
        ResponseModel {
            schema,
            target: crate::Target::default(),
            primary: CalibratedModel {
                model: FittedModel::Gbdt(Box::new(gbdt)),
                calibrator: Calibrator::Platt { a: 0.9, b: -0.1 },
            },
            baseline: None,
        }
    })
}

/// A count feature for the synthetic label: missing counts as none, capped at 3.
fn attempts(v: f32) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        f64::from(v).clamp(0.0, 3.0)
    }
}

/// The former scoring path: forust's row walk on an f64 copy of the row, trees summed, then
/// the base score, then the calibrator; one row per call.
struct ForustRowWalk<'a>(&'a ResponseModel);

impl Scorer for ForustRowWalk<'_> {
    fn schema(&self) -> &FeatureSchema {
        &self.0.schema
    }
    fn probability(&self, row: &[f32]) -> f64 {
        let FittedModel::Gbdt(g) = &self.0.primary.model else {
            return f64::NAN;
        };
        let b = g.booster();
        let row64: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
        let raw = b.base_score
            + b.trees
                .iter()
                .map(|t| t.predict_row_from_row_slice(&row64, &b.missing))
                .sum::<f64>();
        self.0.primary.calibrator.apply(raw)
    }
}

/// The ranking loop as it was before batching: features and a score per slot, best kept.
fn one_slot_at_a_time(
    state: &FeatureState,
    scorer: &dyn Scorer,
    policy: &Policy,
    query: &RankQuery,
) -> Ranking {
    let empty = PersonState::default();
    let person = query.slot.map_or(&empty, |s| state.person(s));
    let mut out = Ranking::default();
    let mut row = Vec::new();
    let mut pairs = Vec::new();
    collect_pairs(state, person, query, &mut pairs, &mut out.blocked);
    for pair in pairs {
        let Some(slots) = allowed_slots(state, policy, person, query, &pair, &mut out) else {
            continue;
        };
        let mut best: Option<(i64, f64)> = None;
        for t in slots {
            row.clear();
            let cand = Candidate {
                contact: pair.key,
                kind: pair.kind,
                number: pair.number,
                zone: Some(pair.zone),
                channel: pair.channel,
                t,
            };
            state.features(scorer.schema(), query.slot, &cand, &mut row);
            let p = scorer.probability(&row);
            if best.is_none_or(|(_, bp)| p > bp) {
                best = Some((t, p));
            }
        }
        if let Some(best) = best {
            suggest(&mut out, state, person, &pair, best);
        }
    }
    finish(&mut out, query.max_suggestions);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batched_ranking_equals_the_one_slot_loop(c in case(), max in 1usize..12, wide in any::<bool>()) {
        let (state, slot, contacts) = build_state(&c);
        let policy = config(&c).validate().expect("generated config is valid");
        let last = c.attempts.last().map_or(BASE, |a| a.t);
        let query = RankQuery {
            slot: Some(slot),
            // Both the caller's list and the contacts the state knows.
            contacts: (!wide).then(|| {
                contacts
                    .iter()
                    .map(|c| RankContact { contact: c.clone(), channels: Vec::new(), zone: None })
                    .collect()
            }),
            channels: Vec::new(),
            as_of: last + c.from_after,
            horizon_hours: c.horizon,
            max_suggestions: max,
            person_zone: None,
            rejected: Vec::new(),
        };
        let m = model();
        let batched = rank(&state, m, &policy, &query);
        let before = one_slot_at_a_time(&state, &ForustRowWalk(m), &policy, &query);
        prop_assert_eq!(batched.suggestions.len(), before.suggestions.len());
        for (a, b) in batched.suggestions.iter().zip(&before.suggestions) {
            prop_assert_eq!(a.probability.to_bits(), b.probability.to_bits());
        }
        prop_assert_eq!(batched, before);
    }
}
