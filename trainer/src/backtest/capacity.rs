//! `backtest --capacity N`: a call centre that can make `N` attempts an hour works a daily list
//! (every simulated person, one attempt per person per day, 08:00–22:00 in the dialer's zone),
//! and four planners fill its hours on the same world:
//!
//! - **plan**: `PlanCampaign`'s planner (`models::plan`) with the trained model;
//! - **rank hour by hour**: each hour, the `N` persons not yet called today whose Rank
//!   probability for that hour (their best allowed pair at that hour, the same scores the plan
//!   uses) is highest — what a dialer following Rank hour by hour does;
//! - **naive**: each hour, `N` persons not yet called today, at random among those with an
//!   allowed pair that hour, on a random allowed pair;
//! - **greedy on true p**: knows the simulator's true probability of every allowed (person,
//!   pair, hour) and fills the day greedily, best first — the reference of the captured lift;
//! - **plan on true p**: the plan's assignment on those true probabilities, i.e. the planner
//!   with a perfect model: it shows how much is lost to the model rather than to the planner.
//!
//! Each has its own copy of the feature state and of the world's dynamic state, both from the
//! end of the history, and the same outcome stream; every attempt is made at a random second
//! inside its hour, answered by the arena, and fed back into that planner's state. The report
//! compares expected engagements (the sum of the true probabilities of the attempts made, free
//! of sampling noise) as the share of the true-probability planner's lift over naive that each
//! captures, and counts violations: an attempt the rules forbid, a second attempt on a person
//! the same day, or an hour over capacity.

use std::num::NonZeroUsize;

use contactscore_models::Channel;
use contactscore_models::artifact::registry::LoadedVersion;
use contactscore_models::features::FeatureState;
use contactscore_models::plan::{
    AttemptsPerPerson, Capacity, CapacityEntry, PlanPerson, PlanRequest, PlanWindow, plan,
    slot_options,
};
use contactscore_models::policy::{HOUR, Policy};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::planner::{HORIZON_HOURS, candidates};
use super::{BacktestRequest, DAY_START_HOUR, Roster, prepare, validate};
use crate::config::Settings;
use crate::progress::Progress;
use crate::simulate::arena::{Arena, Call, World};
use crate::{Result, TrainerError};

mod report;
mod truth;

pub use report::{CapacityPlanner, CapacityReport, CapacityStats, render};
use report::{DayTally, ReportHead};
use truth::{greedy_true, plan_true};

/// The capacity report's file name in the output directory.
pub const CAPACITY_REPORT_FILE: &str = "capacity.json";

/// A capacity backtest.
#[derive(Debug, Clone)]
pub struct CapacityRequest {
    /// The world, history, evaluation days, seed and policy (as for `backtest`).
    pub base: BacktestRequest,
    /// Attempts the call centre makes per hour, shared by every channel.
    pub per_hour: u32,
}

/// One chosen attempt of a day: person (arena index), contact key, channel, window slot, and
/// the model's probability when a model chose it.
#[derive(Debug, Clone, PartialEq)]
struct Choice {
    person: usize,
    contact: String,
    channel: Channel,
    slot: u32,
    predicted: Option<f64>,
}

/// What every planner reads on a day.
struct Day<'a> {
    state: &'a FeatureState,
    loaded: &'a LoadedVersion,
    policy: &'a Policy,
    roster: &'a Roster,
    arena: &'a Arena,
    world: &'a World,
    window: PlanWindow,
    capacity: Capacity,
    per_hour: u32,
    run_day: u32,
    rng: &'a mut ChaCha8Rng,
}

/// Run the capacity backtest (see the module docs) and write [`CAPACITY_REPORT_FILE`].
pub fn capacity_backtest(
    req: &CapacityRequest,
    settings: &Settings,
    progress: &Progress,
) -> Result<CapacityReport> {
    validate(&req.base)?;
    if req.per_hour == 0 {
        return Err(TrainerError::Config("--capacity must be at least 1".into()));
    }
    let (params, loaded) = prepare(&req.base, settings, progress)?;
    let timer = progress.timer();
    let arena = Arena::new(&params)?;
    let roster = Roster::new(&arena, &loaded)?;
    let mut stats = Vec::new();
    let mut ratio = Vec::new();
    for planner in CapacityPlanner::ALL {
        let (s, r) = run(planner, req, &arena, &roster, &loaded)?;
        progress.say(format_args!(
            "{}: {} attempts, {:.1} expected engaged",
            planner.as_str(),
            s.attempts,
            s.expected_engaged
        ));
        stats.push(s);
        ratio.extend(r);
    }
    progress.say(format_args!(
        "planned {} days × {} planners in {:.1}s",
        req.base.eval_days,
        CapacityPlanner::ALL.len(),
        timer.elapsed().as_secs_f64()
    ));
    let head = ReportHead {
        persons: req.base.persons,
        history_days: req.base.history_days,
        eval_days: req.base.eval_days,
        seed: req.base.seed,
        per_hour: req.per_hour,
        slots_per_day: HORIZON_HOURS,
        model_version: loaded.manifest.version.clone(),
        family: loaded.manifest.family.as_str().to_owned(),
        plan_ratio_to_bound: ratio.iter().sum::<f64>() / ratio.len().max(1) as f64,
    };
    let report = CapacityReport::new(head, stats);
    let path = req.base.out.join(CAPACITY_REPORT_FILE);
    let text = serde_json::to_string_pretty(&report)
        .map_err(|e| TrainerError::Backtest(format!("serialising the report: {e}")))?;
    std::fs::write(&path, text).map_err(|e| TrainerError::io(&path, e))?;
    Ok(report)
}

/// One planner over every evaluation day; also each day's `expected_engaged / upper_bound`
/// of the plan (plan planner only).
fn run(
    planner: CapacityPlanner,
    req: &CapacityRequest,
    arena: &Arena,
    roster: &Roster,
    loaded: &LoadedVersion,
) -> Result<(CapacityStats, Vec<f64>)> {
    let mut state = loaded.state.clone();
    let mut world = arena.fork(0);
    let salt = 0x6361_7061_6369_7479 ^ planner as u64;
    let mut rng = ChaCha8Rng::seed_from_u64(req.base.seed ^ salt);
    let mut tally = DayTally::new(planner, arena.len(), HORIZON_HOURS);
    let mut ratios = Vec::new();
    for offset in 0..req.base.eval_days {
        let day = arena.eval_day(offset)?;
        let start = day.midnight + DAY_START_HOUR * HOUR;
        let window = PlanWindow::new(start, start + i64::from(HORIZON_HOURS) * HOUR)?;
        let entries: Vec<CapacityEntry> = (0..window.slots())
            .map(|k| CapacityEntry {
                slot_start: window.start(k),
                channel: None,
                attempts: req.per_hour,
            })
            .collect();
        let capacity = Capacity::new(&window, &entries)?;
        let choices = {
            let mut d = Day {
                state: &state,
                loaded,
                policy: &req.base.policy,
                roster,
                arena,
                world: &world,
                window,
                capacity,
                per_hour: req.per_hour,
                run_day: day.day,
                rng: &mut rng,
            };
            match planner {
                CapacityPlanner::Plan => {
                    let (c, ratio) = planned(&d);
                    ratios.push(ratio);
                    c
                }
                CapacityPlanner::RankHourByHour => hour_by_hour(&d),
                CapacityPlanner::Naive => naive(&mut d),
                CapacityPlanner::GreedyTrueP => greedy_true(&d)?,
                CapacityPlanner::PlanTrueP => plan_true(&d)?,
            }
        };
        execute(
            &choices, window, req, arena, roster, &mut state, &mut world, &mut rng, &mut tally,
            day.day,
        )?;
    }
    Ok((tally.finish(), ratios))
}

/// Make the day's attempts in time order, count violations, feed the outcomes back.
#[allow(clippy::too_many_arguments)]
fn execute(
    choices: &[Choice],
    window: PlanWindow,
    req: &CapacityRequest,
    arena: &Arena,
    roster: &Roster,
    state: &mut FeatureState,
    world: &mut World,
    rng: &mut ChaCha8Rng,
    tally: &mut DayTally,
    run_day: u32,
) -> Result<()> {
    let mut order: Vec<&Choice> = choices.iter().collect();
    order.sort_by_key(|c| (c.slot, c.person));
    let mut per_slot = vec![0u32; window.slots() as usize];
    let mut called = vec![false; arena.len()];
    let mut allowed = Vec::new();
    for c in order {
        let slot_start = window.start(c.slot);
        let (contact_index, contact) = roster.resolve(c.person, &c.contact)?;
        let slot = roster.slots[c.person];
        // Violations, checked on the planner's own state just before the attempt.
        let person = state.person(slot);
        let cs = person
            .contact_index(&contact.key)
            .map(|i| &person.contacts[i]);
        let zone = state.resolve_zone(person, cs);
        let rules_ok = req
            .base
            .policy
            .allowed_at(
                &state.zones,
                zone,
                person,
                cs,
                c.channel,
                &[slot_start],
                &mut allowed,
            )
            .is_ok()
            && allowed.first().copied().unwrap_or(false);
        per_slot[c.slot as usize] += 1;
        let violation = !rules_ok || called[c.person] || per_slot[c.slot as usize] > req.per_hour;
        called[c.person] = true;
        let call = Call {
            person: c.person as u32,
            contact: contact_index,
            channel: c.channel,
            at: slot_start + rng.random_range(0..HOUR),
            day: run_day,
        };
        let answer = arena.attempt(world, &call)?;
        state.apply(slot, contact, call.channel, call.at, answer.outcome)?;
        tally.attempt(
            c.slot,
            answer.p_engaged,
            c.predicted,
            answer.outcome.is_engaged(),
            violation,
        );
    }
    tally.end_day();
    Ok(())
}

/// The plan request for the day: every person, the contact points their state knows.
fn request<'a>(d: &Day<'a>) -> PlanRequest<'a> {
    PlanRequest {
        window: d.window,
        capacity: d.capacity.clone(),
        attempts_per_person: AttemptsPerPerson::new(1).unwrap_or_else(|_| unreachable!()),
        channels: Vec::new(),
        persons: d
            .roster
            .slots
            .iter()
            .map(|&s| PlanPerson {
                state: Some(d.state.person(s)),
                contacts: None,
                channels: Vec::new(),
                zone: None,
            })
            .collect(),
        threads: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
    }
}

/// The plan's attempts, and its `expected_engaged / upper_bound`.
fn planned(d: &Day<'_>) -> (Vec<Choice>, f64) {
    let p = plan(d.state, &d.loaded.model, d.policy, request(d));
    let ratio = if p.upper_bound > 0.0 {
        p.expected_engaged / p.upper_bound
    } else {
        1.0
    };
    let choices = p
        .attempts
        .into_iter()
        .filter_map(|a| {
            Some(Choice {
                person: a.person,
                slot: d.window.index(a.suggestion.slot_start)?,
                contact: a.suggestion.contact,
                channel: a.suggestion.channel,
                predicted: Some(a.suggestion.probability),
            })
        })
        .collect();
    (choices, ratio)
}

/// Each hour in turn, the persons not yet called whose probability for that hour is highest.
fn hour_by_hour(d: &Day<'_>) -> Vec<Choice> {
    let options = slot_options(d.state, &d.loaded.model, d.policy, request(d));
    let mut called = vec![false; options.len()];
    let mut out = Vec::new();
    for k in 0..d.window.slots() {
        let mut here: Vec<(usize, &contactscore_models::plan::SlotOption)> = options
            .iter()
            .enumerate()
            .filter(|(i, _)| !called[*i])
            .filter_map(|(i, o)| {
                o.as_ref()
                    .ok()?
                    .iter()
                    .find(|o| o.slot == k)
                    .map(|o| (i, o))
            })
            .collect();
        // Highest probability first; ties by list order.
        here.sort_by(|a, b| {
            b.1.probability
                .total_cmp(&a.1.probability)
                .then(a.0.cmp(&b.0))
        });
        for (i, o) in here.into_iter().take(d.per_hour as usize) {
            called[i] = true;
            out.push(Choice {
                person: i,
                contact: o.contact.clone(),
                channel: o.channel,
                slot: k,
                predicted: Some(o.probability),
            });
        }
    }
    out
}

/// Every allowed (contact key, channel) of each person at each slot of the day.
fn allowed_pairs(d: &Day<'_>) -> Vec<Vec<Vec<(String, Channel)>>> {
    let starts = d.window.starts();
    let mut flags = Vec::new();
    d.roster
        .slots
        .iter()
        .map(|&slot| {
            let person = d.state.person(slot);
            let mut per_slot = vec![Vec::new(); starts.len()];
            for (contact, zone, channel) in candidates(d.state, slot, d.window.start(0)) {
                let rules = d.policy.allowed_at(
                    &d.state.zones,
                    zone,
                    person,
                    Some(contact),
                    channel,
                    &starts,
                    &mut flags,
                );
                if rules.is_err() {
                    continue;
                }
                for (k, _) in flags.iter().enumerate().filter(|(_, ok)| **ok) {
                    per_slot[k].push((contact.key.to_string(), channel));
                }
            }
            per_slot
        })
        .collect()
}

/// Each hour, `N` persons not yet called, at random among those with an allowed pair then, on
/// a random allowed pair.
fn naive(d: &mut Day<'_>) -> Vec<Choice> {
    let allowed = allowed_pairs(d);
    let mut called = vec![false; allowed.len()];
    let mut out = Vec::new();
    for k in 0..d.window.slots() as usize {
        let mut here: Vec<usize> = (0..allowed.len())
            .filter(|&i| !called[i] && !allowed[i][k].is_empty())
            .collect();
        here.shuffle(d.rng);
        for i in here.into_iter().take(d.per_hour as usize) {
            called[i] = true;
            let pairs = &allowed[i][k];
            let (contact, channel) = pairs[d.rng.random_range(0..pairs.len())].clone();
            out.push(Choice {
                person: i,
                contact,
                channel,
                slot: k as u32,
                predicted: None,
            });
        }
    }
    out
}
