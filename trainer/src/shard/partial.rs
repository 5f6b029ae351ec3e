//! One shard's share of `split` (`split --shard I --of P --now T`): the shard's persons ingested
//! as every sharded step ingests them, and what the plan needs of them written to a directory
//! `split-IIIII-of-PPPPP/` that [`super::combine`] merges with the other shards'. Memory: one
//! shard's ingest. The directory holds:
//!
//! - `instants.bin`: the shard's attempt instants as sorted `(instant, count)` runs (`CSINST01`,
//!   the run count, then per run the instant as i64 and the count as u64): one run per distinct
//!   second, so its size is bounded by the time span (≤ 7.8M runs for 90 days) as well as by the
//!   attempts, and the merge counts the slices by streaming it once the window is known;
//! - `ids.bin`: a 128-bit xxh3 hash of each kept attempt id, sorted (`CSIDS001`, the count, then
//!   the hashes as u128): the merge finds ids reused across shards by a k-way merge of these;
//! - `done.json` ([`PartialDone`]), written last: the ingest report, the first and last instant,
//!   the attribute typing, the present and the fingerprints of the settings and the inputs. A
//!   directory without it did not finish.
//!
//! Nothing in it names a person or a contact point (the report's examples are masked), but it
//! is created private (`0700`) as every shard output is.

use std::path::{Path, PathBuf};

use contactscore_models::durable;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128;

use super::ShardFilter;
use super::output::{ReportFile, json, read_json, write};
use super::plan::{InputFingerprint, SplitOptions, input_fingerprints, settings_digest};
use super::records::{RecordReader, write_records};
use crate::config::Settings;
use crate::ingest::{AttrSpec, IngestOptions, IngestReport, InputPaths, ingest};
use crate::progress::Progress;
use crate::{Result, TrainerError};

/// The partial's format version.
pub const PARTIAL_FORMAT: u32 = 1;
const IDS: &str = "ids.bin";
const IDS_MAGIC: &[u8; 8] = b"CSIDS001";
const INSTANTS: &str = "instants.bin";
const INSTANTS_MAGIC: &[u8; 8] = b"CSINST01";
const DONE: &str = "done.json";

/// The directory of shard `index` of `of`'s split partial under `root`.
pub fn partial_dir(root: &Path, index: u32, of: u32) -> PathBuf {
    root.join(format!("split-{index:05}-of-{of:05}"))
}

/// A finished split partial's summary (`done.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartialDone {
    /// [`PARTIAL_FORMAT`].
    pub format: u32,
    /// This shard.
    pub shard: u32,
    /// Of how many.
    pub of: u32,
    /// The settings' fingerprint ([`settings_digest`]).
    pub settings: String,
    /// The present implausible instants were judged by.
    pub now: i64,
    /// The inputs read, in reading order, with their SHA-256.
    pub inputs: Vec<InputFingerprint>,
    /// The persons file's attribute typing over the whole file.
    pub attr_specs: Vec<AttrSpec>,
    /// The shard's attempts after de-duplication and bad rows.
    pub attempts: u64,
    /// The shard's first and last attempt instant (none without attempts).
    pub span: Option<(i64, i64)>,
    /// Runs in `instants.bin`.
    pub runs: u64,
    /// What the shard's ingest read and skipped.
    pub(crate) report: ReportFile,
}

impl PartialDone {
    /// The shard's ingest report.
    pub(crate) fn report(&self) -> IngestReport {
        self.report.clone().into_report()
    }
}

/// Ingest shard `shard` of the export and write its split partial under `root`
/// ([`partial_dir`]); the persons file's attribute typing is computed here (every partial reads
/// the whole persons file, and the merge checks they agree).
pub fn split_partial(
    inputs: &InputPaths,
    settings: &Settings,
    shard: ShardFilter,
    opts: &SplitOptions,
    root: &Path,
    progress: &Progress,
) -> Result<PartialDone> {
    let attr_specs = opts.attr_specs(inputs, settings, progress)?;
    write_partial(inputs, settings, shard, opts, attr_specs, root, progress)
}

/// [`split_partial`] with the attribute typing already computed.
pub(super) fn write_partial(
    inputs: &InputPaths,
    settings: &Settings,
    shard: ShardFilter,
    opts: &SplitOptions,
    attr_specs: Vec<AttrSpec>,
    root: &Path,
    progress: &Progress,
) -> Result<PartialDone> {
    let dir = partial_dir(root, shard.index, shard.of);
    if is_done(&dir) {
        return Err(TrainerError::Config(format!(
            "{} already holds a finished split partial; give an empty --out",
            dir.display()
        )));
    }
    let ingest_opts = IngestOptions {
        shard: Some(shard),
        attr_specs: Some(attr_specs.clone()),
        ..opts.ingest_options(settings, progress)
    };
    let mut data = ingest(inputs, &ingest_opts)?;
    let mut times: Vec<i64> = data.attempts.iter().map(|a| a.t).collect();
    // 128-bit hashes of every kept attempt id: an id kept by two shards (reused for two persons)
    // is one attempt to the unsharded run, which keeps only its first row.
    let mut ids: Vec<u128> = data
        .attempt_ids
        .iter()
        .map(|id| xxh3_128(id.as_bytes()))
        .collect();
    let report = std::mem::take(&mut data.report);
    drop(data);
    ids.sort_unstable();
    times.sort_unstable();
    let run_count = runs(&times).count() as u64;
    durable::create_private_dir(&dir).map_err(|e| TrainerError::io(&dir, e))?;
    write_records(
        &dir.join(IDS),
        IDS_MAGIC,
        ids.len() as u64,
        ids.iter().map(|h| h.to_le_bytes()),
    )?;
    write_records(
        &dir.join(INSTANTS),
        INSTANTS_MAGIC,
        run_count,
        runs(&times).map(|(t, n)| run_bytes(t, n)),
    )?;
    let done = PartialDone {
        format: PARTIAL_FORMAT,
        shard: shard.index,
        of: shard.of,
        settings: settings_digest(settings),
        now: opts.now,
        inputs: input_fingerprints(inputs, &report)?,
        attr_specs,
        attempts: times.len() as u64,
        span: times.first().zip(times.last()).map(|(&a, &b)| (a, b)),
        runs: run_count,
        report: ReportFile::new(&report),
    };
    write(&dir.join(DONE), &json(&done)?)?;
    Ok(done)
}

/// Sorted instants as `(instant, count)` runs.
fn runs(sorted: &[i64]) -> impl Iterator<Item = (i64, u64)> + '_ {
    sorted
        .chunk_by(|a, b| a == b)
        .map(|run| (run[0], run.len() as u64))
}

fn run_bytes(t: i64, n: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&t.to_le_bytes());
    b[8..].copy_from_slice(&n.to_le_bytes());
    b
}

/// Whether `dir` holds a finished partial.
pub(crate) fn is_done(dir: &Path) -> bool {
    dir.join(DONE).exists()
}

/// A finished partial's summary; an error naming the directory when it did not finish.
pub(crate) fn read_done(dir: &Path) -> Result<PartialDone> {
    if !is_done(dir) {
        return Err(TrainerError::Config(format!(
            "{}: no finished split partial here (its split --shard did not run or did not finish)",
            dir.display()
        )));
    }
    let done: PartialDone = read_json(&dir.join(DONE))?;
    if done.format != PARTIAL_FORMAT {
        return Err(TrainerError::BadFile {
            file: dir.join(DONE),
            reason: format!(
                "split partial format {} (this build reads {PARTIAL_FORMAT})",
                done.format
            ),
        });
    }
    Ok(done)
}

/// A partial's sorted attempt-id hashes, streamed.
pub(crate) struct IdReader(RecordReader<16>);

impl IdReader {
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        Ok(Self(RecordReader::open(&dir.join(IDS), IDS_MAGIC)?))
    }

    pub(crate) fn next(&mut self) -> Result<Option<u128>> {
        Ok(self.0.next()?.map(u128::from_le_bytes))
    }
}

/// Attempts per slice of `window` among a partial's instants, streamed from its runs.
pub(crate) fn count_slices(dir: &Path, window: &crate::slices::Window) -> Result<[u64; 3]> {
    let mut r: RecordReader<16> = RecordReader::open(&dir.join(INSTANTS), INSTANTS_MAGIC)?;
    let mut counts = [0u64; 3];
    while let Some(b) = r.next()? {
        let mut t = [0u8; 8];
        let mut n = [0u8; 8];
        t.copy_from_slice(&b[..8]);
        n.copy_from_slice(&b[8..]);
        counts[window.slice(i64::from_le_bytes(t))] += u64::from_le_bytes(n);
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn instants_become_runs() {
        assert_eq!(runs(&[]).count(), 0);
        let got: Vec<_> = runs(&[3, 3, 5, 9, 9, 9]).collect();
        assert_eq!(got, vec![(3, 2), (5, 1), (9, 3)]);
    }
}
