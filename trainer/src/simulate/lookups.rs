//! Carrier (HLR) lookups of the simulated phone numbers: some numbers were looked up before the
//! history (the contacts file's validation columns) and some during it (`validations.csv`), and
//! the carrier answers from the line's true state that day, with a little noise.

use contactscore_models::localtime::DAY;
use contactscore_models::{LineType, ValidationStatus};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::behaviour::{Lifecycle, LineState};
use super::numbers::Phone;
use super::params::{WorldParams, pick};

/// Share of phone numbers looked up before the history starts.
const PRIOR_SHARE: f64 = 0.3;
/// Share of phone numbers looked up once during the history.
const IN_RUN_SHARE: f64 = 0.25;
/// Share of numbers ported to another carrier.
const PORTED_SHARE: f64 = 0.12;

/// One lookup as the carrier answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lookup {
    /// When (unix seconds).
    pub at: i64,
    /// What the carrier said.
    pub status: ValidationStatus,
    /// The line type it reported (`unknown` unless the line is in service).
    pub line_type: LineType,
    /// The carrier's name (empty unless in service).
    pub carrier: &'static str,
    /// Whether ported (reported only for a line in service).
    pub ported: Option<bool>,
}

/// The lookups of one number: before the history (at most one) and during it (at most one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Lookups {
    /// The latest lookup before day 0, written in the contacts file.
    pub prior: Option<Lookup>,
    /// Lookups during the run, written in `validations.csv`.
    pub during: Vec<Lookup>,
}

/// What the carrier knows about a number: its line type, carrier and whether it was ported.
struct Line {
    line_type: LineType,
    carrier: &'static str,
    ported: bool,
}

/// Draw the lookups of `phone`, known from `added_at`, with `lifecycle`.
pub(crate) fn lookups(
    rng: &mut ChaCha8Rng,
    wp: &WorldParams,
    phone: Phone,
    lifecycle: Lifecycle,
    added_at: i64,
) -> Lookups {
    let line_type = match phone {
        Phone::BrLandline { .. } => LineType::Landline,
        Phone::Us { .. } | Phone::UsUnlisted { .. } => match rng.random_range(0..10) {
            0 => LineType::Voip,
            1 => LineType::Landline,
            _ => LineType::Mobile,
        },
        Phone::BrMobile { .. } | Phone::BrUnlisted { .. } => LineType::Mobile,
    };
    let carriers: &[&'static str] = if phone.is_us() {
        &["Verizon", "AT&T", "T-Mobile"]
    } else {
        &["Vivo", "Claro", "TIM", "Oi"]
    };
    let line = Line {
        line_type,
        carrier: pick(rng, carriers),
        ported: rng.random_bool(PORTED_SHARE),
    };
    let mut out = Lookups::default();
    if added_at < wp.day0 && rng.random_bool(PRIOR_SHARE) {
        let at = rng.random_range(added_at..wp.day0);
        out.prior = Some(answer(rng, &line, lifecycle.state(0), at));
    }
    if rng.random_bool(IN_RUN_SHARE) {
        let first_day = u32::try_from((added_at - wp.day0).max(0) / DAY).unwrap_or(u32::MAX);
        if first_day < wp.days {
            let day = rng.random_range(first_day..wp.days);
            // During office hours in Brazil (09:00–19:00 São Paulo is 12:00–22:00 UTC).
            let at = wp.day0 + i64::from(day) * DAY + rng.random_range(9 * 3_600..19 * 3_600);
            out.during
                .push(answer(rng, &line, lifecycle.state(day), at.max(added_at)));
        }
    }
    out
}

/// The carrier's answer about `line` in `state`: mostly right, sometimes unsure, rarely wrong.
fn answer(rng: &mut ChaCha8Rng, line: &Line, state: LineState, at: i64) -> Lookup {
    let u: f64 = rng.random();
    let status = match state {
        // A line reassigned to someone else still works, as far as the carrier can tell.
        LineState::Alive | LineState::Reassigned if u < 0.93 => ValidationStatus::Active,
        LineState::Alive | LineState::Reassigned if u < 0.98 => ValidationStatus::Unknown,
        LineState::Alive | LineState::Reassigned => ValidationStatus::Inactive,
        LineState::Dead if u < 0.9 => ValidationStatus::Inactive,
        LineState::Dead => ValidationStatus::Unknown,
    };
    let active = status == ValidationStatus::Active;
    Lookup {
        at,
        status,
        line_type: if active {
            line.line_type
        } else {
            LineType::Unknown
        },
        carrier: if active { line.carrier } else { "" },
        ported: active.then_some(line.ported),
    }
}
