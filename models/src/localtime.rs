//! Time zones and local calendar positions: an interned table of IANA zones and the conversion of a
//! UTC instant to the recipient's local hour, weekday and day.
//!
//! Zones are interned to a `u16` so per-contact state stays small and the hot path never looks a
//! zone up by name. Only names are serialised; the zone rules come from the tz database compiled
//! into the binary (jiff's bundled copy), so trainer and server compute identical local hours.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// A local calendar position of an instant in some zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Local hour of day, 0–23.
    pub hour: u8,
    /// Local weekday, 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// Local day number (days since 1970-01-01 in local time).
    pub day: i64,
    /// Seconds since local midnight.
    pub second_of_day: u32,
    /// The zone's UTC offset at that instant, in seconds.
    pub offset: i32,
}

impl LocalTime {
    /// Hour-of-week bucket used by the per-person availability features: weekday × 3-hour block.
    pub fn bucket(self) -> u8 {
        self.weekday * 8 + self.hour / 3
    }

    /// Whether the local day is Saturday or Sunday.
    pub fn is_weekend(self) -> bool {
        self.weekday >= 5
    }
}

/// Interned IANA time zones.
#[derive(Debug, Clone, Default)]
pub struct Zones {
    names: Vec<String>,
    zones: Vec<TimeZone>,
    index: HashMap<String, u16>,
}

impl Zones {
    /// Intern `name` (an IANA zone such as `America/Sao_Paulo`) and return its id.
    pub fn intern(&mut self, name: &str) -> Result<u16> {
        let name = name.trim();
        if let Some(&id) = self.index.get(name) {
            return Ok(id);
        }
        let zone = TimeZone::get(name).map_err(|_| Error::InvalidTimezone {
            value: name.to_owned(),
        })?;
        let id = u16::try_from(self.names.len())
            .map_err(|_| Error::InvalidConfig("more than 65535 distinct time zones".into()))?;
        self.names.push(name.to_owned());
        self.zones.push(zone);
        self.index.insert(name.to_owned(), id);
        Ok(id)
    }

    /// Intern every zone of the time-zone database (a few hundred names, aliases included), so
    /// that any zone a request can name already has an id. The server does this once per loaded
    /// version: a read-only request then resolves its zones with [`Zones::find`] on a frozen copy
    /// of the table and never writes the state. Ids are never reassigned, so ids found in a copy
    /// stay valid in the table it was copied from.
    ///
    /// A name the database lists but cannot load (a damaged file in a system zoneinfo
    /// directory) is skipped, not fatal: requests naming it are answered as naming an unknown
    /// zone. Returns how many were skipped.
    pub fn intern_all_known(&mut self) -> usize {
        jiff::tz::db()
            .available()
            .filter(|name| self.intern(name.as_str()).is_err())
            .count()
    }

    /// The id of the interned zone `name` names, matched as the time-zone database matches
    /// names (ASCII case-insensitively): `america/sao_paulo` finds `America/Sao_Paulo`. `None`
    /// for a name the database does not know, or a zone not interned.
    pub fn find(&self, name: &str) -> Option<u16> {
        self.id(name).or_else(|| {
            let zone = TimeZone::get(name.trim()).ok()?;
            self.id(zone.iana_name()?)
        })
    }

    /// Number of interned zones.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no zone is interned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The id of an already interned zone.
    pub fn id(&self, name: &str) -> Option<u16> {
        self.index.get(name.trim()).copied()
    }

    /// The IANA name of zone `id`.
    pub fn name(&self, id: u16) -> &str {
        self.names
            .get(usize::from(id))
            .map_or("UTC", String::as_str)
    }

    /// Local position of the UTC instant `t` (unix seconds) in zone `id`.
    pub fn local(&self, id: u16, t: i64) -> LocalTime {
        let offset = match (self.zones.get(usize::from(id)), Timestamp::from_second(t)) {
            (Some(zone), Ok(ts)) => zone.to_offset(ts).seconds(),
            _ => 0,
        };
        local_from_offset(t, offset)
    }
}

/// Local position of `t` given a UTC offset in seconds.
pub fn local_from_offset(t: i64, offset: i32) -> LocalTime {
    let local = t.saturating_add(i64::from(offset));
    let day = local.div_euclid(DAY);
    let second_of_day = local.rem_euclid(DAY);
    // 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
    let weekday = (day + 3).rem_euclid(7);
    LocalTime {
        hour: u8::try_from(second_of_day / 3600).unwrap_or(0),
        weekday: u8::try_from(weekday).unwrap_or(0),
        day,
        second_of_day: u32::try_from(second_of_day).unwrap_or(0),
        offset,
    }
}

impl Serialize for Zones {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.names.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Zones {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        let mut zones = Zones::default();
        for name in names {
            zones.intern(&name).map_err(serde::de::Error::custom)?;
        }
        Ok(zones)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hours_follow_the_zone() {
        let mut z = Zones::default();
        let sp = z.intern("America/Sao_Paulo").expect("zone");
        let ny = z.intern("America/New_York").expect("zone");
        assert_eq!(z.intern("America/Sao_Paulo").ok(), Some(sp));
        // 2026-01-05T15:00:00Z is a Monday: 12:00 in São Paulo (UTC-3), 10:00 in New York (UTC-5).
        let t = 1_767_625_200;
        let l = z.local(sp, t);
        assert_eq!((l.hour, l.weekday), (12, 0));
        assert_eq!(z.local(ny, t).hour, 10);
        // In July New York is on daylight time (UTC-4).
        let july = t + 181 * DAY;
        assert_eq!(z.local(ny, july).offset, -4 * 3600);
        assert!(z.intern("Mars/Olympus").is_err());
    }

    #[test]
    fn every_known_zone_is_found_whatever_its_case() {
        let mut z = Zones::default();
        let sp = z.intern("America/Sao_Paulo").expect("zone");
        assert_eq!(z.intern_all_known(), 0);
        assert!(z.len() > 300, "only {} zones", z.len());
        // Interning everything keeps the ids already given.
        assert_eq!(z.id("America/Sao_Paulo"), Some(sp));
        assert_eq!(z.find(" america/sao_paulo "), Some(sp));
        let tokyo = z.find("ASIA/TOKYO").expect("Tokyo");
        assert_eq!(z.name(tokyo), "Asia/Tokyo");
        // Aliases (links in the database) are zones a request may name too.
        assert!(z.find("us/eastern").is_some());
        assert!(z.find("Etc/UTC").is_some());
        assert_eq!(z.find("Mars/Olympus"), None);
        // Nothing to find in a table that has not interned the zone.
        assert_eq!(Zones::default().find("Asia/Tokyo"), None);
    }

    #[test]
    fn zones_round_trip_by_name() {
        let mut z = Zones::default();
        z.intern("Europe/Berlin").expect("zone");
        z.intern("Asia/Tokyo").expect("zone");
        let json = serde_json::to_string(&z).expect("serialise");
        assert_eq!(json, r#"["Europe/Berlin","Asia/Tokyo"]"#);
        let back: Zones = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back.id("Asia/Tokyo"), Some(1));
        assert_eq!(back.local(1, 0).hour, 9);
    }

    #[test]
    fn bucket_covers_the_week() {
        let l = local_from_offset(0, 0); // Thursday 00:00 UTC
        assert_eq!(l.weekday, 3);
        assert_eq!(l.bucket(), 24);
        let sun_late = local_from_offset(3 * DAY + 23 * 3600, 0);
        assert_eq!((sun_late.weekday, sun_late.bucket()), (6, 55));
    }
}
