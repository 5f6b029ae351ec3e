//! Conversions between the protobuf messages and the domain: requests are validated here (every
//! error names the field, e.g. `contacts[1].channels[0]`, and quotes at most 64 characters of
//! a value) and domain answers are turned back into responses. No business logic lives here.
//!
//! What is wrong with the request itself (person id, horizon, the request's zone, an unknown
//! channel name, too many contact points) is INVALID_ARGUMENT; what is wrong with one contact
//! point's data (unreadable, unknown zone) is not: it is answered in `blocked` and the others
//! are ranked, so one bad number never stops the decision for the person.
//!
//! Instants are checked against a plausible range (not before 1990; attempts and consents at
//! most an hour ahead of the server's clock, `as_of` at most a year ahead), so nothing
//! downstream computes with `i64::MIN` or year 9999.

use contactscore_models::artifact::manifest::Manifest;
use contactscore_models::contract::{EARLIEST_PLAUSIBLE, implausible_time};
use contactscore_models::family::Family;
use contactscore_models::localtime::{DAY, Zones};
use contactscore_models::metrics::BinaryMetrics;
use contactscore_models::rank::{RankContact, RankQuery, Ranking, Rejected, Rejection, Suggestion};
use contactscore_models::{
    Channel, ContactKind, ContactNormalizer, LineType, Outcome, ValidationStatus, quote,
};
use contactscore_proto::v1;
use prost_types::Timestamp;

use crate::config::Limits;
use crate::engine::{
    ConsentReport, OutcomeReport, PersonQuery, ReloadFailure, Serving, ValidationReport,
};
use crate::error::{Result, ServerError};

/// Longest accepted person or attempt id.
const MAX_ID_LEN: usize = 256;
/// Outcomes may not be dated more than this far in the future (clock skew allowance).
const MAX_FUTURE_SECONDS: i64 = 3_600;
/// `as_of` may plan at most this far ahead.
pub(crate) const MAX_PLAN_AHEAD_SECONDS: i64 = 366 * DAY;

fn id(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ServerError::invalid(field, "must not be empty"));
    }
    if v.len() > MAX_ID_LEN {
        return Err(ServerError::invalid(
            field,
            format!("longer than {MAX_ID_LEN} bytes"),
        ));
    }
    Ok(v.to_owned())
}

fn channel(field: &str, value: &str) -> Result<Channel> {
    value
        .parse()
        .map_err(|e: contactscore_models::contract::UnknownValue| {
            ServerError::invalid(field, e.to_string())
        })
}

fn channels(field: &str, values: &[String]) -> Result<Vec<Channel>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| channel(&format!("{field}[{i}]"), v))
        .collect()
}

/// The id of the zone `value` names, `None` when empty. Resolved on the served version's frozen
/// zone table, which holds every zone of the time-zone database, so a name it lacks is unknown.
fn zone(field: &str, value: &str, zones: &Zones) -> Result<Option<u16>> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    zones.find(v).map(Some).ok_or_else(|| {
        ServerError::invalid(
            field,
            format!(
                "unknown time zone {} (expected an IANA name such as America/Sao_Paulo)",
                quote(v)
            ),
        )
    })
}

/// The unix seconds of `ts`, which must be a plausible instant: not before 1990 and at most
/// `max_ahead` seconds after `now`.
pub(crate) fn seconds(field: &str, ts: &Timestamp, now: i64, max_ahead: i64) -> Result<i64> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return Err(ServerError::invalid(field, "nanos must be in 0..1e9"));
    }
    if let Some(why) = implausible_time(ts.seconds, now, max_ahead) {
        let clock = if ts.seconds < EARLIEST_PLAUSIBLE {
            ""
        } else {
            " (check the caller's clock)"
        };
        return Err(ServerError::invalid(field, format!("{why}{clock}")));
    }
    Ok(ts.seconds)
}

/// Validate a Rank request into the domain query, on the served version `serving` (its
/// normaliser reads the contacts, its zone table resolves the zones).
pub fn rank_request(
    req: v1::RankRequest,
    serving: &Serving,
    limits: &Limits,
    now: i64,
) -> Result<PersonQuery> {
    let person_id = id("person_id", &req.person_id)?;
    if req.contacts.len() > limits.max_contacts {
        return Err(ServerError::invalid(
            "contacts",
            format!("at most {} contact points per request", limits.max_contacts),
        ));
    }
    let mut rejected = Vec::new();
    let contacts = if req.contacts.is_empty() {
        None
    } else {
        let mut out = Vec::with_capacity(req.contacts.len());
        for (i, c) in req.contacts.into_iter().enumerate() {
            let field = format!("contacts[{i}]");
            let raw = c.contact.trim();
            if raw.len() > MAX_ID_LEN {
                return Err(ServerError::invalid(
                    format!("{field}.contact"),
                    format!("longer than {MAX_ID_LEN} bytes"),
                ));
            }
            let channels = channels(&format!("{field}.channels"), &c.channels)?;
            let contact = match serving.normalizer.normalize(raw) {
                Ok(contact) => contact,
                Err(_) => {
                    rejected.push(Rejected {
                        contact: raw.to_owned(),
                        kind: if raw.contains('@') {
                            ContactKind::Email
                        } else {
                            ContactKind::Phone
                        },
                        channels,
                        reason: Rejection::UnparseableContact,
                    });
                    continue;
                }
            };
            match zone(&format!("{field}.timezone"), &c.timezone, &serving.zones) {
                Ok(zone) => out.push(RankContact {
                    contact,
                    channels,
                    zone,
                }),
                Err(_) => rejected.push(Rejected {
                    contact: contact.key,
                    kind: contact.kind,
                    channels,
                    reason: Rejection::UnknownTimezone,
                }),
            }
        }
        Some(out)
    };
    let horizon_hours = match req.horizon_hours {
        0 => limits.default_horizon_hours,
        h if h > limits.max_horizon_hours => {
            return Err(ServerError::invalid(
                "horizon_hours",
                format!("{h} is over the maximum of {}", limits.max_horizon_hours),
            ));
        }
        h => h,
    };
    let max_suggestions = match req.max_suggestions {
        0 => limits.default_max_suggestions,
        n => n,
    };
    let query = RankQuery {
        slot: None,
        contacts,
        rejected,
        channels: channels("channels", &req.channels)?,
        as_of: req
            .as_of
            .as_ref()
            .map(|t| seconds("as_of", t, now, MAX_PLAN_AHEAD_SECONDS))
            .transpose()?
            .unwrap_or(now),
        horizon_hours,
        max_suggestions: usize::try_from(max_suggestions).unwrap_or(usize::MAX),
        person_zone: zone("timezone", &req.timezone, &serving.zones)?,
    };
    Ok(PersonQuery { person_id, query })
}

/// One suggestion on the wire (Rank's and PlanCampaign's alike).
pub(crate) fn suggestion(s: Suggestion) -> v1::Suggestion {
    v1::Suggestion {
        slot_end: Some(ts(s.slot_end())),
        slot_start: Some(ts(s.slot_start)),
        contact: s.contact,
        channel: s.channel.as_str().to_owned(),
        probability: s.probability,
        score: s.score,
        reasons: s.reasons.into_iter().map(str::to_owned).collect(),
    }
}

fn ts(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

/// The Rank response.
pub fn rank_response(person_id: String, version: &str, r: Ranking) -> v1::RankResponse {
    v1::RankResponse {
        person_id,
        model_version: version.to_owned(),
        suggestions: r.suggestions.into_iter().map(suggestion).collect(),
        blocked: r
            .blocked
            .into_iter()
            .map(|b| v1::Blocked {
                contact: b.contact,
                channel: b.channel.as_str().to_owned(),
                reason: b.reason.as_str().to_owned(),
                until: b.until.map(ts),
            })
            .collect(),
    }
}

/// Validate one reported outcome.
pub fn outcome(
    req: v1::RecordOutcomeRequest,
    normalizer: &ContactNormalizer,
    now: i64,
) -> Result<OutcomeReport> {
    let o = req
        .outcome
        .ok_or_else(|| ServerError::invalid("outcome", "required"))?;
    let within = |e: ServerError| e.within("outcome");
    let attempt_id = id("attempt_id", &o.attempt_id).map_err(within)?;
    let person_id = id("person_id", &o.person_id).map_err(within)?;
    let contact = normalizer
        .normalize(&o.contact)
        .map_err(|e| ServerError::invalid("outcome.contact", e.to_string()))?;
    let ch = channel("channel", &o.channel).map_err(within)?;
    let at = o
        .attempted_at
        .as_ref()
        .ok_or_else(|| ServerError::invalid("outcome.attempted_at", "required"))
        .and_then(|t| seconds("outcome.attempted_at", t, now, MAX_FUTURE_SECONDS))?;
    let outcome: Outcome =
        o.outcome
            .parse()
            .map_err(|e: contactscore_models::contract::UnknownValue| {
                ServerError::invalid("outcome.outcome", e.to_string())
            })?;
    Ok(OutcomeReport {
        attempt_id,
        person_id,
        contact,
        channel: ch,
        at,
        outcome,
        duration_seconds: (o.duration_seconds > 0).then_some(o.duration_seconds),
        campaign: o.campaign,
        received_at: now,
    })
}

/// Validate a re-consent.
pub fn consent(
    req: v1::RecordConsentRequest,
    normalizer: &ContactNormalizer,
    now: i64,
) -> Result<ConsentReport> {
    let person_id = id("person_id", &req.person_id)?;
    let contact = normalizer
        .normalize(&req.contact)
        .map_err(|e| ServerError::invalid("contact", e.to_string()))?;
    let ch = channel("channel", &req.channel)?;
    if !contactscore_models::rank::supports(contact.kind, ch) {
        return Err(ServerError::invalid(
            "channel",
            format!("{} cannot carry this kind of contact", ch.as_str()),
        ));
    }
    let at = req
        .consented_at
        .as_ref()
        .map(|t| seconds("consented_at", t, now, MAX_FUTURE_SECONDS))
        .transpose()?
        .unwrap_or(now);
    // Never later than now: with a caller's clock running fast, a consent dated ahead would
    // lift an opt-out the person makes in the next minutes.
    let at = at.min(now);
    Ok(ConsentReport {
        person_id,
        contact,
        channel: ch,
        at,
    })
}

/// Validate a carrier validation.
pub fn validation(
    req: v1::RecordValidationRequest,
    normalizer: &ContactNormalizer,
    now: i64,
) -> Result<ValidationReport> {
    let person_id = id("person_id", &req.person_id)?;
    let contact = normalizer
        .normalize(&req.contact)
        .map_err(|e| ServerError::invalid("contact", e.to_string()))?;
    if contact.kind != ContactKind::Phone {
        return Err(ServerError::invalid(
            "contact",
            "carrier validation applies to phone numbers, not email addresses",
        ));
    }
    if req.status.trim().is_empty() {
        return Err(ServerError::invalid(
            "status",
            "required (one of: active, inactive, unknown)",
        ));
    }
    let status: ValidationStatus =
        req.status
            .parse()
            .map_err(|e: contactscore_models::contract::UnknownValue| {
                ServerError::invalid("status", e.to_string())
            })?;
    let line_type: LineType =
        req.line_type
            .parse()
            .map_err(|e: contactscore_models::contract::UnknownValue| {
                ServerError::invalid("line_type", e.to_string())
            })?;
    let carrier = req.carrier.trim();
    if carrier.len() > MAX_ID_LEN {
        return Err(ServerError::invalid(
            "carrier",
            format!("longer than {MAX_ID_LEN} bytes"),
        ));
    }
    let at = req
        .validated_at
        .as_ref()
        .map(|t| seconds("validated_at", t, now, MAX_FUTURE_SECONDS))
        .transpose()?
        .unwrap_or(now);
    Ok(ValidationReport {
        person_id,
        contact,
        status,
        // Never later than now: a validation dated ahead would outrank the next engagement.
        at: at.min(now),
        line_type,
        carrier: carrier.to_owned(),
        ported: Some(req.ported),
    })
}

fn rfc3339(field: &str) -> Option<Timestamp> {
    field
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| ts(t.as_second()))
}

fn metrics(m: Option<&BinaryMetrics>) -> Option<v1::Metrics> {
    m.map(|m| v1::Metrics {
        auc: m.auc.unwrap_or(f64::NAN),
        log_loss: m.log_loss,
        brier: m.brier,
        ece: m.ece,
        base_rate: m.base_rate,
        rows: m.n,
    })
}

/// GetModelInfo's answer for the served version (or none).
pub fn model_info(
    serving: Option<&Serving>,
    live_outcomes: usize,
    failure: ReloadFailure,
) -> v1::ModelInfo {
    let mut info = v1::ModelInfo {
        failed_version: failure.version,
        last_reload_error: failure.error,
        live_outcomes: live_outcomes as u64,
        ..Default::default()
    };
    if let Some(s) = serving {
        let m: &Manifest = &s.manifest;
        info.version.clone_from(&s.version);
        info.family = m.family.as_str().to_owned();
        info.target = m.target.as_str().to_owned();
        info.trained_from = rfc3339(&m.window.start);
        info.trained_to = rfc3339(&m.window.end);
        info.created_at = rfc3339(&m.created_at);
        info.loaded_at = Some(ts(s.loaded_at));
        info.metrics = metrics(m.metrics.get(&m.family));
        info.baseline_metrics = metrics(m.metrics.get(&Family::Baseline));
        info.persons = s
            .persons_in_store
            .unwrap_or_else(|| s.state.read().len() as u64);
    }
    info
}
