//! Drives a simulation run and writes its five CSV files, streaming attempts day by day, with the
//! malformed (and, when asked, implausible) rows a real export has mixed in.

use std::fs::File;
use std::path::{Path, PathBuf};

use contactscore_models::Channel;
use contactscore_models::localtime::DAY;
use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::contacts::Point;
use super::dialer::{Attempt, DayContext, PersonState};
use super::lookups::Lookup;
use super::params::WorldParams;
use super::world::{self, Person, ZONES, Zones};
use super::{SimulateParams, SimulateSummary};
use crate::{Result, TrainerError};

/// Index of the dialer's own zone (America/Sao_Paulo) in [`ZONES`].
pub(crate) const DIALER_ZONE: usize = 0;

/// The run's days in the dialer's zone: day `d` starts at local midnight `d` calendar days after
/// the UTC date of the run's start. Shared with the backtest arena, whose evaluation days
/// continue the same calendar after the history.
#[derive(Debug, Clone)]
pub(crate) struct Calendar {
    first_date: jiff::civil::Date,
    dialer_zone: TimeZone,
}

impl Calendar {
    /// The calendar of a run starting at `start`.
    pub(crate) fn new(start: Timestamp, zones: &Zones) -> Calendar {
        Calendar {
            first_date: start.to_zoned(TimeZone::UTC).date(),
            dialer_zone: zones.get(DIALER_ZONE).clone(),
        }
    }

    /// The dialer's zone.
    pub(crate) fn zone(&self) -> &TimeZone {
        &self.dialer_zone
    }

    /// Unix second of the dialer's midnight on day `day`.
    pub(crate) fn midnight(&self, day: u32) -> Result<i64> {
        let date = self
            .first_date
            .checked_add(jiff::Span::new().days(i64::from(day)))
            .and_then(|d| {
                d.to_datetime(Time::midnight())
                    .to_zoned(self.dialer_zone.clone())
            })
            .map_err(|e| TrainerError::Config(format!("simulation day {day}: {e}")))?;
        Ok(date.timestamp().as_second())
    }

    /// Day `day` with its midnight and weekday in the dialer's zone.
    pub(crate) fn day(&self, day: u32) -> Result<DayContext> {
        let midnight = self.midnight(day)?;
        let weekday = Timestamp::from_second(midnight)
            .map(|ts| {
                ts.to_zoned(self.dialer_zone.clone())
                    .weekday()
                    .to_monday_zero_offset()
            })
            .unwrap_or(0);
        Ok(DayContext {
            day,
            midnight,
            weekday: u8::try_from(weekday).unwrap_or(0),
        })
    }
}

/// A CSV file being written, remembering its path for error messages.
struct Out {
    path: PathBuf,
    csv: csv::Writer<File>,
}

impl Out {
    fn create(dir: &Path, name: &str, header: &[&str]) -> Result<Out> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(|e| TrainerError::io(&path, e))?;
        let csv = csv::WriterBuilder::new()
            .buffer_capacity(1 << 17)
            .from_writer(file);
        let mut out = Out { path, csv };
        out.row(header)?;
        Ok(out)
    }

    fn row(&mut self, fields: &[&str]) -> Result<()> {
        self.csv
            .write_record(fields)
            .map_err(|e| TrainerError::csv(&self.path, e))
    }

    fn finish(mut self) -> Result<()> {
        self.csv
            .flush()
            .map_err(|e| TrainerError::io(&self.path, e))
    }
}

fn rfc3339(at: i64) -> String {
    Timestamp::from_second(at)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_string()
}

fn rfc3339_in(at: i64, zone: &TimeZone) -> String {
    let ts = Timestamp::from_second(at).unwrap_or(Timestamp::UNIX_EPOCH);
    ts.display_with_offset(zone.to_offset(ts)).to_string()
}

/// Runs the simulation described by `params` into `out_dir`.
pub(crate) fn run(params: &SimulateParams, out_dir: &Path) -> Result<SimulateSummary> {
    std::fs::create_dir_all(out_dir).map_err(|e| TrainerError::io(out_dir, e))?;
    let zones = Zones::load()?;
    let calendar = Calendar::new(params.start, &zones);
    let dialer_zone = calendar.zone().clone();
    let wp = WorldParams {
        seed: params.seed,
        days: params.days,
        day0: calendar.midnight(0)?,
    };

    let mut summary = SimulateSummary::default();
    let mut persons = Vec::with_capacity(params.persons as usize);
    let mut states = Vec::with_capacity(params.persons as usize);
    for index in 0..params.persons {
        let (person, rng) = world::person(&wp, index);
        states.push(PersonState::new(&person, rng));
        persons.push(person);
    }
    write_population(&persons, params.reveal_traits, out_dir, &mut summary)?;

    let mut attempts = Out::create(
        out_dir,
        "attempts.csv",
        &contactscore_models::contract::ATTEMPT_COLUMNS,
    )?;
    let mut truth = Out::create(out_dir, "truth.csv", &["attempt_id", "p_engaged"])?;
    let mut dirt = Dirt::new(params);
    let mut buffer: Vec<Attempt> = Vec::with_capacity(4);
    let mut duplicates: Vec<[String; 8]> = Vec::new();
    for day in 0..params.days {
        let ctx = calendar.day(day)?;
        for (person, state) in persons.iter().zip(states.iter_mut()) {
            buffer.clear();
            state.run_day(person, &ctx, &zones, &mut buffer);
            for a in &buffer {
                summary.attempts += 1;
                if a.outcome.is_engaged() {
                    summary.engaged += 1;
                }
                let row = attempt_row(person, a, summary.attempts, &dialer_zone);
                attempts.row(&row.each_ref().map(String::as_str))?;
                truth.row(&[&row[0], &format!("{:.6}", a.p_engaged)])?;
                dirt.after(&row, &mut attempts, &mut summary)?;
                if a.duplicated {
                    duplicates.push(row);
                }
            }
        }
        // The export repeats a few rows at the end of the day's batch.
        for row in duplicates.drain(..) {
            summary.duplicate_rows += 1;
            attempts.row(&row.each_ref().map(String::as_str))?;
        }
    }
    attempts.finish()?;
    truth.finish()?;
    Ok(summary)
}

/// Writes the rows of `attempts.csv` that are not attempts, from its own random stream (so the
/// world and the dialer draw exactly as without them).
struct Dirt {
    rng: ChaCha8Rng,
    malformed_per_10k: u32,
    implausible_per_10k: u32,
}

impl Dirt {
    fn new(params: &SimulateParams) -> Dirt {
        Dirt {
            rng: ChaCha8Rng::seed_from_u64(params.seed ^ 0x6469_7274_7972_6f77),
            malformed_per_10k: params.malformed_per_10k.min(10_000),
            implausible_per_10k: params.implausible_per_10k.min(10_000),
        }
    }

    /// After the attempt `row`: sometimes a malformed copy of it (one field broken, its time
    /// kept, so a split by time still reads it), sometimes one at an implausible time.
    fn after(
        &mut self,
        row: &[String; 8],
        out: &mut Out,
        summary: &mut SimulateSummary,
    ) -> Result<()> {
        if self.rng.random_ratio(self.malformed_per_10k, 10_000) {
            summary.malformed_rows += 1;
            let mut bad = row.clone();
            bad[0] = format!("M{:08}", summary.malformed_rows);
            match self.rng.random_range(0..6) {
                0 => bad[2] = "N/A".to_owned(),
                1 => bad[2] = "(11) 9876".to_owned(),
                2 => bad[2] = "sem telefone".to_owned(),
                3 => bad[3] = "fax".to_owned(),
                4 => bad[5] = "ZZ".to_owned(),
                _ => bad[1] = String::new(),
            }
            out.row(&bad.each_ref().map(String::as_str))?;
        }
        if self.rng.random_ratio(self.implausible_per_10k, 10_000) {
            summary.implausible_rows += 1;
            let mut odd = row.clone();
            odd[0] = format!("I{:08}", summary.implausible_rows);
            let years = if self.rng.random_bool(0.5) { -40 } else { 80 };
            let at = odd[4].parse::<Timestamp>().map_or(0, |t| t.as_second());
            odd[4] = rfc3339(at + years * 365 * DAY);
            out.row(&odd.each_ref().map(String::as_str))?;
        }
        Ok(())
    }
}

fn attempt_row(person: &Person, a: &Attempt, number: u64, dialer_zone: &TimeZone) -> [String; 8] {
    let at = if a.local_offset {
        rfc3339_in(a.at, dialer_zone)
    } else {
        rfc3339(a.at)
    };
    let duration = a.duration.map(|d| d.to_string()).unwrap_or_default();
    [
        format!("A{number:08}"),
        person.id(),
        person.contacts[a.contact].point.written(a.format),
        a.channel.as_str().to_owned(),
        at,
        a.outcome.as_str().to_owned(),
        duration,
        a.campaign.as_str().to_owned(),
    ]
}

fn write_population(
    persons: &[Person],
    reveal_traits: bool,
    dir: &Path,
    summary: &mut SimulateSummary,
) -> Result<()> {
    let mut out = Out::create(
        dir,
        "persons.csv",
        &["person_id", "timezone", "segment", "age", "balance"],
    )?;
    for p in persons {
        let zone = if p.zone_written { ZONES[p.zone] } else { "" };
        let (segment, age, balance) = if reveal_traits {
            (
                p.pattern.name(),
                format!("{:.3}", p.responsiveness),
                format!("{:.3}", p.affinity[Channel::Voice.index()]),
            )
        } else {
            (
                p.segment.as_str(),
                p.age.to_string(),
                format!("{:.2}", p.balance),
            )
        };
        out.row(&[&p.id(), zone, segment, &age, &balance])?;
        summary.persons += 1;
    }
    out.finish()?;

    let mut out = Out::create(
        dir,
        "contacts.csv",
        &contactscore_models::contract::CONTACT_COLUMNS,
    )?;
    let mut lookups = Out::create(
        dir,
        "validations.csv",
        &contactscore_models::contract::VALIDATION_COLUMNS,
    )?;
    for p in persons {
        let id = p.id();
        for c in &p.contacts {
            let channels: Vec<&str> = c.channels.iter().map(|ch| ch.as_str()).collect();
            let zone = if c.zone_written { ZONES[p.zone] } else { "" };
            let written = c.point.written(c.format);
            let prior = c.lookups.prior.as_ref().map(lookup_cells);
            let [status, at, line, carrier, ported] = prior.unwrap_or_default();
            out.row(&[
                &id,
                &written,
                &channels.join(";"),
                zone,
                &rfc3339(c.added_at),
                &status,
                &at,
                &line,
                &carrier,
                &ported,
            ])?;
            summary.contacts += 1;
            summary.validated_contacts += u64::from(c.lookups.prior.is_some());
            if let Point::Phone(phone) = &c.point {
                summary.unlisted_contacts += u64::from(!phone.is_listed());
            }
            for l in &c.lookups.during {
                // Lookups are keyed by the number as the operation stores it: E.164.
                let [status, at, line, carrier, ported] = lookup_cells(l);
                let key = c.point.written(2);
                lookups.row(&[&id, &key, &at, &status, &line, &carrier, &ported])?;
                summary.validations += 1;
            }
        }
    }
    lookups.finish()?;
    out.finish()
}

/// A lookup as the cells `validation_status, validated_at, line_type, carrier, ported`.
fn lookup_cells(l: &Lookup) -> [String; 5] {
    [
        l.status.as_str().to_owned(),
        rfc3339(l.at),
        l.line_type.as_str().to_owned(),
        l.carrier.to_owned(),
        l.ported.map(|p| p.to_string()).unwrap_or_default(),
    ]
}
