//! The durable log of outcomes recorded live (`outcomes.jsonl` in the state directory).
//!
//! An outcome is acknowledged only after its line is written and fsynced. A single writer
//! thread does group commit: it takes every append waiting at the moment, writes them, fsyncs
//! once and answers them all, so durable acknowledgement keeps up with many concurrent
//! dialers. A crash can leave a torn last line, which was never acknowledged and is dropped on
//! open; any other malformed line is an error naming the line. A line repeated (an attempt id
//! twice) is read once. The file steps (appends cut back on failure, atomic rewrites) are
//! [`contactscore_models::durable`]'s.
//!
//! When a new model version goes live, outcomes its snapshot already covers (attempted well
//! before its training cutoff) are *retired*: their ids move to [`super::retired`] and their
//! records leave the file, so the journal and start-up replay stay bounded (see [`RetireRule`]).
//! Contact-rule evidence is the exception: it stays while it can still matter (see
//! [`RetireRule::retires`]).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

use contactscore_models::durable::AppendLog;
use contactscore_models::{Channel, Outcome};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::lines::{corrupt, read_lines};
use super::retired_ids::{self, IdDigest};
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

    /// What its contact rule applies to, when it is rule evidence: an opt-out or an invalid on
    /// (person, contact, channel), a wrong party on (person, contact) over every channel.
    pub fn evidence_key(&self) -> Option<EvidenceKey> {
        let channel = match self.outcome {
            Outcome::OptOut | Outcome::Invalid => Some(self.channel),
            Outcome::WrongParty => None,
            Outcome::NoAnswer
            | Outcome::Busy
            | Outcome::Voicemail
            | Outcome::ThirdParty
            | Outcome::RightParty
            | Outcome::Converted
            | Outcome::Delivered
            | Outcome::Read
            | Outcome::Replied => return None,
        };
        Some(EvidenceKey {
            outcome: self.outcome,
            person_id: self.person_id.clone(),
            contact: self.contact.clone(),
            channel,
        })
    }
}

/// The pair a rule-evidence outcome applies to (see [`LiveOutcome::evidence_key`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EvidenceKey {
    /// `opt_out`, `wrong_party` or `invalid`.
    pub outcome: Outcome,
    /// The person.
    pub person_id: String,
    /// Normalised contact key.
    pub contact: String,
    /// The channel (`None` for a wrong party, which holds on every channel).
    pub channel: Option<Channel>,
}

/// The latest instant of every rule-evidence key among `records`.
pub fn latest_evidence<'a>(
    records: impl IntoIterator<Item = &'a LiveOutcome>,
) -> HashMap<EvidenceKey, i64> {
    let mut latest = HashMap::new();
    for r in records {
        if let Some(k) = r.evidence_key() {
            let at = latest.entry(k).or_insert(r.at);
            *at = (*at).max(r.at);
        }
    }
    latest
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
    /// Rule evidence stays past `before` unless it is an `invalid` attempted before this instant
    /// (its suppression is over for good)…
    pub evidence_lapsed_before: i64,
    /// …or a later record of the same kind on the same pair stays (the latest instant per key,
    /// from [`latest_evidence`]), which has the same effect on the rules wherever it is applied.
    pub latest_evidence: Arc<HashMap<EvidenceKey, i64>>,
    /// Retired ids whose [`LiveOutcome::id_time`] is before this instant are forgotten (a
    /// repeat is then recorded anew).
    pub ids_before: i64,
    /// Rewrite the retired-id file without the forgotten ids (else new ids are appended and
    /// forgotten ones stay in the file, ignored, until a later compaction).
    pub compact_ids: bool,
}

impl RetireRule {
    /// Whether `r` retires: covered by the served snapshot for longer than the rollback window.
    ///
    /// Contact-rule evidence (opt-out, wrong party, invalid) is kept beyond that: its record is
    /// what replays it onto any version whose export lacks it (a newer one trained on an export
    /// cut before the dialer reported it, or an older one after `CURRENT` is rolled back), so it
    /// only leaves once it can no longer change a rule: an `invalid` whose suppression has ended,
    /// or evidence superseded by a later record on the same pair that stays.
    pub fn retires(&self, r: &LiveOutcome) -> bool {
        if r.at >= self.before || r.recorded_on == self.keep_version {
            return false;
        }
        let Some(key) = r.evidence_key() else {
            return true;
        };
        let lapsed = r.outcome == Outcome::Invalid && r.at < self.evidence_lapsed_before;
        lapsed || self.latest_evidence.get(&key).is_some_and(|&t| t > r.at)
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
    /// Open (creating) the journal in the state directory `dir`; returns it with every outcome
    /// already in it, each attempt id once.
    pub fn open(dir: &Path) -> Result<(Self, Vec<LiveOutcome>)> {
        let path = dir.join(FILE);
        let records = read(&path)?;
        let log = AppendLog::open(&path).map_err(|e| ServerError::io(&path, e))?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer(log, rx))
            .map_err(|e| ServerError::Internal(format!("starting the journal writer: {e}")))?;
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
        let gone = || ServerError::Internal("the journal writer thread stopped".into());
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
            .map_err(|e| ServerError::Internal(format!("encoding a journal line: {e}")))?;
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// Read every complete line, each attempt id once (a repeated line, e.g. from a journal copied
/// together by hand, is applied once); a torn final line (never acknowledged) is cut off.
fn read(path: &Path) -> Result<Vec<LiveOutcome>> {
    let mut out = Vec::new();
    let mut ids = HashSet::new();
    let mut repeats = 0usize;
    read_lines(
        path,
        |_| false,
        |n, line| {
            let record: LiveOutcome =
                serde_json::from_slice(line).map_err(|e| corrupt(path, n, e.to_string()))?;
            if ids.insert(record.attempt_id.clone()) {
                out.push(record);
            } else {
                repeats += 1;
            }
            Ok(())
        },
    )?;
    if repeats > 0 {
        tracing::warn!(file = %path.display(), repeats, "journal lines repeating an attempt id were read once");
    }
    Ok(out)
}

fn writer(mut log: AppendLog, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut appends = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Append(bytes, done) => appends.push((bytes, done)),
                Job::Replace(bytes, done) => {
                    // Flush what came before in order, then swap the file.
                    commit(&mut log, &mut appends);
                    let _ = done.send(replace(&mut log, &bytes));
                }
                Job::Retire(rule, done) => {
                    // Not on a stopped writer: its file may hold a failed batch that a rewrite
                    // would keep.
                    commit(&mut log, &mut appends);
                    let _ = done.send(log.usable().and_then(|()| retire(&mut log, &rule)));
                }
            }
            next = rx.try_recv().ok();
        }
        commit(&mut log, &mut appends);
    }
}

/// Write the waiting appends, fsync once, answer each. When that fails, none of them is
/// acknowledged and the file is cut back to where the batch began, so no later append follows
/// a torn line; if even that fails, the log refuses appends until a restart.
fn commit(log: &mut AppendLog, appends: &mut Vec<(Vec<u8>, oneshot::Sender<std::io::Result<()>>)>) {
    if appends.is_empty() {
        return;
    }
    let parts: Vec<&[u8]> = appends.iter().map(|(b, _)| b.as_slice()).collect();
    let result = log.append(&parts);
    if let Err(e) = &result {
        match log.usable() {
            Ok(()) => {
                tracing::error!(error = %e, "journal append failed; cut back, not acknowledged")
            }
            Err(_) => {
                tracing::error!(error = %e, "journal append failed and could not be undone; refusing further appends until restart")
            }
        }
    }
    for (_, done) in appends.drain(..) {
        let r = match &result {
            Ok(()) => Ok(()),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        };
        let _ = done.send(r);
    }
}

/// Replace the journal with `bytes` ([`AppendLog::replace`]), logging a failure that stops it.
fn replace(log: &mut AppendLog, bytes: &[u8]) -> std::io::Result<()> {
    log.replace(bytes).inspect_err(|e| {
        if log.usable().is_err() {
            tracing::error!(file = %log.path().display(), error = %e, "journal rewrite failed after its rename; refusing further appends until restart");
        }
    })
}

/// Rewrite the journal without the records `rule` retires, after their ids are durably in the
/// retired-id file (appended, or the file compacted when `rule.compact_ids`).
fn retire(log: &mut AppendLog, rule: &RetireRule) -> std::io::Result<RetireCounts> {
    let path = log.path().to_owned();
    let dir = path.parent().unwrap_or(Path::new("."));
    let text = std::fs::read(&path)?;
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
                new_ids.push((retired_ids::digest(&r.attempt_id), r.id_time()));
            }
        } else {
            kept.extend_from_slice(line);
        }
    }
    counts.ids_added = new_ids.len() as u64;
    if rule.compact_ids {
        let mut ids = retired_ids::read(dir).map_err(std::io::Error::other)?;
        let before = ids.len();
        ids.retain(|_, t| rule.keeps_id(*t));
        counts.ids_forgotten = (before - ids.len()) as u64;
        ids.extend(new_ids);
        retired_ids::write(dir, &ids)?;
    } else if !new_ids.is_empty() {
        retired_ids::append(dir, &new_ids)?;
    }
    if counts.outcomes > 0 {
        replace(log, &kept)?;
    }
    Ok(counts)
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
