//! Synthetic phone numbers and email addresses: unique, written in the several formats real
//! exports mix, and valid for libphonenumber — except the few dialled numbers drawn in area codes
//! its metadata does not list (new ranges, typos that still ring somewhere, dead numbers), which
//! parse but are not valid.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Brazilian area codes (DDD) on São Paulo time.
pub(crate) const BR_AREAS_SAO_PAULO: &[u16] = &[11, 21, 31, 41, 51, 61];
/// Area codes of the North-East (America/Recife offset).
pub(crate) const BR_AREAS_RECIFE: &[u16] = &[71, 81, 85];
/// Area codes of Amazonas (America/Manaus).
pub(crate) const BR_AREAS_MANAUS: &[u16] = &[92];
/// US area codes in the Eastern zone.
pub(crate) const US_AREAS_NEW_YORK: &[u16] = &[212, 305, 404, 617];
/// US area codes in the Central zone.
pub(crate) const US_AREAS_CHICAGO: &[u16] = &[312, 713, 214];
/// US area codes in the Pacific zone.
pub(crate) const US_AREAS_LOS_ANGELES: &[u16] = &[415, 206, 702];
/// Brazilian area codes not in use: numbers in them parse (11 digits) but are not valid.
pub(crate) const BR_AREAS_UNLISTED: &[u16] = &[23, 25, 26, 29, 30, 36, 52, 57, 70, 72, 76, 78];
/// North American area codes not in use by any NANP region.
pub(crate) const US_AREAS_UNLISTED: &[u16] = &[237, 247, 258, 265, 275, 285];

/// How many subscriber numbers each (country, kind, area) block holds.
const BR_BLOCK: u64 = 40_000_000; // 9[6-9]XXXXXXX for mobiles, [2-5]XXXXXXX for landlines
/// US exchanges 200..=999 minus N11 and 555: 800 - 8 - 1 = 791, times 10^4 line numbers.
const US_EXCHANGES: u64 = 791;
const US_BLOCK: u64 = US_EXCHANGES * 10_000;

/// A phone number the generator made up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phone {
    /// A Brazilian mobile: `+55 AA 9XXXX-XXXX` (`subscriber` is the 9 digits after the area).
    BrMobile {
        /// Area code (DDD).
        area: u16,
        /// The 9-digit subscriber number, starting with 9.
        subscriber: u32,
    },
    /// A Brazilian landline: `+55 AA NXXX-XXXX` with N in 2..=5 (voice only).
    BrLandline {
        /// Area code (DDD).
        area: u16,
        /// The 8-digit subscriber number.
        subscriber: u32,
    },
    /// A North American number `+1 NPA NXX XXXX`.
    Us {
        /// Area code (NPA).
        area: u16,
        /// Exchange (NXX), 200..=999, never N11 or 555.
        exchange: u16,
        /// Line number, 0..=9999.
        line: u16,
    },
    /// A Brazilian mobile-shaped number in an area code not in use ([`BR_AREAS_UNLISTED`]).
    BrUnlisted {
        /// Area code (not in use).
        area: u16,
        /// The 9-digit subscriber number, starting with 9.
        subscriber: u32,
    },
    /// A North American number in an area code not in use ([`US_AREAS_UNLISTED`]).
    UsUnlisted {
        /// Area code (not in use).
        area: u16,
        /// Exchange (NXX), 200..=999, never N11 or 555.
        exchange: u16,
        /// Line number, 0..=9999.
        line: u16,
    },
}

/// A bijective scramble of `unique` within `0..block`, so distinct ids give distinct numbers that
/// still look random: an affine map modulo `block` whose multiplier is a prime dividing neither
/// block size (4·10^7 = 2^9·5^7, 791·10^4 = 7·113·2^4·5^4). Ids are unique while they stay below
/// the block size, i.e. for up to 5 million persons per area code.
fn scramble(unique: u64, block: u64, salt: u64) -> u64 {
    const MUL: u64 = 2_654_435_761; // prime, coprime to every block size above
    (unique % block * MUL + salt % block) % block
}

/// The `i`-th allowed US exchange (200..=999 minus N11 and 555).
fn us_exchange(i: u64) -> u16 {
    let mut left = i;
    for ex in 200u16..1000 {
        if ex % 100 == 11 || ex == 555 {
            continue;
        }
        if left == 0 {
            return ex;
        }
        left -= 1;
    }
    999
}

/// The 9-digit subscriber number of a Brazilian mobile numbered `unique`: 9, then 6..=9, then
/// 7 digits.
fn br_mobile_subscriber(unique: u64, salt: u64) -> u32 {
    let x = scramble(unique, BR_BLOCK, salt);
    let subscriber = 900_000_000 + (6 + x / 10_000_000) * 10_000_000 + x % 10_000_000;
    u32::try_from(subscriber).unwrap_or(987_654_321)
}

/// Exchange and line of a North American number numbered `unique`.
fn us_exchange_line(unique: u64, salt: u64) -> (u16, u16) {
    let x = scramble(unique, US_BLOCK, salt);
    (
        us_exchange(x / 10_000),
        u16::try_from(x % 10_000).unwrap_or(0),
    )
}

impl Phone {
    /// A Brazilian mobile numbered uniquely by `unique` within `area`.
    pub(crate) fn br_mobile(area: u16, unique: u64, salt: u64) -> Phone {
        Phone::BrMobile {
            area,
            subscriber: br_mobile_subscriber(unique, salt),
        }
    }

    /// A Brazilian landline numbered uniquely by `unique` within `area`.
    pub(crate) fn br_landline(area: u16, unique: u64, salt: u64) -> Phone {
        let x = scramble(unique, BR_BLOCK, salt);
        let subscriber = (2 + x / 10_000_000) * 10_000_000 + x % 10_000_000;
        Phone::BrLandline {
            area,
            subscriber: u32::try_from(subscriber).unwrap_or(34_567_890),
        }
    }

    /// A US number numbered uniquely by `unique` within `area`.
    pub(crate) fn us(area: u16, unique: u64, salt: u64) -> Phone {
        let (exchange, line) = us_exchange_line(unique, salt);
        Phone::Us {
            area,
            exchange,
            line,
        }
    }

    /// A number in an area code not in use, numbered uniquely by `unique` within `area`:
    /// Brazilian-shaped when `brazilian`, else North American.
    pub(crate) fn unlisted(brazilian: bool, area: u16, unique: u64, salt: u64) -> Phone {
        if brazilian {
            let subscriber = br_mobile_subscriber(unique, salt);
            Phone::BrUnlisted { area, subscriber }
        } else {
            let (exchange, line) = us_exchange_line(unique, salt);
            Phone::UsUnlisted {
                area,
                exchange,
                line,
            }
        }
    }

    /// Whether the number can take messages (mobiles; US numbers are treated as mobiles).
    pub(crate) fn is_mobile(self) -> bool {
        match self {
            Phone::BrMobile { .. }
            | Phone::Us { .. }
            | Phone::BrUnlisted { .. }
            | Phone::UsUnlisted { .. } => true,
            Phone::BrLandline { .. } => false,
        }
    }

    /// Whether libphonenumber's metadata lists the number's range (it is valid).
    pub(crate) fn is_listed(self) -> bool {
        match self {
            Phone::BrMobile { .. } | Phone::BrLandline { .. } | Phone::Us { .. } => true,
            Phone::BrUnlisted { .. } | Phone::UsUnlisted { .. } => false,
        }
    }

    /// Whether the number is North American.
    pub(crate) fn is_us(self) -> bool {
        match self {
            Phone::Us { .. } | Phone::UsUnlisted { .. } => true,
            Phone::BrMobile { .. } | Phone::BrLandline { .. } | Phone::BrUnlisted { .. } => false,
        }
    }

    /// E.164, e.g. `+5511987654321`.
    #[cfg(test)]
    pub(crate) fn e164(self) -> String {
        match self {
            Phone::BrMobile { area, subscriber } | Phone::BrUnlisted { area, subscriber } => {
                format!("+55{area}{subscriber:09}")
            }
            Phone::BrLandline { area, subscriber } => format!("+55{area}{subscriber:08}"),
            Phone::Us {
                area,
                exchange,
                line,
            }
            | Phone::UsUnlisted {
                area,
                exchange,
                line,
            } => format!("+1{area}{exchange}{line:04}"),
        }
    }

    /// One of the formats exports use, chosen by `variant` (any value; taken modulo the number of
    /// formats for the country). Brazilian numbers: `+55 (11) 98765-4321`, `5511987654321`,
    /// `+5511987654321`, `(11) 98765-4321`; US numbers: `+1 415-555-2671`, `+14155552671`.
    pub(crate) fn format(self, variant: u32) -> String {
        match self {
            Phone::BrMobile { area, subscriber } | Phone::BrUnlisted { area, subscriber } => {
                br_format(area, subscriber / 10_000, subscriber % 10_000, 5, variant)
            }
            Phone::BrLandline { area, subscriber } => {
                br_format(area, subscriber / 10_000, subscriber % 10_000, 4, variant)
            }
            Phone::Us {
                area,
                exchange,
                line,
            }
            | Phone::UsUnlisted {
                area,
                exchange,
                line,
            } => match variant % 2 {
                0 => format!("+1 {area}-{exchange}-{line:04}"),
                _ => format!("+1{area}{exchange}{line:04}"),
            },
        }
    }
}

fn br_format(area: u16, head: u32, tail: u32, head_len: usize, variant: u32) -> String {
    match variant % 4 {
        0 => format!("+55 ({area}) {head:0head_len$}-{tail:04}"),
        1 => format!("55{area}{head:0head_len$}{tail:04}"),
        2 => format!("+55{area}{head:0head_len$}{tail:04}"),
        _ => format!("({area}) {head:0head_len$}-{tail:04}"),
    }
}

const FIRST_NAMES: &[&str] = &[
    "maria", "ana", "joao", "jose", "pedro", "paula", "lucas", "julia", "carlos", "fernanda",
    "rafael", "beatriz", "marcos", "camila", "bruno", "larissa", "james", "mary", "robert",
    "linda",
];
const LAST_NAMES: &[&str] = &[
    "silva",
    "santos",
    "oliveira",
    "souza",
    "lima",
    "pereira",
    "costa",
    "rodrigues",
    "almeida",
    "nascimento",
    "carvalho",
    "gomes",
    "smith",
    "johnson",
    "brown",
    "garcia",
];
const BR_DOMAINS: &[&str] = &[
    "gmail.com",
    "hotmail.com",
    "yahoo.com.br",
    "outlook.com",
    "uol.com.br",
];
const US_DOMAINS: &[&str] = &["gmail.com", "yahoo.com", "outlook.com", "icloud.com"];

/// A lower-case email address, unique thanks to `person_index`.
pub(crate) fn email(rng: &mut ChaCha8Rng, person_index: u32, brazilian: bool) -> String {
    let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
    let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
    let domains = if brazilian { BR_DOMAINS } else { US_DOMAINS };
    let domain = domains[rng.random_range(0..domains.len())];
    let sep = if rng.random_bool(0.5) { "." } else { "_" };
    format!("{first}{sep}{last}{person_index}@{domain}")
}

/// The email as an export might write it: usually as is, sometimes capitalised, upper-cased or
/// with surrounding spaces (all of which normalise back to `email`).
pub(crate) fn email_variant(email: &str, variant: u32) -> String {
    match variant % 8 {
        0 => capitalise(email),
        1 => email.to_uppercase(),
        2 => format!(" {email} "),
        3 => format!("{} ", capitalise(email)),
        _ => email.to_owned(),
    }
}

fn capitalise(email: &str) -> String {
    let mut out = String::with_capacity(email.len());
    let mut up = true;
    for ch in email.chars() {
        if up {
            out.extend(ch.to_uppercase());
        } else {
            out.push(ch);
        }
        up = matches!(ch, '.' | '_' | '@');
    }
    out
}
