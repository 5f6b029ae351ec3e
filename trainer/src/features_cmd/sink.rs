//! The files `features` writes: one row per attempt, the id and outcome columns, then one
//! column per feature of the schema, as CSV (a missing feature is an empty field) or Parquet
//! (`Float32` feature columns with NaN for missing, written in row groups of 64k rows with
//! zstd). A file is written under a temporary name beside the target, fsynced and renamed into
//! place by [`Sink::finish`]; a sink dropped unfinished (any error) removes its temporary file,
//! so a failed export leaves nothing behind.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float32Builder, Float64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch, TimestampSecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use contactscore_models::features::FeatureSchema;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::timefmt::rfc3339;
use crate::{Result, TrainerError};

/// Rows per Parquet record batch (and row group slice): bounds the export's memory.
const BATCH: usize = 65_536;

/// The columns before the features, in order (`probability` only when a version scores).
const LEADING: [&str; 6] = [
    "attempt_id",
    "person_id",
    "channel",
    "attempted_at",
    "outcome",
    "label",
];

/// One exported row.
#[derive(Debug)]
pub struct Row<'a> {
    /// The attempt id.
    pub attempt_id: &'a str,
    /// The person id.
    pub person_id: &'a str,
    /// Channel string.
    pub channel: &'a str,
    /// Unix seconds.
    pub attempted_at: i64,
    /// Canonical outcome string.
    pub outcome: &'a str,
    /// Whether the outcome is a positive of the target.
    pub label: bool,
    /// The version's calibrated probability, when a version scores the rows.
    pub probability: Option<f64>,
    /// The feature values, in schema order.
    pub features: &'a [f32],
}

/// The output format, from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `.csv`
    Csv,
    /// `.parquet`
    Parquet,
}

impl Kind {
    /// The format of `path` by its extension; anything else is an error naming the file.
    pub fn of(path: &Path) -> Result<Self> {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Ok(Kind::Csv),
            Some(e) if e.eq_ignore_ascii_case("parquet") => Ok(Kind::Parquet),
            Some(_) | None => Err(TrainerError::Config(format!(
                "--out {}: the output must end in .csv or .parquet",
                path.display()
            ))),
        }
    }

    /// The extension it is written with.
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Csv => "csv",
            Kind::Parquet => "parquet",
        }
    }

    /// Start writing `out` (under a temporary name until [`Sink::finish`]) for rows of `schema`,
    /// with a `probability` column if `scored`.
    pub fn create(self, out: &Path, schema: &FeatureSchema, scored: bool) -> Result<Sink> {
        let tmp = Temporary {
            path: out.with_extension(format!("{}.tmp-{}", self.extension(), std::process::id())),
            kept: false,
        };
        let path = out;
        let file = File::create(&tmp.path).map_err(|e| TrainerError::io(path, e))?;
        let mut names: Vec<String> = LEADING.iter().map(|&n| n.to_owned()).collect();
        if scored {
            names.push("probability".into());
        }
        names.extend(schema.names.iter().cloned());
        let inner = match self {
            Kind::Csv => {
                let mut w = csv::Writer::from_writer(BufWriter::new(file));
                w.write_record(&names)
                    .map_err(|e| TrainerError::csv(path, e))?;
                Inner::Csv(Box::new(w), Vec::with_capacity(names.len()))
            }
            Kind::Parquet => {
                // Types by position: the leading columns, then `probability`, then features.
                let leading = [
                    DataType::Utf8,
                    DataType::Utf8,
                    DataType::Utf8,
                    DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
                    DataType::Utf8,
                    DataType::Boolean,
                ];
                let scored_type = scored.then_some(DataType::Float64);
                let types = leading
                    .into_iter()
                    .chain(scored_type)
                    .chain(std::iter::repeat(DataType::Float32));
                let fields: Vec<Field> = names
                    .iter()
                    .zip(types)
                    .map(|(n, t)| Field::new(n, t, false))
                    .collect();
                let arrow = Arc::new(Schema::new(fields));
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    .set_max_row_group_row_count(Some(BATCH))
                    .build();
                let w = ArrowWriter::try_new(file, arrow.clone(), Some(props))
                    .map_err(|e| parquet_err(path, e))?;
                Inner::Parquet(Box::new(Columns::new(w, arrow, schema.len(), scored)))
            }
        };
        Ok(Sink {
            path: path.to_owned(),
            tmp,
            width: schema.len(),
            inner,
        })
    }
}

/// An open export file.
pub struct Sink {
    /// The target (named in errors).
    path: PathBuf,
    /// Where the rows go until `finish`.
    tmp: Temporary,
    width: usize,
    inner: Inner,
}

/// A temporary file, removed when dropped unless [`Temporary::keep`] renamed it into place.
struct Temporary {
    path: PathBuf,
    kept: bool,
}

impl Temporary {
    /// Rename the file to `to`; from then on it is not removed.
    fn keep(mut self, to: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, to)?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

enum Inner {
    Csv(Box<csv::Writer<BufWriter<File>>>, Vec<String>),
    Parquet(Box<Columns>),
}

impl Sink {
    /// Append one row.
    pub fn write(&mut self, r: &Row<'_>) -> Result<()> {
        if r.features.len() != self.width {
            return Err(TrainerError::Internal(format!(
                "a feature row has {} values, the schema {}",
                r.features.len(),
                self.width
            )));
        }
        match &mut self.inner {
            Inner::Csv(w, record) => {
                record.clear();
                record.extend([
                    r.attempt_id.to_owned(),
                    r.person_id.to_owned(),
                    r.channel.to_owned(),
                    rfc3339(r.attempted_at),
                    r.outcome.to_owned(),
                    u8::from(r.label).to_string(),
                ]);
                if let Some(p) = r.probability {
                    record.push(p.to_string());
                }
                record.extend(r.features.iter().map(|x| {
                    if x.is_nan() {
                        String::new()
                    } else {
                        x.to_string()
                    }
                }));
                w.write_record(record.iter())
                    .map_err(|e| TrainerError::csv(&self.path, e))
            }
            Inner::Parquet(c) => {
                c.push(r);
                if c.rows == BATCH {
                    c.flush().map_err(|e| parquet_err(&self.path, e))?;
                }
                Ok(())
            }
        }
    }

    /// Flush, close and fsync the file, then rename it into place.
    pub fn finish(self) -> Result<()> {
        let io = |e: std::io::Error| TrainerError::io(&self.path, e);
        let file = match self.inner {
            Inner::Csv(w, _) => w
                .into_inner()
                .map_err(|e| io(e.into_error()))?
                .into_inner()
                .map_err(|e| io(e.into_error()))?,
            Inner::Parquet(mut c) => {
                c.flush().map_err(|e| parquet_err(&self.path, e))?;
                c.writer
                    .into_inner()
                    .map_err(|e| parquet_err(&self.path, e))?
            }
        };
        file.sync_all().map_err(io)?;
        drop(file);
        self.tmp.keep(&self.path).map_err(io)
    }
}

/// Column builders of the current Parquet batch.
struct Columns {
    writer: ArrowWriter<File>,
    schema: Arc<Schema>,
    attempt_id: StringBuilder,
    person_id: StringBuilder,
    channel: StringBuilder,
    attempted_at: Vec<i64>,
    outcome: StringBuilder,
    label: BooleanBuilder,
    probability: Option<Float64Builder>,
    features: Vec<Float32Builder>,
    rows: usize,
}

impl Columns {
    fn new(writer: ArrowWriter<File>, schema: Arc<Schema>, width: usize, scored: bool) -> Self {
        Self {
            writer,
            schema,
            attempt_id: StringBuilder::new(),
            person_id: StringBuilder::new(),
            channel: StringBuilder::new(),
            attempted_at: Vec::with_capacity(BATCH),
            outcome: StringBuilder::new(),
            label: BooleanBuilder::with_capacity(BATCH),
            probability: scored.then(|| Float64Builder::with_capacity(BATCH)),
            features: (0..width)
                .map(|_| Float32Builder::with_capacity(BATCH))
                .collect(),
            rows: 0,
        }
    }

    fn push(&mut self, r: &Row<'_>) {
        self.attempt_id.append_value(r.attempt_id);
        self.person_id.append_value(r.person_id);
        self.channel.append_value(r.channel);
        self.attempted_at.push(r.attempted_at);
        self.outcome.append_value(r.outcome);
        self.label.append_value(r.label);
        if let Some(p) = &mut self.probability {
            p.append_value(r.probability.unwrap_or(f64::NAN));
        }
        for (b, &x) in self.features.iter_mut().zip(r.features) {
            b.append_value(x);
        }
        self.rows += 1;
    }

    /// Write the buffered rows as one record batch.
    fn flush(&mut self) -> std::result::Result<(), parquet::errors::ParquetError> {
        if self.rows == 0 {
            return Ok(());
        }
        let at =
            TimestampSecondArray::from(std::mem::take(&mut self.attempted_at)).with_timezone("UTC");
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.attempt_id.finish()),
            Arc::new(self.person_id.finish()),
            Arc::new(self.channel.finish()),
            Arc::new(at),
            Arc::new(self.outcome.finish()),
            Arc::new(self.label.finish()),
        ];
        if let Some(p) = &mut self.probability {
            columns.push(Arc::new(p.finish()));
        }
        columns.extend(
            self.features
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        self.writer.write(&batch)?;
        self.rows = 0;
        Ok(())
    }
}

fn parquet_err(path: &Path, e: parquet::errors::ParquetError) -> TrainerError {
    TrainerError::BadFile {
        file: path.to_owned(),
        reason: format!("cannot write Parquet: {e}"),
    }
}
