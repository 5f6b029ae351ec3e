//! The durable log of outcomes recorded live (`outcomes.jsonl` in the state directory).
//!
//! An outcome is acknowledged only after its line is written and fsynced. A single writer
//! thread does group commit: it takes every append waiting at the moment, writes them, fsyncs
//! once and answers them all, so durable acknowledgement keeps up with many concurrent
//! dialers. A crash can leave a torn last line, which was never acknowledged and is dropped on
//! open; any other malformed line is an error naming the line.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use contactscore_models::{Channel, Outcome};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

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
}

enum Job {
    Append(Vec<u8>, oneshot::Sender<std::io::Result<()>>),
    Replace(Vec<u8>, oneshot::Sender<std::io::Result<()>>),
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

    async fn send(
        &self,
        job: impl FnOnce(oneshot::Sender<std::io::Result<()>>) -> Job,
    ) -> Result<()> {
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

fn writer(path: PathBuf, mut file: File, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut appends = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Append(bytes, done) => appends.push((bytes, done)),
                Job::Replace(bytes, done) => {
                    // Flush what came before in order, then swap the file.
                    commit(&mut file, &mut appends);
                    let result = replace(&path, &bytes).map(|f| file = f);
                    let _ = done.send(result);
                }
            }
            next = rx.try_recv().ok();
        }
        commit(&mut file, &mut appends);
    }
}

/// Write the waiting appends, fsync once, answer each.
fn commit(file: &mut File, appends: &mut Vec<(Vec<u8>, oneshot::Sender<std::io::Result<()>>)>) {
    if appends.is_empty() {
        return;
    }
    let mut result = Ok(());
    for (bytes, _) in appends.iter() {
        if let Err(e) = file.write_all(bytes) {
            result = Err(e);
            break;
        }
    }
    let result = result.and_then(|()| file.sync_data());
    for (_, done) in appends.drain(..) {
        let r = match &result {
            Ok(()) => Ok(()),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        };
        let _ = done.send(r);
    }
}

/// Write `bytes` to a temporary file, fsync, rename over the journal, fsync the directory, and
/// return an append handle on the new file.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<File> {
    let tmp = path.with_extension("jsonl.tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    OpenOptions::new().append(true).open(path)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ServerError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: u32) -> LiveOutcome {
        LiveOutcome {
            attempt_id: format!("a{i}"),
            person_id: format!("p{}", i % 3),
            contact: "+5511987654321".into(),
            channel: Channel::Voice,
            at: 1_767_625_200 + i64::from(i),
            outcome: Outcome::NoAnswer,
            duration_seconds: None,
            campaign: String::new(),
            recorded_on: "v1".into(),
        }
    }

    #[tokio::test]
    async fn appends_survive_reopening_and_replace_is_atomic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (j, old) = Journal::open(dir.path()).expect("open");
        assert!(old.is_empty());
        let batch: Vec<_> = (0..5).map(record).collect();
        // Concurrent appends are grouped but every one is answered.
        let (a, b) = tokio::join!(j.append(&batch[..2]), j.append(&batch[2..]));
        a.expect("append");
        b.expect("append");
        drop(j);
        let (j, back) = Journal::open(dir.path()).expect("reopen");
        let mut ids: Vec<_> = back.iter().map(|r| r.attempt_id.clone()).collect();
        ids.sort();
        assert_eq!(ids, ["a0", "a1", "a2", "a3", "a4"]);
        j.replace(&batch[..1]).await.expect("replace");
        j.append(&[record(9)]).await.expect("append after replace");
        drop(j);
        let (_, back) = Journal::open(dir.path()).expect("reopen");
        assert_eq!(back, vec![record(0), record(9)]);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_corrupt_line_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE);
        let good = String::from_utf8(encode(&[record(1)]).expect("encode")).expect("utf8");
        fs::write(&path, format!("{good}{{\"attempt_id\":\"a2\",\"pers")).expect("write");
        let (_, back) = Journal::open(dir.path()).expect("open");
        assert_eq!(back, vec![record(1)]);
        assert_eq!(fs::read_to_string(&path).expect("read"), good);

        fs::write(&path, format!("not json\n{good}")).expect("write");
        let err = Journal::open(dir.path()).expect_err("corrupt");
        assert!(err.to_string().contains(":1:"), "{err}");
    }
}
