//! What `replay --shard I --of P` leaves for `fit`, one directory per shard
//! (`shard-IIIII-of-PPPPP/`):
//!
//! - `rows.bin`: the shard's sampled rows in time order (ties in input order): `CSROWS01`, the
//!   row width (u32), the row count (u64), then per row its instant (i64), input position
//!   (u64), slice (u8), label (u8) and features (f32 each), all little-endian;
//! - `state.bin`: the shard's end-of-history state as a state part
//!   ([`contactscore_models::artifact::state_parts`]), each person keyed by its input position;
//! - `evidence.bin`: the rule evidence among the shard's attempts;
//! - `report.json`: what the shard's ingest read and skipped;
//! - `done.json` ([`ShardDone`]), written last: a shard without it did not finish.
//!
//! These are intermediate files (the version `fit` publishes is written through the registry);
//! they hold contact points in the state part, so the directory is created private (`0700`).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use contactscore_models::artifact::RuleEvidence;
use contactscore_models::artifact::state_parts::{decode_part, encode_part};
use contactscore_models::durable;
use contactscore_models::features::FeatureState;
use serde::{Deserialize, Serialize};

use crate::ingest::IngestReport;
use crate::{Result, TrainerError};

const ROWS_MAGIC: &[u8; 8] = b"CSROWS01";
const ROWS: &str = "rows.bin";
const STATE: &str = "state.bin";
const EVIDENCE: &str = "evidence.bin";
const REPORT: &str = "report.json";
const DONE: &str = "done.json";

/// The directory of shard `index` of `of` under `root`.
pub fn shard_dir(root: &Path, index: u32, of: u32) -> PathBuf {
    root.join(format!("shard-{index:05}-of-{of:05}"))
}

/// A finished shard's summary (`done.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardDone {
    /// This shard.
    pub shard: u32,
    /// Of how many.
    pub of: u32,
    /// The split plan's settings fingerprint it was replayed with.
    pub settings: String,
    /// The split plan's window it was replayed with.
    pub window: crate::slices::Window,
    /// Attempts the shard replayed.
    pub attempts: u64,
    /// Its rows per slice.
    pub rows: [u64; 3],
    /// Its persons.
    pub persons: u64,
    /// The feature row width.
    pub width: u32,
}

/// The report with its examples' positions (which the manifest's form leaves out).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReportFile {
    report: IngestReport,
    example_positions: Vec<u64>,
}

impl ReportFile {
    /// `report` with its examples' positions.
    pub(crate) fn new(report: &IngestReport) -> Self {
        Self {
            report: report.clone(),
            example_positions: report.example_positions.clone(),
        }
    }

    /// The report, its examples' positions back in it.
    pub(crate) fn into_report(self) -> IngestReport {
        let mut report = self.report;
        report.example_positions = self.example_positions;
        report
    }
}

/// A row's key: instant, input position, slice, label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RowKey {
    pub t: i64,
    pub pos: u64,
    pub slice: u8,
    pub label: bool,
}

const KEY_BYTES: usize = 8 + 8 + 1 + 1;

/// Write a shard's outputs into `dir` (created private; must not hold a finished shard).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_shard(
    dir: &Path,
    done: &ShardDone,
    keys: &[RowKey],
    features: &[f32],
    person_keys: &[u64],
    state: &FeatureState,
    evidence: &RuleEvidence,
    report: &IngestReport,
) -> Result<()> {
    if dir.join(DONE).exists() {
        return Err(TrainerError::Config(format!(
            "{} already holds a finished shard; give an empty --out",
            dir.display()
        )));
    }
    durable::create_private_dir(dir).map_err(|e| TrainerError::io(dir, e))?;
    let rows_path = dir.join(ROWS);
    let file = File::create(&rows_path).map_err(|e| TrainerError::io(&rows_path, e))?;
    let mut w = BufWriter::new(file);
    let io = |e| TrainerError::io(&rows_path, e);
    w.write_all(ROWS_MAGIC).map_err(io)?;
    w.write_all(&done.width.to_le_bytes()).map_err(io)?;
    w.write_all(&(keys.len() as u64).to_le_bytes())
        .map_err(io)?;
    let width = done.width as usize;
    for (k, f) in keys.iter().zip(features.chunks_exact(width.max(1))) {
        w.write_all(&k.t.to_le_bytes()).map_err(io)?;
        w.write_all(&k.pos.to_le_bytes()).map_err(io)?;
        w.write_all(&[k.slice, u8::from(k.label)]).map_err(io)?;
        for v in f {
            w.write_all(&v.to_le_bytes()).map_err(io)?;
        }
    }
    w.flush().map_err(io)?;
    let part = encode_part(person_keys, state)?;
    write(&dir.join(STATE), &part)?;
    write(&dir.join(EVIDENCE), &evidence.to_bytes())?;
    write(&dir.join(REPORT), &json(&ReportFile::new(report))?)?;
    write(&dir.join(DONE), &json(done)?)
}

pub(super) fn json(value: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|e| TrainerError::Internal(format!("json: {e}")))
}

pub(super) fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    durable::replace(path, bytes).map_err(|e| TrainerError::io(path, e))
}

pub(super) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|e| TrainerError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| TrainerError::BadFile {
        file: path.to_owned(),
        reason: format!("unreadable shard output: {e}"),
    })
}

/// A finished shard's summary; an error naming the shard when it did not finish.
pub(crate) fn read_done(dir: &Path) -> Result<ShardDone> {
    if !dir.join(DONE).exists() {
        return Err(TrainerError::Config(format!(
            "{}: no finished shard here (its replay did not run or did not finish)",
            dir.display()
        )));
    }
    read_json(&dir.join(DONE))
}

/// A shard's report (with its examples' positions).
pub(crate) fn read_report(dir: &Path) -> Result<IngestReport> {
    let f: ReportFile = read_json(&dir.join(REPORT))?;
    Ok(f.into_report())
}

/// A shard's rule evidence.
pub(crate) fn read_evidence(dir: &Path) -> Result<RuleEvidence> {
    let path = dir.join(EVIDENCE);
    let bytes = std::fs::read(&path).map_err(|e| TrainerError::io(&path, e))?;
    Ok(RuleEvidence::from_bytes(&bytes, &path)?)
}

/// A shard's state part as encoded on disk (a version can keep it as is).
pub(crate) fn read_state_bytes(dir: &Path) -> Result<Vec<u8>> {
    let path = dir.join(STATE);
    std::fs::read(&path).map_err(|e| TrainerError::io(&path, e))
}

/// A shard's state part: its persons' sort keys and state.
pub(crate) fn read_state(dir: &Path) -> Result<(Vec<u64>, FeatureState)> {
    let path = dir.join(STATE);
    let bytes = std::fs::read(&path).map_err(|e| TrainerError::io(&path, e))?;
    Ok(decode_part(&bytes, &path)?)
}

/// Reads a shard's rows one at a time, in their (time) order.
pub(crate) struct RowReader {
    path: PathBuf,
    r: BufReader<File>,
    width: usize,
    left: u64,
    buf: Vec<u8>,
}

impl RowReader {
    /// Open `dir`'s rows, checking their width is `width`.
    pub(crate) fn open(dir: &Path, width: usize) -> Result<Self> {
        let path = dir.join(ROWS);
        let file = File::open(&path).map_err(|e| TrainerError::io(&path, e))?;
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut head = [0u8; 20];
        r.read_exact(&mut head)
            .map_err(|e| TrainerError::io(&path, e))?;
        let w = u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize;
        if &head[..8] != ROWS_MAGIC || w != width {
            return Err(TrainerError::BadFile {
                file: path,
                reason: format!("not a shard's rows of width {width}"),
            });
        }
        let mut n = [0u8; 8];
        n.copy_from_slice(&head[12..20]);
        Ok(Self {
            path,
            r,
            width,
            left: u64::from_le_bytes(n),
            buf: vec![0; KEY_BYTES + 4 * width],
        })
    }

    /// The next row's key, its features left in `features`; `None` at the end.
    pub(crate) fn next(&mut self, features: &mut Vec<f32>) -> Result<Option<RowKey>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        self.r
            .read_exact(&mut self.buf)
            .map_err(|e| TrainerError::io(&self.path, e))?;
        let b = &self.buf;
        let word = |at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            x
        };
        let key = RowKey {
            t: i64::from_le_bytes(word(0)),
            pos: u64::from_le_bytes(word(8)),
            slice: b[16],
            label: b[17] != 0,
        };
        features.clear();
        features.extend(
            b[KEY_BYTES..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
        debug_assert_eq!(features.len(), self.width);
        Ok(Some(key))
    }
}
