//! How one attempt outcome updates the state of a person, a contact point and a (contact,
//! channel): the only place counts, last instants, failure streaks and dead-end evidence change.

use super::state::{ChannelState, ContactState, HourCell, PersonState, RECENT_WINDOW};
use crate::Outcome;
use crate::localtime::LocalTime;

fn latest(a: Option<i64>, t: i64) -> Option<i64> {
    Some(a.map_or(t, |a| a.max(t)))
}

pub(super) fn apply_person(p: &mut PersonState, local: LocalTime, t: i64, outcome: Outcome) {
    p.tally.add(t, outcome);
    p.last_attempt_at = latest(p.last_attempt_at, t);
    if outcome.is_engaged() {
        p.last_engaged_at = latest(p.last_engaged_at, t);
    }
    let pos = p.recent.partition_point(|&a| a <= t);
    p.recent.insert(pos, t);
    let newest = p.recent.last().copied().unwrap_or(t);
    let keep_from = p
        .recent
        .partition_point(|&a| a < newest.saturating_sub(RECENT_WINDOW));
    p.recent.drain(..keep_from);
    let bucket = local.bucket();
    let engaged = if outcome.is_engaged() { 1.0 } else { 0.0 };
    match p.hours.iter_mut().find(|h| h.bucket == bucket) {
        Some(h) => {
            let f = h.decay(t);
            h.attempts = h.attempts * f + 1.0;
            h.engaged = h.engaged * f + engaged;
            h.at = h.at.max(t);
        }
        None => p.hours.push(HourCell {
            bucket,
            at: t,
            attempts: 1.0,
            engaged,
        }),
    }
}

pub(super) fn apply_contact(c: &mut ContactState, t: i64, outcome: Outcome) {
    c.tally.add(t, outcome);
    c.last_attempt_at = latest(c.last_attempt_at, t);
    if outcome.is_reached() {
        c.last_reached_at = latest(c.last_reached_at, t);
        c.consecutive_failures = 0;
    } else {
        c.consecutive_failures = c.consecutive_failures.saturating_add(1);
    }
    if outcome.is_engaged() {
        c.last_engaged_at = latest(c.last_engaged_at, t);
        if c.wrong_party_at.is_some_and(|w| w <= t) {
            c.wrong_party_at = None;
        }
    }
    // In time order an engaged outcome clears every earlier wrong party; an older wrong party
    // that arrives after a newer engaged outcome (a late report, a replay) is cleared already.
    if outcome == Outcome::WrongParty && c.last_engaged_at.is_none_or(|e| e <= t) {
        c.wrong_party_at = latest(c.wrong_party_at, t);
    }
}

pub(super) fn apply_channel(s: &mut ChannelState, t: i64, outcome: Outcome) {
    s.tally.add(t, outcome);
    s.last_attempt_at = latest(s.last_attempt_at, t);
    if outcome.is_reached() {
        s.consecutive_failures = 0;
    } else {
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
    }
    if outcome.is_engaged() {
        s.last_engaged_at = latest(s.last_engaged_at, t);
    }
    if outcome == Outcome::Invalid {
        s.invalid_count = s.invalid_count.saturating_add(1);
        s.last_invalid_at = latest(s.last_invalid_at, t);
    }
    if outcome == Outcome::OptOut {
        s.opted_out_at = latest(s.opted_out_at, t);
    }
}
