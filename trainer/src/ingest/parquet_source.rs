//! Parquet row source: reads only the needed columns batch by batch with the arrow reader and
//! exposes string, integer, float, boolean and timestamp columns (any unit) as [`Cell`]s.

use std::fs::File;
use std::path::{Path, PathBuf};
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

use super::cell::Cell;
use crate::error::{Result, TrainerError};

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

impl ParquetSource {
    /// The file's column names (trimmed).
    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Decode only these columns (file column indices).
    pub(crate) fn set_needed(&mut self, cols: &[usize]) {
        self.needed = cols.to_vec();
    }

    /// The current row as a CSV-like line number: row index + 2.
    pub(crate) fn line(&self) -> u64 {
        self.rows_before + self.row_in_batch as u64 + 2
    }

    /// Open a Parquet file (reads the footer only).
    pub(crate) fn open(path: &Path, file: File) -> Result<Self> {
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

    /// Advance to the next row; `Ok(false)` at the end.
    pub(crate) fn next_row(&mut self) -> Result<bool> {
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
                            "column {} has unsupported Parquet type {}",
                            contactscore_models::quote(name),
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

    /// Cell `col` of the current row (`Null` for columns not decoded).
    pub(crate) fn cell(&self, col: usize) -> Cell<'_> {
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
