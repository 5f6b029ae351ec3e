//! The contact policy's configuration: presets, per-channel window overrides, caps and
//! suppression periods, with documented defaults, validated into a [`Policy`] whose errors name
//! the offending key (so a bad `policy.toml` is rejected at start-up, never at ranking time).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Policy;
use super::window::{DAY_SECS, HOUR, Week};
use crate::localtime::DAY;
use crate::{Channel, Error, Result};

/// Names of the built-in window presets.
pub const PRESETS: [&str; 3] = ["default", "us_tcpa", "br"];

/// The contact policy as configured (TOML/JSON friendly); [`PolicyConfig::validate`] turns it
/// into a checked [`Policy`].
///
/// Windows: the `preset` gives every non-email channel its local-time windows; email may be sent
/// at any time. An entry in `windows` replaces the windows of that channel (email included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Base windows for non-email channels, in the recipient's local time:
    /// - `default`: Monday–Friday 09:00–21:00, Saturday 10:00–16:00, Sunday closed.
    /// - `us_tcpa`: every day 08:00–21:00 (the TCPA / Reg F calling hours). State laws can be
    ///   stricter (hours, weekends, holidays); have counsel check before relying on it. The
    ///   preset only sets windows: Reg F's 7-calls-in-7-days presumption counts per debt and
    ///   telephone calls only, so lower `max_attempts_per_7_days` yourself if you rely on it.
    /// - `br`: Monday–Friday 09:00–21:00, Saturday 10:00–16:00, Sunday closed. This reflects
    ///   common Brazilian self-regulation (the Não Me Perturbe code of practice, Procon
    ///   guidance) rather than one statute; it must be checked by counsel.
    pub preset: String,
    /// Per-channel replacement windows (`voice`, `sms`, `whatsapp`, `rcs`, `email`).
    pub windows: BTreeMap<Channel, WeekWindows>,
    /// Most attempts per person per local calendar day (in the candidate contact's zone), over
    /// all contacts and channels, counting the suggested one.
    pub max_attempts_per_local_day: u32,
    /// Most attempts per person in any rolling 7 days, counting the suggested one.
    pub max_attempts_per_7_days: u32,
    /// No attempt (any contact or channel) within this many hours after an engaged outcome;
    /// 0 disables the cool-down.
    pub cooldown_after_engaged_hours: u32,
    /// A (contact, channel) is suppressed this many days after its last `invalid` outcome;
    /// 0 disables the suppression.
    pub invalid_suppression_days: u32,
    /// Block phone numbers that libphonenumber's metadata does not list as valid for their
    /// country (reason `invalid_number`). Off by default: such numbers are kept and ranked, and
    /// the model learns what they are worth from their outcomes.
    pub block_invalid_numbers: bool,
    /// Block a number on every phone channel while its latest carrier validation is `inactive`
    /// and later than its last engagement (reason `validated_inactive`), until a later
    /// engagement or an `active` validation.
    pub block_validated_inactive: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            preset: "default".into(),
            windows: BTreeMap::new(),
            max_attempts_per_local_day: 3,
            max_attempts_per_7_days: 10,
            cooldown_after_engaged_hours: 24,
            invalid_suppression_days: 30,
            block_invalid_numbers: false,
            block_validated_inactive: true,
        }
    }
}

/// Windows of one channel, per local weekday, each a list of `"HH:MM-HH:MM"` ranges (end
/// exclusive, `24:00` allowed as an end). A weekday left out (or empty) is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeekWindows {
    /// Monday.
    pub mon: Vec<String>,
    /// Tuesday.
    pub tue: Vec<String>,
    /// Wednesday.
    pub wed: Vec<String>,
    /// Thursday.
    pub thu: Vec<String>,
    /// Friday.
    pub fri: Vec<String>,
    /// Saturday.
    pub sat: Vec<String>,
    /// Sunday.
    pub sun: Vec<String>,
}

impl WeekWindows {
    /// The days in order with their keys.
    fn days(&self) -> [(&'static str, &[String]); 7] {
        [
            ("mon", &self.mon),
            ("tue", &self.tue),
            ("wed", &self.wed),
            ("thu", &self.thu),
            ("fri", &self.fri),
            ("sat", &self.sat),
            ("sun", &self.sun),
        ]
    }
}

impl PolicyConfig {
    /// The default configuration with windows from preset `name` (`default`, `us_tcpa`, `br`).
    pub fn preset(name: &str) -> Result<Self> {
        preset_week(name).ok_or_else(|| unknown_preset(name))?;
        Ok(Self {
            preset: name.into(),
            ..Self::default()
        })
    }

    /// Check every value; the error names the offending key.
    pub fn validate(self) -> Result<Policy> {
        let bad = |key: &str, why: &str| Error::InvalidConfig(format!("{key}: {why}"));
        let base = preset_week(&self.preset).ok_or_else(|| unknown_preset(&self.preset))?;
        if !(1..=1_000).contains(&self.max_attempts_per_local_day) {
            return Err(bad("max_attempts_per_local_day", "must be in 1..=1000"));
        }
        if !(1..=10_000).contains(&self.max_attempts_per_7_days) {
            return Err(bad("max_attempts_per_7_days", "must be in 1..=10000"));
        }
        if self.cooldown_after_engaged_hours > 24 * 366 {
            return Err(bad("cooldown_after_engaged_hours", "must be in 0..=8784"));
        }
        if self.invalid_suppression_days > 3_660 {
            return Err(bad("invalid_suppression_days", "must be in 0..=3660"));
        }
        let mut windows: [Week; 5] = std::array::from_fn(|i| {
            if Channel::ALL[i].is_email() {
                Week::always()
            } else {
                base.clone()
            }
        });
        for (channel, week) in &self.windows {
            windows[channel.index()] = parse_week(channel.as_str(), week)?;
        }
        Ok(Policy {
            windows,
            max_daily: self.max_attempts_per_local_day,
            max_weekly: self.max_attempts_per_7_days,
            cooldown: i64::from(self.cooldown_after_engaged_hours) * HOUR,
            invalid_for: i64::from(self.invalid_suppression_days) * DAY,
            block_invalid_numbers: self.block_invalid_numbers,
            block_validated_inactive: self.block_validated_inactive,
        })
    }
}

fn unknown_preset(name: &str) -> Error {
    Error::InvalidConfig(format!(
        "preset: unknown preset {} (expected one of {})",
        crate::quote(name),
        PRESETS.join(", ")
    ))
}

/// The non-email windows of a preset.
fn preset_week(name: &str) -> Option<Week> {
    let weekday = Some((9, 21));
    match name {
        "default" | "br" => Some(Week::hours([
            weekday,
            weekday,
            weekday,
            weekday,
            weekday,
            Some((10, 16)),
            None,
        ])),
        "us_tcpa" => Some(Week::hours([Some((8, 21)); 7])),
        _ => None,
    }
}

fn parse_week(channel: &str, week: &WeekWindows) -> Result<Week> {
    let mut days: [Vec<(u32, u32)>; 7] = Default::default();
    for (i, (day, ranges)) in week.days().into_iter().enumerate() {
        for (j, r) in ranges.iter().enumerate() {
            let parsed = parse_range(r).map_err(|why| {
                Error::InvalidConfig(format!(
                    "windows.{channel}.{day}[{j}]: {why} (got {})",
                    crate::quote(r)
                ))
            })?;
            days[i].push(parsed);
        }
    }
    Ok(Week::from_days(days))
}

/// Parse `"HH:MM-HH:MM"` into seconds of day, requiring `start < end <= 24:00`.
fn parse_range(s: &str) -> std::result::Result<(u32, u32), &'static str> {
    const FORM: &str = "expected \"HH:MM-HH:MM\" with start < end, within 00:00..=24:00";
    let (a, b) = s.trim().split_once('-').ok_or(FORM)?;
    let (a, b) = (parse_clock(a).ok_or(FORM)?, parse_clock(b).ok_or(FORM)?);
    if a >= b || a >= DAY_SECS {
        return Err(FORM);
    }
    Ok((a, b))
}

fn parse_clock(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 3_600 + m * 60)
}
