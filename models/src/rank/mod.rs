//! Ranking: for one person, which (contact point, channel) to use next and in which hourly slot,
//! ordered by calibrated response probability and restricted to what the [`Policy`] allows.
//!
//! One implementation serves the gRPC server's `Rank` and the trainer's offline evaluation, so a
//! backtest measures exactly what production would have done. The function is pure: it reads
//! the feature state and a scorer and never mutates anything.
//!
//! For every candidate pair the policy lists the allowed hourly slots inside the horizon; each
//! slot is scored with the features the state gives *at that slot's start*, and the pair is
//! suggested once, at its best slot. The rows of every slot of every pair are built into one
//! buffer and scored in one [`Scorer::probabilities`] call: the trees score a batch several
//! times cheaper per row than one row at a time, and scoring is most of a `Rank`. Pairs the
//! rules exclude are returned as [`Blocked`] with the rule and the instant it lifts, so a caller
//! is never left guessing. A contact point the caller could not have ranked at all (unreadable,
//! or in an unknown time zone: [`Rejected`]) comes back blocked too, on its channels, while the
//! person's other contact points are ranked: one bad contact never stops the decision.

mod reasons;
mod scorer;

#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod contact_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use crate::features::state::{ContactState, PersonState};
#[cfg(test)]
use crate::features::{Candidate, FeatureSchema};
use crate::features::{FeatureState, PersonRows};
use crate::policy::{BlockReason, HOUR, Policy};
use crate::{Channel, Contact, ContactKind, NumberInfo};

pub use reasons::reasons;
pub use scorer::Scorer;

/// Channels tried for a phone number when neither the request nor the state names any.
pub const DEFAULT_PHONE_CHANNELS: [Channel; 3] = [Channel::Voice, Channel::Sms, Channel::Whatsapp];

/// Whether `channel` can carry a contact of `kind` (email only for email addresses).
pub fn supports(kind: ContactKind, channel: Channel) -> bool {
    match kind {
        ContactKind::Email => channel == Channel::Email,
        ContactKind::Phone => channel != Channel::Email,
    }
}

/// One candidate contact point, already normalised.
#[derive(Debug, Clone)]
pub struct RankContact {
    /// The normalised contact.
    pub contact: Contact,
    /// Channels to consider for it; empty = those known for it (see [`RankQuery`]).
    pub channels: Vec<Channel>,
    /// Its zone (interned in the state's [`crate::localtime::Zones`]), when the caller knows it;
    /// first in [`FeatureState::resolve_zone_with`]'s order.
    pub zone: Option<u16>,
}

/// Why a contact point of a request could not be ranked at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Neither an email address nor a phone number any numbering plan allows.
    UnparseableContact,
    /// The contact point's own time zone is not an IANA zone.
    UnknownTimezone,
}

impl Rejection {
    /// Stable string (API and logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::UnparseableContact => "unparseable_contact",
            Rejection::UnknownTimezone => "unknown_timezone",
        }
    }
}

/// A contact point of a request that cannot be ranked; it comes back in [`Ranking::blocked`] on
/// its channels (those asked for, else the defaults for its kind and what the state knows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The normalised key when the contact was readable, else the contact as given (trimmed).
    pub contact: String,
    /// Its kind (an unreadable contact with an `@` is taken for an email address).
    pub kind: ContactKind,
    /// Channels asked for it (empty = the defaults).
    pub channels: Vec<Channel>,
    /// Why.
    pub reason: Rejection,
}

/// What to rank.
#[derive(Debug, Clone)]
pub struct RankQuery {
    /// The person's slot in the state, `None` for a person never seen.
    pub slot: Option<u32>,
    /// Candidates; `None` = the contact points the state knows for the person at `as_of`.
    pub contacts: Option<Vec<RankContact>>,
    /// Contact points of the request that cannot be ranked (reported in `blocked`).
    pub rejected: Vec<Rejected>,
    /// Only these channels (empty = all).
    pub channels: Vec<Channel>,
    /// Plan from this instant (unix seconds).
    pub as_of: i64,
    /// Slots start in `[as_of, as_of + horizon_hours h)`.
    pub horizon_hours: u32,
    /// At most this many suggestions.
    pub max_suggestions: usize,
    /// The person's zone from the request, used when neither the request nor the contacts file
    /// gives the contact point one ([`FeatureState::resolve_zone_with`]).
    pub person_zone: Option<u16>,
}

/// A suggested attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// Normalised contact key.
    pub contact: String,
    /// Channel.
    pub channel: Channel,
    /// Slot start (unix seconds); the slot lasts one hour.
    pub slot_start: i64,
    /// Calibrated probability that an attempt in the slot engages the person.
    pub probability: f64,
    /// Ranking key.
    pub score: f64,
    /// Short explanation codes.
    pub reasons: Vec<&'static str>,
}

impl Suggestion {
    /// End of the slot.
    pub fn slot_end(&self) -> i64 {
        self.slot_start.saturating_add(HOUR)
    }
}

/// Why a candidate cannot be suggested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    /// A contact rule.
    Rule(BlockReason),
    /// The channel cannot carry this kind of contact (voice to an email address).
    ChannelNotSupported,
    /// The contact point itself could not be ranked.
    Rejected(Rejection),
}

impl Exclusion {
    /// Stable string (API and logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Exclusion::Rule(r) => r.as_str(),
            Exclusion::ChannelNotSupported => "channel_not_supported",
            Exclusion::Rejected(r) => r.as_str(),
        }
    }
}

/// A candidate excluded by the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// Normalised contact key.
    pub contact: String,
    /// Channel.
    pub channel: Channel,
    /// Why.
    pub reason: Exclusion,
    /// Earliest instant worth asking again; `None` = indefinitely.
    pub until: Option<i64>,
}

/// The answer: suggestions best first, then every excluded candidate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ranking {
    /// Best first; each (contact, channel) at most once.
    pub suggestions: Vec<Suggestion>,
    /// Every candidate the rules exclude.
    pub blocked: Vec<Blocked>,
}

/// A candidate pair resolved against the state.
pub(crate) struct Pair<'a> {
    pub(crate) key: &'a str,
    pub(crate) kind: ContactKind,
    pub(crate) number: Option<NumberInfo>,
    pub(crate) state: Option<&'a ContactState>,
    pub(crate) zone: u16,
    pub(crate) channel: Channel,
}

/// Rank the candidates of `query` (see the module docs).
pub fn rank(
    state: &FeatureState,
    scorer: &dyn Scorer,
    policy: &Policy,
    query: &RankQuery,
) -> Ranking {
    let empty = PersonState::default();
    let person = query.slot.map_or(&empty, |s| state.person(s));
    rank_person(state, person, scorer, policy, query)
}

/// [`rank`] for `person`, a person's state held outside `state` (a shared store fetched it);
/// `state` gives only the zones and the default zone, and `query.slot` is ignored. The same
/// ranking as [`rank`] on a state holding `person` in that slot.
pub fn rank_person(
    state: &FeatureState,
    person: &PersonState,
    scorer: &dyn Scorer,
    policy: &Policy,
    query: &RankQuery,
) -> Ranking {
    let mut out = Ranking::default();
    let schema = scorer.schema();
    let width = schema.len();
    let mut pairs = Vec::new();
    collect_pairs(state, person, query, &mut pairs, &mut out.blocked);
    let allowed: Vec<(&Pair<'_>, Vec<i64>)> = pairs
        .iter()
        .filter_map(|pair| {
            allowed_slots(state, policy, person, query, pair, &mut out).map(|s| (pair, s))
        })
        .collect();
    // One row per allowed slot of every pair, all in one buffer, built by `PersonRows` (the
    // parts of a row shared by several slots and pairs computed once); `times[k]` is row k's
    // slot and `spans` gives each pair its range of rows.
    let every: Vec<i64> = allowed
        .iter()
        .flat_map(|(_, s)| s.iter().copied())
        .collect();
    let mut builder = PersonRows::new(state, person, schema, every);
    let mut times: Vec<i64> = Vec::with_capacity(builder.times().len() * allowed.len());
    let mut spans: Vec<(&Pair<'_>, std::ops::Range<usize>)> = Vec::with_capacity(allowed.len());
    let mut rows: Vec<f32> = Vec::with_capacity(pairs.len() * 16 * width);
    for (pair, slots) in &allowed {
        let rp = builder.pair(
            pair.key,
            pair.kind,
            pair.number,
            pair.channel,
            Some(pair.zone),
        );
        for &t in slots {
            let start = rows.len();
            if let Some(ti) = builder.time_index(t) {
                builder.push(&rp, ti, &mut rows);
            }
            // Keep rows aligned even if the features ever disagreed with the schema's width.
            rows.resize(start + width, f32::NAN);
        }
        let first = times.len();
        times.extend_from_slice(slots);
        spans.push((pair, first..times.len()));
    }
    let mut probs = Vec::with_capacity(times.len());
    scorer.probabilities(&rows, width, &mut probs);
    for (pair, range) in spans {
        let probs = probs.get(range.clone()).unwrap_or_default();
        let mut best: Option<(i64, f64)> = None;
        for (&t, &p) in times[range].iter().zip(probs) {
            // Strictly better only: ties keep the earlier slot.
            if best.is_none_or(|(_, bp)| p > bp) {
                best = Some((t, p));
            }
        }
        if let Some(best) = best {
            suggest(&mut out, state, person, pair, best);
        }
    }
    finish(&mut out, query.max_suggestions);
    out
}

/// The slots the rules allow for `pair`, or `None` with the pair added to `out.blocked`.
fn allowed_slots(
    state: &FeatureState,
    policy: &Policy,
    person: &PersonState,
    query: &RankQuery,
    pair: &Pair<'_>,
    out: &mut Ranking,
) -> Option<Vec<i64>> {
    // A contact point the state does not know: what its number alone says.
    let unknown = pair
        .state
        .is_none()
        .then(|| policy.number_block(pair.number, pair.channel))
        .flatten();
    let allowed = match unknown {
        Some(b) => Err(b),
        None => policy.allowed_slots(
            &state.zones,
            pair.zone,
            person,
            pair.state,
            pair.channel,
            query.as_of,
            query.horizon_hours,
        ),
    };
    match allowed {
        Ok(slots) => Some(slots),
        Err(b) => {
            out.blocked.push(Blocked {
                contact: pair.key.to_owned(),
                channel: pair.channel,
                reason: Exclusion::Rule(b.reason),
                until: b.until,
            });
            None
        }
    }
}

/// Suggest `pair` at its best slot `(slot start, probability)`, with the reasons for it.
fn suggest(
    out: &mut Ranking,
    state: &FeatureState,
    person: &PersonState,
    pair: &Pair<'_>,
    (t, p): (i64, f64),
) {
    let local = state.zones.local(pair.zone, t);
    out.suggestions.push(Suggestion {
        contact: pair.key.to_owned(),
        channel: pair.channel,
        slot_start: t,
        probability: p,
        score: p,
        reasons: reasons(person, pair.state, pair.number, pair.channel, local, t),
    });
}

/// Order suggestions best first (ties: earlier slot, then contact, then channel) and keep `max`.
fn finish(out: &mut Ranking, max: usize) {
    out.suggestions.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.slot_start.cmp(&b.slot_start))
            .then_with(|| a.contact.cmp(&b.contact))
            .then(a.channel.index().cmp(&b.channel.index()))
    });
    out.suggestions.truncate(max);
}

/// Expand the query's contacts into (contact, channel) pairs; unsupported channels go straight
/// to `blocked`. Each pair appears once even if the caller repeats a contact.
pub(crate) fn collect_pairs<'a>(
    state: &'a FeatureState,
    person: &'a PersonState,
    query: &'a RankQuery,
    pairs: &mut Vec<Pair<'a>>,
    blocked: &mut Vec<Blocked>,
) {
    let allowed = |c: Channel| query.channels.is_empty() || query.channels.contains(&c);
    let mut push =
        |key: &'a str, kind, number: Option<NumberInfo>, zone: Option<u16>, asked: &[Channel]| {
            let cs = person.contact_index(key).map(|i| &person.contacts[i]);
            if pairs.iter().any(|p: &Pair<'_>| p.key == key) {
                return;
            }
            let zone = state.resolve_zone_with(person, cs, zone, query.person_zone);
            let mut channels: Vec<Channel> = if asked.is_empty() {
                candidate_channels(kind, cs)
            } else {
                asked.to_vec()
            };
            let mut seen = 0u8;
            channels.retain(|c| {
                let bit = 1u8 << c.index();
                let first = seen & bit == 0;
                seen |= bit;
                first
            });
            for channel in channels.into_iter().filter(|&c| allowed(c)) {
                if !supports(kind, channel) {
                    blocked.push(Blocked {
                        contact: key.to_owned(),
                        channel,
                        reason: Exclusion::ChannelNotSupported,
                        until: None,
                    });
                    continue;
                }
                pairs.push(Pair {
                    key,
                    kind,
                    number: number.or(cs.and_then(|c| c.number)),
                    state: cs,
                    zone,
                    channel,
                });
            }
        };
    match &query.contacts {
        Some(list) => {
            for c in list {
                push(
                    &c.contact.key,
                    c.contact.kind,
                    c.contact.number,
                    c.zone,
                    &c.channels,
                );
            }
        }
        None => {
            for c in person.contacts.iter().filter(|c| c.known_at(query.as_of)) {
                push(&c.key, c.kind, c.number, None, &[]);
            }
        }
    }
    for r in &query.rejected {
        if pairs.iter().any(|p| p.key == r.contact) {
            continue;
        }
        let channels = if r.channels.is_empty() {
            let cs = person
                .contact_index(&r.contact)
                .map(|i| &person.contacts[i]);
            candidate_channels(r.kind, cs)
        } else {
            r.channels.clone()
        };
        for (i, &channel) in channels.iter().enumerate() {
            if allowed(channel) && !channels[..i].contains(&channel) {
                blocked.push(Blocked {
                    contact: r.contact.clone(),
                    channel,
                    reason: Exclusion::Rejected(r.reason),
                    until: None,
                });
            }
        }
    }
}

/// The channels considered for a contact point when the request names none: those the
/// contacts file lists for it, else the defaults for its kind (voice, SMS and WhatsApp for a
/// phone; email for an address), plus every channel it was ever attempted on, in
/// [`Channel::ALL`] order. One attempted channel does not hide the others: a number called once
/// can still take a message.
pub fn candidate_channels(kind: ContactKind, cs: Option<&ContactState>) -> Vec<Channel> {
    let mut mask = cs.map_or(0u8, |c| c.listed_channels);
    if mask == 0 {
        let defaults: &[Channel] = match kind {
            ContactKind::Email => &[Channel::Email],
            ContactKind::Phone => &DEFAULT_PHONE_CHANNELS,
        };
        for c in defaults {
            mask |= 1 << c.index();
        }
    }
    for ch in cs.map(|c| c.channels.as_slice()).unwrap_or_default() {
        mask |= 1 << ch.channel.index();
    }
    Channel::ALL
        .into_iter()
        .filter(|c| mask & (1 << c.index()) != 0 && supports(kind, *c))
        .collect()
}
