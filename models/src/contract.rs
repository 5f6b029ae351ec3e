//! The data contract's vocabulary: channels, canonical outcomes and the response stages built on them.
//!
//! These strings are what dialers export and what the gRPC API speaks; they are parsed here once so
//! every other module works with closed enums and exhaustive matches.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Columns of an attempts file: the first six are required, the last two optional.
pub const ATTEMPT_COLUMNS: [&str; 8] = [
    "attempt_id",
    "person_id",
    "contact",
    "channel",
    "attempted_at",
    "outcome",
    "duration_seconds",
    "campaign",
];

/// Columns of a contacts file: `person_id` and `contact` are required; the last five are the
/// latest carrier validation of the contact, when there is one.
pub const CONTACT_COLUMNS: [&str; 10] = [
    "person_id",
    "contact",
    "channels",
    "timezone",
    "added_at",
    "validation_status",
    "validated_at",
    "line_type",
    "carrier",
    "ported",
];

/// Columns of a validations file (carrier / HLR lookups): the first four are required.
pub const VALIDATION_COLUMNS: [&str; 7] = [
    "person_id",
    "contact",
    "validated_at",
    "validation_status",
    "line_type",
    "carrier",
    "ported",
];

/// A way of reaching a contact point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A phone call.
    Voice,
    /// A text message.
    Sms,
    /// A WhatsApp message.
    Whatsapp,
    /// An RCS message.
    Rcs,
    /// An email.
    Email,
}

impl Channel {
    /// Every channel, in a fixed order (the order used for one-hot features).
    pub const ALL: [Channel; 5] = [
        Channel::Voice,
        Channel::Sms,
        Channel::Whatsapp,
        Channel::Rcs,
        Channel::Email,
    ];

    /// The contract's string for this channel.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Sms => "sms",
            Channel::Whatsapp => "whatsapp",
            Channel::Rcs => "rcs",
            Channel::Email => "email",
        }
    }

    /// Position in [`Channel::ALL`].
    pub fn index(self) -> usize {
        match self {
            Channel::Voice => 0,
            Channel::Sms => 1,
            Channel::Whatsapp => 2,
            Channel::Rcs => 3,
            Channel::Email => 4,
        }
    }

    /// Whether this channel addresses an email address (all others address a phone number).
    pub fn is_email(self) -> bool {
        matches!(self, Channel::Email)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Earliest plausible attempt instant: 1990-01-01T00:00:00Z. Contact-attempt logs do not go back
/// further; an earlier value is a broken export (an epoch default, year 1), not history.
pub const EARLIEST_PLAUSIBLE: i64 = 631_152_000;

/// How far after the present an attempt may be dated (clock skew between dialers and the host).
pub const MAX_AHEAD_SECONDS: i64 = crate::localtime::DAY;

/// Why `t` (unix seconds) is not a plausible attempt instant when the present is `now`, if it is
/// not: before [`EARLIEST_PLAUSIBLE`], or more than `max_ahead` seconds after `now`. Checked where
/// instants enter (ingest, the server's requests), so no arithmetic on them can wrap and no row
/// dated 2099 can empty a time slice.
pub fn implausible_time(t: i64, now: i64, max_ahead: i64) -> Option<String> {
    if t < EARLIEST_PLAUSIBLE {
        return Some("implausible time: before 1990-01-01".to_owned());
    }
    let latest = now.saturating_add(max_ahead);
    (t > latest).then(|| {
        let limit = jiff::Timestamp::from_second(latest)
            .map_or_else(|_| latest.to_string(), |ts| ts.to_string());
        format!("implausible time: after {limit} (the present plus {max_ahead} s of clock skew)")
    })
}

/// Error for a string that is not in a closed vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// What kind of value was expected (`channel`, `outcome`).
    pub kind: &'static str,
    /// The value as given.
    pub value: String,
    /// The accepted values, for the message.
    pub expected: &'static str,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} {} (expected one of: {})",
            self.kind,
            crate::quote(&self.value),
            self.expected
        )
    }
}

impl std::error::Error for UnknownValue {}

impl FromStr for Channel {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Channel::ALL
            .into_iter()
            .find(|c| t.eq_ignore_ascii_case(c.as_str()))
            .ok_or_else(|| UnknownValue {
                kind: "channel",
                value: s.to_owned(),
                expected: "voice, sms, whatsapp, rcs, email",
            })
    }
}

/// The canonical outcome of one contact attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Rang out, nobody picked up.
    NoAnswer,
    /// Line busy.
    Busy,
    /// Answering machine or voicemail.
    Voicemail,
    /// Disconnected, undeliverable or bounced: the contact point does not work.
    Invalid,
    /// The contact point now belongs to someone else.
    WrongParty,
    /// Someone who knows the person answered.
    ThirdParty,
    /// The person themselves was reached.
    RightParty,
    /// The person was reached and the goal of the contact was achieved.
    Converted,
    /// The person asked not to be contacted on this contact point and channel.
    OptOut,
    /// A message was delivered to the device or mailbox.
    Delivered,
    /// A message was read.
    Read,
    /// The person replied to a message.
    Replied,
}

impl Outcome {
    /// Every outcome, in a fixed order.
    pub const ALL: [Outcome; 12] = [
        Outcome::NoAnswer,
        Outcome::Busy,
        Outcome::Voicemail,
        Outcome::Invalid,
        Outcome::WrongParty,
        Outcome::ThirdParty,
        Outcome::RightParty,
        Outcome::Converted,
        Outcome::OptOut,
        Outcome::Delivered,
        Outcome::Read,
        Outcome::Replied,
    ];

    /// The contract's string for this outcome.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::NoAnswer => "no_answer",
            Outcome::Busy => "busy",
            Outcome::Voicemail => "voicemail",
            Outcome::Invalid => "invalid",
            Outcome::WrongParty => "wrong_party",
            Outcome::ThirdParty => "third_party",
            Outcome::RightParty => "right_party",
            Outcome::Converted => "converted",
            Outcome::OptOut => "opt_out",
            Outcome::Delivered => "delivered",
            Outcome::Read => "read",
            Outcome::Replied => "replied",
        }
    }

    /// Whether this outcome reached the person or someone/something on their behalf:
    /// every engaged outcome, plus `third_party` and `read`.
    pub fn is_reached(self) -> bool {
        self.is_engaged() || matches!(self, Outcome::ThirdParty | Outcome::Read)
    }

    /// Whether the person engaged: `right_party`, `replied` or `converted`.
    pub fn is_engaged(self) -> bool {
        matches!(
            self,
            Outcome::RightParty | Outcome::Replied | Outcome::Converted
        )
    }

    /// Whether the contact goal was achieved.
    pub fn is_converted(self) -> bool {
        matches!(self, Outcome::Converted)
    }

    /// Whether the outcome is evidence for a contact rule: `opt_out` (the pair is suppressed
    /// until re-consent), `wrong_party` (the number, until a later engaged outcome) and `invalid`
    /// (the pair, for the suppression window). Such outcomes reported live are kept until a
    /// version's export provably contains them (see `artifact::evidence`).
    pub fn is_rule_evidence(self) -> bool {
        match self {
            Outcome::OptOut | Outcome::WrongParty | Outcome::Invalid => true,
            Outcome::NoAnswer
            | Outcome::Busy
            | Outcome::Voicemail
            | Outcome::ThirdParty
            | Outcome::RightParty
            | Outcome::Converted
            | Outcome::Delivered
            | Outcome::Read
            | Outcome::Replied => false,
        }
    }

    /// Whether the contact point showed it does not reach the person at all.
    pub fn is_dead_end(self) -> bool {
        matches!(self, Outcome::Invalid | Outcome::WrongParty)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Outcome::ALL
            .into_iter()
            .find(|o| t.eq_ignore_ascii_case(o.as_str()))
            .ok_or_else(|| UnknownValue {
                kind: "outcome",
                value: s.to_owned(),
                expected: "no_answer, busy, voicemail, invalid, wrong_party, third_party, \
                           right_party, converted, opt_out, delivered, read, replied",
            })
    }
}

/// Which response stage a model predicts. Stages nest: converted ⊂ engaged ⊂ reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Reached the person or someone on their behalf.
    Reached,
    /// The person engaged (the default).
    #[default]
    Engaged,
    /// The contact converted.
    Converted,
}

impl Target {
    /// Whether `outcome` counts as a positive for this target.
    pub fn is_positive(self, outcome: Outcome) -> bool {
        match self {
            Target::Reached => outcome.is_reached(),
            Target::Engaged => outcome.is_engaged(),
            Target::Converted => outcome.is_converted(),
        }
    }

    /// The target's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Reached => "reached",
            Target::Engaged => "engaged",
            Target::Converted => "converted",
        }
    }
}

impl FromStr for Target {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reached" => Ok(Target::Reached),
            "engaged" => Ok(Target::Engaged),
            "converted" => Ok(Target::Converted),
            _ => Err(UnknownValue {
                kind: "target",
                value: s.to_owned(),
                expected: "reached, engaged, converted",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>().ok(), Some(c));
            assert_eq!(Channel::ALL[c.index()], c);
        }
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().ok(), Some(o));
        }
        assert_eq!(" Voice ".parse::<Channel>().ok(), Some(Channel::Voice));
    }

    #[test]
    fn unknown_values_explain_themselves() {
        let err = "fax"
            .parse::<Channel>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("\"fax\"") && err.contains("voice"), "{err}");
    }

    #[test]
    fn stages_nest() {
        for o in Outcome::ALL {
            if o.is_converted() {
                assert!(o.is_engaged());
            }
            if o.is_engaged() {
                assert!(o.is_reached());
            }
        }
        assert!(Target::Engaged.is_positive(Outcome::Replied));
        assert!(!Target::Converted.is_positive(Outcome::RightParty));
    }
}
