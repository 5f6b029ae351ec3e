//! The auction against exhaustive search: on random small transportation problems (ties
//! included) the assignment is feasible and within `n·ε` of the optimum, and the dual bound at
//! its prices is at least the optimum and within `n·ε` of the assignment.

use proptest::prelude::*;

use super::auction::{Options, assign, dual_bound};

/// Final ε of the auction: the assignment is within `n·EPS` of the optimum.
const EPS: f64 = 1e-7;

#[derive(Debug, Clone)]
struct Instance {
    /// Per person, `(resource, value)` with each resource at most once.
    persons: Vec<Vec<(u32, f64)>>,
    capacity: Vec<u32>,
}

fn instance() -> impl Strategy<Value = Instance> {
    (1usize..4).prop_flat_map(|resources| {
        let person =
            prop::collection::vec(prop::option::of(1u32..20), resources).prop_map(|vals| {
                vals.into_iter()
                    .enumerate()
                    // Coarse values, so ties between persons and resources are common.
                    .filter_map(|(r, v)| v.map(|v| (r as u32, f64::from(v) / 20.0)))
                    .collect::<Vec<_>>()
            });
        (
            prop::collection::vec(person, 0..7),
            prop::collection::vec(prop::option::weighted(0.85, 0u32..4), resources),
        )
            .prop_map(|(persons, caps)| Instance {
                persons,
                capacity: caps.into_iter().map(|c| c.unwrap_or(u32::MAX)).collect(),
            })
    })
}

/// The best total over every assignment, by enumeration.
fn brute(inst: &Instance) -> f64 {
    fn go(inst: &Instance, i: usize, used: &mut Vec<u32>) -> f64 {
        let Some(options) = inst.persons.get(i) else {
            return 0.0;
        };
        let mut best = go(inst, i + 1, used);
        for &(r, v) in options {
            let r = r as usize;
            if used[r] < inst.capacity[r] {
                used[r] += 1;
                best = best.max(v + go(inst, i + 1, used));
                used[r] -= 1;
            }
        }
        best
    }
    go(inst, 0, &mut vec![0; inst.capacity.len()])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn auction_is_optimal_on_small_problems(inst in instance()) {
        let mut options = Options::new();
        for p in &inst.persons {
            options.push_person(p.iter().copied());
        }
        let a = assign(&options, &inst.capacity);
        prop_assert_eq!(&a, &assign(&options, &inst.capacity), "deterministic");
        let mut used = vec![0u32; inst.capacity.len()];
        let mut total = 0.0;
        for (i, c) in a.chosen.iter().enumerate() {
            if let Some(k) = *c {
                prop_assert!(options.range(i).contains(&k), "person {} got another's option", i);
                let (r, v) = options.option(k);
                used[r as usize] += 1;
                total += v;
            }
        }
        prop_assert_eq!(&used, &a.used);
        for (u, c) in used.iter().zip(&inst.capacity) {
            prop_assert!(u <= c, "over capacity: {:?} > {:?}", used, inst.capacity);
        }
        let best = brute(&inst);
        let n = inst.persons.len() as f64;
        prop_assert!(total >= best - n * EPS - 1e-12, "assignment {} < optimum {}", total, best);
        let bound = dual_bound(&options, &inst.capacity, &a.prices);
        prop_assert!(bound >= best - 1e-12, "bound {} < optimum {}", bound, best);
        prop_assert!(bound - total <= n * EPS + 1e-9, "gap {} at prices {:?}", bound - total, a.prices);
        for (r, &p) in a.prices.iter().enumerate() {
            prop_assert!(p >= 0.0);
            if inst.capacity[r] == u32::MAX {
                prop_assert_eq!(p, 0.0);
            }
        }
    }
}
