//! A plan's validated inputs: the window of hourly UTC slots, the capacity of each slot (shared
//! by every channel or per channel) turned into the resources the assignment fills, and the
//! number of attempts per person. Each is checked when built, and the error names the field
//! (`capacity[3].slot_start`), so a value of these types is always usable.

use crate::policy::HOUR;
use crate::{Channel, Error, Result};

/// Most hourly slots a window may hold (31 days).
pub const MAX_WINDOW_SLOTS: u32 = 744;
/// Most attempts per person a plan may ask for.
pub const MAX_ATTEMPTS_PER_PERSON: u32 = 8;

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidPlan {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The slots of a plan: whole UTC hours `[s, s + 1 h)` with `window_start ≤ s` and
/// `s + 1 h ≤ window_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanWindow {
    first: i64,
    slots: u32,
}

impl PlanWindow {
    /// The window `[start, end)` (unix seconds). Fails when no whole UTC hour fits in it or it
    /// holds more than [`MAX_WINDOW_SLOTS`].
    pub fn new(start: i64, end: i64) -> Result<Self> {
        if end <= start {
            return Err(invalid("window_end", "must be after window_start"));
        }
        let first = start + (HOUR - start.rem_euclid(HOUR)) % HOUR;
        let slots = (end - first).div_euclid(HOUR);
        if slots <= 0 {
            return Err(invalid(
                "window_end",
                "the window holds no whole UTC hour (slots are hourly, on the hour)",
            ));
        }
        if slots > i64::from(MAX_WINDOW_SLOTS) {
            return Err(invalid(
                "window_end",
                format!("the window holds {slots} hourly slots, more than {MAX_WINDOW_SLOTS}"),
            ));
        }
        Ok(Self {
            first,
            slots: slots as u32,
        })
    }

    /// Number of slots.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// Start of slot `k`.
    pub fn start(&self, k: u32) -> i64 {
        self.first + i64::from(k) * HOUR
    }

    /// Every slot start, in order.
    pub fn starts(&self) -> Vec<i64> {
        (0..self.slots).map(|k| self.start(k)).collect()
    }

    /// The slot starting at `t`, if `t` is one.
    pub fn index(&self, t: i64) -> Option<u32> {
        let d = t - self.first;
        (d >= 0 && d % HOUR == 0 && d / HOUR < i64::from(self.slots)).then_some((d / HOUR) as u32)
    }
}

/// One capacity line: attempts the operation can make in the slot starting at `slot_start`,
/// on `channel` or (`None`) on any channel without a line of its own for that slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityEntry {
    /// Start of the slot (on a whole UTC hour inside the window).
    pub slot_start: i64,
    /// The channel, or `None` for the slot's shared capacity.
    pub channel: Option<Channel>,
    /// Attempts.
    pub attempts: u32,
}

/// Where each (slot, channel) takes its capacity from. An attempt on channel `c` in slot `k`
/// uses the entry for `(k, c)` if there is one, else the slot's shared entry; a slot with
/// neither has no capacity for `c`. No entries at all means unlimited capacity everywhere.
/// Each entry is one *resource* of the assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    /// Per resource: slot, channel (or shared) and attempts (`u32::MAX` = unlimited).
    resources: Vec<(u32, Option<Channel>, u32)>,
    /// `lookup[k * 6 + 0]` = slot `k`'s shared resource, `lookup[k * 6 + 1 + c]` = channel
    /// `c`'s; `u32::MAX` = none.
    lookup: Vec<u32>,
}

const NONE: u32 = u32::MAX;
const COLS: usize = 1 + Channel::ALL.len();

impl Capacity {
    /// Unlimited capacity on every slot of `window`.
    pub fn unlimited(window: &PlanWindow) -> Self {
        let mut c = Self::empty(window);
        for k in 0..window.slots() {
            c.add(k, None, u32::MAX);
        }
        c
    }

    /// Capacity from `entries` (none = unlimited). An entry must start on a whole UTC hour
    /// inside the window, and each (slot, channel) may appear once.
    pub fn new(window: &PlanWindow, entries: &[CapacityEntry]) -> Result<Self> {
        if entries.is_empty() {
            return Ok(Self::unlimited(window));
        }
        let mut c = Self::empty(window);
        for (i, e) in entries.iter().enumerate() {
            let k = window.index(e.slot_start).ok_or_else(|| {
                invalid(
                    format!("capacity[{i}].slot_start"),
                    if e.slot_start.rem_euclid(HOUR) != 0 {
                        "not on a whole UTC hour".to_owned()
                    } else {
                        "outside the window's slots".to_owned()
                    },
                )
            })?;
            if c.lookup[col(k, e.channel)] != NONE {
                let first = entries
                    .iter()
                    .position(|o| o.slot_start == e.slot_start && o.channel == e.channel)
                    .unwrap_or(i);
                return Err(invalid(
                    format!("capacity[{i}]"),
                    format!("the same slot and channel as capacity[{first}]"),
                ));
            }
            c.add(k, e.channel, e.attempts);
        }
        Ok(c)
    }

    fn empty(window: &PlanWindow) -> Self {
        Self {
            resources: Vec::new(),
            lookup: vec![NONE; window.slots() as usize * COLS],
        }
    }

    fn add(&mut self, k: u32, channel: Option<Channel>, attempts: u32) {
        let r = self.resources.len() as u32;
        self.lookup[col(k, channel)] = r;
        self.resources.push((k, channel, attempts));
    }

    /// The resource an attempt on `channel` in slot `k` uses, if the slot has capacity for it.
    pub fn resource(&self, k: u32, channel: Channel) -> Option<u32> {
        let own = self.lookup.get(col(k, Some(channel))).copied();
        let shared = self.lookup.get(col(k, None)).copied();
        [own, shared].into_iter().flatten().find(|&r| r != NONE)
    }

    /// Number of resources.
    pub fn resources(&self) -> usize {
        self.resources.len()
    }

    /// Attempts of every resource (`u32::MAX` = unlimited).
    pub fn attempts(&self) -> Vec<u32> {
        self.resources.iter().map(|r| r.2).collect()
    }

    /// Slot and channel (`None` = shared) of resource `r`.
    pub fn describe(&self, r: u32) -> Option<(u32, Option<Channel>)> {
        self.resources.get(r as usize).map(|&(k, c, _)| (k, c))
    }
}

fn col(k: u32, channel: Option<Channel>) -> usize {
    k as usize * COLS + channel.map_or(0, |c| 1 + c.index())
}

/// Attempts per person, `1..=MAX_ATTEMPTS_PER_PERSON`; a later attempt is planned only for
/// the case that the earlier ones did not engage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptsPerPerson(u32);

impl AttemptsPerPerson {
    /// Validate `n` (0 means the default, 1).
    pub fn new(n: u32) -> Result<Self> {
        match n {
            0 => Ok(Self(1)),
            n if n <= MAX_ATTEMPTS_PER_PERSON => Ok(Self(n)),
            n => Err(invalid(
                "attempts_per_person",
                format!("{n} is over the maximum of {MAX_ATTEMPTS_PER_PERSON}"),
            )),
        }
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}
