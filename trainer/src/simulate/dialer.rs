//! The naive logging dialer: which persons it works each day, which contact point and channel it
//! tries at what time, and the attempts (with their true engagement probability) that result.

use std::collections::VecDeque;

use contactscore_models::localtime::DAY;
use contactscore_models::{Channel, Outcome};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::behaviour::{self, AttemptContext, LocalTime};
use super::world::{Person, Zones};

/// Campaigns the dialer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Campaign {
    /// Early collections.
    CollectionsA,
    /// Late collections: harder to engage.
    CollectionsB,
}

impl Campaign {
    /// The string written to `attempts.csv`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Campaign::CollectionsA => "collections_a",
            Campaign::CollectionsB => "collections_b",
        }
    }

    /// How much harder the campaign is to engage in (multiplies the engagement probability).
    pub(crate) fn factor(self) -> f64 {
        match self {
            Campaign::CollectionsA => 1.0,
            Campaign::CollectionsB => 0.8,
        }
    }
}

/// One generated attempt, before it is written.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    /// Index of the contact point in the person's list.
    pub contact: usize,
    /// Channel used.
    pub channel: Channel,
    /// Unix second of the attempt.
    pub at: i64,
    /// Sampled outcome.
    pub outcome: Outcome,
    /// Call length for connected calls.
    pub duration: Option<u32>,
    /// Campaign.
    pub campaign: Campaign,
    /// Exact probability the outcome is engaged.
    pub p_engaged: f64,
    /// Export format variant of the contact point in this row.
    pub format: u32,
    /// Whether the row's time is written with the dialer's UTC offset instead of `Z`.
    pub local_offset: bool,
    /// Whether the row is exported twice.
    pub duplicated: bool,
}

/// What the dialer tracks for one (contact point, channel).
#[derive(Debug, Clone, Copy)]
struct Pair {
    contact: usize,
    channel: Channel,
    consecutive_invalid: u8,
    stopped: bool,
    opted_out: bool,
}

/// The dialer's and the person's running state.
#[derive(Debug)]
pub(crate) struct PersonState {
    rng: ChaCha8Rng,
    pairs: Vec<Pair>,
    cursor: usize,
    /// Attempt times in the last 7 days (the person's fatigue, not the dialer's knowledge).
    recent: VecDeque<i64>,
    last_engaged: Option<i64>,
    opted_out_any: bool,
    /// The dialer leaves a converted person alone until this unix second.
    paused_until: i64,
}

/// Facts about one day of the run shared by every person.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DayContext {
    /// 0-based day of the run.
    pub day: u32,
    /// Unix second of midnight in the dialer's zone.
    pub midnight: i64,
    /// Weekday in the dialer's zone, Monday = 0.
    pub weekday: u8,
}

impl PersonState {
    /// Fresh state for `person`, continuing the person's random stream.
    pub(crate) fn new(person: &Person, rng: ChaCha8Rng) -> PersonState {
        let pairs = person
            .contacts
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                c.channels.iter().map(move |&channel| Pair {
                    contact: i,
                    channel,
                    consecutive_invalid: 0,
                    stopped: false,
                    opted_out: false,
                })
            })
            .collect();
        PersonState {
            rng,
            pairs,
            cursor: 0,
            recent: VecDeque::new(),
            last_engaged: None,
            opted_out_any: false,
            paused_until: i64::MIN,
        }
    }

    /// The person's side of the running state, which the backtest arena continues from: attempt
    /// times not yet pruned from the 7-day fatigue window (prune before counting), the last
    /// engaged outcome, and whether the person ever opted out.
    pub(crate) fn person_side(&self) -> (&VecDeque<i64>, Option<i64>, bool) {
        (&self.recent, self.last_engaged, self.opted_out_any)
    }

    /// The next (contact, channel) in list order that the dialer knows of and still uses.
    fn next_pair(&mut self, person: &Person, at: i64) -> Option<usize> {
        let n = self.pairs.len();
        (0..n).map(|k| (self.cursor + k) % n).find(|&i| {
            let p = &self.pairs[i];
            !p.stopped && !p.opted_out && person.contacts[p.contact].added_at <= at
        })
    }

    /// Runs the dialer for one day; appends the person's attempts (in time order) to `out`.
    pub(crate) fn run_day(
        &mut self,
        person: &Person,
        ctx: &DayContext,
        zones: &Zones,
        out: &mut Vec<Attempt>,
    ) {
        let active = match ctx.weekday {
            0..=4 => 0.30,
            5 => 0.22,
            _ => 0.12,
        };
        if !self.rng.random_bool(active) {
            return;
        }
        let n = match self.rng.random_range(0..10) {
            0..5 => 1,
            5..8 => 2,
            _ => 3,
        };
        let mut times = [0i64; 3];
        for t in times.iter_mut().take(n) {
            // A uniform second between 08:00:00 and 20:59:59 in the dialer's zone.
            *t = ctx.midnight + 8 * 3600 + self.rng.random_range(0..13 * 3600);
        }
        times[..n].sort_unstable();
        let campaign = if self.rng.random_bool(0.65) {
            Campaign::CollectionsA
        } else {
            Campaign::CollectionsB
        };
        for &at in &times[..n] {
            if at < self.paused_until {
                break;
            }
            let Some(i) = self.next_pair(person, at) else {
                break;
            };
            self.cursor = i + 1;
            let attempt = self.attempt(person, ctx, zones, i, at, campaign);
            out.push(attempt);
        }
    }

    fn attempt(
        &mut self,
        person: &Person,
        ctx: &DayContext,
        zones: &Zones,
        pair: usize,
        at: i64,
        campaign: Campaign,
    ) -> Attempt {
        let Pair {
            contact, channel, ..
        } = self.pairs[pair];
        let point = &person.contacts[contact];
        while self.recent.front().is_some_and(|&t| t <= at - 7 * DAY) {
            self.recent.pop_front();
        }
        let local = LocalTime::new(
            at + i64::from(person.hour_shift) * 3600,
            zones.offset(person.zone, at),
        );
        let actx = AttemptContext {
            channel,
            landline: point.is_landline(),
            state: point.lifecycle.state(ctx.day),
            usage: point.usage,
            availability: person
                .pattern
                .availability(local.weekday, local.hour, local.week),
            responsiveness: person.responsiveness,
            affinity: person.affinity[channel.index()],
            recent_attempts: self.recent.len(),
            engaged_last_day: self.last_engaged.is_some_and(|t| t > at - DAY),
            opted_out_before: self.opted_out_any,
            campaign_factor: campaign.factor(),
        };
        let p_engaged = behaviour::p_engaged(&actx);
        let (outcome, duration) = behaviour::sample_outcome(&mut self.rng, &actx, p_engaged);

        self.recent.push_back(at);
        let state = &mut self.pairs[pair];
        match outcome {
            Outcome::Invalid => {
                state.consecutive_invalid += 1;
                state.stopped = state.consecutive_invalid >= 3;
            }
            Outcome::OptOut => {
                state.consecutive_invalid = 0;
                state.opted_out = true;
                self.opted_out_any = true;
            }
            Outcome::RightParty | Outcome::Replied => {
                state.consecutive_invalid = 0;
                self.last_engaged = Some(at);
            }
            Outcome::Converted => {
                state.consecutive_invalid = 0;
                self.last_engaged = Some(at);
                // A settled account leaves the campaign for a few weeks.
                self.paused_until = at + self.rng.random_range(14..35) * DAY;
            }
            Outcome::NoAnswer
            | Outcome::Busy
            | Outcome::Voicemail
            | Outcome::WrongParty
            | Outcome::ThirdParty
            | Outcome::Delivered
            | Outcome::Read => state.consecutive_invalid = 0,
        }
        Attempt {
            contact,
            channel,
            at,
            outcome,
            duration,
            campaign,
            p_engaged,
            format: self.rng.random(),
            local_offset: self.rng.random_bool(0.02),
            duplicated: self.rng.random_bool(0.005),
        }
    }
}
