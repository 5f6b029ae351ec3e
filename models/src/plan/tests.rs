//! The planner against exhaustive search on tiny instances, and its input checks.
//!
//! Exhaustive search enumerates every plan — each person none or one allowed (pair, slot), or
//! with two attempts any allowed later second one scored from the state after the first failed —
//! under the capacity lines, with allowed slots from the brute-force rule checker and
//! probabilities from `FeatureState::features` on a full copy of the state (`apply`), sharing no
//! code with the planner's candidates, rows or auction. With one attempt per person the planner
//! must reach the optimum within `n · 1e-7` (the auction's final ε); with two it is a greedy in
//! rounds, so it must stay within the optimum and reach a stated share of it; the bound must be
//! above the optimum in both.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

use super::proptests::brute_slot_in_window;
use super::proptests::{Built, Problem, Wobbly, build, problem, request};
use super::*;
use crate::features::Candidate;
use crate::policy::HOUR;
use crate::policy::proptests::{Attempt, Case, brute_pair_ok, raw_windows};
use crate::rank::{Scorer, candidate_channels};

/// One way to make one attempt: contact index, channel, slot, capacity line (`usize::MAX` =
/// unlimited) and probability.
#[derive(Debug, Clone, Copy)]
struct Way {
    contact: usize,
    channel: Channel,
    slot: u32,
    line: usize,
    p: f64,
}

/// The capacity line of an attempt on `channel` at `t`, from the entries.
fn line(b: &Built, t: i64, channel: Channel) -> Option<usize> {
    if b.entries.is_empty() {
        return Some(usize::MAX);
    }
    let own = b
        .entries
        .iter()
        .position(|e| e.slot_start == t && e.channel == Some(channel));
    own.or_else(|| {
        b.entries
            .iter()
            .position(|e| e.slot_start == t && e.channel.is_none())
    })
}

/// Every allowed attempt of person `i` after the attempts `done` (raw history `raw`, state
/// `state` with them applied), in slots after `after`.
fn ways(
    p: &Problem,
    b: &Built,
    state: &FeatureState,
    raw: &Case,
    i: usize,
    after: Option<u32>,
    scorer: &Wobbly,
) -> Vec<Way> {
    let slot = state.slot(&format!("P{i}")).expect("person");
    let person = state.person(slot);
    let base = b.state.person(slot);
    let mut out = Vec::new();
    for (ci, c) in b.contacts.iter().enumerate() {
        // Candidates are those of the state before the plan (the list, or the known contacts).
        let cs0 = base.contact_index(&c.key).map(|x| &base.contacts[x]);
        if p.known_only[i] && !cs0.is_some_and(|c| c.known_at(b.window.start(0))) {
            continue;
        }
        let zone = b.state.resolve_zone(base, cs0);
        for ch in candidate_channels(c.kind, cs0) {
            if !p.channels.is_empty() && !p.channels.iter().any(|&x| Channel::ALL[x] == ch) {
                continue;
            }
            for k in after.map_or(0, |a| a + 1)..b.window.slots() {
                let t = b.window.start(k);
                let Some(line) = line(b, t, ch) else {
                    continue;
                };
                if line != usize::MAX && b.entries[line].attempts == 0 {
                    continue;
                }
                if !brute_slot_in_window(&state.zones, zone, &raw_windows(&p.cases[0], ch), t)
                    || !brute_pair_ok(raw, &b.cfg, &state.zones, zone, ci, ch, t)
                {
                    continue;
                }
                let mut row = Vec::new();
                let cand = Candidate {
                    contact: &c.key,
                    kind: c.kind,
                    number: c.number,
                    zone: Some(zone),
                    channel: ch,
                    t,
                };
                state.features(&scorer.schema, Some(slot), &cand, &mut row);
                let _ = person;
                out.push(Way {
                    contact: ci,
                    channel: ch,
                    slot: k,
                    line,
                    p: scorer.probability(&row),
                });
            }
        }
    }
    out
}

/// A person's possible sequences: value and the capacity lines used.
fn sequences(p: &Problem, b: &Built, i: usize, scorer: &Wobbly) -> Vec<(f64, Vec<usize>)> {
    let mut out = vec![(0.0, Vec::new())];
    for w in ways(p, b, &b.state, &p.cases[i], i, None, scorer) {
        out.push((w.p, vec![w.line]));
        if p.attempts < 2 {
            continue;
        }
        let mut state = b.state.clone();
        let slot = state.slot(&format!("P{i}")).expect("person");
        let at = b.window.start(w.slot) + HOUR - 1;
        let failed = candidates::failure(w.channel);
        state
            .apply(slot, &b.contacts[w.contact], w.channel, at, failed)
            .expect("apply");
        let mut raw = p.cases[i].clone();
        raw.attempts.push(Attempt {
            contact: w.contact,
            channel: w.channel,
            t: at,
            outcome: failed,
        });
        for v in ways(p, b, &state, &raw, i, Some(w.slot), scorer) {
            out.push((1.0 - (1.0 - w.p) * (1.0 - v.p), vec![w.line, v.line]));
        }
    }
    out
}

/// The best plan's value by enumeration.
fn optimum(p: &Problem, b: &Built, scorer: &Wobbly) -> f64 {
    let all: Vec<Vec<(f64, Vec<usize>)>> = (0..p.cases.len())
        .map(|i| sequences(p, b, i, scorer))
        .collect();
    fn go(all: &[Vec<(f64, Vec<usize>)>], b: &Built, i: usize, used: &mut Vec<u32>) -> f64 {
        let Some(options) = all.get(i) else {
            return 0.0;
        };
        let mut best = 0.0_f64;
        for (v, lines) in options {
            let fits = lines.iter().all(|&l| {
                l == usize::MAX || {
                    let need = lines.iter().filter(|&&x| x == l).count() as u32;
                    used[l] + need <= b.entries[l].attempts
                }
            });
            if !fits {
                continue;
            }
            for &l in lines.iter().filter(|&&l| l != usize::MAX) {
                used[l] += 1;
            }
            best = best.max(v + go(all, b, i + 1, used));
            for &l in lines.iter().filter(|&&l| l != usize::MAX) {
                used[l] -= 1;
            }
        }
        best
    }
    go(&all, b, 0, &mut vec![0; b.entries.len()])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn one_attempt_plans_are_optimal(p in problem(3, 4, 1)) {
        let b = build(&p);
        let scorer = Wobbly::new(p.seed);
        let got = plan(&b.state, &scorer, &b.policy, request(&p, &b, 1));
        let best = optimum(&p, &b, &scorer);
        let n = p.cases.len() as f64;
        prop_assert!(got.expected_engaged <= best + 1e-9, "plan {} above the optimum {}", got.expected_engaged, best);
        prop_assert!(got.expected_engaged >= best - n * 1e-7 - 1e-12, "plan {} < optimum {}", got.expected_engaged, best);
        prop_assert!(got.upper_bound >= best, "bound {} < optimum {}", got.upper_bound, best);
    }
}

/// With two attempts per person the planner is a greedy in rounds (each round's assignment
/// optimal, the first valued with a look-ahead): on 400 seeded tiny instances it never beats
/// the optimum (that would be a bug in one of the two), the bound is never below the optimum,
/// and it reaches at least 95 % of the optimum on average. (Measured: 99.2 % on average over
/// the 185 instances that have a plan, the worst 59 %: a first round that spends capacity on a
/// weak first attempt that a strong second attempt of someone else needed later.)
#[test]
fn two_attempt_plans_reach_most_of_the_optimum() {
    let seed = [7u8; 32];
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
    let mut runner = TestRunner::new_with_rng(ProptestConfig::default(), rng);
    let strategy = problem(2, 3, 2);
    let mut ratios = Vec::new();
    for _ in 0..400 {
        let p = strategy.new_tree(&mut runner).expect("a problem").current();
        let p = Problem { attempts: 2, ..p };
        let b = build(&p);
        let scorer = Wobbly::new(p.seed);
        let got = plan(&b.state, &scorer, &b.policy, request(&p, &b, 1));
        let best = optimum(&p, &b, &scorer);
        assert!(
            got.expected_engaged <= best + 1e-9,
            "{p:?}: plan {} above the optimum {best}",
            got.expected_engaged
        );
        assert!(
            got.upper_bound >= best,
            "{p:?}: bound {} below the optimum {best}",
            got.upper_bound
        );
        if best > 0.0 {
            ratios.push(got.expected_engaged / best);
        }
    }
    assert!(
        ratios.len() >= 100,
        "too few instances with a plan: {}",
        ratios.len()
    );
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    assert!(
        mean >= 0.95,
        "mean share of the optimum {mean:.4} over {} instances",
        ratios.len()
    );
}

#[test]
fn inputs_are_checked_and_errors_name_the_field() {
    let field = |e: crate::Error| {
        if let crate::Error::InvalidPlan { field, .. } = e {
            field
        } else {
            format!("not a plan error: {e}")
        }
    };
    let t0 = 1_770_595_200; // a whole hour
    assert_eq!(field(PlanWindow::new(t0, t0).unwrap_err()), "window_end");
    assert_eq!(
        field(PlanWindow::new(t0 + 1, t0 + HOUR).unwrap_err()),
        "window_end"
    );
    assert!(PlanWindow::new(t0, t0 + 745 * HOUR).is_err());
    let w = PlanWindow::new(t0 - 10, t0 + 3 * HOUR + 5).expect("window");
    assert_eq!(
        (w.slots(), w.start(0)),
        (3, t0),
        "whole UTC hours inside the window"
    );
    assert_eq!(w.index(t0 + HOUR), Some(1));
    assert_eq!(w.index(t0 + 3 * HOUR), None);
    let e = |slot_start, channel, attempts| CapacityEntry {
        slot_start,
        channel,
        attempts,
    };
    let bad = |entries: &[CapacityEntry]| field(Capacity::new(&w, entries).unwrap_err());
    assert_eq!(bad(&[e(t0 + 60, None, 3)]), "capacity[0].slot_start");
    assert_eq!(
        bad(&[e(t0, None, 1), e(t0 + 9 * HOUR, None, 3)]),
        "capacity[1].slot_start"
    );
    assert_eq!(
        bad(&[e(t0, None, 1), e(t0, Some(Channel::Sms), 1), e(t0, None, 2)]),
        "capacity[2]"
    );
    let c = Capacity::new(&w, &[e(t0, None, 1), e(t0, Some(Channel::Sms), 4)]).expect("capacity");
    assert_eq!(c.resource(0, Channel::Voice), Some(0), "shared");
    assert_eq!(c.resource(0, Channel::Sms), Some(1), "own line");
    assert_eq!(
        c.resource(1, Channel::Voice),
        None,
        "a slot not listed has no capacity"
    );
    assert_eq!(
        Capacity::new(&w, &[])
            .expect("unlimited")
            .resource(2, Channel::Email),
        Some(2)
    );
    assert_eq!(AttemptsPerPerson::new(0).expect("default").get(), 1);
    assert_eq!(
        field(AttemptsPerPerson::new(MAX_ATTEMPTS_PER_PERSON + 1).unwrap_err()),
        "attempts_per_person"
    );
}
