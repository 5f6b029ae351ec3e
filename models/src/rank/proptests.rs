//! Property test of the ranking: for random histories and random policies (the policy property
//! test's generator), no suggestion ever breaks a rule when checked by the independent
//! brute-force checker, each pair appears at most once, and every candidate is accounted for.

use proptest::prelude::*;

use super::*;
use crate::policy::proptests::{
    BASE, Case, brute_in_window, brute_pair_ok, build_state, case, config, raw_windows,
};

/// An arbitrary but deterministic scorer, so the chosen slot varies with the features.
struct Wobbly {
    schema: FeatureSchema,
    weights: Vec<f64>,
}

impl Scorer for Wobbly {
    fn schema(&self) -> &FeatureSchema {
        &self.schema
    }
    fn probability(&self, row: &[f32]) -> f64 {
        let z: f64 = row
            .iter()
            .zip(&self.weights)
            .map(|(&x, w)| if x.is_finite() { f64::from(x) * w } else { 0.0 })
            .sum();
        crate::calibration::sigmoid(z.sin() * 3.0)
    }
}

fn run(c: &Case, seed: u64, max: usize) -> Result<(), TestCaseError> {
    let (state, slot, contacts) = build_state(c);
    let cfg = config(c);
    let policy = cfg.clone().validate().expect("generated config is valid");
    let schema = FeatureSchema::new(Vec::new());
    let weights = (0..schema.len())
        .map(|i| ((seed.wrapping_mul(31).wrapping_add(i as u64 * 17)) % 13) as f64 / 13.0 - 0.5)
        .collect();
    let scorer = Wobbly { schema, weights };
    let last = c.attempts.last().map_or(BASE, |a| a.t);
    let from = last + c.from_after;
    let query = RankQuery {
        slot: Some(slot),
        contacts: Some(
            contacts
                .iter()
                .map(|c| RankContact {
                    contact: c.clone(),
                    channels: Vec::new(),
                    zone: None,
                })
                .collect(),
        ),
        channels: Vec::new(),
        as_of: from,
        horizon_hours: c.horizon,
        max_suggestions: max,
        person_zone: None,
        rejected: Vec::new(),
    };
    let ranking = rank(&state, &scorer, &policy, &query);
    let person = state.person(slot);
    let zones = &state.zones;
    let end = from + i64::from(c.horizon) * HOUR;
    let pair_zone = |key: &str| {
        let cs = person.contact_index(key).map(|i| &person.contacts[i]);
        state.resolve_zone(person, cs)
    };
    let index = |key: &str| contacts.iter().position(|c| c.key == key);

    prop_assert!(ranking.suggestions.len() <= max);
    for w in ranking.suggestions.windows(2) {
        prop_assert!(
            w[0].score >= w[1].score,
            "not sorted: {:?}",
            ranking.suggestions
        );
    }
    for (i, s) in ranking.suggestions.iter().enumerate() {
        let k = index(&s.contact).expect("suggested contact is a candidate");
        let zone = pair_zone(&s.contact);
        let t = s.slot_start;
        prop_assert!(t >= from && t < end, "slot {t} outside [{from}, {end})");
        prop_assert!(zones.local(zone, t).second_of_day.is_multiple_of(3_600));
        prop_assert!(
            brute_in_window(zones, zone, &raw_windows(c, s.channel), t),
            "suggested slot {t} outside the {} window",
            s.channel
        );
        prop_assert!(
            brute_pair_ok(c, &cfg, zones, zone, k, s.channel, t),
            "suggested slot {t} on {} / {} breaks a rule",
            s.contact,
            s.channel
        );
        prop_assert!((0.0..=1.0).contains(&s.probability));
        prop_assert!(
            !ranking.suggestions[..i]
                .iter()
                .any(|o| o.contact == s.contact && o.channel == s.channel),
            "pair suggested twice"
        );
        prop_assert!(
            !ranking
                .blocked
                .iter()
                .any(|b| b.contact == s.contact && b.channel == s.channel),
            "pair both suggested and blocked"
        );
    }
    // Nothing silently dropped: unless the list was cut at `max`, every candidate contact shows
    // up as a suggestion or a block.
    if ranking.suggestions.len() < max {
        for c in &contacts {
            let seen = ranking.suggestions.iter().any(|s| s.contact == c.key)
                || ranking.blocked.iter().any(|b| b.contact == c.key);
            prop_assert!(seen, "candidate {} neither suggested nor blocked", c.key);
        }
    }
    // A pair blocked by a rule really has no allowed slot (checked away from DST changes).
    for b in &ranking.blocked {
        let Exclusion::Rule(_) = b.reason else {
            continue;
        };
        let k = index(&b.contact).expect("blocked contact is a candidate");
        let zone = pair_zone(&b.contact);
        let week = raw_windows(c, b.channel);
        let mut t = from;
        while t < end {
            let steady = zones.local(zone, t).offset == zones.local(zone, t + 3_599).offset;
            if steady
                && zones.local(zone, t).second_of_day.is_multiple_of(3_600)
                && brute_in_window(zones, zone, &week, t)
                && brute_pair_ok(c, &cfg, zones, zone, k, b.channel, t)
            {
                prop_assert!(
                    false,
                    "{} / {} blocked but {t} is allowed",
                    b.contact,
                    b.channel
                );
            }
            t += 900;
        }
        if let Some(u) = b.until {
            prop_assert!(u > from, "block lifts at {u}, before as_of {from}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn suggestions_never_break_a_rule(c in case(), seed in any::<u64>(), max in 1usize..12) {
        run(&c, seed, max)?;
    }
}
