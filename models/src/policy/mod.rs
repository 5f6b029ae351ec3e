//! The contact policy engine: which (contact, channel, hour) may be suggested at all. Ranking
//! only orders what this module allows, so a forbidden contact (outside local calling hours,
//! over a frequency cap, in a cool-down, opted out, wrong party, recently invalid, validated
//! inactive by its carrier, or — when configured — a number libphonenumber's metadata does not
//! list as valid) can never be suggested however good its score.
//!
//! The engine is pure and synchronous: it reads the point-in-time [`PersonState`] /
//! [`ContactState`] that the feature state keeps and answers for concrete instants.
//!
//! An opt-out blocks its pair until a re-consent dated after it is recorded (the server's
//! `RecordConsent` lifts it from the state: [`crate::features::FeatureState::lift_opt_out`]).
//! Not modelled yet: holidays, and per-debt Reg F counting (caps are per person).

mod config;
mod instants;
mod window;

#[cfg(test)]
mod config_tests;
#[cfg(test)]
pub(crate) mod proptests;
#[cfg(test)]
mod tests;

use std::fmt;

pub use config::{PRESETS, PolicyConfig, WeekWindows};
pub use window::{HOUR, Week};

use crate::features::state::{ContactState, PersonState};
use crate::localtime::{DAY, Zones};
use crate::{Channel, NumberInfo, ValidationStatus};

/// Why a (contact, channel) may not be used at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockReason {
    /// The person opted out on this contact and channel.
    OptedOut,
    /// The number reached someone else (until a later engaged outcome on it).
    WrongParty,
    /// The contact and channel were reported invalid recently.
    Invalid,
    /// The person engaged recently (on any contact); give them a rest.
    CoolDown,
    /// The person already had the maximum attempts on this local day.
    DailyCap,
    /// The person already had the maximum attempts in the last 7 days.
    WeeklyCap,
    /// The hour is outside the channel's local-time windows.
    OutsideWindow,
    /// The number lies outside every range libphonenumber's metadata lists for its country
    /// (only with `block_invalid_numbers`).
    InvalidNumber,
    /// The number's latest carrier validation said `inactive`, after its last engagement (until
    /// a later engagement or an `active` validation; with `block_validated_inactive`).
    ValidatedInactive,
}

impl BlockReason {
    /// The reason's stable string (API and logs).
    pub fn as_str(self) -> &'static str {
        match self {
            BlockReason::OptedOut => "opted_out",
            BlockReason::WrongParty => "wrong_party",
            BlockReason::Invalid => "invalid_recent",
            BlockReason::CoolDown => "cooldown_after_engaged",
            BlockReason::DailyCap => "daily_cap",
            BlockReason::WeeklyCap => "weekly_cap",
            BlockReason::OutsideWindow => "outside_window",
            BlockReason::InvalidNumber => "invalid_number",
            BlockReason::ValidatedInactive => "validated_inactive",
        }
    }
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A block: its reason and the earliest instant it could lift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Block {
    /// Why.
    pub reason: BlockReason,
    /// Earliest instant (unix seconds) at which this block could lift; `None` = indefinitely
    /// (opt-out, wrong party, invalid number, validated inactive, or a channel with no window at
    /// all). Another rule may still block at that instant.
    pub until: Option<i64>,
}

impl Block {
    /// Whether `self` lifts later than `other` (`None` = never, the latest).
    fn later_than(&self, other: &Block) -> bool {
        match (self.until, other.until) {
            (None, Some(_)) => true,
            (Some(a), Some(b)) => a > b,
            (None, None) | (Some(_), None) => false,
        }
    }
}

/// A validated contact policy (see [`PolicyConfig`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    windows: [Week; 5],
    max_daily: u32,
    max_weekly: u32,
    cooldown: i64,
    invalid_for: i64,
    block_invalid_numbers: bool,
    block_validated_inactive: bool,
}

impl Default for Policy {
    fn default() -> Self {
        PolicyConfig::default()
            .validate()
            .unwrap_or_else(|e| unreachable!("default policy is valid: {e}"))
    }
}

/// A person's recent attempts with their local days in the candidate's zone, computed once
/// per call so per-slot checks do no zone lookups for the history.
struct History<'a> {
    recent: &'a [i64],
    days: Vec<i64>,
}

impl<'a> History<'a> {
    fn new(zones: &Zones, zone: u16, person: &'a PersonState) -> Self {
        let days = person
            .recent
            .iter()
            .map(|&a| zones.local(zone, a).day)
            .collect();
        Self {
            recent: &person.recent,
            days,
        }
    }
}

impl Policy {
    /// How long an `invalid` outcome suppresses its (contact, channel), in seconds.
    pub fn invalid_for(&self) -> i64 {
        self.invalid_for
    }

    /// The windows of `channel`.
    pub fn windows(&self, channel: Channel) -> &Week {
        &self.windows[channel.index()]
    }

    /// Hard blocks of a (contact, channel) at instant `t` that do not depend on the hour:
    /// opt-out, wrong party, invalid, cool-down, daily and weekly caps (counting an attempt at
    /// `t` itself). `zone` is the candidate's resolved zone
    /// ([`crate::features::state::FeatureState::resolve_zone`]); it defines the local day.
    /// `contact` is `None` for a contact point the state has never seen.
    ///
    /// When several rules block, an indefinite one (opt-out, wrong party, validated inactive,
    /// invalid number, in that order) is reported,
    /// else the one that lifts latest (ties: invalid, cool-down, weekly, daily), since the pair
    /// cannot be used before that.
    pub fn check(
        &self,
        zones: &Zones,
        zone: u16,
        person: &PersonState,
        contact: Option<&ContactState>,
        channel: Channel,
        t: i64,
    ) -> Result<(), Block> {
        if let Some(b) = self.permanent_block(contact, channel) {
            return Err(b);
        }
        let history = History::new(zones, zone, person);
        self.timed_block(zones, zone, person, contact, channel, &history, t)
    }

    /// Hourly slots `[start, start + 3600)` allowed for this (contact, channel) with `start` in
    /// `[from, from + horizon_hours * 3600)`: each start is a whole local hour in `zone`, the
    /// slot lies entirely inside one of the channel's windows, and [`Policy::check`] passes at
    /// the start (caps counted for that slot's instant and local day).
    ///
    /// Returns the allowed starts in increasing order, or, when none is allowed, one [`Block`]:
    /// an indefinite block if there is one; otherwise, over all candidate slots, the block that
    /// lifts latest, where a slot blocked by a rule reports that rule and a slot blocked only by
    /// the window reports [`BlockReason::OutsideWindow`] until the next slot inside a window.
    /// So `until` is the earliest instant worth asking again. `horizon_hours == 0` gives
    /// `Ok(vec![])` (no slot was asked for).
    ///
    /// DST: slots are stepped in real time and realigned to the local hour, so a skipped local
    /// hour gives no slot and a repeated one gives two; a slot containing a transition is only
    /// allowed if it is inside a window under both offsets (the slot's local range is widened by the offset change).
    #[allow(clippy::too_many_arguments)]
    pub fn allowed_slots(
        &self,
        zones: &Zones,
        zone: u16,
        person: &PersonState,
        contact: Option<&ContactState>,
        channel: Channel,
        from: i64,
        horizon_hours: u32,
    ) -> Result<Vec<i64>, Block> {
        if horizon_hours == 0 {
            return Ok(Vec::new());
        }
        if let Some(b) = self.permanent_block(contact, channel) {
            return Err(b);
        }
        let week = self.windows(channel);
        let history = History::new(zones, zone, person);
        let end = from.saturating_add(i64::from(horizon_hours) * HOUR);
        let mut allowed = Vec::new();
        let mut worst: Option<Block> = None;
        let mut last_window_only: Option<i64> = None;
        let mut t = window::next_local_hour(zones, zone, from);
        while t < end {
            let in_window = window::slot_in_window(zones, zone, week, t);
            match self.timed_block(zones, zone, person, contact, channel, &history, t) {
                Ok(()) if in_window => allowed.push(t),
                Ok(()) => last_window_only = Some(t),
                Err(b) => {
                    if worst.is_none_or(|w| b.later_than(&w)) {
                        worst = Some(b);
                    }
                }
            }
            t = window::next_local_hour(zones, zone, t.saturating_add(HOUR));
        }
        if !allowed.is_empty() {
            return Ok(allowed);
        }
        if let Some(s) = last_window_only {
            let b = Block {
                reason: BlockReason::OutsideWindow,
                until: window::next_window_slot(zones, zone, week, s.saturating_add(HOUR)),
            };
            if worst.is_none_or(|w| b.later_than(&w)) {
                worst = Some(b);
            }
        }
        // No candidate slot at all (a horizon shorter than the gap to the next local hour):
        // report the window's next opening.
        Err(worst.unwrap_or(Block {
            reason: BlockReason::OutsideWindow,
            until: window::next_window_slot(zones, zone, week, end),
        }))
    }

    #[allow(clippy::too_many_arguments)]
    fn timed_block(
        &self,
        zones: &Zones,
        zone: u16,
        person: &PersonState,
        contact: Option<&ContactState>,
        channel: Channel,
        history: &History<'_>,
        t: i64,
    ) -> Result<(), Block> {
        let mut worst: Option<Block> = None;
        let mut consider = |reason: BlockReason, until: i64| {
            let b = Block {
                reason,
                until: Some(until),
            };
            if worst.is_none_or(|w| b.later_than(&w)) {
                worst = Some(b);
            }
        };
        if let Some(bad) = contact
            .and_then(|c| c.channel(channel))
            .and_then(|s| s.last_invalid_at)
        {
            let lift = bad.saturating_add(self.invalid_for);
            if t < lift {
                consider(BlockReason::Invalid, lift);
            }
        }
        if let Some(e) = person.last_engaged_at {
            let lift = e.saturating_add(self.cooldown);
            if t < lift {
                consider(BlockReason::CoolDown, lift);
            }
        }
        if let Some(lift) = weekly_lift(history.recent, self.max_weekly, t) {
            consider(BlockReason::WeeklyCap, lift);
        }
        let day = zones.local(zone, t).day;
        let today = history.days.iter().filter(|&&d| d == day).count();
        if today >= self.max_daily as usize {
            consider(
                BlockReason::DailyCap,
                window::next_local_day_start(zones, zone, t),
            );
        }
        worst.map_or(Ok(()), Err)
    }
}

impl Policy {
    /// Blocks that hold whatever the instant: opt-out on the pair, wrong party on the number,
    /// the number validated inactive by its carrier after its last engagement, and (when
    /// configured) a number the metadata does not list as valid.
    fn permanent_block(&self, contact: Option<&ContactState>, channel: Channel) -> Option<Block> {
        let c = contact?;
        let reason = if c.channel(channel).is_some_and(|s| s.opted_out_at.is_some()) {
            BlockReason::OptedOut
        } else if c.wrong_party_at.is_some() {
            BlockReason::WrongParty
        } else if self.block_validated_inactive
            && !channel.is_email()
            && c.validation.is_some_and(|v| {
                v.status == ValidationStatus::Inactive && c.last_engaged_at.is_none_or(|e| v.at > e)
            })
        {
            BlockReason::ValidatedInactive
        } else {
            return self.number_block(c.number, channel);
        };
        Some(Block {
            reason,
            until: None,
        })
    }

    /// The block a phone number gets from what the metadata says about it alone: with
    /// `block_invalid_numbers`, a number outside every listed range is blocked on every phone
    /// channel. The ranking and the planner ask this for a contact point the state has never
    /// seen (for one it knows, [`Policy::check`], [`Policy::allowed_slots`] and
    /// [`Policy::allowed_at`] include it).
    pub fn number_block(&self, number: Option<NumberInfo>, channel: Channel) -> Option<Block> {
        (self.block_invalid_numbers && !channel.is_email() && number.is_some_and(|n| !n.valid))
            .then_some(Block {
                reason: BlockReason::InvalidNumber,
                until: None,
            })
    }
}

/// When the weekly cap blocks an attempt at `t` (attempts in `(t - 7 days, t]` already at the
/// cap), the instant it lifts: when enough of the counted attempts have left the window that
/// one more fits, i.e. the `(n - max + 1)`-th oldest counted attempt + 7 days.
fn weekly_lift(recent: &[i64], max: u32, t: i64) -> Option<i64> {
    // `recent` is sorted oldest first, so the counted attempts are one contiguous run.
    let lo = recent.partition_point(|&a| a <= t.saturating_sub(7 * DAY));
    let hi = recent.partition_point(|&a| a <= t);
    let counted = recent.get(lo..hi).unwrap_or_default();
    let (n, max) = (counted.len(), max as usize);
    if n < max {
        return None;
    }
    Some(counted[n - max].saturating_add(7 * DAY))
}
