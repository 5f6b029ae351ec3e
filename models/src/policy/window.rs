//! Local-time contact windows and the local-calendar arithmetic the policy needs (whole local
//! hours, next local midnight), kept apart from the rules so the DST handling lives in one place.
//!
//! Everything is computed from [`Zones::local`] at concrete instants, never by adding a fixed
//! offset to a day, so daylight-saving transitions and half-hour zones are handled by the tz
//! database rather than by assumptions.

use crate::localtime::{DAY, Zones};

/// Seconds in an hour; every suggested slot is one hour long.
pub const HOUR: i64 = 3_600;

/// Allowed local intervals per weekday (0 = Monday … 6 = Sunday), each half-open
/// `[start, end)` in seconds since local midnight, sorted and merged (touching or overlapping
/// intervals are joined, so "inside the union" and "inside one interval" are the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Week {
    days: [Vec<(u32, u32)>; 7],
}

impl Week {
    /// Every day, all day.
    pub fn always() -> Self {
        Self::from_days(std::array::from_fn(|_| vec![(0, DAY_SECS)]))
    }

    /// One `[start_hour, end_hour)` window on each weekday given `Some`; `None` days are closed.
    pub fn hours(days: [Option<(u32, u32)>; 7]) -> Self {
        Self::from_days(days.map(|d| {
            d.map(|(s, e)| vec![(s * 3600, e * 3600)])
                .unwrap_or_default()
        }))
    }

    /// Build from raw intervals (seconds of day, `start < end <= DAY_SECS`), merging them.
    pub fn from_days(mut days: [Vec<(u32, u32)>; 7]) -> Self {
        for d in &mut days {
            d.sort_unstable();
            let mut merged: Vec<(u32, u32)> = Vec::with_capacity(d.len());
            for &(s, e) in d.iter() {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    Some(_) | None => merged.push((s, e)),
                }
            }
            *d = merged;
        }
        Self { days }
    }

    /// The merged intervals of `weekday` (0 = Monday).
    pub fn day(&self, weekday: u8) -> &[(u32, u32)] {
        self.days
            .get(usize::from(weekday))
            .map_or(&[], Vec::as_slice)
    }

    /// Whether no window is open on any day.
    pub fn is_never(&self) -> bool {
        self.days.iter().all(Vec::is_empty)
    }

    /// Whether the local-seconds range `[lo, hi]` (seconds since the local epoch, both
    /// inclusive) lies inside one window of one local day. A range crossing local midnight is
    /// never inside (slots start on whole local hours, so only a DST-widened range can cross).
    fn contains_local(&self, lo: i64, hi: i64) -> bool {
        let day = lo.div_euclid(DAY);
        if hi.div_euclid(DAY) != day {
            return false;
        }
        let weekday = u8::try_from((day + 3).rem_euclid(7)).unwrap_or(0);
        // Seconds into the local day (`rem_euclid` cannot overflow, unlike `lo - day * DAY`).
        let (start, end) = (lo.rem_euclid(DAY), hi.rem_euclid(DAY) + 1);
        self.day(weekday)
            .iter()
            .any(|&(s, e)| i64::from(s) <= start && end <= i64::from(e))
    }
}

/// Seconds in a local day, as a window bound: [`DAY`] as a `u32`.
pub const DAY_SECS: u32 = DAY as u32;

/// Whether the slot `[t, t + HOUR)` lies entirely inside a window of `week` in zone `zone`.
///
/// When the zone's offset is the same at both ends of the slot the local range is exact. When a
/// transition falls inside the slot the check is conservative: the range is widened to
/// `[t + min(offset), t + HOUR - 1 + max(offset)]`, which contains every local time the slot
/// touches, so a slot straddling a DST change is only allowed if that whole widened range is
/// inside one window (in practice transitions happen at night, outside every window but email's).
pub fn slot_in_window(zones: &Zones, zone: u16, week: &Week, t: i64) -> bool {
    let last = t.saturating_add(HOUR - 1);
    let a = i64::from(zones.local(zone, t).offset);
    let b = i64::from(zones.local(zone, last).offset);
    week.contains_local(t.saturating_add(a.min(b)), last.saturating_add(a.max(b)))
}

/// The first instant `>= t` that is a whole local hour (`:00:00` local) in `zone`.
///
/// For zones with a half-hour or 45-minute offset (India, Nepal, parts of Australia) slots are
/// therefore aligned to the local hour, not to the UTC hour. If the offset changes between `t`
/// and the candidate, alignment is recomputed with the new offset.
pub fn next_local_hour(zones: &Zones, zone: u16, t: i64) -> i64 {
    let mut c = t;
    for _ in 0..4 {
        let off = i64::from(zones.local(zone, c).offset);
        let rem = c.saturating_add(off).rem_euclid(HOUR);
        if rem == 0 {
            return c;
        }
        c = c.saturating_add(HOUR - rem);
    }
    c
}

/// The first instant after `t` whose local day (in `zone`) is later than `t`'s: the next local
/// midnight, or the first instant of the next day when midnight is skipped by a DST change.
pub fn next_local_day_start(zones: &Zones, zone: u16, t: i64) -> i64 {
    let here = zones.local(zone, t);
    let guess = here
        .day
        .saturating_add(1)
        .saturating_mul(DAY)
        .saturating_sub(i64::from(here.offset));
    if guess > t
        && zones.local(zone, guess).day > here.day
        && zones.local(zone, guess - 1).day <= here.day
    {
        return guess;
    }
    // Offset changed before midnight: binary search for the first instant of a later day.
    let (mut lo, mut hi) = (t, t.saturating_add(2 * DAY));
    while hi - lo > 1 {
        let m = lo + (hi - lo) / 2;
        if zones.local(zone, m).day > here.day {
            hi = m;
        } else {
            lo = m;
        }
    }
    hi
}

/// The first whole-local-hour slot start `>= t` whose slot is inside `week`, looking at most
/// 8 days ahead; `None` when the week has no window at all (or none is reachable).
pub fn next_window_slot(zones: &Zones, zone: u16, week: &Week, t: i64) -> Option<i64> {
    if week.is_never() {
        return None;
    }
    let end = t.saturating_add(8 * DAY);
    let mut s = next_local_hour(zones, zone, t);
    while s < end {
        if slot_in_window(zones, zone, week, s) {
            return Some(s);
        }
        s = next_local_hour(zones, zone, s.saturating_add(HOUR));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_joins_touching_intervals() {
        let mut days: [Vec<(u32, u32)>; 7] = Default::default();
        days[0] = vec![(36_000, 43_200), (32_400, 36_000), (50_000, 60_000)];
        let w = Week::from_days(days);
        assert_eq!(w.day(0), &[(32_400, 43_200), (50_000, 60_000)]);
        assert!(w.day(1).is_empty());
        assert!(!w.is_never());
    }

    #[test]
    fn local_hours_and_midnights_in_half_hour_zone() {
        let mut z = Zones::default();
        let kol = z.intern("Asia/Kolkata").expect("zone");
        // 2026-01-05T15:00:00Z is 20:30 in Kolkata; the next local hour is 21:00 = 15:30Z.
        let t = 1_767_625_200;
        assert_eq!(next_local_hour(&z, kol, t), t + 1_800);
        assert_eq!(next_local_hour(&z, kol, t + 1_800), t + 1_800);
        // Next local midnight: 18:30Z the same UTC day.
        assert_eq!(next_local_day_start(&z, kol, t), t + 3 * 3_600 + 1_800);
    }
}
