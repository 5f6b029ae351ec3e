//! The counterfactual arena for backtests: the simulator's hidden world carried past the end of
//! a simulated history, answering attempts that someone other than the logging dialer chose.
//!
//! The same [`SimulateParams`] give the same persons, contact points, lifecycles and availability
//! as `simulate`, and the history is re-run in memory so each person starts the evaluation as
//! the log left them (attempts of the last 7 days, a recent engagement, an earlier opt-out).
//! The world is split in two: the static part ([`Arena`]) is built once and shared; the dynamic
//! part ([`World`]: each person's fatigue, recent engagement, opt-out mood and outcome random
//! stream) is forked per planner, so planners never see each other's attempts. Every answer goes
//! through the generator's own [`behaviour::p_engaged`] and [`behaviour::sample_outcome`]: there
//! is one behaviour model, not a second one for backtests.
//!
//! Limits: lifecycle events (a line dying or being reassigned, a new number appearing) are drawn
//! inside the history window, so during the evaluation days lines keep the state they had at
//! its end; and every arena attempt belongs to the `collections_a` campaign.

use std::collections::VecDeque;

use contactscore_models::localtime::DAY;
use contactscore_models::{Channel, Outcome};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::SimulateParams;
use super::behaviour::{self, AttemptContext, LineState, LocalTime};
use super::dialer::{Campaign, DayContext, PersonState};
use super::params::WorldParams;
use super::world::{self, Person, Zones};
use super::writer::Calendar;
use crate::{Result, TrainerError};

/// The campaign of every arena attempt: the log's main one (difficulty factor 1).
const CAMPAIGN: Campaign = Campaign::CollectionsA;

/// What a person's answers depend on besides the static world: the running state the dialer
/// keeps for the person in `dialer.rs`, continued here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Mood {
    /// Attempt instants, oldest first; pruned to the last 7 days before each attempt.
    recent: VecDeque<i64>,
    /// Last engaged outcome.
    last_engaged: Option<i64>,
    /// Whether the person ever opted out of a contact point.
    opted_out_any: bool,
}

impl Mood {
    fn from_dialer(state: &PersonState) -> Mood {
        let (recent, last_engaged, opted_out_any) = state.person_side();
        Mood {
            recent: recent.clone(),
            last_engaged,
            opted_out_any,
        }
    }

    /// Forget attempts that no longer count for an attempt at `at` (exactly as the dialer does).
    fn prune(&mut self, at: i64) {
        while self.recent.front().is_some_and(|&t| t <= at - 7 * DAY) {
            self.recent.pop_front();
        }
    }

    /// Remember the attempt at `at` and its outcome (exactly as the dialer does).
    fn record(&mut self, at: i64, outcome: Outcome) {
        self.recent.push_back(at);
        if outcome == Outcome::OptOut {
            self.opted_out_any = true;
        }
        if outcome.is_engaged() {
            self.last_engaged = Some(at);
        }
    }
}

/// One attempt put to the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Call {
    /// Person index (as in `P0000042` → 42).
    pub person: u32,
    /// Index of the contact point in the person's list ([`Arena::contact_points`] order).
    pub contact: usize,
    /// Channel.
    pub channel: Channel,
    /// Unix second of the attempt; per person, calls must come in time order.
    pub at: i64,
    /// Run day of the attempt (0-based from the start of the history), for line lifecycles.
    pub day: u32,
}

/// The world's answer to a [`Call`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Answer {
    /// Sampled outcome.
    pub outcome: Outcome,
    /// The exact probability, given the person's situation at that instant, that the outcome
    /// is engaged.
    pub p_engaged: f64,
    /// Whether the attempt could not reach the person at all: a dead or reassigned line, or a
    /// channel the line does not carry.
    pub dead_end: bool,
}

/// One planner's copy of the world's dynamic state.
#[derive(Debug, Clone)]
pub(crate) struct World {
    moods: Vec<Mood>,
    rngs: Vec<ChaCha8Rng>,
}

/// The static world: persons, their contact points and the history's end state.
#[derive(Debug)]
pub(crate) struct Arena {
    persons: Vec<Person>,
    zones: Zones,
    calendar: Calendar,
    history_days: u32,
    seed: u64,
    end_of_history: Vec<Mood>,
}

impl Arena {
    /// The world `simulate(params)` generated, with every person as the history left them.
    pub(crate) fn new(params: &SimulateParams) -> Result<Arena> {
        let zones = Zones::load()?;
        let calendar = Calendar::new(params.start, &zones);
        let wp = WorldParams {
            seed: params.seed,
            days: params.days,
            day0: calendar.midnight(0)?,
        };
        let (persons, mut states): (Vec<Person>, Vec<PersonState>) = (0..params.persons)
            .map(|index| {
                let (person, rng) = world::person(&wp, index);
                let state = PersonState::new(&person, rng);
                (person, state)
            })
            .unzip();
        // The same day loop as `writer::run`, without the files: each person's stream is their
        // own, so the states end exactly where the written log ends.
        let mut buffer = Vec::with_capacity(4);
        for day in 0..params.days {
            let ctx = calendar.day(day)?;
            for (person, state) in persons.iter().zip(states.iter_mut()) {
                buffer.clear();
                state.run_day(person, &ctx, &zones, &mut buffer);
            }
        }
        let end_of_history = states.iter().map(Mood::from_dialer).collect();
        Ok(Arena {
            persons,
            zones,
            calendar,
            history_days: params.days,
            seed: params.seed,
            end_of_history,
        })
    }

    /// Number of persons.
    pub(crate) fn len(&self) -> usize {
        self.persons.len()
    }

    /// Person `person`'s id as written in the log.
    pub(crate) fn person_id(&self, person: u32) -> Result<String> {
        Ok(self.person(person)?.id())
    }

    /// Person `person`'s contact points as `contacts.csv` writes them, in list order.
    pub(crate) fn contact_points(&self, person: u32) -> Result<Vec<String>> {
        Ok(self
            .person(person)?
            .contacts
            .iter()
            .map(|c| c.point.written(c.format))
            .collect())
    }

    /// Evaluation day `offset` (0-based), i.e. run day `history_days + offset`.
    pub(crate) fn eval_day(&self, offset: u32) -> Result<DayContext> {
        let day = self.history_days.checked_add(offset).ok_or_else(|| {
            TrainerError::Backtest(format!("evaluation day {offset} is out of range"))
        })?;
        self.calendar.day(day)
    }

    /// A fresh copy of the dynamic state as the history left it, with outcome random streams
    /// derived from the run's seed and `stream` (one per planner): the same stream gives the
    /// same answers to the same calls.
    pub(crate) fn fork(&self, stream: u64) -> World {
        let base = self.seed ^ stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let rngs = (0..self.persons.len())
            .map(|i| {
                let mut rng = ChaCha8Rng::seed_from_u64(base);
                rng.set_stream(i as u64);
                rng
            })
            .collect();
        World {
            moods: self.end_of_history.clone(),
            rngs,
        }
    }

    /// The exact engagement probability `call` would have now, without making it (the
    /// capacity backtest's planner on true probabilities asks it of every candidate).
    pub(crate) fn p_engaged(&self, world: &World, call: &Call) -> Result<f64> {
        let mut mood = self.mood(world, call.person)?.clone();
        let ctx = self.context(&mut mood, call, CAMPAIGN)?;
        Ok(behaviour::p_engaged(&ctx))
    }

    /// Make `call` in `world`: sample its outcome from the true probability and update the
    /// person's fatigue, engagement and opt-out state.
    pub(crate) fn attempt(&self, world: &mut World, call: &Call) -> Result<Answer> {
        let i = self.index(call.person)?;
        let ctx = self.context(&mut world.moods[i], call, CAMPAIGN)?;
        let p_engaged = behaviour::p_engaged(&ctx);
        let (outcome, _duration) = behaviour::sample_outcome(&mut world.rngs[i], &ctx, p_engaged);
        world.moods[i].record(call.at, outcome);
        Ok(Answer {
            outcome,
            p_engaged,
            dead_end: ctx.state != LineState::Alive,
        })
    }

    fn index(&self, person: u32) -> Result<usize> {
        let i = person as usize;
        if i < self.persons.len() {
            Ok(i)
        } else {
            Err(TrainerError::Backtest(format!(
                "person index {person} is not in the arena ({} persons)",
                self.persons.len()
            )))
        }
    }

    fn person(&self, person: u32) -> Result<&Person> {
        Ok(&self.persons[self.index(person)?])
    }

    fn mood<'w>(&self, world: &'w World, person: u32) -> Result<&'w Mood> {
        world
            .moods
            .get(self.index(person)?)
            .ok_or_else(|| TrainerError::Backtest("the world was forked from another arena".into()))
    }

    /// The person's situation at the call, as the dialer computes it for a logged attempt (see
    /// `dialer.rs`); a channel the line does not carry is treated as a dead line (undeliverable).
    fn context(&self, mood: &mut Mood, call: &Call, campaign: Campaign) -> Result<AttemptContext> {
        let person = self.person(call.person)?;
        let point = person.contacts.get(call.contact).ok_or_else(|| {
            TrainerError::Backtest(format!(
                "person {} has no contact point {}",
                person.id(),
                call.contact
            ))
        })?;
        if mood.recent.back().is_some_and(|&t| t > call.at) {
            return Err(TrainerError::Backtest(format!(
                "attempts on person {} are not in time order",
                person.id()
            )));
        }
        mood.prune(call.at);
        let local = LocalTime::new(
            call.at + i64::from(person.hour_shift) * 3600,
            self.zones.offset(person.zone, call.at),
        );
        let state = if point.channels.contains(&call.channel) {
            point.lifecycle.state(call.day)
        } else {
            LineState::Dead
        };
        Ok(AttemptContext {
            channel: call.channel,
            landline: point.is_landline(),
            state,
            usage: point.usage,
            availability: person
                .pattern
                .availability(local.weekday, local.hour, local.week),
            responsiveness: person.responsiveness,
            affinity: person.affinity[call.channel.index()],
            recent_attempts: mood.recent.len(),
            engaged_last_day: mood.last_engaged.is_some_and(|t| t > call.at - DAY),
            opted_out_before: mood.opted_out_any,
            campaign_factor: campaign.factor(),
        })
    }
}

#[cfg(test)]
#[path = "arena_tests.rs"]
mod tests;
