//! The durable log of outcomes recorded live (`outcomes.jsonl` in the state directory).
//!
//! An outcome is acknowledged only after its line is written and fsynced. A single writer
//! thread does group commit: it takes every append waiting at the moment, writes them, fsyncs
//! once and answers them all, so durable acknowledgement keeps up with many concurrent
//! dialers. A crash can leave a torn last line, which was never acknowledged and is dropped on
//! open; any other malformed line is an error naming the line.
//!
//! When a new model version goes live, outcomes its snapshot already covers (attempted well
//! before its training cutoff) are *retired*: their ids move to [`super::retired`] and their
//! records leave the file, so the journal and start-up replay stay bounded (see [`RetireRule`]).

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use contactscore_models::{Channel, Outcome};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::retired::{self, IdDigest};
use crate::error::{Result, ServerError};

/// File name inside the state directory.
pub const FILE: &str = "outcomes.jsonl";

/// One outcome as recorded live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveOutcome {
    /// The dialer's attempt id (idempotency key).
    pub attempt_id: String,
    /// The person.
    pub person_id: String,
    /// Normalised contact key.
    pub contact: String,
    /// Channel.
    pub channel: Channel,
    /// Attempt instant (unix seconds).
    pub at: i64,
    /// Outcome.
    pub outcome: Outcome,
    /// Call length, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
    /// Campaign, when given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub campaign: String,
    /// Model version being served when it was recorded (decides replay onto a snapshot).
    pub recorded_on: String,
    /// When the server recorded it (unix seconds; 0 in journals written before this field).
    #[serde(default)]
    pub recorded_at: i64,
}

impl LiveOutcome {
    /// The instant its id's memory counts from: when it was recorded (a backfill of old
    /// attempts is remembered as long as a fresh one), else the attempt instant.
    pub fn id_time(&self) -> i64 {
        self.recorded_at.max(self.at)
    }
}

/// Which live outcomes leave the journal once a version is live, and which retired ids are
/// forgotten. Deterministic on a record, so the writer (on the file) and the engine (in memory)
/// apply it independently and agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetireRule {
    /// Outcomes attempted before this instant (unix seconds) retire…
    pub before: i64,
    /// …unless recorded while this version was served: a restart replays those onto it.
    pub keep_version: String,
    /// Retired ids whose [`LiveOutcome::id_time`] is before this instant are forgotten (a
    /// repeat is then recorded anew).
    pub ids_before: i64,
    /// Rewrite the retired-id file without the forgotten ids (else new ids are appended and
    /// forgotten ones stay in the file, ignored, until a later compaction).
    pub compact_ids: bool,
}

impl RetireRule {
    /// Whether `r` retires.
    pub fn retires(&self, r: &LiveOutcome) -> bool {
        r.at < self.before && r.recorded_on != self.keep_version
    }

    /// Whether an id with id time `t` is still remembered once retired.
    pub fn keeps_id(&self, t: i64) -> bool {
        t >= self.ids_before
    }
}

/// What a retirement did to the files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetireCounts {
    /// Records that left the journal.
    pub outcomes: u64,
    /// Ids added to the retired-id file.
    pub ids_added: u64,
    /// Ids dropped from the retired-id file (only when compacting it).
    pub ids_forgotten: u64,
}

/// The writer's append handle. `Err` once a rewrite failed after its rename: the old handle
/// then names a file that is gone, so appends must fail rather than be acknowledged into it.
type Handle = std::result::Result<File, String>;

enum Job {
    Append(Vec<u8>, oneshot::Sender<std::io::Result<()>>),
    Replace(Vec<u8>, oneshot::Sender<std::io::Result<()>>),
    Retire(RetireRule, oneshot::Sender<std::io::Result<RetireCounts>>),
}

/// Handle to the writer thread.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Journal {
    /// Open (creating) the journal in `dir`; returns it with every outcome already in it.
    pub fn open(dir: &Path) -> Result<(Self, Vec<LiveOutcome>)> {
        fs::create_dir_all(dir).map_err(|e| ServerError::io(dir, e))?;
        let path = dir.join(FILE);
        let records = read(&path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| ServerError::io(&path, e))?;
        sync_dir(dir)?;
        let (tx, rx) = mpsc::channel();
        let writer_path = path.clone();
        std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer(writer_path, file, rx))
            .map_err(|e| ServerError::io(&path, e))?;
        Ok((Self { path, tx }, records))
    }

    /// Append `records` durably; returns once they are fsynced.
    pub async fn append(&self, records: &[LiveOutcome]) -> Result<()> {
        let bytes = encode(records)?;
        self.send(|done| Job::Append(bytes, done)).await
    }

    /// Replace the whole journal with `records`, atomically (used to erase a person).
    pub async fn replace(&self, records: &[LiveOutcome]) -> Result<()> {
        let bytes = encode(records)?;
        self.send(|done| Job::Replace(bytes, done)).await
    }

    /// Retire what `rule` says from the journal into the retired-id file (both rewritten
    /// atomically, the ids first, so a crash in between only leaves an id in both).
    pub async fn retire(&self, rule: RetireRule) -> Result<RetireCounts> {
        self.send(|done| Job::Retire(rule, done)).await
    }

    async fn send<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<std::io::Result<T>>) -> Job,
    ) -> Result<T> {
        let (done, wait) = oneshot::channel();
        let gone = || ServerError::io(&self.path, std::io::Error::other("journal writer stopped"));
        self.tx.send(job(done)).map_err(|_| gone())?;
        wait.await
            .map_err(|_| gone())?
            .map_err(|e| ServerError::io(&self.path, e))
    }
}

fn encode(records: &[LiveOutcome]) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(records.len() * 160);
    for r in records {
        serde_json::to_writer(&mut bytes, r)
            .map_err(|e| ServerError::io(FILE, std::io::Error::other(e)))?;
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// Read every complete line; truncate a torn final line (never acknowledged).
fn read(path: &Path) -> Result<Vec<LiveOutcome>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ServerError::io(path, e)),
    };
    let mut reader = BufReader::new(file);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut good_len: u64 = 0;
    let mut n = 0;
    loop {
        line.clear();
        let got = reader
            .read_line(&mut line)
            .map_err(|e| ServerError::io(path, e))?;
        if got == 0 {
            break;
        }
        n += 1;
        if !line.ends_with('\n') {
            tracing::warn!(file = %path.display(), line = n, "dropping a torn final line (never acknowledged)");
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| ServerError::io(path, e))?;
            f.set_len(good_len).map_err(|e| ServerError::io(path, e))?;
            f.sync_all().map_err(|e| ServerError::io(path, e))?;
            break;
        }
        let record =
            serde_json::from_str(line.trim_end()).map_err(|e| ServerError::CorruptState {
                path: path.to_owned(),
                line: n,
                reason: e.to_string(),
            })?;
        out.push(record);
        good_len += got as u64;
    }
    Ok(out)
}

fn writer(path: PathBuf, file: File, rx: mpsc::Receiver<Job>) {
    let mut file: Handle = Ok(file);
    while let Ok(first) = rx.recv() {
        let mut appends = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Append(bytes, done) => appends.push((bytes, done)),
                Job::Replace(bytes, done) => {
                    // Flush what came before in order, then swap the file.
                    commit(&mut file, &mut appends);
                    let _ =
                        done.send(usable(&file).and_then(|()| replace(&path, &bytes, &mut file)));
                }
                Job::Retire(rule, done) => {
                    // Not on a stopped writer: its file may hold a failed batch that a rewrite
                    // would keep.
                    commit(&mut file, &mut appends);
                    let _ = done.send(usable(&file).and_then(|()| retire(&path, &rule, &mut file)));
                }
            }
            next = rx.try_recv().ok();
        }
        commit(&mut file, &mut appends);
    }
}

/// Write the waiting appends, fsync once, answer each. When that fails, none of them is
/// acknowledged and the file is cut back to where the batch began, so no later append follows
/// a torn line; if even that fails, the writer refuses appends until a restart.
fn commit(handle: &mut Handle, appends: &mut Vec<(Vec<u8>, oneshot::Sender<std::io::Result<()>>)>) {
    if appends.is_empty() {
        return;
    }
    let file = match handle {
        Ok(f) => f,
        Err(why) => {
            for (_, done) in appends.drain(..) {
                let _ = done.send(Err(std::io::Error::other(why.clone())));
            }
            return;
        }
    };
    // Nothing is written when the length cannot be read, so nothing needs undoing.
    let mut stop = None;
    let result = file.metadata().map(|m| m.len()).and_then(|began| {
        let written = appends
            .iter()
            .try_for_each(|(bytes, _)| file.write_all(bytes))
            .and_then(|()| file.sync_data());
        if let Err(e) = &written
            && let Err(cut) = file.set_len(began).and_then(|()| file.sync_all())
        {
            tracing::error!(error = %e, cut_error = %cut, "journal append failed and could not be undone; refusing further appends until restart");
            stop = Some(format!(
                "journal append failed ({e}) and could not be undone ({cut}); restart the server"
            ));
        }
        written
    });
    if let Some(why) = stop {
        *handle = Err(why);
    }
    for (_, done) in appends.drain(..) {
        let r = match &result {
            Ok(()) => Ok(()),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        };
        let _ = done.send(r);
    }
}

/// `Ok` unless the writer has stopped (see [`Handle`]).
fn usable(handle: &Handle) -> std::io::Result<()> {
    handle
        .as_ref()
        .map(|_| ())
        .map_err(|why| std::io::Error::other(why.clone()))
}

/// Write `bytes` to a temporary file, fsync, rename over the journal, fsync the directory, and
/// point `handle` at the new file. A failure before the rename leaves the journal and `handle`
/// as they were; one after it breaks `handle` (later appends fail until a restart).
fn replace(path: &Path, bytes: &[u8], handle: &mut Handle) -> std::io::Result<()> {
    let tmp = path.with_extension("jsonl.tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let reopened = File::open(dir)
        .and_then(|d| d.sync_all())
        .and_then(|()| OpenOptions::new().append(true).open(path));
    match reopened {
        Ok(f) => {
            *handle = Ok(f);
            Ok(())
        }
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "journal rewrite failed after its rename; refusing further appends until restart");
            *handle = Err(format!(
                "{}: rewrite failed after rename ({e}); restart the server",
                path.display()
            ));
            Err(e)
        }
    }
}

/// Rewrite the journal without the records `rule` retires, after their ids are durably in the
/// retired-id file (appended, or the file compacted when `rule.compact_ids`).
fn retire(path: &Path, rule: &RetireRule, handle: &mut Handle) -> std::io::Result<RetireCounts> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let text = fs::read(path)?;
    let mut counts = RetireCounts::default();
    let mut kept = Vec::with_capacity(text.len());
    let mut new_ids: Vec<(IdDigest, i64)> = Vec::new();
    for (n, line) in text.split_inclusive(|&b| b == b'\n').enumerate() {
        let r: LiveOutcome = serde_json::from_slice(line).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}:{}: {e}", path.display(), n + 1),
            )
        })?;
        if rule.retires(&r) {
            counts.outcomes += 1;
            if rule.keeps_id(r.id_time()) {
                new_ids.push((retired::digest(&r.attempt_id), r.id_time()));
            }
        } else {
            kept.extend_from_slice(line);
        }
    }
    counts.ids_added = new_ids.len() as u64;
    if rule.compact_ids {
        let mut ids = retired::read(dir).map_err(std::io::Error::other)?;
        let before = ids.len();
        ids.retain(|_, t| rule.keeps_id(*t));
        counts.ids_forgotten = (before - ids.len()) as u64;
        ids.extend(new_ids);
        retired::write(dir, &ids)?;
    } else if !new_ids.is_empty() {
        retired::append(dir, &new_ids)?;
    }
    if counts.outcomes > 0 {
        replace(path, &kept, handle)?;
    }
    Ok(counts)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ServerError::io(dir, e))
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
