//! Contact-point normalisation: phone numbers to E.164 with what libphonenumber's metadata says
//! about them (valid or not, number type), emails trimmed and lower-cased, and masking for logs.
//!
//! One normaliser serves ingest, the simulator and the server, so `+55 (11) 98765-4321`,
//! `5511987654321` and `+5511987654321` are the same key everywhere. Parsing uses `phonenumber`
//! (a port of Google's libphonenumber) rather than hand-written rules.
//!
//! A phone contact falls in one of three classes:
//! - **unparseable**: letters, or a digit count no numbering plan of its country allows (or no
//!   country at all): an error;
//! - **parseable but not valid**: the parser reads a country and a national number of a length
//!   the country's plan allows, but the metadata lists no range containing it (a new range the
//!   metadata does not know yet, a typo that may still ring somewhere, a dead number). It is
//!   kept, keyed by the E.164 of the parse, with [`NumberInfo::valid`] false, so the model can
//!   learn what such numbers are worth instead of the row being dropped;
//! - **valid**: in a range the metadata lists, with its [`NumberType`].

use std::fmt;
use std::str::FromStr;

use phonenumber::country::Id as RegionId;
use phonenumber::metadata::DATABASE;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Error;

/// What kind of contact point a normalised key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContactKind {
    /// A phone number in E.164.
    Phone,
    /// An email address.
    Email,
}

/// The type of a phone number according to libphonenumber's metadata. A number outside every
/// range the metadata lists (not valid) is [`NumberType::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberType {
    /// A mobile number.
    Mobile,
    /// A fixed line.
    FixedLine,
    /// A range used by both (the metadata cannot tell; e.g. every North American number).
    FixedLineOrMobile,
    /// Voice over IP.
    Voip,
    /// Toll free (`0800`, `1-800`).
    TollFree,
    /// Premium rate.
    Premium,
    /// Anything else (shared cost, personal, pager, UAN…) or unknown.
    Other,
}

impl NumberType {
    /// Every type, in a fixed order (the order of the one-hot features).
    pub const ALL: [NumberType; 7] = [
        NumberType::Mobile,
        NumberType::FixedLine,
        NumberType::FixedLineOrMobile,
        NumberType::Voip,
        NumberType::TollFree,
        NumberType::Premium,
        NumberType::Other,
    ];

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            NumberType::Mobile => "mobile",
            NumberType::FixedLine => "fixed_line",
            NumberType::FixedLineOrMobile => "fixed_line_or_mobile",
            NumberType::Voip => "voip",
            NumberType::TollFree => "toll_free",
            NumberType::Premium => "premium",
            NumberType::Other => "other",
        }
    }

    fn from_metadata(t: phonenumber::Type) -> Self {
        use phonenumber::Type as T;
        match t {
            T::Mobile => NumberType::Mobile,
            T::FixedLine => NumberType::FixedLine,
            T::FixedLineOrMobile => NumberType::FixedLineOrMobile,
            T::Voip => NumberType::Voip,
            T::TollFree => NumberType::TollFree,
            T::PremiumRate => NumberType::Premium,
            T::SharedCost
            | T::PersonalNumber
            | T::Pager
            | T::Uan
            | T::Emergency
            | T::Voicemail
            | T::ShortCode
            | T::StandardRate
            | T::Carrier
            | T::NoInternational
            | T::Unknown => NumberType::Other,
        }
    }
}

/// What libphonenumber's metadata says about a phone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NumberInfo {
    /// Whether the number lies in a range the metadata lists for its country.
    pub valid: bool,
    /// Its type ([`NumberType::Other`] when not valid).
    pub number_type: NumberType,
}

/// A normalised contact point.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Contact {
    /// E.164 phone number (`+5511987654321`) or lower-cased email address.
    pub key: String,
    /// Phone or email.
    pub kind: ContactKind,
    /// ISO 3166 region of a phone number when known (`BR`), empty otherwise.
    pub region: String,
    /// For a phone number, its validity and type; `None` for an email address.
    pub number: Option<NumberInfo>,
}

impl Contact {
    /// The key masked for logs: never print a contact point in clear text.
    pub fn masked(&self) -> Masked<'_> {
        Masked(&self.key)
    }
}

/// Display adaptor that masks a contact key: keeps the first 3 and last 2 characters of a phone
/// number and the domain of an email, and adds a short hash so log lines can still be correlated.
pub struct Masked<'a>(pub &'a str);

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digest = Sha256::digest(self.0.as_bytes());
        let tag = u16::from_be_bytes([digest[0], digest[1]]);
        match self.0.split_once('@') {
            Some((_, domain)) => write!(f, "***@{domain}#{tag:04x}"),
            None => {
                let chars: Vec<char> = self.0.chars().collect();
                if chars.len() <= 5 {
                    write!(f, "***#{tag:04x}")
                } else {
                    let head: String = chars[..3].iter().collect();
                    let tail: String = chars[chars.len() - 2..].iter().collect();
                    write!(f, "{head}***{tail}#{tag:04x}")
                }
            }
        }
    }
}

/// Longest contact point accepted (an email address has at most 64 + 1 + 255 bytes; phone
/// numbers are far shorter), so no one value can make a request or a row arbitrarily expensive.
pub const MAX_CONTACT_BYTES: usize = 320;

/// Normalises raw contact strings; holds the default region for national-format numbers.
#[derive(Debug, Clone, Copy)]
pub struct ContactNormalizer {
    default_region: RegionId,
}

impl ContactNormalizer {
    /// A normaliser that reads national-format numbers as numbers of `default_region` (ISO 3166
    /// alpha-2, e.g. `BR`).
    pub fn new(default_region: &str) -> Result<Self, Error> {
        let id = RegionId::from_str(&default_region.trim().to_ascii_uppercase()).map_err(|_| {
            Error::InvalidConfig(format!(
                "default_region {} is not an ISO 3166 alpha-2 region known to libphonenumber",
                crate::quote(default_region)
            ))
        })?;
        Ok(Self { default_region: id })
    }

    /// The default region as an ISO code.
    pub fn default_region(&self) -> &str {
        self.default_region.as_ref()
    }

    /// Normalise one raw contact. Anything with an `@` is an email; everything else must parse as
    /// a phone number with a digit count its country's numbering plan allows. A number the
    /// metadata does not list as valid is kept with [`NumberInfo::valid`] false (see the module
    /// docs); a valid reading is always preferred to one that is not.
    pub fn normalize(&self, raw: &str) -> Result<Contact, Error> {
        let trimmed = raw.trim();
        if trimmed.len() > MAX_CONTACT_BYTES {
            return Err(Error::InvalidContact {
                value: raw.to_owned(),
                reason: format!("longer than {MAX_CONTACT_BYTES} bytes"),
            });
        }
        if trimmed.contains('@') {
            return normalize_email(trimmed);
        }
        let bad = |why: &str| Error::InvalidContact {
            value: raw.to_owned(),
            reason: why.to_owned(),
        };
        if trimmed.is_empty() {
            return Err(bad("empty"));
        }
        let first = phonenumber::parse(Some(self.default_region), trimmed);
        let first_type = first.as_ref().ok().map(|n| n.number_type(&DATABASE));
        if let (Ok(n), Some(t)) = (&first, first_type)
            && t != phonenumber::Type::Unknown
        {
            return Ok(phone(n, true, t));
        }
        // `5511987654321`: international digits written without the `+`.
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        let retry = (!trimmed.starts_with('+') && digits.len() > 10)
            .then(|| phonenumber::parse(None, format!("+{digits}")).ok())
            .flatten();
        if let Some(n) = &retry {
            let t = n.number_type(&DATABASE);
            if t != phonenumber::Type::Unknown {
                return Ok(phone(n, true, t));
            }
        }
        // Not valid: kept when its length fits its country's plan (the default region's reading
        // first, as for valid numbers).
        let possible = first
            .as_ref()
            .ok()
            .filter(|n| possible_length(n))
            .or(retry.as_ref().filter(|n| possible_length(n)));
        match (possible, &first) {
            (Some(n), _) => Ok(phone(n, false, phonenumber::Type::Unknown)),
            (None, Ok(_)) => Err(bad(
                "not a possible number: its digit count fits no numbering plan of its country",
            )),
            (None, Err(e)) => Err(bad(&e.to_string())),
        }
    }
}

/// The contact of a parsed phone number with its validity and metadata type.
fn phone(number: &phonenumber::PhoneNumber, valid: bool, t: phonenumber::Type) -> Contact {
    let region = number
        .country()
        .id()
        .map(|id| id.as_ref().to_owned())
        .or_else(|| main_region(number.country().code()))
        .unwrap_or_default();
    Contact {
        key: e164(number),
        kind: ContactKind::Phone,
        region,
        number: Some(NumberInfo {
            valid,
            number_type: NumberType::from_metadata(t),
        }),
    }
}

/// The main region of a country calling code (`US` for `+1`), for numbers the metadata cannot
/// place in one of the code's regions.
fn main_region(code: u16) -> Option<String> {
    let metas = DATABASE.by_code(&code)?;
    metas
        .iter()
        .find(|m| m.is_main_country_for_code())
        .or_else(|| metas.first())
        .map(|m| m.id().to_owned())
}

/// Whether the national significant number's length is one the numbering plan of its calling
/// code allows for some type of number (libphonenumber's "possible number" test; the crate's
/// general descriptor carries no lengths, so the types' lengths are joined).
fn possible_length(number: &phonenumber::PhoneNumber) -> bool {
    let len = number.national().to_string().len();
    let Ok(len) = u16::try_from(len) else {
        return false;
    };
    DATABASE
        .by_code(&number.country().code())
        .unwrap_or_default()
        .iter()
        .any(|m| {
            let d = m.descriptors();
            [
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.voip(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ]
            .into_iter()
            .flatten()
            .any(|desc| desc.possible_length().contains(&len))
        })
}

/// E.164 text of a parsed number: `+`, country code, national significant number (with the
/// leading zeros some countries keep, e.g. Italy). This is exactly what
/// `number.format().mode(Mode::E164)` writes, without the formatter's search for a national
/// layout that E.164 never uses (a regex scan per call, ≈ 15 % of a normalisation).
fn e164(number: &phonenumber::PhoneNumber) -> String {
    use std::fmt::Write as _;
    let mut key = String::with_capacity(16);
    let _ = write!(key, "+{}{}", number.country().code(), number.national());
    key
}

fn normalize_email(trimmed: &str) -> Result<Contact, Error> {
    let lower = trimmed.to_lowercase();
    let valid = match lower.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !lower.chars().any(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    };
    if !valid {
        return Err(Error::InvalidContact {
            value: trimmed.to_owned(),
            reason: "not an email address".to_owned(),
        });
    }
    Ok(Contact {
        key: lower,
        kind: ContactKind::Email,
        region: String::new(),
        number: None,
    })
}

#[cfg(test)]
#[path = "contact_tests.rs"]
mod tests;
