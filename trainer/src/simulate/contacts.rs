//! Contact points of a person: phone numbers and emails with channels, usage weights, lifecycles
//! (dead, dying, reassigned), numbers that appear during the run, a few numbers in ranges
//! libphonenumber's metadata does not list (some alive, most dead), and carrier lookups.

use contactscore_models::Channel;
use contactscore_models::localtime::DAY;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::behaviour::Lifecycle;
use super::lookups::{Lookups, lookups};
use super::numbers::{self, Phone};
use super::params::{WorldParams, pick};

/// Share of a person's numbers drawn outside the metadata's ranges.
const UNLISTED_SHARE: f64 = 0.04;
/// Share of those that reach the person (a range the metadata does not know yet); the rest are
/// dead (typos, numbers that never existed).
const UNLISTED_ALIVE: f64 = 0.3;

/// A phone number or an email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Point {
    /// A phone number.
    Phone(Phone),
    /// A lower-case email address.
    Email(String),
}

impl Point {
    /// The normalised key (E.164 or the lower-case email).
    #[cfg(test)]
    pub(crate) fn key(&self) -> String {
        match self {
            Point::Phone(p) => p.e164(),
            Point::Email(e) => e.clone(),
        }
    }

    /// The point as one export format, chosen by `variant`.
    pub(crate) fn written(&self, variant: u32) -> String {
        match self {
            Point::Phone(p) => p.format(variant),
            Point::Email(e) => numbers::email_variant(e, variant),
        }
    }
}

const MOBILE_BR: &[Channel] = &[Channel::Voice, Channel::Sms, Channel::Whatsapp];
const MOBILE_NO_WHATSAPP: &[Channel] = &[Channel::Voice, Channel::Sms];
const LANDLINE: &[Channel] = &[Channel::Voice];
const EMAIL: &[Channel] = &[Channel::Email];

/// One contact point of a person.
#[derive(Debug, Clone)]
pub(crate) struct SimContact {
    /// The number or address.
    pub point: Point,
    /// Channels it can be reached on, in the dialer's order.
    pub channels: &'static [Channel],
    /// How much the person uses it.
    pub usage: f64,
    /// When it stops reaching the person.
    pub lifecycle: Lifecycle,
    /// When the business learned of it (unix seconds).
    pub added_at: i64,
    /// Whether `contacts.csv` states a time zone for it.
    pub zone_written: bool,
    /// Export format used in `contacts.csv`.
    pub format: u32,
    /// Carrier lookups of a phone number.
    pub lookups: Lookups,
}

impl SimContact {
    /// Whether it is a landline (voice only, shared).
    pub(crate) fn is_landline(&self) -> bool {
        match &self.point {
            Point::Phone(p) => !p.is_mobile(),
            Point::Email(_) => false,
        }
    }
}

/// The area codes of zone `zone` (an index into [`super::world::ZONES`]).
pub(crate) fn zone_areas(zone: usize) -> &'static [u16] {
    match zone {
        0 => numbers::BR_AREAS_SAO_PAULO,
        1 => numbers::BR_AREAS_MANAUS,
        2 => numbers::BR_AREAS_RECIFE,
        3 => numbers::US_AREAS_NEW_YORK,
        4 => numbers::US_AREAS_CHICAGO,
        _ => numbers::US_AREAS_LOS_ANGELES,
    }
}

fn lifecycle(rng: &mut ChaCha8Rng, days: u32, dead: f64, dies: f64, reassigned: f64) -> Lifecycle {
    let u: f64 = rng.random();
    let day = rng.random_range(1..days.max(2));
    if u < dead {
        Lifecycle::DeadFromStart
    } else if u < dead + dies {
        Lifecycle::DiesOn(day)
    } else if u < dead + dies + reassigned {
        Lifecycle::ReassignedOn(day)
    } else {
        Lifecycle::Alive
    }
}

/// Where a person's numbers come from.
struct Home {
    index: u32,
    zone: usize,
    area: u16,
}

fn new_phone(rng: &mut ChaCha8Rng, seed: u64, home: &Home, slot: u32, mobile: bool) -> Phone {
    let unique = u64::from(home.index) * 8 + u64::from(slot);
    let salt = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 8;
    if rng.random_bool(UNLISTED_SHARE) {
        let (brazilian, areas) = if home.zone >= 3 {
            (false, numbers::US_AREAS_UNLISTED)
        } else {
            (true, numbers::BR_AREAS_UNLISTED)
        };
        return Phone::unlisted(brazilian, pick(rng, areas), unique, salt);
    }
    // Most numbers are from the home area; some people moved.
    let area = if rng.random_bool(0.8) {
        home.area
    } else {
        pick(rng, zone_areas(home.zone))
    };
    if home.zone >= 3 {
        Phone::us(area, unique, salt)
    } else if mobile {
        Phone::br_mobile(area, unique, salt)
    } else {
        Phone::br_landline(area, unique, salt)
    }
}

fn phone_channels(rng: &mut ChaCha8Rng, phone: Phone, zone: usize) -> &'static [Channel] {
    if !phone.is_mobile() {
        LANDLINE
    } else if zone >= 3 {
        if rng.random_bool(0.35) {
            MOBILE_BR
        } else {
            MOBILE_NO_WHATSAPP
        }
    } else if rng.random_bool(0.85) {
        MOBILE_BR
    } else {
        MOBILE_NO_WHATSAPP
    }
}

/// The contact points of person `index` living in zone `zone`, in export order.
pub(crate) fn contacts(
    wp: &WorldParams,
    rng: &mut ChaCha8Rng,
    index: u32,
    zone: usize,
) -> Vec<SimContact> {
    let n_phones = match rng.random_range(0..100) {
        0..35 => 1,
        35..70 => 2,
        70..90 => 3,
        _ => 4,
    };
    let home = Home {
        index,
        zone,
        area: pick(rng, zone_areas(zone)),
    };
    let mut out = Vec::with_capacity(n_phones + 2);
    for slot in 0..n_phones {
        let mobile = slot == 0 || rng.random_bool(0.7);
        let phone = new_phone(
            rng,
            wp.seed,
            &home,
            u32::try_from(slot).unwrap_or(0),
            mobile,
        );
        let usage = match slot {
            0 => 1.0,
            1 => 0.4,
            _ => 0.1,
        } * rng.random_range(0.85..1.15);
        let channels = phone_channels(rng, phone, zone);
        let life = if phone.is_listed() {
            lifecycle(rng, wp.days, 0.08, 0.10, 0.05)
        } else if rng.random_bool(UNLISTED_ALIVE) {
            Lifecycle::Alive
        } else {
            Lifecycle::DeadFromStart
        };
        let added_at = wp.day0 - rng.random_range(DAY..730 * DAY);
        out.push(SimContact {
            channels,
            point: Point::Phone(phone),
            usage,
            lifecycle: life,
            added_at,
            zone_written: rng.random_bool(0.12),
            format: rng.random(),
            lookups: lookups(rng, wp, phone, life, added_at),
        });
    }
    if rng.random_bool(0.6) {
        out.push(SimContact {
            point: Point::Email(numbers::email(rng, index, zone < 3)),
            channels: EMAIL,
            usage: 1.0,
            lifecycle: lifecycle(rng, wp.days, 0.06, 0.03, 0.0),
            added_at: wp.day0 - rng.random_range(DAY..730 * DAY),
            zone_written: false,
            format: rng.random(),
            lookups: Lookups::default(),
        });
    }
    // The export lists contact points in no meaningful order.
    for i in (1..out.len()).rev() {
        out.swap(i, rng.random_range(0..=i));
    }
    // People come back on a new number, often soon after a used one stops working.
    let lost = out.iter().find_map(|c| match (c.lifecycle, &c.point) {
        (Lifecycle::DiesOn(d) | Lifecycle::ReassignedOn(d), Point::Phone(_)) if c.usage > 0.3 => {
            Some(d)
        }
        (_, Point::Phone(_) | Point::Email(_)) => None,
    });
    let appears = match lost {
        Some(d) if rng.random_bool(0.5) => Some(d + rng.random_range(0..15)),
        Some(_) | None if rng.random_bool(0.05) => Some(rng.random_range(1..wp.days.max(2))),
        Some(_) | None => None,
    };
    if let Some(day) = appears.filter(|&d| d < wp.days) {
        let phone = new_phone(rng, wp.seed, &home, 7, true);
        let channels = phone_channels(rng, phone, zone);
        let usage = rng.random_range(0.85..1.15);
        // Learned overnight, before the dialer's working hours that day.
        let added_at = wp.day0 + i64::from(day) * DAY + rng.random_range(0..8 * 3600);
        let life = if phone.is_listed() || rng.random_bool(UNLISTED_ALIVE) {
            Lifecycle::Alive
        } else {
            Lifecycle::DeadFromStart
        };
        out.push(SimContact {
            channels,
            point: Point::Phone(phone),
            usage,
            lifecycle: life,
            added_at,
            zone_written: rng.random_bool(0.12),
            format: rng.random(),
            lookups: lookups(rng, wp, phone, life, added_at),
        });
    }
    out
}
