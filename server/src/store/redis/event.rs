//! A person's live events in the Redis store (outcomes, re-consents, carrier validations), how
//! each is named in the person's event hash so that recording is idempotent, and the *fold*: the
//! person's state in a version = that version's snapshot of the person with the live events
//! applied in the order a restart of the local engine applies them (and the trainer its
//! history): outcomes by attempt instant (ties in recording order), then carrier validations,
//! then re-consents last, so a consent lifts an opt-out from the snapshot and from the live
//! outcomes alike. Which outcomes apply onto a version is the local replay's rule
//! (`engine/replay.rs`): an ordinary one when newer than the snapshot's cutoff or recorded
//! while that version was served; contact-rule evidence unless the version's export provably
//! holds it.

use contactscore_models::artifact::RuleEvidence;
use contactscore_models::features::{FeatureState, PersonState};
use contactscore_models::localtime::DAY;
use contactscore_models::{Channel, Contact, Outcome, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::Retention;
use crate::error::{Result, ServerError};

/// First byte of an encoded snapshot (the encoding's version: postcard is not self-describing).
const SNAPSHOT_FORMAT: u8 = 1;

/// One live event, as stored (JSON) in the person's event hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Event {
    /// An attempt's outcome.
    Outcome {
        /// The dialer's attempt id.
        attempt_id: String,
        /// The normalised contact.
        contact: Contact,
        /// Channel.
        channel: Channel,
        /// Attempt instant (unix seconds).
        at: i64,
        /// Outcome.
        outcome: Outcome,
        /// The version served by the replica that recorded it.
        recorded_on: String,
        /// When it was recorded (unix microseconds): ties of `at` apply in this order.
        recorded_us: i64,
        /// Call length, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_seconds: Option<u32>,
        /// Campaign.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        campaign: String,
    },
    /// A re-consent after an opt-out.
    Consent {
        /// Normalised contact key.
        contact: String,
        /// Channel.
        channel: Channel,
        /// When consent was given (unix seconds).
        at: i64,
    },
    /// An outcome retired by a bulk load (a newer snapshot holds it): only its id stays, so a
    /// repeat of the attempt is still a duplicate, until `attempt_id_retention_days` after it
    /// was recorded.
    Retired {
        /// When the outcome was recorded (unix microseconds).
        recorded_us: i64,
    },
    /// A carrier validation of a number.
    Validation {
        /// The normalised number.
        contact: Contact,
        /// What the carrier said, as the state keeps it.
        validation: Validation,
        /// The carrier's name.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        carrier: String,
    },
}

impl Event {
    /// The JSON stored as the hash value.
    pub fn encode(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| ServerError::Internal(format!("encode event: {e}")))
    }

    /// Decode a hash value.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| ServerError::Internal(format!("undecodable live event: {e}")))
    }

    /// The hash field naming this event: `o:<attempt_id>` for an outcome (so a second report of
    /// the attempt is refused by `HSETNX`), else `c:` / `v:` and a digest of the event, so an
    /// exact repeat is one event.
    pub fn field(&self, encoded: &str) -> String {
        match self {
            Event::Outcome { attempt_id, .. } => format!("o:{attempt_id}"),
            // Written over an outcome's field, never added by itself.
            Event::Retired { .. } => String::new(),
            Event::Consent { .. } => format!("c:{}", short_digest(encoded)),
            Event::Validation { .. } => format!("v:{}", short_digest(encoded)),
        }
    }
}

fn short_digest(s: &str) -> String {
    Sha256::digest(s.as_bytes())[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Encode a person's snapshot state.
pub fn encode_snapshot(person: &PersonState) -> Result<Vec<u8>> {
    let mut out = vec![SNAPSHOT_FORMAT];
    postcard::to_io(person, &mut out)
        .map_err(|e| ServerError::Internal(format!("encode snapshot: {e}")))?;
    Ok(out)
}

/// Decode a snapshot written by [`encode_snapshot`].
pub fn decode_snapshot(bytes: &[u8]) -> Result<PersonState> {
    match bytes.split_first() {
        Some((&SNAPSHOT_FORMAT, rest)) => postcard::from_bytes(rest)
            .map_err(|e| ServerError::Internal(format!("undecodable person snapshot: {e}"))),
        _ => Err(ServerError::Internal(
            "person snapshot of an unknown format".into(),
        )),
    }
}

/// The version a person is folded onto.
#[derive(Debug, Clone, Copy)]
pub struct Onto<'a> {
    /// Its id.
    pub version: &'a str,
    /// Its snapshot's training cutoff (`i64::MIN` when empty).
    pub cutoff: i64,
    /// The contact-rule evidence its export held.
    pub evidence: &'a RuleEvidence,
}

impl Onto<'_> {
    /// Whether an outcome applies onto this version (`engine/replay.rs`, `Onto::replays`).
    fn applies(&self, attempt_id: &str, at: i64, outcome: Outcome, recorded_on: &str) -> bool {
        if outcome.is_rule_evidence() {
            !self.evidence.contains(attempt_id, outcome)
        } else {
            at > self.cutoff || recorded_on == self.version
        }
    }
}

/// The person's state in `onto`: `snapshot` (absent = unknown to the version) with `events`
/// applied (module docs); `skeleton` gives the version's zones. `None` when the person has
/// neither a snapshot nor an event.
pub fn fold(
    skeleton: &FeatureState,
    snapshot: Option<PersonState>,
    events: Vec<Event>,
    onto: &Onto<'_>,
) -> Option<PersonState> {
    if snapshot.is_none() && events.is_empty() {
        return None;
    }
    let mut person = snapshot.unwrap_or_default();
    let mut outcomes = Vec::new();
    let mut validations = Vec::new();
    let mut consents = Vec::new();
    for e in events {
        match e {
            Event::Outcome {
                attempt_id,
                contact,
                channel,
                at,
                outcome,
                recorded_on,
                recorded_us,
                ..
            } => {
                if onto.applies(&attempt_id, at, outcome, &recorded_on) {
                    outcomes.push((at, recorded_us, attempt_id, contact, channel, outcome));
                }
            }
            Event::Consent {
                contact,
                channel,
                at,
            } => consents.push((contact, channel, at)),
            Event::Validation {
                contact,
                validation,
                ..
            } => validations.push((contact, validation)),
            Event::Retired { .. } => {}
        }
    }
    // The hash has no order: attempt instant, then recording instant, then id (a total order,
    // so every replica folds the same state).
    outcomes.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    for (at, _, _, contact, channel, outcome) in &outcomes {
        skeleton.apply_to(&mut person, contact, *channel, *at, *outcome);
    }
    for (contact, validation) in validations {
        skeleton.apply_validation_to(&mut person, &contact, validation);
    }
    for (contact, channel, at) in consents {
        person.lift_opt_out(&contact, channel, at);
    }
    Some(person)
}

/// What a bulk load does to one field of a person's event hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trim {
    /// Replace the outcome by its [`Event::Retired`] tombstone (JSON).
    Retire(String),
    /// Remove the field (a tombstone past the id retention).
    Remove,
}

/// The retention rule of the local journal (`engine/retirement.rs`), for one event of a person
/// whose snapshot in the version being loaded has training cutoff `cutoff`: an ordinary
/// outcome attempted more than `outcome_days` before it is retired (the snapshot holds it);
/// contact-rule evidence, consents and validations are kept (they are applied onto every
/// version); a tombstone is removed `attempt_id_days` after its outcome was recorded.
pub fn trim(event: &Event, cutoff: i64, now_us: i64, retention: Retention) -> Result<Option<Trim>> {
    Ok(match event {
        Event::Outcome {
            at,
            outcome,
            recorded_us,
            ..
        } if !outcome.is_rule_evidence()
            && *at < cutoff.saturating_sub(i64::from(retention.outcome_days) * DAY) =>
        {
            let tombstone = Event::Retired {
                recorded_us: *recorded_us,
            };
            Some(Trim::Retire(tombstone.encode()?))
        }
        Event::Retired { recorded_us }
            if recorded_us
                .saturating_add(i64::from(retention.attempt_id_days) * DAY * 1_000_000)
                < now_us =>
        {
            Some(Trim::Remove)
        }
        Event::Outcome { .. }
        | Event::Retired { .. }
        | Event::Consent { .. }
        | Event::Validation { .. } => None,
    })
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
