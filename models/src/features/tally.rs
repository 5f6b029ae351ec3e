//! Exponentially decayed outcome counts: how many attempts, reaches and engagements an entity had,
//! weighted by recency at several half-lives at once.
//!
//! Counts are stored as of their last update and decayed lazily when read or updated, so updating
//! and reading are O(1) and the state holds no history.

use serde::{Deserialize, Serialize};

use crate::Outcome;
use crate::localtime::DAY;

/// Half-lives of the decayed counts, in days: recent behaviour, the last month, the long run.
pub const HALF_LIVES_DAYS: [f32; 3] = [3.0, 30.0, 180.0];

/// Number of half-lives.
pub const H: usize = HALF_LIVES_DAYS.len();

/// Decay factors for an elapsed time, one per half-life.
#[inline]
pub fn decay_factors(elapsed_seconds: i64) -> [f32; H] {
    let days = (elapsed_seconds.max(0) as f32) / DAY as f32;
    HALF_LIVES_DAYS.map(|hl| (-days / hl).exp2())
}

/// Decayed counts at several half-lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// When the counts were last brought up to date (unix seconds).
    pub at: i64,
    /// Decayed number of attempts.
    pub attempts: [f32; H],
    /// Decayed number of reached outcomes.
    pub reached: [f32; H],
    /// Decayed number of engaged outcomes.
    pub engaged: [f32; H],
}

/// The counts of a [`Tally`] as seen at some instant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TallyView {
    /// Decayed attempts per half-life.
    pub attempts: [f32; H],
    /// Decayed reached outcomes per half-life.
    pub reached: [f32; H],
    /// Decayed engaged outcomes per half-life.
    pub engaged: [f32; H],
}

impl Tally {
    /// The counts decayed to instant `t`. An instant before the last update (out-of-order input)
    /// sees the counts undecayed rather than inflated.
    #[inline]
    pub fn view(&self, t: i64) -> TallyView {
        let f = decay_factors(t.saturating_sub(self.at));
        TallyView {
            attempts: mul(self.attempts, f),
            reached: mul(self.reached, f),
            engaged: mul(self.engaged, f),
        }
    }

    /// Count one attempt with `outcome` at instant `t`.
    #[inline]
    pub fn add(&mut self, t: i64, outcome: Outcome) {
        let v = self.view(t);
        self.attempts = v.attempts.map(|x| x + 1.0);
        self.reached = add_if(v.reached, outcome.is_reached());
        self.engaged = add_if(v.engaged, outcome.is_engaged());
        self.at = self.at.max(t);
    }
}

impl TallyView {
    /// Engaged rate at half-life `k`, smoothed toward `prior` with `strength` pseudo-attempts.
    #[inline]
    pub fn engaged_rate(&self, k: usize, prior: f32, strength: f32) -> f32 {
        (self.engaged[k] + prior * strength) / (self.attempts[k] + strength)
    }

    /// Reached rate at half-life `k`, smoothed toward `prior` with `strength` pseudo-attempts.
    #[inline]
    pub fn reached_rate(&self, k: usize, prior: f32, strength: f32) -> f32 {
        (self.reached[k] + prior * strength) / (self.attempts[k] + strength)
    }
}

#[inline]
fn mul(a: [f32; H], f: [f32; H]) -> [f32; H] {
    [a[0] * f[0], a[1] * f[1], a[2] * f[2]]
}

#[inline]
fn add_if(a: [f32; H], yes: bool) -> [f32; H] {
    if yes { a.map(|x| x + 1.0) } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_halve_after_one_half_life() {
        let mut t = Tally::default();
        t.add(0, Outcome::RightParty);
        let v = t.view(3 * DAY);
        assert!((v.attempts[0] - 0.5).abs() < 1e-5);
        assert!((v.engaged[0] - 0.5).abs() < 1e-5);
        assert!(v.attempts[2] > 0.98);
    }

    #[test]
    fn outcomes_fill_the_right_counts() {
        let mut t = Tally::default();
        t.add(10, Outcome::NoAnswer);
        t.add(10, Outcome::ThirdParty);
        t.add(10, Outcome::Converted);
        let v = t.view(10);
        assert_eq!(v.attempts, [3.0; H]);
        assert_eq!(v.reached, [2.0; H]);
        assert_eq!(v.engaged, [1.0; H]);
        assert!((v.engaged_rate(0, 0.1, 1.0) - 0.275).abs() < 1e-6);
    }

    #[test]
    fn late_events_do_not_inflate() {
        let mut t = Tally::default();
        t.add(1_000_000, Outcome::NoAnswer);
        t.add(0, Outcome::NoAnswer);
        assert_eq!(t.at, 1_000_000);
        assert!(t.view(1_000_000).attempts[2] <= 2.0);
    }
}
