//! Synthetic attempt logs with ground truth: the public entry point of `contactscore-trainer
//! simulate`, which generates a population, runs a naive dialer over it day by day and streams
//! `persons.csv`, `contacts.csv`, `attempts.csv`, `validations.csv` and `truth.csv` to disk.
//!
//! Every person has a hidden weekly availability pattern (evaluated in their real time zone),
//! channel affinities, contact points with usage weights and lifecycles (dead, dying, reassigned,
//! appearing later), fatigue and opt-outs. `truth.csv` gives, per attempt, the exact probability
//! under the generator that the outcome is engaged, so model quality can be measured against it.
//! Output is a pure function of [`SimulateParams`]: each person draws from their own random
//! stream derived from the seed and their index.
//!
//! Like a real export it is a little dirty: about 4 % of phone numbers lie in ranges
//! libphonenumber's metadata does not list (30 % of them reach the person, the rest are dead),
//! carrier lookups of numbers appear in the contacts file (before the history) and in
//! `validations.csv` (during it), and a few attempt rows are malformed (unreadable contacts,
//! unknown channels or outcome codes, empty person ids): rows ingest rejects as bad, which
//! [`SimulateSummary::bad_rows`] counts so that `demo` and `backtest` allow exactly that many.
//! A few rows have implausible times (before 1990, decades ahead:
//! [`SimulateParams::implausible_per_10k`]), which ingest rejects as `implausible_time` bad rows;
//! they count in [`SimulateSummary::bad_rows`] too.

pub(crate) mod arena;
mod behaviour;
mod contacts;
mod dialer;
mod lookups;
mod numbers;
mod params;
mod world;
mod writer;

#[cfg(test)]
mod dirty_tests;
#[cfg(test)]
mod tests;

use std::path::Path;

use jiff::Timestamp;

use crate::Result;

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulateParams {
    /// Number of persons.
    pub persons: u32,
    /// Number of days the dialer runs.
    pub days: u32,
    /// Random seed: the same parameters and seed give byte-identical files.
    pub seed: u64,
    /// Start of the run. Day 0 is the UTC calendar date of `start`; the dialer works 08:00–20:59
    /// on each day in its own zone, America/Sao_Paulo.
    pub start: Timestamp,
    /// Malformed attempt rows written per 10 000 attempts (on average; default 10).
    pub malformed_per_10k: u32,
    /// Attempt rows with implausible times written per 10 000 attempts (on average; default 2).
    pub implausible_per_10k: u32,
    /// Diagnostic: write each person's hidden traits into `persons.csv` in place of the
    /// observable attributes — the weekly pattern as `segment`, the responsiveness as `age` and
    /// the voice affinity as `balance` — so a model trained on the files can learn them. It
    /// measures the ceiling that a perfect inference of those traits would reach (MODELS.md,
    /// "Under capacity"); never use it for anything else. The attempts are unchanged.
    pub reveal_traits: bool,
}

impl Default for SimulateParams {
    fn default() -> Self {
        SimulateParams {
            persons: 20_000,
            days: 90,
            seed: 42,
            // 2026-01-05T00:00:00Z, a Monday.
            start: Timestamp::from_second(1_767_571_200).unwrap_or(Timestamp::UNIX_EPOCH),
            malformed_per_10k: 10,
            implausible_per_10k: 2,
            reveal_traits: false,
        }
    }
}

/// Counts of what [`simulate`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimulateSummary {
    /// Rows in `persons.csv`.
    pub persons: u64,
    /// Rows in `contacts.csv`.
    pub contacts: u64,
    /// Unique attempts (rows in `truth.csv`); `attempts.csv` has `attempts + duplicate_rows` rows.
    pub attempts: u64,
    /// Extra rows in `attempts.csv` that repeat an earlier attempt exactly.
    pub duplicate_rows: u64,
    /// Unique attempts whose outcome is engaged (`right_party`, `replied` or `converted`).
    pub engaged: u64,
    /// Rows of `contacts.csv` whose number lies outside the metadata's ranges.
    pub unlisted_contacts: u64,
    /// Rows of `contacts.csv` with a carrier lookup.
    pub validated_contacts: u64,
    /// Rows in `validations.csv`.
    pub validations: u64,
    /// Malformed rows in `attempts.csv` (not attempts: ingest rejects them).
    pub malformed_rows: u64,
    /// Rows in `attempts.csv` with an implausible time (not attempts).
    pub implausible_rows: u64,
}

impl SimulateSummary {
    /// Rows of `attempts.csv` that are not attempts: the malformed ones, and those with an
    /// implausible time. `demo` and `backtest` allow exactly this many bad rows.
    pub fn bad_rows(&self) -> u64 {
        self.malformed_rows + self.implausible_rows
    }
}

/// Generates a synthetic data set into `out_dir` (created if needed): `persons.csv`,
/// `contacts.csv`, `attempts.csv`, `validations.csv` and `truth.csv`. Attempts are streamed day by day, so memory
/// grows with the number of persons, not the number of attempts.
pub fn simulate(params: &SimulateParams, out_dir: &Path) -> Result<SimulateSummary> {
    writer::run(params, out_dir)
}
