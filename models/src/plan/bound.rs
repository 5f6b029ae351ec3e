//! The plan's `upper_bound`: a number no plan can beat, so `expected_engaged / upper_bound`
//! says how far from optimal a plan can be.
//!
//! What is proven. A plan gives each person a sequence of at most `N` attempts (pair, slot) in
//! strictly increasing slots, each allowed by the rules, using at most `c_r` attempts of each
//! capacity resource `r`. Its value is `Σ_i 1 − Π_k (1 − p_ik)`, where `p_i1` is the model's
//! probability from the person's state and `p_ik` (`k ≥ 2`) from the state with the earlier
//! attempts applied as failures. For every price vector `λ ≥ 0` (0 on unlimited resources):
//!
//! - `N = 1`: `value ≤ D(λ) = Σ_r λ_r c_r + Σ_i max(0, max_r (w_ir − λ_r))`, where `w_ir` is the
//!   best probability of person `i` over the pairs allowed at resource `r`'s slot. Proof:
//!   `Σ_i p_i = Σ_i (p_i − λ_{r_i}) + Σ_r λ_r·used_r` and `used_r ≤ c_r`. The problem's linear
//!   relaxation is integral, so at the optimal `λ` the bound equals the optimum (the auction's
//!   prices are within `n·ε` of it).
//! - `N ≥ 2`: let `ū` be an upper bound on any probability the model can output (for a
//!   forest, the calibrated base score plus every tree's largest leaf; 1 when unknown). Any
//!   later attempt then has `p_ik ≤ ū`, and a person's first attempt has `p_i1 ≤ w_ia` at its
//!   resource `a`; the rules allow a later attempt only in slots they allow a first attempt in
//!   (failures only add to the caps' counts), so with `m` later attempts in later slots,
//!   `value_i ≤ 1 − (1 − w_ia)(1 − ū)^m`, and the same Lagrangian argument bounds the plan by
//!   `Σ_r λ_r c_r + Σ_i max(0, max_{a, m ≤ N−1} [1 − (1 − w_ia)(1 − ū)^m − λ_a − (the m
//!   cheapest prices of the person's resources in distinct slots after a's)])`. This relaxation
//!   ignores how fatigue lowers later attempts, so it is looser than the `N = 1` bound.
//!
//! Both are evaluated at the first round's auction prices, summed with compensation, and
//! raised by a relative `1e-9` (plus `1e-9`) so floating-point rounding cannot make them fall
//! below the value they bound.

use super::auction::{Neumaier, Options, dual_bound};
use super::candidates::Opt;
use crate::rank::Scorer;

/// Relative (and absolute) margin added for rounding.
const ROUNDING: f64 = 1e-9;

/// The bound for a plan of `rounds` attempts per person (see the module docs). `options` are
/// the first round's (values = probabilities), `firsts` the same per person with their slots,
/// `prices` the first round's auction prices.
pub(super) fn upper_bound(
    options: &Options,
    firsts: &[Vec<Opt>],
    capacity: &[u32],
    prices: &[f64],
    rounds: u32,
    scorer: &dyn Scorer,
) -> f64 {
    let raw = if rounds <= 1 {
        dual_bound(options, capacity, prices)
    } else {
        sequences(firsts, capacity, prices, rounds, scorer.max_probability())
    };
    raw * (1.0 + ROUNDING) + ROUNDING
}

/// The `N ≥ 2` bound at `prices`, with `u` bounding every later attempt's probability.
fn sequences(firsts: &[Vec<Opt>], capacity: &[u32], prices: &[f64], rounds: u32, u: f64) -> f64 {
    let u = u.clamp(0.0, 1.0);
    let mut sum = Neumaier::default();
    for (&c, &p) in capacity.iter().zip(prices) {
        if p > 0.0 {
            sum.add(p * f64::from(c));
        }
    }
    let mut later: Vec<(u32, f64)> = Vec::new();
    let mut cheapest: Vec<f64> = Vec::new();
    for options in firsts {
        let mut best = 0.0_f64;
        for a in options {
            // The cheapest price per later slot, then the m cheapest of those.
            later.clear();
            for o in options.iter().filter(|o| o.slot > a.slot) {
                let price = prices[o.resource as usize];
                match later.iter_mut().find(|(s, _)| *s == o.slot) {
                    Some((_, p)) => *p = p.min(price),
                    None => later.push((o.slot, price)),
                }
            }
            cheapest.clear();
            cheapest.extend(later.iter().map(|&(_, p)| p));
            cheapest.sort_by(f64::total_cmp);
            let mut paid = prices[a.resource as usize];
            let mut miss = 1.0 - a.p;
            best = best.max(1.0 - miss - paid);
            for &p in cheapest.iter().take(rounds as usize - 1) {
                paid += p;
                miss *= 1.0 - u;
                best = best.max(1.0 - miss - paid);
            }
        }
        sum.add(best);
    }
    sum.total()
}
