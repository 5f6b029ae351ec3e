//! The synthetic population: persons with time zones, hidden patterns, segments and contact points
//! with usage weights and lifecycles, generated from a per-person random stream.

use contactscore_models::Channel;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::behaviour::{LineState, Pattern};
use super::numbers::{self, Phone};
use crate::{Result, TrainerError};

/// The IANA zones persons live in; indices are used throughout the simulator.
pub(crate) const ZONES: [&str; 6] = [
    "America/Sao_Paulo",
    "America/Manaus",
    "America/Recife",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
];

/// The [`ZONES`] loaded from the bundled time-zone database.
#[derive(Debug, Clone)]
pub(crate) struct Zones {
    zones: Vec<TimeZone>,
}

impl Zones {
    /// Loads every zone in [`ZONES`].
    pub(crate) fn load() -> Result<Zones> {
        let zones = ZONES
            .iter()
            .map(|name| {
                TimeZone::get(name)
                    .map_err(|e| TrainerError::Config(format!("time zone {name}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Zones { zones })
    }

    /// The zone with index `zone`.
    pub(crate) fn get(&self, zone: usize) -> &TimeZone {
        &self.zones[zone]
    }

    /// UTC offset in seconds of zone `zone` at unix second `at`.
    pub(crate) fn offset(&self, zone: usize, at: i64) -> i32 {
        let ts = Timestamp::from_second(at).unwrap_or(Timestamp::UNIX_EPOCH);
        self.zones[zone].to_offset(ts).seconds()
    }
}

/// Cumulative share of persons per zone in [`ZONES`] (80% Brazil, 20% US).
const ZONE_CDF: [f64; 6] = [0.65, 0.70, 0.80, 0.89, 0.95, 1.0];

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// A categorical attribute weakly correlated with the hidden pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Shop-floor and service workers.
    Retail,
    /// Office employees.
    Corporate,
    /// Students.
    Student,
    /// Retirees.
    Retired,
}

impl Segment {
    /// The string written to `persons.csv`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Segment::Retail => "retail",
            Segment::Corporate => "corporate",
            Segment::Student => "student",
            Segment::Retired => "retired",
        }
    }
}

/// When a contact point stops reaching the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Works for the whole run.
    Alive,
    /// Never worked during the run.
    DeadFromStart,
    /// Disconnected from this day (0-based) on.
    DiesOn(u32),
    /// Belongs to someone else from this day on.
    ReassignedOn(u32),
}

impl Lifecycle {
    /// The state on day `day` (0-based).
    pub(crate) fn state(self, day: u32) -> LineState {
        match self {
            Lifecycle::Alive => LineState::Alive,
            Lifecycle::DeadFromStart => LineState::Dead,
            Lifecycle::DiesOn(d) if day >= d => LineState::Dead,
            Lifecycle::ReassignedOn(d) if day >= d => LineState::Reassigned,
            Lifecycle::DiesOn(_) | Lifecycle::ReassignedOn(_) => LineState::Alive,
        }
    }
}

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

/// One synthetic person with their hidden behaviour.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    /// 0-based index; the id is `P` + 7 digits.
    pub index: u32,
    /// Index into [`ZONES`].
    pub zone: usize,
    /// Whether `persons.csv` states the time zone.
    pub zone_written: bool,
    /// Observable segment.
    pub segment: Segment,
    /// Observable age.
    pub age: u32,
    /// Observable balance owed.
    pub balance: f64,
    /// Hidden weekly pattern.
    pub pattern: Pattern,
    /// Hidden shift of the pattern by whole hours.
    pub hour_shift: i8,
    /// Hidden overall responsiveness in 0..1.
    pub responsiveness: f64,
    /// Hidden affinity per channel, indexed by [`Channel::index`].
    pub affinity: [f64; 5],
    /// Contact points, in the order the dialer cycles them.
    pub contacts: Vec<SimContact>,
}

impl Person {
    /// The person id as written.
    pub(crate) fn id(&self) -> String {
        format!("P{:07}", self.index)
    }
}

/// The random stream of person `index` for run `seed`: independent of any iteration order.
pub(crate) fn person_rng(seed: u64, index: u32) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::from(index));
    rng
}

/// A roughly standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(1e-12..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn zone_areas(zone: usize) -> &'static [u16] {
    match zone {
        0 => numbers::BR_AREAS_SAO_PAULO,
        1 => numbers::BR_AREAS_MANAUS,
        2 => numbers::BR_AREAS_RECIFE,
        3 => numbers::US_AREAS_NEW_YORK,
        4 => numbers::US_AREAS_CHICAGO,
        _ => numbers::US_AREAS_LOS_ANGELES,
    }
}

/// Everything the world generator needs to know about the run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorldParams {
    /// Run seed (also salts the phone numbers).
    pub seed: u64,
    /// Length of the run in days.
    pub days: u32,
    /// Unix second of the dialer's midnight on day 0.
    pub day0: i64,
}

/// Generates person `index`; returns them with their random stream, which the dialer continues.
pub(crate) fn person(wp: &WorldParams, index: u32) -> (Person, ChaCha8Rng) {
    let mut rng = person_rng(wp.seed, index);
    let u: f64 = rng.random();
    let zone = ZONE_CDF.iter().position(|&c| u < c).unwrap_or(0);
    let pattern = match rng.random_range(0..100) {
        0..35 => Pattern::Office,
        35..55 => Pattern::AtHome,
        55..75 => Pattern::Evening,
        75..85 => Pattern::Shift {
            nights_on_odd_weeks: rng.random_bool(0.5),
        },
        _ => Pattern::Weekend,
    };
    let segment = if rng.random_bool(0.5) {
        match pattern {
            Pattern::Office => Segment::Corporate,
            Pattern::AtHome => Segment::Retired,
            Pattern::Evening | Pattern::Shift { .. } => Segment::Retail,
            Pattern::Weekend => Segment::Student,
        }
    } else {
        pick(
            &mut rng,
            &[
                Segment::Retail,
                Segment::Corporate,
                Segment::Student,
                Segment::Retired,
            ],
        )
    };
    let age = match segment {
        Segment::Student => rng.random_range(18..28),
        Segment::Retired => rng.random_range(58..88),
        Segment::Corporate => rng.random_range(24..62),
        Segment::Retail => rng.random_range(19..66),
    };
    let responsiveness = 0.3 + 0.7 * rng.random::<f64>().powf(0.6);
    // Larger debts answer a little less.
    let balance = (6.8 + 0.9 * normal(&mut rng) + 0.8 * (0.7 - responsiveness)).exp();
    let balance = (balance * 100.0).round() / 100.0;
    let profile: [f64; 5] = match rng.random_range(0..100) {
        0..30 => [1.0, 0.3, 0.4, 0.0, 0.25],   // voice first
        30..60 => [0.45, 0.3, 1.0, 0.0, 0.25], // WhatsApp first
        60..75 => [0.4, 0.25, 0.35, 0.0, 0.9], // email first
        _ => [0.7, 0.5, 0.7, 0.0, 0.4],        // mixed
    };
    let mut affinity = [0.0; 5];
    for (a, base) in affinity.iter_mut().zip(profile) {
        *a = base * rng.random_range(0.8..1.2);
    }
    let hour_shift = rng.random_range(-1i8..=1);
    let zone_written = rng.random_bool(0.95);
    let contacts = contacts(wp, &mut rng, index, zone);
    let person = Person {
        index,
        zone,
        zone_written,
        segment,
        age,
        balance,
        pattern,
        hour_shift,
        responsiveness,
        affinity,
        contacts,
    };
    (person, rng)
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

fn contacts(wp: &WorldParams, rng: &mut ChaCha8Rng, index: u32, zone: usize) -> Vec<SimContact> {
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
        out.push(SimContact {
            channels: phone_channels(rng, phone, zone),
            point: Point::Phone(phone),
            usage,
            lifecycle: lifecycle(rng, wp.days, 0.08, 0.10, 0.05),
            added_at: wp.day0 - rng.random_range(DAY..730 * DAY),
            zone_written: rng.random_bool(0.12),
            format: rng.random(),
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
        out.push(SimContact {
            channels: phone_channels(rng, phone, zone),
            point: Point::Phone(phone),
            usage: rng.random_range(0.85..1.15),
            lifecycle: Lifecycle::Alive,
            // Learned overnight, before the dialer's working hours that day.
            added_at: wp.day0 + i64::from(day) * DAY + rng.random_range(0..8 * 3600),
            zone_written: rng.random_bool(0.12),
            format: rng.random(),
        });
    }
    out
}
