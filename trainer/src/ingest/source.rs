//! Row sources: CSV, gzip CSV and Parquet files behind one cursor API ([`Source`]), with column
//! resolution by case-insensitive name and the SHA-256 of the file's bytes.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use sha2::{Digest, Sha256};

use super::cell::Cell;
use super::parquet_source::ParquetSource;
use super::report::Bad;
use crate::error::{Result, TrainerError};

/// Streaming SHA-256 of a file.
pub fn file_sha256(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    let mut f = File::open(path).map_err(|e| TrainerError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| TrainerError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// A reader that feeds everything it reads into a shared SHA-256, so CSV files are fingerprinted
/// in the same pass that parses them.
struct Hashing<R> {
    inner: R,
    hash: Rc<RefCell<Sha256>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.borrow_mut().update(&buf[..n]);
        Ok(n)
    }
}

/// A cursor over the rows of one input file.
pub(crate) enum Source {
    /// CSV or gzip CSV.
    Csv(CsvSource),
    /// Parquet.
    Parquet(Box<ParquetSource>),
}

pub(crate) struct CsvSource {
    reader: csv::Reader<Box<dyn Read>>,
    record: csv::ByteRecord,
    hash: Rc<RefCell<Sha256>>,
    columns: Vec<String>,
}

impl Source {
    /// Open `path`, choosing the format from its extension.
    pub(crate) fn open(path: &Path) -> Result<Source> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase());
        let name = name.unwrap_or_default();
        let file = File::open(path).map_err(|e| TrainerError::io(path, e))?;
        if name.ends_with(".parquet") {
            return ParquetSource::open(path, file).map(|p| Source::Parquet(Box::new(p)));
        }
        let gz = name.ends_with(".csv.gz");
        if !gz && !name.ends_with(".csv") {
            return Err(TrainerError::BadFile {
                file: path.to_owned(),
                reason: "unsupported file type (expected .csv, .csv.gz or .parquet)".to_owned(),
            });
        }
        let hash = Rc::new(RefCell::new(Sha256::new()));
        let raw = Hashing {
            inner: BufReader::with_capacity(1 << 16, file),
            hash: hash.clone(),
        };
        let input: Box<dyn Read> = if gz {
            Box::new(flate2::read::MultiGzDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .buffer_capacity(1 << 18)
            .from_reader(input);
        let headers = reader
            .byte_headers()
            .map_err(|e| TrainerError::csv(path, e))?;
        let mut columns: Vec<String> = headers
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_owned())
            .collect();
        if let Some(first) = columns.first_mut() {
            // A UTF-8 byte-order mark from spreadsheet exports.
            *first = first.trim_start_matches('\u{feff}').trim().to_owned();
        }
        Ok(Source::Csv(CsvSource {
            reader,
            record: csv::ByteRecord::new(),
            hash,
            columns,
        }))
    }

    /// The file's column names (trimmed, as spelled in the file).
    pub(crate) fn columns(&self) -> &[String] {
        match self {
            Source::Csv(c) => &c.columns,
            Source::Parquet(p) => p.columns(),
        }
    }

    /// Declare which columns will be read (Parquet decodes only those).
    pub(crate) fn set_needed(&mut self, cols: &[usize]) {
        if let Source::Parquet(p) = self {
            p.set_needed(cols);
        }
    }

    /// Advance to the next row. `Ok(false)` at the end of the file.
    pub(crate) fn next_row(&mut self, path: &Path) -> Result<bool> {
        match self {
            Source::Csv(c) => c
                .reader
                .read_byte_record(&mut c.record)
                .map_err(|e| TrainerError::csv(path, e)),
            Source::Parquet(p) => p.next_row(),
        }
    }

    /// The current row's line number: 1-based with the header as line 1 (for Parquet, row + 2).
    pub(crate) fn line(&self) -> u64 {
        match self {
            Source::Csv(c) => c.record.position().map_or(0, csv::Position::line),
            Source::Parquet(p) => p.line(),
        }
    }

    /// A row with more fields than the header is misaligned: a bad row (`bad_record`). Short
    /// rows are fine (trailing empty fields dropped by some exporters: the missing cells read as
    /// empty).
    pub(crate) fn check_shape(&self) -> std::result::Result<(), Bad> {
        match self {
            Source::Csv(c) if c.record.len() > c.columns.len() => {
                let msg = format!(
                    "row has {} fields but the header has {}",
                    c.record.len(),
                    c.columns.len()
                );
                Err(Bad::new(usize::MAX, "bad_record", msg))
            }
            Source::Csv(_) | Source::Parquet(_) => Ok(()),
        }
    }

    /// The cell of an optional column, `col` being `usize::MAX` when the file lacks it (read as
    /// null).
    pub(crate) fn optional_cell(&self, col: usize) -> Cell<'_> {
        if col == usize::MAX {
            Cell::Null
        } else {
            self.cell(col)
        }
    }

    /// Cell `col` of the current row.
    pub(crate) fn cell(&self, col: usize) -> Cell<'_> {
        match self {
            Source::Csv(c) => c
                .record
                .get(col)
                .map_or(Cell::Str(b""), |b| Cell::Str(b.trim_ascii())),
            Source::Parquet(p) => p.cell(col),
        }
    }

    /// Finish reading and return the file's SHA-256 (hex).
    pub(crate) fn finish(self, path: &Path) -> Result<String> {
        match self {
            Source::Csv(c) => {
                let mut inner = c.reader.into_inner();
                std::io::copy(&mut inner, &mut std::io::sink())
                    .map_err(|e| TrainerError::io(path, e))?;
                drop(inner);
                let digest = c.hash.borrow_mut().clone().finalize();
                Ok(format!("{digest:x}"))
            }
            Source::Parquet(p) => file_sha256(p.path()),
        }
    }
}
