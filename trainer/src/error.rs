//! The trainer library's error type. Input errors name the file, line, column and value, so a user
//! can fix the export without reading code.

use std::path::PathBuf;

/// Errors from the trainer library.
#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    /// A row of an input file is bad (fail-fast mode, or more bad rows than `--max-bad-rows`).
    #[error(
        "{}:{line}: column {}: {reason} (value {})",
        file.display(),
        contactscore_models::quote(column),
        contactscore_models::quote(value)
    )]
    BadRow {
        /// The input file.
        file: PathBuf,
        /// 1-based line number in the file (the header is line 1); for Parquet, row number + 1.
        line: u64,
        /// The column.
        column: String,
        /// The offending value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An input file lacks a required column, or is not a supported format.
    #[error("{}: {reason}", file.display())]
    BadFile {
        /// The input file.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// More rows were bad than `--max-bad-rows` allows.
    #[error("{count} bad rows exceed --max-bad-rows {max}; first: {first}")]
    TooManyBadRows {
        /// How many rows were bad when the limit was crossed.
        count: u64,
        /// The limit.
        max: u64,
        /// The first bad row's error.
        first: Box<TrainerError>,
    },

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A configuration problem (config file, CLI values).
    #[error("{0}")]
    Config(String),

    /// A backtest could not run: the simulated world and the model's state disagree, or a
    /// planner asked the world for something it does not have.
    #[error("backtest: {0}")]
    Backtest(String),

    /// A bug or a broken invariant of the trainer itself (a worker thread that panicked, a
    /// table that should exist): not the user's input.
    #[error("internal error: {0}")]
    Internal(String),

    /// An error from the shared model library.
    #[error(transparent)]
    Model(#[from] contactscore_models::Error),
}

impl TrainerError {
    /// Shorthand for an I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainerError::Io {
            path: path.into(),
            source,
        }
    }

    /// A bad row of `path`: its line, column and (already quoted or masked) value, and why.
    pub fn bad_row(
        path: impl Into<PathBuf>,
        line: u64,
        column: &str,
        value: &str,
        reason: impl Into<String>,
    ) -> Self {
        TrainerError::BadRow {
            file: path.into(),
            line,
            column: column.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }

    /// A CSV error on `path`: its I/O errors as [`TrainerError::Io`], anything else as a
    /// malformed file naming the line when known.
    pub fn csv(path: impl Into<PathBuf>, e: csv::Error) -> Self {
        let path = path.into();
        let line = e.position().map(csv::Position::line);
        let kind = e.into_kind();
        if let csv::ErrorKind::Io(source) = kind {
            return TrainerError::Io { path, source };
        }
        TrainerError::BadFile {
            file: path,
            reason: match line {
                Some(l) => format!("line {l}: malformed CSV: {kind:?}"),
                None => format!("malformed CSV: {kind:?}"),
            },
        }
    }
}

/// Result alias for the trainer library.
pub type Result<T, E = TrainerError> = std::result::Result<T, E>;
