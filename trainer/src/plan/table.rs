//! Reading the plan's input tables (the list and the capacity file): a CSV with a header whose
//! columns are found by name (case-insensitively, trimmed), read record by record, every error
//! naming the file and, for a malformed record, its line.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::{Result, TrainerError};

/// An open input table.
pub(super) struct Table {
    path: PathBuf,
    reader: csv::Reader<File>,
    header: csv::StringRecord,
}

impl Table {
    /// Open `path` and read its header.
    pub(super) fn open(path: &Path) -> Result<Self> {
        let file_error = |e: csv::Error| TrainerError::BadFile {
            file: path.to_owned(),
            reason: e.to_string(),
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(file_error)?;
        let header = reader.headers().map_err(file_error)?.clone();
        Ok(Self {
            path: path.to_owned(),
            reader,
            header,
        })
    }

    /// The index of column `name`, if the header has it.
    pub(super) fn column(&self, name: &str) -> Option<usize> {
        self.header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    }

    /// A whole-file error: `reason` about this table.
    pub(super) fn error(&self, reason: impl Into<String>) -> TrainerError {
        TrainerError::BadFile {
            file: self.path.clone(),
            reason: reason.into(),
        }
    }

    /// Read the next record into `record`; its line number, or `None` at the end.
    pub(super) fn next(&mut self, record: &mut csv::StringRecord) -> Result<Option<u64>> {
        match self.reader.read_record(record) {
            Ok(true) => Ok(Some(record.position().map_or(0, csv::Position::line))),
            Ok(false) => Ok(None),
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                Err(TrainerError::bad_row(
                    &self.path,
                    line,
                    "(row)",
                    "",
                    e.to_string(),
                ))
            }
        }
    }
}
