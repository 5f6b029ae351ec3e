//! Shared helpers for the end-to-end tests in `tests/tests/`: simulated data on disk, splitting an
//! attempt log by time, and reading the simulator's ground truth.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
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
    simulate(&params, dir.path())?;
    let p = |f: &str| dir.path().join(f);
    Ok(SimData {
        attempts: p("attempts.csv"),
        contacts: p("contacts.csv"),
        persons: p("persons.csv"),
        truth: p("truth.csv"),
        dir,
    })
}

/// Split an attempts CSV at `cutoff` (unix seconds): rows before go to `before`, the rest to
/// `after`. Returns the row counts.
pub fn split_by_time(src: &Path, cutoff: i64, before: &Path, after: &Path) -> Result<(u64, u64)> {
    let mut r = csv::Reader::from_path(src).with_context(|| src.display().to_string())?;
    let headers = r.headers()?.clone();
    let col = headers
        .iter()
        .position(|h| h == "attempted_at")
        .context("no attempted_at column")?;
    let mut wb = csv::Writer::from_path(before)?;
    let mut wa = csv::Writer::from_path(after)?;
    wb.write_record(&headers)?;
    wa.write_record(&headers)?;
    let (mut nb, mut na) = (0, 0);
    for rec in r.records() {
        let rec = rec?;
        let t: jiff::Timestamp = rec[col].parse().with_context(|| rec[col].to_owned())?;
        if t.as_second() < cutoff {
            wb.write_record(&rec)?;
            nb += 1;
        } else {
            wa.write_record(&rec)?;
            na += 1;
        }
    }
    wb.flush()?;
    wa.flush()?;
    Ok((nb, na))
}

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
