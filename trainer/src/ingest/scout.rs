//! Normalising contact points ahead of the ingest, on the other threads of `--threads`.
//!
//! Phone-number parsing is about half of ingest (BENCHMARKS.md), and it is a pure function of the
//! raw text. So while the ingest reads its files row by row on the caller's thread, *scouts* read
//! the same files ahead of it on other threads (each parses the CSV again, which is cheap next to
//! parsing numbers), normalise the contact spellings of their share of the rows, and leave the
//! results in a shared table. The ingest takes a spelling's result from the table when a scout
//! got there first and normalises it itself otherwise. Either way the result is the same, so the
//! tables the ingest builds, and everything after, do not depend on the thread count or on
//! timing.
//!
//! Results are keyed exactly as the ingest's own cache keys them ([`super::contact_cache`]): a
//! success by the spelling's canonical key, a failure by its exact text, so an error message
//! still comes from the row's own spelling.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use contactscore_models::{Contact, ContactNormalizer};

use super::contact_cache::{ContactCache, canonical};
use super::intern::{Fingerprinter, Fp, PassThroughBuild};
use super::source::Source;
use super::text;

/// Rows are dealt to scouts in blocks of this many (block `b` goes to scout `b % scouts`).
const BLOCK: u64 = 1024;
/// A scout skips rows the ingest has already passed, plus this many more (it would not finish
/// them in time).
const MARGIN: u64 = 256;

/// What the scouts found, and where the ingest is.
#[derive(Debug, Default)]
pub(crate) struct Ahead {
    found: Mutex<HashMap<Fp, Result<Contact, String>, PassThroughBuild>>,
    /// (file index << 40) | row: the ingest's position.
    position: AtomicU64,
    stop: AtomicBool,
}

impl Ahead {
    /// A scout's result for the spelling with canonical key `key` (a success) or failure key
    /// `failed` (a failure), taken out of the table.
    pub(crate) fn take(&self, key: &Fp, failed: &Fp) -> Option<Result<Contact, String>> {
        let mut found = self
            .found
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        found.remove(key).or_else(|| found.remove(failed))
    }

    /// The ingest is at `row` of its `file`-th file.
    pub(crate) fn at(&self, file: usize, row: u64) {
        self.position.store(
            ((file as u64) << 40) | row.min((1 << 40) - 1),
            Ordering::Relaxed,
        );
    }

    /// Ask the scouts to stop.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn behind(&self, file: usize, row: u64) -> bool {
        let p = self.position.load(Ordering::Relaxed);
        let (f, r) = ((p >> 40) as usize, p & ((1 << 40) - 1));
        f > file || (f == file && r + MARGIN > row)
    }

    fn put(&self, key: Fp, result: Result<Contact, String>) {
        self.found
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, result);
    }
}

/// One scout: the files in the ingest's order (`None` for a file without contact points), its
/// number `k` of `n`.
pub(crate) struct Scout<'a> {
    pub(crate) files: &'a [Option<PathBuf>],
    pub(crate) k: u64,
    pub(crate) n: u64,
    pub(crate) normalizer: ContactNormalizer,
    pub(crate) fingerprint: Fingerprinter,
    pub(crate) ahead: &'a Ahead,
    /// Only this shard's rows (the ingest skips the others).
    pub(crate) shard: Option<crate::shard::ShardFilter>,
}

impl Scout<'_> {
    /// Read ahead until the files end or the ingest says stop. Any trouble with a file (the
    /// ingest will meet and report it) ends the scout's work on that file.
    pub(crate) fn run(&self) {
        let mut seen: HashSet<Fp, PassThroughBuild> = HashSet::default();
        let (mut buf, mut scratch, mut s_person) = (Vec::new(), String::new(), String::new());
        for (file, path) in self.files.iter().enumerate() {
            let Some(path) = path else { continue };
            let Ok(mut src) = Source::open(path) else {
                continue;
            };
            let Some(col) = src
                .columns()
                .iter()
                .position(|c| c.eq_ignore_ascii_case("contact"))
            else {
                continue;
            };
            let person = src
                .columns()
                .iter()
                .position(|c| c.eq_ignore_ascii_case("person_id"));
            src.set_needed(
                &[Some(col), person]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>(),
            );
            let mut row = 0u64;
            while let Ok(true) = src.next_row(path) {
                row += 1;
                if (row / BLOCK) % self.n != self.k {
                    continue;
                }
                if self.ahead.stop.load(Ordering::Relaxed) {
                    return;
                }
                if self.ahead.behind(file, row) {
                    continue;
                }
                if let Some(shard) = self.shard {
                    let id = person.map_or(Ok(""), |c| text(src.cell(c), &mut s_person, c));
                    if !shard.owns(id.unwrap_or_default().as_bytes()) {
                        continue;
                    }
                }
                let Ok(raw) = text(src.cell(col), &mut scratch, col) else {
                    continue;
                };
                let (kind, bytes) = canonical(raw, &mut buf);
                let key = self.fingerprint.fingerprint_tagged(kind as u64, bytes);
                if !seen.insert(key) {
                    continue;
                }
                match normalise(&self.normalizer, raw) {
                    Ok(c) => self.ahead.put(key, Ok(c)),
                    Err(reason) => {
                        let failed = ContactCache::failure_key_with(&self.fingerprint, raw);
                        self.ahead.put(failed, Err(reason));
                    }
                }
            }
        }
    }
}

/// Normalise `raw`, or say why it is not a contact point (the bad-row reason).
pub(crate) fn normalise(normalizer: &ContactNormalizer, raw: &str) -> Result<Contact, String> {
    normalizer.normalize(raw).map_err(|e| match e {
        contactscore_models::Error::InvalidContact { reason, .. } => {
            format!("invalid contact: {reason}")
        }
        other @ (contactscore_models::Error::InvalidConfig(_)
        | contactscore_models::Error::InvalidTimezone { .. }
        | contactscore_models::Error::UnknownValue(_)
        | contactscore_models::Error::Io { .. }
        | contactscore_models::Error::Artifact { .. }
        | contactscore_models::Error::VersionNotFound { .. }
        | contactscore_models::Error::Fit { .. }
        | contactscore_models::Error::NotEnoughData(_)
        | contactscore_models::Error::InvalidPlan { .. }) => other.to_string(),
    })
}
