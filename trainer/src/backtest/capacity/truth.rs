//! The capacity backtest's two planners that know the simulator's true probabilities: the
//! plan's assignment on them, and greedy best-first; the references the captured lift is
//! measured against.

use contactscore_models::Channel;
use contactscore_models::plan::assign_values;

use super::{Choice, Day, allowed_pairs};
use crate::Result;
use crate::simulate::arena::Call;

/// The true probability of every allowed (person, hour, pair): `(p, person, slot, pair
/// index in the allowed list)`, and the allowed lists.
type TrueOptions = (
    Vec<(f64, usize, u32, usize)>,
    Vec<Vec<Vec<(String, Channel)>>>,
);

fn true_options(d: &Day<'_>) -> Result<TrueOptions> {
    let allowed = allowed_pairs(d);
    let mut all: Vec<(f64, usize, u32, usize)> = Vec::new();
    for (i, per_slot) in allowed.iter().enumerate() {
        for (k, pairs) in per_slot.iter().enumerate() {
            for (j, (key, channel)) in pairs.iter().enumerate() {
                let (contact, _) = d.roster.resolve(i, key)?;
                let call = Call {
                    person: i as u32,
                    contact,
                    channel: *channel,
                    at: d.window.start(k as u32),
                    day: d.run_day,
                };
                all.push((d.arena.p_engaged(d.world, &call)?, i, k as u32, j));
            }
        }
    }
    Ok((all, allowed))
}

/// The plan's assignment on the true probabilities: each person's best pair per hour, every
/// hour one resource of `N` attempts.
pub(super) fn plan_true(d: &Day<'_>) -> Result<Vec<Choice>> {
    let (all, allowed) = true_options(d)?;
    // Per person, the best (p, pair) per slot.
    let mut best: Vec<Vec<Option<(f64, usize)>>> =
        vec![vec![None; d.window.slots() as usize]; allowed.len()];
    for &(p, i, k, j) in &all {
        let b = &mut best[i][k as usize];
        if p > 0.0 && b.is_none_or(|(bp, _)| p > bp) {
            *b = Some((p, j));
        }
    }
    let options: Vec<Vec<(u32, f64)>> = best
        .iter()
        .map(|per_slot| {
            per_slot
                .iter()
                .enumerate()
                .filter_map(|(k, b)| b.map(|(p, _)| (k as u32, p)))
                .collect()
        })
        .collect();
    let capacity = vec![d.per_hour; d.window.slots() as usize];
    let chosen = assign_values(&options, &capacity);
    let mut out = Vec::new();
    for (i, c) in chosen.into_iter().enumerate() {
        let Some(o) = c else {
            continue;
        };
        let k = options[i][o].0;
        let Some((_, j)) = best[i][k as usize] else {
            continue;
        };
        let (contact, channel) = allowed[i][k as usize][j].clone();
        out.push(Choice {
            person: i,
            contact,
            channel,
            slot: k,
            predicted: None,
        });
    }
    Ok(out)
}

/// Every allowed (person, pair, hour) by its true probability, best first, taken while the
/// person is free and the hour has capacity.
pub(super) fn greedy_true(d: &Day<'_>) -> Result<Vec<Choice>> {
    let (mut all, allowed) = true_options(d)?;
    all.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then((a.1, a.2, a.3).cmp(&(b.1, b.2, b.3)))
    });
    let mut called = vec![false; allowed.len()];
    let mut used = vec![0u32; d.window.slots() as usize];
    let mut out = Vec::new();
    for (_, i, k, j) in all {
        if called[i] || used[k as usize] >= d.per_hour {
            continue;
        }
        called[i] = true;
        used[k as usize] += 1;
        let (contact, channel) = allowed[i][k as usize][j].clone();
        out.push(Choice {
            person: i,
            contact,
            channel,
            slot: k,
            predicted: None,
        });
    }
    Ok(out)
}
