//! Row sources: CSV, gzip CSV and Parquet files behind one cursor API ([`Source`]), with column
//! resolution by case-insensitive name and the SHA-256 of the file's bytes.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use sha2::{Digest, Sha256};

use crate::error::{Result, TrainerError};

/// One cell of the current row. Strings are trimmed of ASCII whitespace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell<'a> {
    /// Null (Parquet) — treated like an empty string.
    Null,
    /// Text (CSV, or a Parquet string column); not yet UTF-8 validated for CSV.
    Str(&'a [u8]),
    /// A Parquet integer column.
    Int(i64),
    /// A Parquet float column.
    Float(f64),
    /// A Parquet timestamp column, in unix seconds.
    Time(i64),
}

impl Cell<'_> {
    /// The value as text for error messages.
    pub(crate) fn display(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Str(b) => String::from_utf8_lossy(b).into_owned(),
            Cell::Int(i) | Cell::Time(i) => i.to_string(),
            Cell::Float(f) => f.to_string(),
        }
    }
}

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
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

pub(crate) struct ParquetSource {
    path: PathBuf,
    builder: Option<ParquetRecordBatchReaderBuilder<File>>,
    reader: Option<ParquetRecordBatchReader>,
    columns: Vec<String>,
    needed: Vec<usize>,
    /// Per file column: the current batch's view (None when not needed).
    views: Vec<Option<View>>,
    batch_len: usize,
    row_in_batch: usize,
    rows_before: u64,
}

/// A Parquet column of the current batch, in a shape cells can be read from cheaply.
enum View {
    Utf8(StringArray),
    Large(arrow_array::LargeStringArray),
    Viewed(arrow_array::StringViewArray),
    Dict {
        keys: Vec<Option<usize>>,
        values: StringArray,
    },
    Ints(Vec<Option<i64>>),
    Floats(Vec<Option<f64>>),
    Times(Vec<Option<i64>>),
    Bools(arrow_array::BooleanArray),
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
        let headers = reader.byte_headers().map_err(|e| csv_error(path, e))?;
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
            Source::Parquet(p) => &p.columns,
        }
    }

    /// Declare which columns will be read (Parquet decodes only those).
    pub(crate) fn set_needed(&mut self, cols: &[usize]) {
        if let Source::Parquet(p) = self {
            p.needed = cols.to_vec();
        }
    }

    /// Advance to the next row. `Ok(false)` at the end of the file.
    pub(crate) fn next_row(&mut self, path: &Path) -> Result<bool> {
        match self {
            Source::Csv(c) => c
                .reader
                .read_byte_record(&mut c.record)
                .map_err(|e| csv_error(path, e)),
            Source::Parquet(p) => p.next_row(),
        }
    }

    /// The current row's line number: 1-based with the header as line 1 (for Parquet, row + 2).
    pub(crate) fn line(&self) -> u64 {
        match self {
            Source::Csv(c) => c.record.position().map_or(0, csv::Position::line),
            Source::Parquet(p) => p.rows_before + p.row_in_batch as u64 + 1,
        }
    }

    /// For CSV, the current record's field count when it differs from the header's.
    pub(crate) fn ragged(&self) -> Option<usize> {
        match self {
            Source::Csv(c) => (c.record.len() != c.columns.len()).then_some(c.record.len()),
            Source::Parquet(_) => None,
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
                Ok(hex(&digest))
            }
            Source::Parquet(p) => file_sha256(&p.path),
        }
    }
}

fn csv_error(path: &Path, e: csv::Error) -> TrainerError {
    let line = e.position().map(csv::Position::line);
    let kind = e.into_kind();
    if let csv::ErrorKind::Io(io) = kind {
        return TrainerError::io(path, io);
    }
    TrainerError::BadFile {
        file: path.to_owned(),
        reason: match line {
            Some(l) => format!("line {l}: malformed CSV: {kind:?}"),
            None => format!("malformed CSV: {kind:?}"),
        },
    }
}

impl ParquetSource {
    fn open(path: &Path, file: File) -> Result<Self> {
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| TrainerError::BadFile {
                file: path.to_owned(),
                reason: format!("not a readable Parquet file: {e}"),
            })?;
        let columns = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().trim().to_owned())
            .collect();
        Ok(Self {
            path: path.to_owned(),
            builder: Some(builder),
            reader: None,
            columns,
            needed: Vec::new(),
            views: Vec::new(),
            batch_len: 0,
            row_in_batch: 0,
            rows_before: 0,
        })
    }

    fn bad(&self, reason: String) -> TrainerError {
        TrainerError::BadFile {
            file: self.path.clone(),
            reason,
        }
    }

    fn next_row(&mut self) -> Result<bool> {
        if self.row_in_batch + 1 < self.batch_len {
            self.row_in_batch += 1;
            return Ok(true);
        }
        if let Some(builder) = self.builder.take() {
            let mask = ProjectionMask::roots(builder.parquet_schema(), self.needed.iter().copied());
            let reader = builder.with_projection(mask).with_batch_size(8192).build();
            self.reader = Some(reader.map_err(|e| self.bad(format!("reading Parquet: {e}")))?);
        }
        let Some(reader) = self.reader.as_mut() else {
            return Ok(false);
        };
        loop {
            let batch = match reader.next() {
                None => return Ok(false),
                Some(b) => b.map_err(|e| TrainerError::BadFile {
                    file: self.path.clone(),
                    reason: format!("reading Parquet: {e}"),
                })?,
            };
            self.rows_before += self.batch_len as u64;
            self.batch_len = batch.num_rows();
            self.row_in_batch = 0;
            let mut views: Vec<Option<View>> = (0..self.columns.len()).map(|_| None).collect();
            for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
                let name = field.name().trim();
                if let Some(col) = self.columns.iter().position(|c| c == name) {
                    views[col] = Some(view(array).ok_or_else(|| TrainerError::BadFile {
                        file: self.path.clone(),
                        reason: format!(
                            "column {name:?} has unsupported Parquet type {}",
                            array.data_type()
                        ),
                    })?);
                }
            }
            self.views = views;
            if self.batch_len > 0 {
                return Ok(true);
            }
        }
    }

    fn cell(&self, col: usize) -> Cell<'_> {
        let i = self.row_in_batch;
        let Some(Some(v)) = self.views.get(col) else {
            return Cell::Null;
        };
        match v {
            View::Utf8(a) => str_cell(a, i, |a, i| a.value(i)),
            View::Large(a) => str_cell(a, i, |a, i| a.value(i)),
            View::Viewed(a) => str_cell(a, i, |a, i| a.value(i)),
            View::Dict { keys, values } => match keys[i] {
                Some(k) if !values.is_null(k) => Cell::Str(values.value(k).trim().as_bytes()),
                Some(_) | None => Cell::Null,
            },
            View::Ints(v) => v[i].map_or(Cell::Null, Cell::Int),
            View::Floats(v) => v[i].map_or(Cell::Null, Cell::Float),
            View::Times(v) => v[i].map_or(Cell::Null, Cell::Time),
            View::Bools(a) => match a.is_null(i) {
                true => Cell::Null,
                false if a.value(i) => Cell::Str(b"true"),
                false => Cell::Str(b"false"),
            },
        }
    }
}

fn str_cell<'a, A: Array>(a: &'a A, i: usize, get: impl Fn(&'a A, usize) -> &'a str) -> Cell<'a> {
    if a.is_null(i) {
        Cell::Null
    } else {
        Cell::Str(get(a, i).trim().as_bytes())
    }
}

fn collect<T: Copy, A: Array>(a: &A, get: impl Fn(usize) -> T) -> Vec<Option<T>> {
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| get(i)))
        .collect()
}

macro_rules! ints {
    ($a:expr, $t:ty) => {{
        let p = $a.as_primitive::<$t>();
        Some(View::Ints(collect(p, |i| {
            i64::try_from(p.value(i)).unwrap_or(i64::MAX)
        })))
    }};
}

/// A cheap per-batch view of a column, or `None` for unsupported types.
fn view(a: &ArrayRef) -> Option<View> {
    let a: &Arc<dyn Array> = a;
    Some(match a.data_type() {
        DataType::Utf8 => View::Utf8(a.as_string::<i32>().clone()),
        DataType::LargeUtf8 => View::Large(a.as_string::<i64>().clone()),
        DataType::Utf8View => View::Viewed(a.as_string_view().clone()),
        DataType::Dictionary(_, value_type) if **value_type == DataType::Utf8 => {
            let d = a.as_any_dictionary_opt()?;
            let values = d.values().as_string::<i32>().clone();
            let keys = if values.is_empty() {
                vec![None; d.len()]
            } else {
                let norm = d.normalized_keys();
                (0..d.len())
                    .map(|i| (!d.is_null(i)).then(|| norm[i]))
                    .collect()
            };
            View::Dict { keys, values }
        }
        DataType::Int8 => return ints!(a, Int8Type),
        DataType::Int16 => return ints!(a, Int16Type),
        DataType::Int32 => return ints!(a, Int32Type),
        DataType::Int64 => return ints!(a, Int64Type),
        DataType::UInt8 => return ints!(a, UInt8Type),
        DataType::UInt16 => return ints!(a, UInt16Type),
        DataType::UInt32 => return ints!(a, UInt32Type),
        DataType::UInt64 => return ints!(a, UInt64Type),
        DataType::Float32 => {
            let p = a.as_primitive::<Float32Type>();
            View::Floats(collect(p, |i| f64::from(p.value(i))))
        }
        DataType::Float64 => {
            let p = a.as_primitive::<Float64Type>();
            View::Floats(collect(p, |i| p.value(i)))
        }
        DataType::Boolean => View::Bools(a.as_boolean().clone()),
        DataType::Timestamp(unit, _) => {
            use arrow_array::types::{
                TimestampMicrosecondType as Us, TimestampMillisecondType as Ms,
                TimestampNanosecondType as Ns, TimestampSecondType as S,
            };
            let per_sec: i64 = match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            let raw: Vec<Option<i64>> = match unit {
                TimeUnit::Second => {
                    collect(a.as_primitive::<S>(), |i| a.as_primitive::<S>().value(i))
                }
                TimeUnit::Millisecond => {
                    collect(a.as_primitive::<Ms>(), |i| a.as_primitive::<Ms>().value(i))
                }
                TimeUnit::Microsecond => {
                    collect(a.as_primitive::<Us>(), |i| a.as_primitive::<Us>().value(i))
                }
                TimeUnit::Nanosecond => {
                    collect(a.as_primitive::<Ns>(), |i| a.as_primitive::<Ns>().value(i))
                }
            };
            View::Times(
                raw.into_iter()
                    .map(|v| v.map(|v| v.div_euclid(per_sec)))
                    .collect(),
            )
        }
        DataType::Null
        | DataType::Float16
        | DataType::Date32
        | DataType::Date64
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Duration(_)
        | DataType::Interval(_)
        | DataType::Binary
        | DataType::FixedSizeBinary(_)
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::List(_)
        | DataType::ListView(_)
        | DataType::FixedSizeList(..)
        | DataType::LargeList(_)
        | DataType::LargeListView(_)
        | DataType::Struct(_)
        | DataType::Union(..)
        | DataType::Dictionary(..)
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..)
        | DataType::Map(..)
        | DataType::RunEndEncoded(..) => return None,
    })
}
