//! Campaign planning under capacity: assign a list of persons to (contact, channel, hourly slot)
//! so that no slot gets more attempts than the operation can make in it and every attempt obeys
//! the contact rules, maximising the expected number of persons engaged by the end of the window.
//!
//! `Rank` answers "the best slot for this person"; a contact centre needs "whom to call in this
//! hour". Following Rank person by person sends most first attempts to the same evening hour.
//! Here every allowed (pair, slot) of every person is scored with the same model and features as
//! Rank (`features::PersonRows`), each person keeps their best pair per capacity resource (an
//! hour's shared or per-channel capacity), and the assignment of persons to resources is solved
//! as a transportation problem by an auction (`auction.rs`): it trades a person's best hour
//! against the hour where they lose least, which is what greedy-by-hour gets wrong.
//!
//! With `attempts_per_person > 1` the plan is built in rounds: round `k` assigns the `k`-th
//! attempt of every person who got one in round `k − 1`, in a later slot, from a copy of their
//! state with the earlier planned attempts applied as failures (so fatigue, recency, caps and the
//! policy's counts move as they would), valued at `P(all earlier failed) · p`, on the capacity
//! left. `expected_engaged` is `Σ_i 1 − Π_k (1 − p_ik)`.
//!
//! `upper_bound` is a Lagrangian dual bound that holds for every plan (`bound.rs` says exactly
//! what is proven). Scoring, the costly part, runs on several threads; each person's options
//! depend on that person alone and are gathered in person order, and the auction is sequential,
//! so the plan does not depend on the number of threads.

mod auction;
mod bound;
mod candidates;
mod input;
mod options;

#[cfg(test)]
mod auction_perf;
#[cfg(test)]
mod auction_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::num::NonZeroUsize;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub use input::{
    AttemptsPerPerson, Capacity, CapacityEntry, MAX_ATTEMPTS_PER_PERSON, MAX_WINDOW_SLOTS,
    PlanWindow,
};
pub use options::{SlotOption, slot_options};

use crate::Channel;
use crate::features::{FeatureState, PersonState};
use crate::policy::Policy;
use crate::rank::{RankContact, Scorer, Suggestion, reasons};
use auction::{Neumaier, Options};
use candidates::{Chosen, Ctx, Scored, Scratch};

/// One person of the list.
#[derive(Debug, Clone)]
pub struct PlanPerson<'a> {
    /// The person's state, `None` for a person the state does not know.
    pub state: Option<&'a PersonState>,
    /// Candidates; `None` = the contact points the state knows at the window's start.
    pub contacts: Option<Vec<RankContact>>,
    /// Only these channels (empty = all), on top of the request's restriction.
    pub channels: Vec<Channel>,
    /// The person's zone from the request, used when a contact carries none.
    pub zone: Option<u16>,
}

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanRequest<'a> {
    /// The hourly slots.
    pub window: PlanWindow,
    /// Attempts per slot (and channel).
    pub capacity: Capacity,
    /// Attempts per person.
    pub attempts_per_person: AttemptsPerPerson,
    /// Only these channels for every person (empty = all).
    pub channels: Vec<Channel>,
    /// The list.
    pub persons: Vec<PlanPerson<'a>>,
    /// Threads that score (the result does not depend on it).
    pub threads: NonZeroUsize,
}

/// Why a person of the list got no attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnplannedReason {
    /// Unknown to the state, and the request gave no contact points.
    NotFound,
    /// Every candidate (contact, channel) is blocked for good (opt-out, wrong party, validated
    /// inactive, invalid number) or unusable (no channel left by the restrictions, a channel
    /// that cannot carry the contact), or the request listed no contact point that could be
    /// used (the server leaves out one it cannot read or whose zone it does not know).
    AllContactsBlocked,
    /// Some pair is usable, but the rules allow none of the window's slots (local-time
    /// windows, caps, cool-down, a recent invalid).
    NoAllowedSlot,
    /// Allowed slots exist, but none with capacity for their channel was left for this person.
    NoCapacity,
}

impl UnplannedReason {
    /// Stable string (API, files).
    pub fn as_str(self) -> &'static str {
        match self {
            UnplannedReason::NotFound => "not_found",
            UnplannedReason::AllContactsBlocked => "all_contacts_blocked",
            UnplannedReason::NoAllowedSlot => "no_allowed_slot",
            UnplannedReason::NoCapacity => "no_capacity",
        }
    }
}

/// One planned attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedAttempt {
    /// Index of the person in the request's list.
    pub person: usize,
    /// 0 = the person's first planned attempt, 1 = the one made if it did not engage, ...
    pub attempt_index: u32,
    /// Contact, channel, slot, the model's probability (given the earlier attempts failed)
    /// and reasons.
    pub suggestion: Suggestion,
}

/// A person of the list without any attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unplanned {
    /// Index of the person in the request's list.
    pub person: usize,
    /// Why.
    pub reason: UnplannedReason,
}

/// The plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// In slot order (then person, then attempt index).
    pub attempts: Vec<PlannedAttempt>,
    /// In person order.
    pub unplanned: Vec<Unplanned>,
    /// `Σ_i P(person i engaged by the end of the window)` under the plan and the model.
    pub expected_engaged: f64,
    /// An upper bound on `expected_engaged` of any plan (see `bound.rs`).
    pub upper_bound: f64,
    /// Model rows scored.
    pub rows_scored: u64,
    /// Where the time went (wall seconds).
    pub timing: PlanTiming,
}

/// Wall seconds of a plan's stages (figures for benchmarks and progress lines; they vary
/// from run to run, unlike everything else in a [`Plan`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PlanTiming {
    /// Scoring every option of every person (on the plan's threads), all rounds.
    pub scoring: f64,
    /// The assignment (the auction; sequential), all rounds.
    pub assignment: f64,
    /// The upper bound and the rendering of the attempts.
    pub rest: f64,
}

/// Persons scored per unit of work handed to a thread.
const CHUNK: usize = 64;

/// Plan `req` (see the module docs) from `state` with `scorer` under `policy`.
pub fn plan(
    state: &FeatureState,
    scorer: &(dyn Scorer + Sync),
    policy: &Policy,
    req: PlanRequest<'_>,
) -> Plan {
    let n = req.persons.len();
    let window = req.window;
    let rounds = req.attempts_per_person.get();
    let threads = req.threads.get();
    let not_found: Vec<bool> = req
        .persons
        .iter()
        .map(|p| p.state.is_none() && p.contacts.is_none())
        .collect();
    let ctx = Ctx::new(
        state,
        scorer,
        policy,
        &req.capacity,
        window,
        &req.channels,
        req.persons,
    );
    let capacity = req.capacity.attempts();
    let mut residual = capacity.clone();
    let mut chosen: Vec<Vec<Chosen>> = vec![Vec::new(); n];
    let mut survival = vec![1.0_f64; n];
    let mut unplanned = Vec::new();
    let mut rows_scored = 0u64;
    let mut first_round: Option<(Options, Vec<Vec<candidates::Opt>>, Vec<f64>)> = None;
    let mut active: Vec<usize> = (0..n).filter(|&i| !not_found[i]).collect();
    let mut timing = PlanTiming::default();
    for round in 0..rounds {
        let clock = Instant::now();
        if active.is_empty() {
            break;
        }
        let open: Vec<bool> = residual.iter().map(|&c| c > 0).collect();
        let scored: Vec<Scored> = par_map(&active, threads, |i, scratch| {
            if round == 0 {
                let empty = PersonState::default();
                let person = ctx.persons[i].0.unwrap_or(&empty);
                let mut scored = ctx.score(i, person, None, &open, scratch);
                ctx.look_ahead(i, &open, &mut scored, rounds - 1, scratch);
                scored
            } else {
                let person = ctx.after_failures(i, &chosen[i]);
                let after = chosen[i].last().map(|c| c.slot);
                ctx.score(i, &person, after, &open, scratch)
            }
        });
        timing.scoring += clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        let mut options = Options::new();
        for (&i, s) in active.iter().zip(&scored) {
            rows_scored += s.rows;
            let q = survival[i];
            options.push_person(
                s.options
                    .iter()
                    .zip(&s.values)
                    .map(|(o, v)| (o.resource, q * v)),
            );
        }
        let assigned = auction::assign(&options, &residual);
        let mut next = Vec::with_capacity(assigned.chosen.len());
        for (k, (&i, s)) in active.iter().zip(&scored).enumerate() {
            match assigned.chosen[k] {
                Some(opt) => {
                    let o = s.options[opt - options.range(k).start];
                    residual[o.resource as usize] -= 1;
                    survival[i] *= 1.0 - o.p;
                    chosen[i].push(Chosen {
                        slot: o.slot,
                        pair: o.pair,
                        p: o.p,
                    });
                    next.push(i);
                }
                None if round == 0 => unplanned.push(Unplanned {
                    person: i,
                    reason: s.reason.unwrap_or(UnplannedReason::NoCapacity),
                }),
                None => {}
            }
        }
        if round == 0 {
            let firsts = scored.into_iter().map(|s| s.options).collect();
            first_round = Some((options, firsts, assigned.prices));
        }
        active = next;
        timing.assignment += clock.elapsed().as_secs_f64();
    }
    let clock = Instant::now();
    unplanned.extend((0..n).filter(|&i| not_found[i]).map(|person| Unplanned {
        person,
        reason: UnplannedReason::NotFound,
    }));
    unplanned.sort_by_key(|u| u.person);
    let mut expected = Neumaier::default();
    for s in &survival {
        expected.add(1.0 - s);
    }
    let upper_bound = first_round.map_or(0.0, |(options, firsts, prices)| {
        bound::upper_bound(&options, &firsts, &capacity, &prices, rounds, scorer)
    });
    let attempts = render(&ctx, &chosen, threads);
    timing.rest = clock.elapsed().as_secs_f64();
    Plan {
        attempts,
        unplanned,
        expected_engaged: expected.total(),
        upper_bound,
        rows_scored,
        timing,
    }
}

/// The planner's assignment for callers that value the options themselves (the capacity
/// backtest runs it on the simulator's true probabilities): person `i` may take one of
/// `options[i]` (resource, value > 0; each resource at most once per person), resource `r` at
/// most `capacity[r]` persons (`u32::MAX` = unlimited); maximises the sum of values within
/// `n · 1e-7`. Returns, per person, the index in their options of the one taken.
pub fn assign_values(options: &[Vec<(u32, f64)>], capacity: &[u32]) -> Vec<Option<usize>> {
    let mut table = Options::new();
    for o in options {
        table.push_person(o.iter().copied());
    }
    let a = auction::assign(&table, capacity);
    a.chosen
        .iter()
        .enumerate()
        .map(|(i, c)| c.map(|k| k - table.range(i).start))
        .collect()
}

/// The planned attempts as suggestions, in slot order (then person, then attempt index).
fn render(ctx: &Ctx<'_>, chosen: &[Vec<Chosen>], threads: usize) -> Vec<PlannedAttempt> {
    let planned: Vec<usize> = (0..chosen.len())
        .filter(|&i| !chosen[i].is_empty())
        .collect();
    let per_person: Vec<Vec<PlannedAttempt>> = par_map(&planned, threads, |i, _| {
        let empty = PersonState::default();
        let base = ctx.persons[i].0.unwrap_or(&empty);
        let mut out = Vec::with_capacity(chosen[i].len());
        for (k, c) in chosen[i].iter().enumerate() {
            // Reasons describe the state the attempt is made in: after the earlier ones failed.
            let person = if k == 0 {
                base.clone()
            } else {
                ctx.after_failures(i, &chosen[i][..k])
            };
            let pairs = ctx.pairs(i, &person);
            let Some(pair) = pairs.get(c.pair as usize) else {
                continue;
            };
            let t = ctx.window.start(c.slot);
            let local = ctx.state.zones.local(pair.zone, t);
            out.push(PlannedAttempt {
                person: i,
                attempt_index: k as u32,
                suggestion: Suggestion {
                    contact: pair.key.to_owned(),
                    channel: pair.channel,
                    slot_start: t,
                    probability: c.p,
                    score: c.p,
                    reasons: reasons(&person, pair.state, pair.number, pair.channel, local, t),
                },
            });
        }
        out
    });
    let mut all: Vec<PlannedAttempt> = per_person.into_iter().flatten().collect();
    all.sort_by_key(|a| (a.suggestion.slot_start, a.person, a.attempt_index));
    all
}

/// `f(i)` for every `i` of `items`, on `threads` threads, in `items` order. Work is handed out in
/// chunks of [`CHUNK`]; each result depends only on its item, so the output does not depend on
/// the number of threads or the scheduling.
fn par_map<T: Send>(
    items: &[usize],
    threads: usize,
    f: impl Fn(usize, &mut Scratch) -> T + Sync,
) -> Vec<T> {
    let chunks: Vec<Range<usize>> = (0..items.len())
        .step_by(CHUNK)
        .map(|s| s..(s + CHUNK).min(items.len()))
        .collect();
    let run = |range: &Range<usize>, scratch: &mut Scratch| -> Vec<T> {
        items[range.clone()]
            .iter()
            .map(|&i| f(i, scratch))
            .collect()
    };
    if threads <= 1 || chunks.len() <= 1 {
        let mut scratch = Scratch::default();
        return chunks.iter().flat_map(|c| run(c, &mut scratch)).collect();
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Vec<T>)>> = Mutex::new(Vec::with_capacity(chunks.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.min(chunks.len()) {
            scope.spawn(|| {
                let mut scratch = Scratch::default();
                let mut mine = Vec::new();
                loop {
                    let c = next.fetch_add(1, Ordering::Relaxed);
                    let Some(range) = chunks.get(c) else {
                        break;
                    };
                    mine.push((c, run(range, &mut scratch)));
                }
                if let Ok(mut d) = done.lock() {
                    d.extend(mine);
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_default();
    done.sort_by_key(|(c, _)| *c);
    done.into_iter().flat_map(|(_, v)| v).collect()
}
