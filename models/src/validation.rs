//! Carrier (HLR) validation of phone numbers: the vocabulary of a validation result (status, line
//! type, ported) and the result itself as the feature state keeps it.
//!
//! Operations check numbers with carriers before dialling; the answer is strong evidence about
//! whether a number works, so it is a point-in-time event like an attempt: the trainer applies it
//! at its `validated_at` in the replay, the server when it is recorded. The strings are the data
//! contract's (contacts file, validations file, `RecordValidation`), parsed here once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::contract::UnknownValue;

/// What the carrier said about the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationStatus {
    /// In service.
    Active,
    /// Disconnected, not assigned, or otherwise out of service.
    Inactive,
    /// The carrier could not tell.
    Unknown,
}

impl ValidationStatus {
    /// Every status, in a fixed order.
    pub const ALL: [ValidationStatus; 3] = [
        ValidationStatus::Active,
        ValidationStatus::Inactive,
        ValidationStatus::Unknown,
    ];

    /// The contract's string.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationStatus::Active => "active",
            ValidationStatus::Inactive => "inactive",
            ValidationStatus::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ValidationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ValidationStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        ValidationStatus::ALL
            .into_iter()
            .find(|v| t.eq_ignore_ascii_case(v.as_str()))
            .ok_or_else(|| UnknownValue {
                kind: "validation_status",
                value: s.to_owned(),
                expected: "active, inactive, unknown",
            })
    }
}

/// The kind of line the carrier reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineType {
    /// A mobile line.
    Mobile,
    /// A landline.
    Landline,
    /// Voice over IP.
    Voip,
    /// Not reported.
    Unknown,
}

impl LineType {
    /// Every line type, in a fixed order.
    pub const ALL: [LineType; 4] = [
        LineType::Mobile,
        LineType::Landline,
        LineType::Voip,
        LineType::Unknown,
    ];

    /// The contract's string.
    pub fn as_str(self) -> &'static str {
        match self {
            LineType::Mobile => "mobile",
            LineType::Landline => "landline",
            LineType::Voip => "voip",
            LineType::Unknown => "unknown",
        }
    }
}

impl fmt::Display for LineType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LineType {
    type Err = UnknownValue;

    /// Empty is `unknown` (the column and the RPC field are optional).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() {
            return Ok(LineType::Unknown);
        }
        LineType::ALL
            .into_iter()
            .find(|v| t.eq_ignore_ascii_case(v.as_str()))
            .ok_or_else(|| UnknownValue {
                kind: "line_type",
                value: s.to_owned(),
                expected: "mobile, landline, voip, unknown",
            })
    }
}

/// The `ported` column: `true` / `false` (case-insensitive), empty = not reported.
pub fn parse_ported(s: &str) -> Result<Option<bool>, UnknownValue> {
    let t = s.trim();
    if t.is_empty() {
        Ok(None)
    } else if t.eq_ignore_ascii_case("true") {
        Ok(Some(true))
    } else if t.eq_ignore_ascii_case("false") {
        Ok(Some(false))
    } else {
        Err(UnknownValue {
            kind: "ported",
            value: s.to_owned(),
            expected: "true, false",
        })
    }
}

/// One carrier validation of a number, as the feature state keeps it (the carrier's name is
/// not a feature and stays with the caller's records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validation {
    /// When the carrier answered (unix seconds).
    pub at: i64,
    /// What it said.
    pub status: ValidationStatus,
    /// The line type it reported.
    pub line_type: LineType,
    /// Whether the number was ported to another carrier, when reported.
    pub ported: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_round_trips_and_names_bad_values() {
        for s in ValidationStatus::ALL {
            assert_eq!(s.as_str().parse::<ValidationStatus>().ok(), Some(s));
        }
        for l in LineType::ALL {
            assert_eq!(l.as_str().parse::<LineType>().ok(), Some(l));
        }
        assert_eq!(
            " Inactive ".parse::<ValidationStatus>().ok(),
            Some(ValidationStatus::Inactive)
        );
        assert_eq!("".parse::<LineType>().ok(), Some(LineType::Unknown));
        assert!("".parse::<ValidationStatus>().is_err());
        let err = "dead"
            .parse::<ValidationStatus>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("validation_status") && err.contains("\"dead\""),
            "{err}"
        );
        assert_eq!(parse_ported("TRUE"), Ok(Some(true)));
        assert_eq!(parse_ported(" false"), Ok(Some(false)));
        assert_eq!(parse_ported(""), Ok(None));
        assert!(parse_ported("yes").is_err());
    }
}
