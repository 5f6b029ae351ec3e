//! How one event updates the state of a person, a contact point and a (contact, channel): an
//! attempt outcome (the only place counts, last instants, failure streaks and dead-end evidence
//! change), a carrier validation, a re-consent, a contact point first seen.

use super::state::{ChannelState, ContactState, HourCell, PersonState, RECENT_WINDOW};
use super::tally::Tally;
use crate::localtime::LocalTime;
use crate::{Channel, Contact, Outcome, Validation};

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

impl PersonState {
    /// Re-consent to `contact` on `channel` at `t`: lifts an opt-out recorded at or before `t`
    /// (one recorded later stands). Returns whether one was lifted. Nothing else changes.
    pub fn lift_opt_out(&mut self, contact: &str, channel: Channel, t: i64) -> bool {
        let Some(ci) = self.contact_index(contact) else {
            return false;
        };
        let Some(s) = self.contacts[ci]
            .channels
            .iter_mut()
            .find(|s| s.channel == channel)
        else {
            return false;
        };
        if s.opted_out_at.is_some_and(|o| o <= t) {
            s.opted_out_at = None;
            return true;
        }
        false
    }

    /// Keep `validation` on contact `ci` if it is the latest by instant.
    pub(super) fn keep_validation(&mut self, ci: usize, validation: Validation) {
        let c = &mut self.contacts[ci];
        if c.known_since.is_none() {
            c.known_since = Some(validation.at);
        }
        if c.validation.is_none_or(|v| validation.at >= v.at) {
            c.validation = Some(validation);
        }
    }

    /// Add a contact point the person did not have; returns its index.
    pub(super) fn insert_contact(
        &mut self,
        contact: &Contact,
        country_zone: Option<u16>,
        seen: Option<i64>,
    ) -> usize {
        self.contacts.push(ContactState {
            key: contact.key.as_str().into(),
            kind: contact.kind,
            number: contact.number,
            validation: None,
            zone: None,
            country_zone,
            listed_channels: 0,
            known_since: seen,
            tally: Tally::default(),
            last_attempt_at: None,
            last_reached_at: None,
            last_engaged_at: None,
            wrong_party_at: None,
            consecutive_failures: 0,
            channels: Vec::new(),
        });
        self.contacts.len() - 1
    }

    /// Count an attempt on contact `ci` at `t` (local time `local` in the contact's zone).
    pub(super) fn record(
        &mut self,
        ci: usize,
        local: LocalTime,
        channel: Channel,
        t: i64,
        outcome: Outcome,
    ) {
        apply_person(self, local, t, outcome);
        let c = &mut self.contacts[ci];
        if c.known_since.is_none() {
            c.known_since = Some(t);
        }
        apply_contact(c, t, outcome);
        apply_channel(c.channel_mut(channel), t, outcome);
    }
}
