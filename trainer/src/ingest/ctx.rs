//! The state the readers of one ingest share ([`Ctx`]): the person and contact id tables, the
//! contact cache (taking what scouts normalised ahead), the bad-row budget and the read bar.

use std::collections::HashSet;
use std::path::Path;

use contactscore_models::Contact;

use super::IngestOptions;
use super::cell::Cell;
use super::contact_cache::ContactCache;
use super::intern::Interner;
use super::report::{Bad, BadRows, FileReport};
use super::scout::{Ahead, normalise};
use super::source::Source;
use crate::error::Result;
use crate::progress::ReadBar;
use crate::shard::ShardFilter;

/// State shared by the readers of all files: the id tables, the contact cache and the bad-row
/// budget.
pub(crate) struct Ctx<'o> {
    pub(crate) opts: &'o IngestOptions,
    /// What scouts normalised ahead, when there are scouts.
    ahead: Option<&'o Ahead>,
    /// Index of the file being read, in [`super::read_all`]'s order.
    file: usize,
    pub(crate) persons: Interner,
    pub(crate) contacts: Vec<Contact>,
    contact_keys: Interner,
    /// Raw contact spellings seen (by canonical key) → contact id.
    pub(super) contact_cache: ContactCache,
    valid_zones: HashSet<String>,
    pub(crate) bad: BadRows,
    pub(crate) bar: ReadBar,
    /// Data rows of the current file passed so far, this shard's or not.
    row: u64,
    /// Per person id: the [`Ctx::position`] of the row that interned it.
    pub(crate) person_positions: Vec<u64>,
}

impl<'o> Ctx<'o> {
    pub(super) fn new(opts: &'o IngestOptions, ahead: Option<&'o Ahead>) -> Self {
        Self {
            opts,
            ahead,
            file: 0,
            persons: Interner::new(),
            contacts: Vec::new(),
            contact_keys: Interner::new(),
            contact_cache: ContactCache::default(),
            valid_zones: HashSet::new(),
            bad: BadRows::new(opts.max_bad_rows),
            bar: ReadBar::new(opts.progress),
            row: 0,
            person_positions: Vec::new(),
        }
    }

    /// The contact id of a raw contact string, normalising (and caching) on first sight.
    pub(crate) fn contact_id(&mut self, raw: &str, col: usize) -> Result<u32, Bad> {
        let key = self.contact_cache.key(raw);
        if let Some(id) = self.contact_cache.get(&key) {
            return Ok(id);
        }
        let failed = self.contact_cache.failure_key(raw);
        if let Some(reason) = self.contact_cache.failure(&failed) {
            return Err(Bad::new(col, "bad_contact", reason));
        }
        let normalized = self
            .ahead
            .and_then(|a| a.take(&key, &failed))
            .unwrap_or_else(|| normalise(&self.opts.normalizer, raw))
            .map_err(|reason| Bad::new(col, "bad_contact", reason));
        let contact = match normalized {
            Ok(contact) => contact,
            Err(bad) => {
                self.contact_cache.insert_failure(failed, &bad.reason);
                return Err(bad);
            }
        };
        let id = self.contact_keys.get_or_intern(&contact.key);
        if id as usize == self.contacts.len() {
            self.contacts.push(contact);
        }
        self.contact_cache.insert(key, id);
        Ok(id)
    }

    /// Start reading the next file: `kind` and its name go to the progress spinner, and its
    /// report starts with the columns it has that the reader ignores (indices `ignored` of
    /// `src`'s header).
    pub(crate) fn start_file(
        &mut self,
        kind: &str,
        path: &Path,
        src: &Source,
        ignored: &[usize],
    ) -> FileReport {
        self.bar.start(kind, path);
        self.row = 0;
        FileReport {
            path: path.display().to_string(),
            kind: kind.to_owned(),
            ignored_columns: ignored.iter().map(|&i| src.columns()[i].clone()).collect(),
            ..FileReport::default()
        }
    }

    /// The next data row of the current file is being read (progress, and the scouts' guide to
    /// what is already behind). Returns whether it is this ingest's to read: always, unless the
    /// ingest is of one shard ([`IngestOptions::shard`]) and the row's person (cell
    /// `person_col`) is another shard's. A row of another shard is not counted anywhere: every
    /// row is counted by exactly one shard.
    #[inline]
    pub(crate) fn next_row(&mut self, src: &Source, person_col: usize) -> bool {
        self.row += 1;
        self.bar.row(self.row);
        if self.row & 0xFF == 0
            && let Some(a) = self.ahead
        {
            a.at(self.file, self.row);
        }
        self.opts
            .shard
            .is_none_or(|shard| owns(&shard, src.optional_cell(person_col)))
    }

    /// Where the current row is in the whole input: (file index in reading order << 40) | data
    /// row (1-based). Sorting by it gives input order across files and across shards.
    pub(crate) fn position(&self) -> u64 {
        ((self.file as u64) << 40) | self.row.min((1 << 40) - 1)
    }

    /// The id of person `id`, interning it (and recording where) on first sight.
    pub(crate) fn person_id(&mut self, id: &str) -> u32 {
        let p = self.persons.get_or_intern(id);
        if p as usize == self.person_positions.len() {
            self.person_positions.push(self.position());
        }
        p
    }

    /// The current file is read.
    pub(crate) fn end_file(&mut self) {
        self.file += 1;
    }

    /// A validated IANA time zone name, or `None` for an empty cell.
    pub(crate) fn timezone(&mut self, s: &str, col: usize) -> Result<Option<String>, Bad> {
        if s.is_empty() {
            return Ok(None);
        }
        if !self.valid_zones.contains(s) {
            jiff::tz::TimeZone::get(s).map_err(|_| {
                Bad::new(
                    col,
                    "bad_timezone",
                    "unknown time zone (expected an IANA name such as America/Sao_Paulo)",
                )
            })?;
            self.valid_zones.insert(s.to_owned());
        }
        Ok(Some(s.to_owned()))
    }

    /// `bad` was found in the current row of `src` (the file `path`): name its column and value,
    /// then skip the row within the bad-row budget or fail ([`BadRows::skip_or_fail`]).
    pub(crate) fn bad_row(
        &mut self,
        src: &Source,
        path: &Path,
        bad: Bad,
        report: &mut FileReport,
    ) -> Result<()> {
        let (column, value) = match src.columns().get(bad.col) {
            Some(name) => (name.as_str(), src.cell(bad.col).display()),
            None => ("(row)", String::new()),
        };
        let position = self.position();
        self.bad
            .skip_or_fail(path, src.line(), position, column, value, bad, report)
    }
}

/// Whether the person cell `cell` is in `shard`: the hash reads the cell's text as ingest
/// interns it (a Parquet number as its decimal digits).
fn owns(shard: &ShardFilter, cell: Cell<'_>) -> bool {
    match cell {
        Cell::Null => shard.owns(b""),
        Cell::Str(b) => shard.owns(b),
        Cell::Int(_) | Cell::Float(_) | Cell::Time(_) => shard.owns(cell.display().as_bytes()),
    }
}
