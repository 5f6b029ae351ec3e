//! The synthetic population: persons with time zones, hidden patterns, segments, affinities and
//! responsiveness, each generated from their own random stream.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::behaviour::Pattern;
use super::contacts::{SimContact, contacts};
use super::params::{WorldParams, pick};
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
                    .map_err(|e| TrainerError::Internal(format!("built-in time zone {name}: {e}")))
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
    /// Hidden affinity per channel, indexed by [`contactscore_models::Channel::index`].
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
