//! Reason codes: short, stable, human-readable explanations attached to every suggestion, so an
//! agent or auditor can see why a number, channel and hour were chosen. They describe the
//! evidence in the feature state; they do not re-derive the model's decision.

use crate::features::state::{ContactState, PersonState};
use crate::localtime::{DAY, LocalTime};
use crate::{Channel, NumberInfo};

/// An engagement within this long counts as recent.
const RECENT: i64 = 30 * DAY;
/// A contact point known for less than this long is new.
const NEW: i64 = 30 * DAY;
/// This many failures in a row is worth flagging.
const FAILING: u16 = 3;

/// Reason codes for suggesting `channel` on `contact` of `person` in the slot starting at `t`
/// (local time `local`). `contact` is `None` for a contact point the state has never seen;
/// `number` is what the metadata says about a phone number (`unlisted_number` when it lies
/// outside every range it lists).
pub fn reasons(
    person: &PersonState,
    contact: Option<&ContactState>,
    number: Option<NumberInfo>,
    channel: Channel,
    local: LocalTime,
    t: i64,
) -> Vec<&'static str> {
    let mut out = vec![best_hour(local.hour)];
    if number.is_some_and(|n| !n.valid) {
        out.push("unlisted_number");
    }
    let recent = |at: Option<i64>| at.is_some_and(|a| t.saturating_sub(a) <= RECENT);
    let new = if channel.is_email() {
        "new_address"
    } else {
        "new_number"
    };
    match contact {
        None => out.push(new),
        Some(c) => {
            let ch = c.channel(channel);
            if ch.is_some_and(|s| recent(s.last_engaged_at)) {
                out.push("recent_right_party");
            } else if recent(c.last_engaged_at) {
                out.push("recent_right_party_other_channel");
            }
            if c.known_since.is_some_and(|k| t.saturating_sub(k) <= NEW)
                && c.tally.attempts[0] < 3.0
            {
                out.push(new);
            }
            if ch.is_none() {
                out.push("channel_untried");
            }
            if c.consecutive_failures >= FAILING {
                out.push("recent_failures");
            }
        }
    }
    // Explains a probability lowered by fatigue: the person was attempted in the last 24 h.
    if person
        .last_attempt_at
        .is_some_and(|a| t.saturating_sub(a) < DAY)
    {
        out.push("attempted_recently");
    }
    if person.last_engaged_at.is_none() {
        out.push("never_engaged");
    }
    if channel.is_email() {
        out.push("any_hour_channel");
    }
    out
}

/// The part of the day the slot falls in.
fn best_hour(hour: u8) -> &'static str {
    match hour {
        5..=11 => "best_hour_morning",
        12..=16 => "best_hour_afternoon",
        17..=20 => "best_hour_evening",
        _ => "best_hour_night",
    }
}
