//! One cell of an input row, whichever the file format: what the CSV and Parquet sources both
//! hand to the row parsers.

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
