//! Shared helpers for the end-to-end tests in `tests/tests/`: simulated data on disk, splitting an
//! attempt log by time, reading the simulator's ground truth, and running the real server.

pub mod python;
pub mod redis;
pub mod server;
pub mod tls;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use contactscore_trainer::simulate::{SimulateParams, simulate};

/// A simulated data set in a temporary directory.
pub struct SimData {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    /// attempts.csv
    pub attempts: PathBuf,
    /// contacts.csv
    pub contacts: PathBuf,
    /// persons.csv
    pub persons: PathBuf,
    /// validations.csv (carrier lookups during the history)
    pub validations: PathBuf,
    /// Rows of attempts.csv that are not attempts (malformed, or at implausible times): train
    /// with this many bad rows.
    pub bad_rows: u64,
    /// truth.csv
    pub truth: PathBuf,
}

/// Simulate `persons` × `days` with `seed`.
pub fn simulated(persons: u32, days: u32, seed: u64) -> Result<SimData> {
    let dir = tempfile::tempdir()?;
    let params = SimulateParams {
        persons,
        days,
        seed,
        ..SimulateParams::default()
    };
    let summary = simulate(&params, dir.path())?;
    let p = |f: &str| dir.path().join(f);
    Ok(SimData {
        attempts: p("attempts.csv"),
        contacts: p("contacts.csv"),
        persons: p("persons.csv"),
        validations: p("validations.csv"),
        bad_rows: summary.bad_rows(),
        truth: p("truth.csv"),
        dir,
    })
}

pub use contactscore_trainer::split::split_by_time;

/// The simulator's true engaged probability per attempt id.
pub fn truth(path: &Path) -> Result<HashMap<String, f64>> {
    let mut r = csv::Reader::from_path(path)?;
    let mut out = HashMap::new();
    for rec in r.records() {
        let rec = rec?;
        out.insert(rec[0].to_owned(), rec[1].parse()?);
    }
    Ok(out)
}
