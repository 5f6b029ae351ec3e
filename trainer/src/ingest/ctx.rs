//! The state the readers of one ingest share ([`Ctx`]): the person and contact id tables, the
//! contact cache (taking what scouts normalised ahead), the bad-row budget and the read bar.

use std::collections::HashSet;
use std::path::Path;

use contactscore_models::Contact;

use super::IngestOptions;
use super::contact_cache::ContactCache;
use super::intern::Interner;
use super::report::{Bad, BadRows, FileReport};
use super::scout::{Ahead, normalise};
use super::source::Source;
use crate::error::Result;
use crate::progress::ReadBar;

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
        FileReport {
            path: path.display().to_string(),
            kind: kind.to_owned(),
            ignored_columns: ignored.iter().map(|&i| src.columns()[i].clone()).collect(),
            ..FileReport::default()
        }
    }

    /// Row `rows_read` of the current file is being read (progress, and the scouts' guide to
    /// what is already behind).
    #[inline]
    pub(crate) fn row(&mut self, rows_read: u64) {
        self.bar.row(rows_read);
        if rows_read & 0xFF == 0
            && let Some(a) = self.ahead
        {
            a.at(self.file, rows_read);
        }
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
        self.bad
            .skip_or_fail(path, src.line(), column, value, bad, report)
    }
}
