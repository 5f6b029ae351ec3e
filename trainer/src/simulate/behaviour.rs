//! The hidden response model: weekly availability patterns, the true state of a contact point
//! day by day (its lifecycle), channel affinity, fatigue, the exact engagement probability of an
//! attempt, and outcome sampling consistent with it.

use contactscore_models::localtime::DAY;
use contactscore_models::{Channel, Outcome};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A person's hidden weekly availability pattern, evaluated in their real local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// Answers on weekdays at lunch (12–14) and after work (18–21), weekends in the daytime.
    Office,
    /// At home: weekday daytime 9–17.
    AtHome,
    /// Evenings 19–22, every day.
    Evening,
    /// Shift worker alternating day and night weeks; `nights_on_odd_weeks` sets the phase.
    Shift {
        /// Whether odd weeks (counted from 1970-01-05) are night-shift weeks.
        nights_on_odd_weeks: bool,
    },
    /// Mostly reachable on weekends.
    Weekend,
}

/// Local calendar position of an instant for one person.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalTime {
    /// Monday = 0 … Sunday = 6.
    pub weekday: u8,
    /// 0..=23.
    pub hour: u8,
    /// Weeks since Monday 1970-01-05 (local).
    pub week: i64,
}

impl LocalTime {
    /// The local position of unix second `ts` at UTC offset `offset_seconds`.
    pub(crate) fn new(ts: i64, offset_seconds: i32) -> LocalTime {
        let local = ts + i64::from(offset_seconds);
        let days = local.div_euclid(DAY);
        // 1970-01-01 was a Thursday (weekday 3 when Monday = 0).
        let weekday = u8::try_from((days + 3).rem_euclid(7)).unwrap_or(0);
        let hour = u8::try_from(local.rem_euclid(DAY) / 3600).unwrap_or(0);
        LocalTime {
            weekday,
            hour,
            week: (days + 3).div_euclid(7),
        }
    }
}

impl Pattern {
    /// The pattern's name, with the shift worker's phase (`simulate`'s `reveal_traits`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Pattern::Office => "office",
            Pattern::AtHome => "at_home",
            Pattern::Evening => "evening",
            Pattern::Shift {
                nights_on_odd_weeks: true,
            } => "shift_odd_nights",
            Pattern::Shift {
                nights_on_odd_weeks: false,
            } => "shift_even_nights",
            Pattern::Weekend => "weekend",
        }
    }

    /// Probability the person is available to pick up at local `hour` on `weekday`.
    pub(crate) fn availability(self, weekday: u8, hour: u8, week: i64) -> f64 {
        if !(7..23).contains(&hour) {
            return 0.02;
        }
        let weekend = weekday >= 5;
        let awake = (8..=21).contains(&hour);
        let base = if awake { 0.10 } else { 0.04 };
        match self {
            Pattern::Office => match (weekend, hour) {
                (false, 12 | 13) | (false, 18..=20) => 0.85,
                (true, 10..=18) => 0.6,
                (false | true, _) => base * 0.8,
            },
            Pattern::AtHome => match (weekend, hour) {
                (false, 9..=16) => 0.8,
                (true, 10..=18) => 0.35,
                (false | true, _) => base * 2.0,
            },
            Pattern::Evening => match hour {
                19..=21 => 0.85,
                18 | 22 => 0.35,
                _ => base * 0.6,
            },
            Pattern::Shift {
                nights_on_odd_weeks,
            } => {
                let nights = (week.rem_euclid(2) == 1) == nights_on_odd_weeks;
                match (nights, hour) {
                    (true, 10..=15) | (false, 16..=21) => 0.8,
                    (true | false, _) => base * 0.8,
                }
            }
            Pattern::Weekend => match (weekend, hour) {
                (true, 9..=20) => 0.85,
                (false, 19..=21) => 0.2,
                (false | true, _) => base * 0.5,
            },
        }
    }
}

/// A contact point's state on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineState {
    /// Works and belongs to the person.
    Alive,
    /// Disconnected, undeliverable or bounced.
    Dead,
    /// Works but now belongs to someone else.
    Reassigned,
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

/// Everything the engagement probability of one attempt depends on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptContext {
    /// The channel used.
    pub channel: Channel,
    /// Whether the phone is a landline (voice only, shared with the household).
    pub landline: bool,
    /// The contact point's state at the attempt.
    pub state: LineState,
    /// How much the person uses this contact point (primary ≈ 1, secondary ≈ 0.4, rare ≈ 0.1).
    pub usage: f64,
    /// Availability in the person's real local time.
    pub availability: f64,
    /// The person's overall responsiveness (0..1).
    pub responsiveness: f64,
    /// The person's affinity for this channel (0..~1.2).
    pub affinity: f64,
    /// Attempts to this person in the 7 days before this one.
    pub recent_attempts: usize,
    /// Whether the person engaged in the 24 hours before this attempt.
    pub engaged_last_day: bool,
    /// Whether the person has opted out of any contact point (they are annoyed).
    pub opted_out_before: bool,
    /// Campaign difficulty multiplier.
    pub campaign_factor: f64,
}

/// Overall level of engagement: scales every live contact's probability so the naive dialer's log
/// lands at a realistic engaged rate (about 12%).
const LEVEL: f64 = 2.4;

/// Per-attempt fatigue factor for `recent` attempts in the last 7 days.
fn fatigue(ctx: &AttemptContext) -> f64 {
    let mut f = 0.85f64.powi(i32::try_from(ctx.recent_attempts.min(60)).unwrap_or(60));
    if ctx.engaged_last_day {
        f *= 0.3;
    }
    if ctx.opted_out_before {
        f *= 0.6;
    }
    f
}

/// The exact probability, under the generator, that the attempt's outcome is engaged.
pub(crate) fn p_engaged(ctx: &AttemptContext) -> f64 {
    let person = LEVEL * ctx.responsiveness * ctx.affinity * fatigue(ctx) * ctx.campaign_factor;
    let p = match (ctx.state, ctx.channel) {
        (LineState::Dead | LineState::Reassigned, _) => 0.0,
        (LineState::Alive, Channel::Voice) => {
            // A landline is answered by whoever is home; the person only sometimes.
            let usage = if ctx.landline {
                0.5 * ctx.usage
            } else {
                ctx.usage
            };
            ctx.availability * usage * person
        }
        (LineState::Alive, Channel::Sms | Channel::Whatsapp | Channel::Rcs) => {
            // Messages wait on the phone: replies depend less on the hour than calls.
            0.8 * (0.25 + 0.75 * ctx.availability) * ctx.usage * person
        }
        // Email is read at any hour, but replies are rarer.
        (LineState::Alive, Channel::Email) => 0.45 * person,
    };
    p.clamp(0.0, 0.95)
}

/// Sample an outcome whose probability of being engaged is exactly `p` (from [`p_engaged`]),
/// plus a call duration for connected voice calls.
pub(crate) fn sample_outcome(
    rng: &mut ChaCha8Rng,
    ctx: &AttemptContext,
    p: f64,
) -> (Outcome, Option<u32>) {
    let u: f64 = rng.random();
    let engaged = u < p;
    let outcome = match (ctx.state, ctx.channel) {
        (LineState::Dead, _) => Outcome::Invalid,
        (LineState::Reassigned, Channel::Voice) => {
            let v: f64 = rng.random();
            if v < 0.25 + 0.4 * ctx.availability.max(0.3) {
                Outcome::WrongParty
            } else if v < 0.85 {
                Outcome::NoAnswer
            } else {
                Outcome::Voicemail
            }
        }
        (
            LineState::Reassigned,
            Channel::Sms | Channel::Whatsapp | Channel::Rcs | Channel::Email,
        ) => {
            if ctx.channel == Channel::Whatsapp && rng.random_bool(0.4) {
                Outcome::Read
            } else {
                Outcome::Delivered
            }
        }
        (LineState::Alive, Channel::Voice) if engaged => {
            if rng.random_bool(0.2) {
                Outcome::Converted
            } else {
                Outcome::RightParty
            }
        }
        (LineState::Alive, Channel::Voice) => {
            let third = if ctx.landline { 0.15 } else { 0.05 };
            let v: f64 = rng.random();
            if v < third {
                Outcome::ThirdParty
            } else if v < third + 0.25 {
                Outcome::Voicemail
            } else if v < third + 0.35 {
                Outcome::Busy
            } else {
                Outcome::NoAnswer
            }
        }
        (LineState::Alive, Channel::Sms | Channel::Whatsapp | Channel::Rcs | Channel::Email)
            if engaged =>
        {
            if rng.random_bool(0.15) {
                Outcome::Converted
            } else {
                Outcome::Replied
            }
        }
        (LineState::Alive, Channel::Sms | Channel::Whatsapp | Channel::Rcs | Channel::Email) => {
            let opt_out = (0.012 * (1.0 + 0.3 * ctx.recent_attempts as f64)).min(0.15);
            let read = match ctx.channel {
                Channel::Whatsapp | Channel::Rcs => 0.55,
                Channel::Email => 0.3,
                Channel::Sms | Channel::Voice => 0.0,
            };
            let v: f64 = rng.random();
            if v < opt_out {
                Outcome::OptOut
            } else if v < opt_out + read {
                Outcome::Read
            } else {
                Outcome::Delivered
            }
        }
    };
    (outcome, duration(rng, outcome, ctx.channel))
}

/// Call length in seconds for connected calls; `None` for messages and unanswered calls.
fn duration(rng: &mut ChaCha8Rng, outcome: Outcome, channel: Channel) -> Option<u32> {
    if channel != Channel::Voice {
        return None;
    }
    let (lo, hi) = match outcome {
        Outcome::RightParty => (25, 420),
        Outcome::Converted => (120, 900),
        Outcome::ThirdParty => (10, 90),
        Outcome::WrongParty => (5, 40),
        Outcome::Voicemail => (8, 35),
        Outcome::OptOut => (5, 30),
        Outcome::NoAnswer
        | Outcome::Busy
        | Outcome::Invalid
        | Outcome::Delivered
        | Outcome::Read
        | Outcome::Replied => return None,
    };
    // Skewed towards short calls.
    let u: f64 = rng.random();
    Some(lo + ((hi - lo) as f64 * u * u) as u32)
}
