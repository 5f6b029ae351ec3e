//! What ingest did to each file (rows read/used, duplicates, skipped rows by reason, ignored
//! columns, fingerprints) and the bad-row budget (`max_bad_rows`) shared by all files.

use std::collections::BTreeMap;
use std::path::Path;

use contactscore_models::{Masked, quote};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainerError};

/// How many masked examples of skipped rows the report keeps.
pub(crate) const MAX_EXAMPLES: usize = 10;

/// What happened to one input file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    /// The file as given.
    pub path: String,
    /// `attempts`, `contacts`, `persons` or `validations`.
    pub kind: String,
    /// SHA-256 of the file's bytes (hex).
    pub sha256: String,
    /// Data rows read (the header excluded).
    pub rows_read: u64,
    /// Rows kept.
    pub rows_used: u64,
    /// Rows dropped because their id was seen before (the first occurrence is kept).
    pub duplicates: u64,
    /// Of `duplicates`, those whose content differs from the kept row.
    pub conflicting_duplicates: u64,
    /// Bad rows skipped under `max_bad_rows`, by reason key (`bad_timestamp`, `unknown_channel`…).
    pub skipped: BTreeMap<String, u64>,
    /// Columns present in the file but not part of the contract (reported once, not per row).
    pub ignored_columns: Vec<String>,
}

/// What happened to all input files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestReport {
    /// One entry per file, in reading order.
    pub files: Vec<FileReport>,
    /// The first few skipped rows, with contact points and other personal values masked.
    pub skipped_examples: Vec<String>,
    /// Where each of `skipped_examples` is in the input (see `Ctx::position`): a sharded run
    /// merges its shards' examples back into input order by it. Not part of the manifest.
    #[serde(skip)]
    pub example_positions: Vec<u64>,
}

impl IngestReport {
    /// Bad rows skipped over all files.
    pub fn skipped_total(&self) -> u64 {
        self.files.iter().flat_map(|f| f.skipped.values()).sum()
    }
}

/// A bad row as found by a parser: which column, a reason key for counting, and a message that
/// does not repeat the value (the value is reported separately, masked where needed).
#[derive(Debug)]
pub(crate) struct Bad {
    /// Index of the column in the file.
    pub col: usize,
    /// Reason key, e.g. `bad_timestamp`.
    pub key: &'static str,
    /// Human explanation.
    pub reason: String,
}

impl Bad {
    pub(crate) fn new(col: usize, key: &'static str, reason: impl Into<String>) -> Self {
        Self {
            col,
            key,
            reason: reason.into(),
        }
    }
}

/// Columns whose values are vocabulary or times, safe to show unmasked in examples.
const SHOWN_COLUMNS: [&str; 12] = [
    "channel",
    "outcome",
    "attempted_at",
    "duration_seconds",
    "timezone",
    "channels",
    "added_at",
    "validation_status",
    "validated_at",
    "line_type",
    "carrier",
    "ported",
];

/// The bad-row budget shared by all files of one ingest.
#[derive(Debug)]
pub(crate) struct BadRows {
    max: u64,
    count: u64,
    first: Option<TrainerError>,
    pub(crate) examples: Vec<String>,
    pub(crate) example_positions: Vec<u64>,
}

impl BadRows {
    pub(crate) fn new(max: u64) -> Self {
        Self {
            max,
            count: 0,
            first: None,
            examples: Vec::new(),
            example_positions: Vec::new(),
        }
    }

    /// One bad row: an error in fail-fast mode or past the budget, else skipped, counted in
    /// `file` and kept (masked) among the examples with its `position` in the input.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn skip_or_fail(
        &mut self,
        path: &Path,
        line: u64,
        position: u64,
        column: &str,
        value: String,
        bad: Bad,
        file: &mut FileReport,
    ) -> Result<()> {
        let shown = if value.is_empty() {
            String::new()
        } else if SHOWN_COLUMNS.iter().any(|c| column.eq_ignore_ascii_case(c)) {
            value.clone()
        } else {
            Masked(&value).to_string()
        };
        let example = format!(
            "{}:{line}: column {}: {}: {} (value {})",
            path.display(),
            quote(column),
            bad.key,
            bad.reason,
            quote(&shown)
        );
        // The error carries the value as shown in the examples: masked unless the column holds
        // no personal data, since it ends up on stderr and in a scheduler's logs.
        let err = TrainerError::BadRow {
            file: path.to_owned(),
            line,
            column: column.to_owned(),
            value: shown,
            reason: bad.reason,
        };
        if self.max == 0 {
            return Err(err);
        }
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(err);
        }
        if self.count > self.max {
            let first = self
                .first
                .take()
                .map(Box::new)
                .expect("first bad row recorded");
            return Err(TrainerError::TooManyBadRows {
                count: self.count,
                max: self.max,
                first,
            });
        }
        *file.skipped.entry(bad.key.to_owned()).or_insert(0) += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(example);
            self.example_positions.push(position);
        }
        Ok(())
    }
}
