//! What the engine takes from its callers: validated reports of an outcome, a re-consent and a
//! carrier validation. `convert` builds these from requests; the engine turns them into its own
//! durable records (journal lines, consent and validation files), which stay private to it, so
//! the file formats can change without touching the handlers.

use contactscore_models::{Channel, Contact, LineType, Outcome, ValidationStatus};

use super::consent::Consent;
use super::journal::LiveOutcome;
use super::record::ValidOutcome;
use super::validation::{ValidValidation, ValidationRecord};

/// An attempt's outcome as a dialer reports it.
#[derive(Debug, Clone)]
pub struct OutcomeReport {
    /// The dialer's attempt id (idempotency key).
    pub attempt_id: String,
    /// The person.
    pub person_id: String,
    /// The normalised contact.
    pub contact: Contact,
    /// Channel.
    pub channel: Channel,
    /// Attempt instant (unix seconds).
    pub at: i64,
    /// Outcome.
    pub outcome: Outcome,
    /// Call length, when given.
    pub duration_seconds: Option<u32>,
    /// Campaign ("" when not given).
    pub campaign: String,
    /// When the server received it (unix seconds).
    pub received_at: i64,
}

impl From<OutcomeReport> for ValidOutcome {
    fn from(o: OutcomeReport) -> Self {
        ValidOutcome {
            record: LiveOutcome {
                attempt_id: o.attempt_id,
                person_id: o.person_id,
                contact: o.contact.key.clone(),
                channel: o.channel,
                at: o.at,
                outcome: o.outcome,
                duration_seconds: o.duration_seconds,
                campaign: o.campaign,
                // Filled in when the outcome is claimed.
                recorded_on: String::new(),
                recorded_at: o.received_at,
            },
            contact: o.contact,
        }
    }
}

/// A person's renewed consent to be contacted on one contact point and channel.
#[derive(Debug, Clone)]
pub struct ConsentReport {
    /// The person.
    pub person_id: String,
    /// The normalised contact.
    pub contact: Contact,
    /// The channel consented to.
    pub channel: Channel,
    /// When consent was given (unix seconds, never after the server's clock).
    pub at: i64,
}

impl From<ConsentReport> for Consent {
    fn from(c: ConsentReport) -> Self {
        Consent {
            person_id: c.person_id,
            contact: c.contact.key,
            channel: c.channel,
            at: c.at,
        }
    }
}

/// What a carrier lookup said about a phone number.
#[derive(Debug, Clone)]
pub struct ValidationReport {
    /// The person.
    pub person_id: String,
    /// The normalised number.
    pub contact: Contact,
    /// What the carrier said.
    pub status: ValidationStatus,
    /// When (unix seconds, never after the server's clock).
    pub at: i64,
    /// The line type it reported.
    pub line_type: LineType,
    /// The carrier's name ("" when not given).
    pub carrier: String,
    /// Whether the number was ported, when reported.
    pub ported: Option<bool>,
}

impl From<ValidationReport> for ValidValidation {
    fn from(v: ValidationReport) -> Self {
        ValidValidation {
            record: ValidationRecord {
                person_id: v.person_id,
                contact: v.contact.key.clone(),
                status: v.status,
                at: v.at,
                line_type: v.line_type,
                carrier: v.carrier,
                ported: v.ported,
            },
            contact: v.contact,
        }
    }
}
