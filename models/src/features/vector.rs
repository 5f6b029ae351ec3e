//! The feature vector of one candidate attempt (person, contact, channel, instant), read from the
//! feature state as it stood *before* that attempt. Training and serving both call
//! [`FeatureState::features`], so a model never sees features computed two different ways.
//!
//! The vector is written in *segments*, each a contiguous run of features that depends on less
//! than the whole candidate: the channel alone, the local time (zone and instant), the (contact,
//! channel) state at the instant, the contact's state at the instant, the person's state at the
//! instant, the person's hour-of-week cells in local time, the number and its latest carrier
//! validation at the instant. [`FeatureState::features`] writes them
//! one after the other; [`super::rows::PersonRows`] writes the very same segment functions but
//! computes each segment once per key (a person's slot instant, a contact at an instant, …) and
//! copies it into every row that shares it, which is what makes ranking and planning dozens of
//! slots of several pairs cheap. A feature is added in the segment whose key it depends on (and
//! in `schema.rs`); `PersonRows` checks every row against [`FeatureState::features`] in debug
//! builds, so a feature put in a segment whose key it does not fully depend on fails the tests.

use super::fastmath::ln_1p;
use super::schema::{BASE_FEATURES, FeatureSchema, RATE_PRIOR};
use super::state::{ChannelState, ContactState, FeatureState, PersonState};
use super::tally::{H, TallyView};
use crate::localtime::{DAY, LocalTime};
use crate::{Channel, ContactKind, LineType, NumberInfo, NumberType, ValidationStatus};

/// A candidate to compute features for.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Normalised contact key.
    pub contact: &'a str,
    /// Phone or email (used when the contact is not in the state yet).
    pub kind: ContactKind,
    /// What the metadata says about a phone number (used when the contact is not in the state
    /// yet); `None` for an email.
    pub number: Option<NumberInfo>,
    /// Zone override for this contact (e.g. from a Rank request), else resolved from the state.
    pub zone: Option<u16>,
    /// The channel.
    pub channel: Channel,
    /// The instant (unix seconds).
    pub t: i64,
}

/// Widths of the segments, in vector order; they add up to `BASE_FEATURES.len()`.
pub(super) const SEG_CHANNEL: usize = 5;
pub(super) const SEG_TIME: usize = 11;
pub(super) const SEG_PAIR: usize = 13;
pub(super) const SEG_CONTACT: usize = 17;
pub(super) const SEG_LISTED: usize = 1;
pub(super) const SEG_PERSON: usize = 13;
pub(super) const SEG_HOURS: usize = 6;
pub(super) const SEG_NUMBER: usize = 14;

const _: () = assert!(
    SEG_CHANNEL
        + SEG_TIME
        + SEG_PAIR
        + SEG_CONTACT
        + SEG_LISTED
        + SEG_PERSON
        + SEG_HOURS
        + SEG_NUMBER
        == BASE_FEATURES.len()
);

pub(super) struct Writer<'a> {
    pub(super) out: &'a mut Vec<f32>,
}

impl Writer<'_> {
    fn push(&mut self, v: f32) {
        self.out.push(v);
    }
    fn flag(&mut self, b: bool) {
        self.out.push(if b { 1.0 } else { 0.0 });
    }
    fn counts(&mut self, v: [f32; H]) {
        for x in v {
            self.out.push(ln_1p(x));
        }
    }
    fn days_since(&mut self, t: i64, at: Option<i64>) {
        self.out.push(at.map_or(f32::NAN, |a| {
            (t.saturating_sub(a).max(0) as f32) / DAY as f32
        }));
    }
}

/// The contact of `person` at index `index` as the features see it at `t`: only once it is
/// known (or was attempted).
pub(super) fn visible_contact(
    person: &PersonState,
    index: Option<usize>,
    t: i64,
) -> Option<&ContactState> {
    index
        .map(|i| &person.contacts[i])
        .filter(|c| c.known_at(t) || c.tally.attempts[0] > 0.0)
}

impl FeatureState {
    /// Append the features of `cand` for the person in `slot` (None: a person never seen) to
    /// `out`, in the order of `schema`. Only state applied before `cand.t` may influence them;
    /// callers apply an attempt only after reading its features.
    pub fn features(
        &self,
        schema: &FeatureSchema,
        slot: Option<u32>,
        cand: &Candidate<'_>,
        out: &mut Vec<f32>,
    ) {
        let empty = PersonState::default();
        let person = slot.map_or(&empty, |s| self.person(s));
        self.features_of(person, schema, cand, out);
    }

    /// [`FeatureState::features`] for `person`, a person's state that need not be stored in
    /// `self` (e.g. a copy with a hypothetical attempt applied); `self` gives the zones.
    pub fn features_of(
        &self,
        person: &PersonState,
        schema: &FeatureSchema,
        cand: &Candidate<'_>,
        out: &mut Vec<f32>,
    ) {
        let start = out.len();
        let t = cand.t;
        let contact = visible_contact(person, person.contact_index(cand.contact), t);
        let zone = cand
            .zone
            .unwrap_or_else(|| self.resolve_zone(person, contact));
        let local = self.zones.local(zone, t);
        let pv = person.tally.view(t);
        let mut w = Writer { out };
        channel_segment(&mut w, cand.channel);
        time_segment(&mut w, local);
        pair_segment(&mut w, contact.and_then(|c| c.channel(cand.channel)), t);
        contact_segment(&mut w, contact, &pv, t);
        listed_segment(&mut w, contact, cand.channel);
        person_segment(&mut w, person, &pv, t);
        hours_segment(&mut w, person, local, &pv, t);
        number_segment(&mut w, contact, cand.number, t);
        debug_assert_eq!(w.out.len() - start, BASE_FEATURES.len());
        attribute_segment(&mut w, person, schema);
    }
}

/// Candidate context: the channel's one-hot.
pub(super) fn channel_segment(w: &mut Writer<'_>, channel: Channel) {
    for c in Channel::ALL {
        w.flag(c == channel);
    }
}

/// Candidate context: local hour, weekday, weekend flag, 3-hour block one-hot.
pub(super) fn time_segment(w: &mut Writer<'_>, local: LocalTime) {
    w.push(f32::from(local.hour));
    w.push(f32::from(local.weekday));
    w.flag(local.is_weekend());
    for b in 0..8 {
        w.flag(local.hour / 3 == b);
    }
}

/// (person, contact, channel) at `t`.
pub(super) fn pair_segment(w: &mut Writer<'_>, ch: Option<&ChannelState>, t: i64) {
    let v = ch.map_or_else(TallyView::default, |s| s.tally.view(t));
    w.counts(v.attempts);
    w.counts(v.engaged);
    w.push(v.engaged_rate(1, RATE_PRIOR, 2.0));
    w.days_since(t, ch.and_then(|s| s.last_attempt_at));
    w.days_since(t, ch.and_then(|s| s.last_engaged_at));
    w.push(ch.map_or(0.0, |s| f32::from(s.consecutive_failures)));
    w.push(ch.map_or(0.0, |s| f32::from(s.invalid_count)));
    w.days_since(t, ch.and_then(|s| s.last_invalid_at));
    w.flag(ch.is_some_and(|s| s.opted_out_at.is_some()));
}

/// (person, contact) at `t`, but for whether the channel is listed; `pv` is the person's
/// tally at `t`.
pub(super) fn contact_segment(
    w: &mut Writer<'_>,
    contact: Option<&ContactState>,
    pv: &TallyView,
    t: i64,
) {
    let cv = contact.map_or_else(TallyView::default, |c| c.tally.view(t));
    w.counts(cv.attempts);
    w.counts(cv.reached);
    w.counts(cv.engaged);
    w.push(cv.engaged_rate(2, RATE_PRIOR, 2.0));
    w.days_since(t, contact.and_then(|c| c.last_engaged_at));
    w.days_since(t, contact.and_then(|c| c.last_reached_at));
    w.push(contact.map_or(0.0, |c| f32::from(c.consecutive_failures)));
    w.flag(contact.is_some_and(|c| c.wrong_party_at.is_some()));
    w.days_since(t, contact.and_then(|c| c.known_since));
    w.flag(contact.is_none_or(|c| c.last_attempt_at.is_none()));
    w.push(if pv.engaged[2] > 0.01 {
        cv.engaged[2] / pv.engaged[2]
    } else {
        f32::NAN
    });
}

/// Whether the contacts file lists the channel for the contact.
pub(super) fn listed_segment(w: &mut Writer<'_>, contact: Option<&ContactState>, channel: Channel) {
    w.push(match contact {
        Some(c) if c.listed_channels != 0 => {
            if c.listed_channels & (1 << channel.index()) != 0 {
                1.0
            } else {
                0.0
            }
        }
        Some(_) | None => f32::NAN,
    });
}

/// The person at `t`; `pv` is the person's tally at `t`.
pub(super) fn person_segment(w: &mut Writer<'_>, person: &PersonState, pv: &TallyView, t: i64) {
    w.counts(pv.attempts);
    w.counts(pv.engaged);
    w.push(pv.reached_rate(1, RATE_PRIOR * 2.0, 2.0));
    w.days_since(t, person.last_attempt_at);
    w.days_since(t, person.last_engaged_at);
    w.push(person.attempts_within(t, DAY) as f32);
    w.push(person.attempts_within(t, 7 * DAY) as f32);
    let (mut known, mut alive) = (0.0_f32, 0.0_f32);
    for c in person.contacts.iter().filter(|c| c.known_at(t)) {
        known += 1.0;
        if !looks_dead(c, t) {
            alive += 1.0;
        }
    }
    w.push(known);
    w.push(alive);
}

/// Person × local hour of week at `t` (local time `local`); `pv` is the person's tally at `t`.
pub(super) fn hours_segment(
    w: &mut Writer<'_>,
    person: &PersonState,
    local: LocalTime,
    pv: &TallyView,
    t: i64,
) {
    let bucket = local.bucket();
    let block = local.hour / 3;
    let (mut ba, mut be, mut ka, mut ke) = (0.0_f32, 0.0_f32, 0.0_f32, 0.0_f32);
    // Only cells of the same 3-hour block matter (at most 7), so decay only those.
    for h in person.hours.iter().filter(|h| h.bucket % 8 == block) {
        let f = h.decay(t);
        ka += h.attempts * f;
        ke += h.engaged * f;
        if h.bucket == bucket {
            ba += h.attempts * f;
            be += h.engaged * f;
        }
    }
    let person_rate = pv.engaged_rate(2, RATE_PRIOR, 2.0);
    w.push(ln_1p(ba));
    w.push(ln_1p(be));
    w.push(ln_1p(ka));
    w.push(ln_1p(ke));
    w.push((ke + 3.0 * person_rate) / (ka + 3.0));
    w.push((be + 3.0 * person_rate) / (ba + 3.0));
}

/// The number itself (metadata validity and type; NaN / all zero for an email) and its latest
/// carrier validation known at `t`. `number` is the candidate's own
/// ([`Candidate::number`]), used when the state does not know the contact's.
pub(super) fn number_segment(
    w: &mut Writer<'_>,
    contact: Option<&ContactState>,
    number: Option<NumberInfo>,
    t: i64,
) {
    let number = contact.and_then(|c| c.number).or(number);
    w.push(number.map_or(f32::NAN, |n| if n.valid { 1.0 } else { 0.0 }));
    for nt in NumberType::ALL {
        w.flag(number.is_some_and(|n| n.number_type == nt));
    }
    let v = contact.and_then(|c| c.validation).filter(|v| v.at <= t);
    w.push(v.map_or(f32::NAN, |v| match v.status {
        ValidationStatus::Active => 1.0,
        ValidationStatus::Unknown => 0.0,
        ValidationStatus::Inactive => -1.0,
    }));
    w.days_since(t, v.map(|v| v.at));
    for line in [LineType::Mobile, LineType::Landline, LineType::Voip] {
        w.flag(v.is_some_and(|v| v.line_type == line));
    }
    w.push(
        v.and_then(|v| v.ported)
            .map_or(f32::NAN, |p| if p { 1.0 } else { 0.0 }),
    );
}

/// Person attributes, after the built-in features.
pub(super) fn attribute_segment(w: &mut Writer<'_>, person: &PersonState, schema: &FeatureSchema) {
    for i in 0..schema.attributes.len() {
        w.push(person.attrs.get(i).copied().unwrap_or(f32::NAN));
    }
}

/// Whether a contact shows dead-end evidence at `t`: wrong party, or invalid on every channel tried
/// within the last 30 days.
fn looks_dead(c: &ContactState, t: i64) -> bool {
    c.wrong_party_at.is_some()
        || (!c.channels.is_empty()
            && c.channels.iter().all(|s| {
                s.last_invalid_at
                    .is_some_and(|i| t.saturating_sub(i) < 30 * DAY)
            }))
}
