//! Ingest: reads the users' attempt, contact and person exports (CSV, gzip CSV, Parquet) into
//! compact, validated, de-duplicated in-memory tables ([`Ingested`]) plus a report of what was
//! read, dropped and why.

mod attempts;
mod cell;
mod contact_cache;
mod contacts;
mod ctx;
mod dispositions;
mod intern;
mod parquet_source;
mod persons;
pub(crate) mod report;
mod scout;
mod source;
pub(crate) mod timestamp;
mod validations;

#[cfg(test)]
mod perf_harness;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bad;
#[cfg(test)]
mod tests_threads;
#[cfg(test)]
mod tests_validations;

use std::path::{Path, PathBuf};

use contactscore_models::{
    Channel, Contact, ContactNormalizer, LineType, Outcome, Validation, ValidationStatus,
};

pub use dispositions::DispositionMap;
pub use intern::{Interner, StrArena};
pub use report::{FileReport, IngestReport};
pub use source::file_sha256;

use crate::error::{Result, TrainerError};
use crate::shard::ShardFilter;
use crate::threads::Threads;
use cell::Cell;
use ctx::Ctx;
use report::Bad;
use source::Source;

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Normalises contact points (phone numbers to E.164, emails lower-cased).
    pub normalizer: ContactNormalizer,
    /// Bad rows (over all files) to skip and count before failing; 0 = fail on the first.
    pub max_bad_rows: u64,
    /// Dialer disposition codes accepted in the `outcome` column.
    pub dispositions: DispositionMap,
    /// Show a progress spinner on stderr (only when stderr is a terminal).
    pub progress: bool,
    /// Threads: beyond the caller's, scouts normalise contact points ahead of the ingest
    /// ([`scout`]); the tables are the same for any count.
    pub threads: Threads,
    /// The present (unix seconds; [`IngestOptions::now`] gives the wall clock): an attempt dated
    /// more than a day after it, or before 1990, is a bad row (`implausible_time`).
    pub now: i64,
    /// Read only this shard's persons (a sharded run): a row of another person is skipped
    /// uncounted. `None` reads everyone.
    pub shard: Option<ShardFilter>,
    /// The persons file's attribute typing over the whole file (a sharded run's `split`), used
    /// instead of typing the attributes from the rows read. `None` types them from the rows.
    pub attr_specs: Option<Vec<AttrSpec>>,
}

impl IngestOptions {
    /// The wall clock, for [`IngestOptions::now`].
    pub fn now() -> i64 {
        jiff::Timestamp::now().as_second()
    }
}

/// The input files of one ingest.
#[derive(Debug, Clone, Default)]
pub struct InputPaths {
    /// Attempt files, read in order (at least one).
    pub attempts: Vec<PathBuf>,
    /// The optional contacts file.
    pub contacts: Option<PathBuf>,
    /// The optional persons file.
    pub persons: Option<PathBuf>,
    /// The optional validations file (carrier / HLR lookups).
    pub validations: Option<PathBuf>,
}

/// One de-duplicated attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptRow {
    /// When the attempt was made, unix seconds (UTC).
    pub t: i64,
    /// Index into [`Ingested::persons`].
    pub person: u32,
    /// Index into [`Ingested::contacts`].
    pub contact: u32,
    /// The channel used.
    pub channel: Channel,
    /// The canonical outcome.
    pub outcome: Outcome,
    /// Call duration in seconds, when given.
    pub duration_seconds: Option<u32>,
    /// Index into [`Ingested::attempt_ids`].
    pub id: u32,
}

// Keep attempts compact: 10M of them must fit comfortably in memory.
const _: () = assert!(std::mem::size_of::<AttemptRow>() <= 32);

/// A contact point a person is known to have, from the contacts file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownContact {
    /// Index into [`Ingested::persons`].
    pub person: u32,
    /// Index into [`Ingested::contacts`].
    pub contact: u32,
    /// Channels usable on this contact point (defaults by kind when the file leaves it empty).
    pub channels: Vec<Channel>,
    /// IANA time zone of the contact point, if given.
    pub timezone: Option<String>,
    /// When the contact point was added, unix seconds, if given.
    pub added_at: Option<i64>,
}

/// One carrier validation of a person's contact point (from the validations file, or the
/// validation columns of the contacts file), applied in the replay at its instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationRow {
    /// When the carrier answered, unix seconds (UTC).
    pub t: i64,
    /// Index into [`Ingested::persons`].
    pub person: u32,
    /// Index into [`Ingested::contacts`] (always a phone number).
    pub contact: u32,
    /// What the carrier said.
    pub status: ValidationStatus,
    /// The line type it reported.
    pub line_type: LineType,
    /// Whether the number was ported, when reported.
    pub ported: Option<bool>,
}

impl ValidationRow {
    /// The validation as the feature state keeps it.
    pub fn validation(&self) -> Validation {
        Validation {
            at: self.t,
            status: self.status,
            line_type: self.line_type,
            ported: self.ported,
        }
    }
}

/// Person attribute specs are part of the feature schema, so they live in the shared library.
pub use contactscore_models::features::{AttrKind, AttrSpec};

/// One person from the persons file.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonRow {
    /// Index into [`Ingested::persons`].
    pub person: u32,
    /// IANA time zone of the person, if given.
    pub timezone: Option<String>,
    /// One value per [`Ingested::person_attrs`] entry; NaN = missing.
    pub attrs: Vec<f32>,
}

/// Everything ingest read.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// Person ids.
    pub persons: Interner,
    /// Normalised contact points, indexed by [`AttemptRow::contact`].
    pub contacts: Vec<Contact>,
    /// Attempt ids of the kept attempts, indexed by [`AttemptRow::id`].
    pub attempt_ids: StrArena,
    /// De-duplicated attempts sorted by time (ties keep input order).
    pub attempts: Vec<AttemptRow>,
    /// Rows of the contacts file (empty if none).
    pub known_contacts: Vec<KnownContact>,
    /// Attribute columns of the persons file (empty if none).
    pub person_attrs: Vec<AttrSpec>,
    /// Rows of the persons file (empty if none).
    pub person_rows: Vec<PersonRow>,
    /// Carrier validations from the contacts and validations files, sorted by time (ties keep
    /// input order).
    pub validations: Vec<ValidationRow>,
    /// What was read and dropped.
    pub report: IngestReport,
    /// Per person (by index into [`Ingested::persons`]): where in the input it was first read,
    /// as (file index in reading order << 40) | data row. A sharded run orders its shards'
    /// persons by it into the unsharded run's order.
    pub person_positions: Vec<u64>,
    /// Per kept attempt (by [`AttemptRow::id`]): where in the input it was read (as
    /// `person_positions`); filled only when reading one shard ([`IngestOptions::shard`]).
    pub attempt_positions: Vec<u64>,
}

impl Ingested {
    /// The attempt id of `row`.
    pub fn attempt_id(&self, row: &AttemptRow) -> &str {
        self.attempt_ids.get(row.id)
    }
}

/// Read all input files: every attempts file in order (ids de-duplicated across files), then the
/// contacts, persons and validations files. Fails on the first bad row unless `opts.max_bad_rows` allows
/// skipping; attempts come back sorted by time, ties in input order.
pub fn ingest(paths: &InputPaths, opts: &IngestOptions) -> Result<Ingested> {
    if paths.attempts.is_empty() {
        return Err(TrainerError::Config("no attempts file given".to_owned()));
    }
    let scouts = opts.threads.get() - 1;
    if scouts == 0 {
        return read_all(paths, Ctx::new(opts, None));
    }
    // The files in the order `read_all` reads them; scouts skip the persons file (no contacts).
    let files: Vec<Option<PathBuf>> = paths
        .attempts
        .iter()
        .cloned()
        .map(Some)
        .chain(paths.contacts.iter().cloned().map(Some))
        .chain(paths.persons.iter().map(|_| None))
        .collect();
    let ahead = scout::Ahead::default();
    let ctx = Ctx::new(opts, Some(&ahead));
    let fingerprint = ctx.contact_cache.fingerprinter().clone();
    std::thread::scope(|scope| {
        for k in 0..scouts {
            let scout = scout::Scout {
                files: &files,
                k: k as u64,
                n: scouts as u64,
                normalizer: opts.normalizer,
                fingerprint: fingerprint.clone(),
                ahead: &ahead,
                shard: opts.shard,
            };
            scope.spawn(move || scout.run());
        }
        let result = read_all(paths, ctx);
        ahead.stop();
        result
    })
}

/// The persons file's attribute typing over the whole file (none without one): the persons
/// reader alone, every bad row skipped (ingest proper counts and reports them). A sharded run
/// types attributes with it once so that every shard encodes a value alike.
pub fn persons_attr_specs(path: Option<&Path>, opts: &IngestOptions) -> Result<Vec<AttrSpec>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let opts = IngestOptions {
        max_bad_rows: u64::MAX,
        threads: Threads::ONE,
        shard: None,
        attr_specs: None,
        ..opts.clone()
    };
    let mut ctx = Ctx::new(&opts, None);
    let (mut specs, mut rows) = (Vec::new(), Vec::new());
    persons::read(path, &mut ctx, &mut specs, &mut rows)?;
    Ok(specs)
}

/// Read every file in order on this thread (see [`ingest`]).
fn read_all(paths: &InputPaths, mut ctx: Ctx<'_>) -> Result<Ingested> {
    let mut att = attempts::AttemptTables::default();
    let mut files = Vec::new();
    for path in &paths.attempts {
        files.push(attempts::read(path, &mut ctx, &mut att)?);
    }
    let mut known_contacts = Vec::new();
    let mut validation_rows = Vec::new();
    if let Some(path) = &paths.contacts {
        files.push(contacts::read(
            path,
            &mut ctx,
            &mut known_contacts,
            &mut validation_rows,
        )?);
    }
    let (mut person_attrs, mut person_rows) = (Vec::new(), Vec::new());
    if let Some(path) = &paths.persons {
        files.push(persons::read(
            path,
            &mut ctx,
            &mut person_attrs,
            &mut person_rows,
        )?);
    }
    if let Some(path) = &paths.validations {
        files.push(validations::read(path, &mut ctx, &mut validation_rows)?);
    }
    ctx.bar.finish();
    validation_rows.sort_by_key(|v| v.t); // stable: ties keep input order
    let mut rows = att.rows;
    if !rows.is_sorted_by_key(|r| r.t) {
        rows.sort_by_key(|r| r.t); // stable: ties keep input order
    }
    Ok(Ingested {
        persons: ctx.persons,
        contacts: ctx.contacts,
        attempt_ids: att.ids,
        attempts: rows,
        attempt_positions: att.positions,
        person_positions: std::mem::take(&mut ctx.person_positions),
        known_contacts,
        person_attrs,
        person_rows,
        validations: validation_rows,
        report: IngestReport {
            files,
            skipped_examples: ctx.bad.examples,
            example_positions: ctx.bad.example_positions,
        },
    })
}

/// A cell as text: strings are UTF-8 checked, numbers rendered into `scratch`.
pub(crate) fn text<'a>(
    cell: Cell<'a>,
    scratch: &'a mut String,
    col: usize,
) -> Result<&'a str, Bad> {
    use std::fmt::Write;
    match cell {
        Cell::Null => Ok(""),
        Cell::Str(b) => {
            std::str::from_utf8(b).map_err(|_| Bad::new(col, "bad_encoding", "not valid UTF-8"))
        }
        Cell::Int(i) | Cell::Time(i) => {
            scratch.clear();
            let _ = write!(scratch, "{i}");
            Ok(scratch)
        }
        Cell::Float(f) => {
            scratch.clear();
            let _ = write!(scratch, "{f}");
            Ok(scratch)
        }
    }
}

/// A channel name (case-insensitive), without allocating.
pub(crate) fn parse_channel(s: &[u8]) -> Option<Channel> {
    Channel::ALL
        .into_iter()
        .find(|c| s.eq_ignore_ascii_case(c.as_str().as_bytes()))
}

/// The error message for an unknown channel.
pub(crate) const CHANNELS: &str =
    "unknown channel (expected one of: voice, sms, whatsapp, rcs, email)";

/// Column indices for the contract's columns, plus the file's other columns.
pub(crate) struct Columns {
    /// Per wanted column: its index in the file.
    pub(crate) idx: Vec<Option<usize>>,
    /// File columns not wanted (in file order).
    pub(crate) others: Vec<usize>,
}

/// Resolve `wanted` columns by case-insensitive name; a missing `required` one is a `BadFile`.
pub(crate) fn resolve(
    src: &Source,
    path: &Path,
    wanted: &[&str],
    required: usize,
) -> Result<Columns> {
    let names = src.columns();
    for (i, n) in names.iter().enumerate() {
        if names[..i].iter().any(|m| m.eq_ignore_ascii_case(n)) {
            return Err(TrainerError::BadFile {
                file: path.to_owned(),
                reason: format!(
                    "column {} appears more than once",
                    contactscore_models::quote(n)
                ),
            });
        }
    }
    let idx: Vec<Option<usize>> = wanted
        .iter()
        .map(|w| names.iter().position(|n| n.eq_ignore_ascii_case(w)))
        .collect();
    if let Some(missing) = (0..required).find(|&i| idx[i].is_none()) {
        return Err(TrainerError::BadFile {
            file: path.to_owned(),
            reason: format!("missing required column {:?}", wanted[missing]),
        });
    }
    let others = (0..names.len())
        .filter(|i| !idx.contains(&Some(*i)))
        .collect();
    Ok(Columns { idx, others })
}
