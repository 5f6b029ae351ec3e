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

    /// The shards of a sharded run skipped more bad rows together than `--max-bad-rows` allows
    /// (each shard only sees its own; the count is over the whole export).
    #[error("{count} bad rows over all shards exceed --max-bad-rows {max}; first: {first}")]
    TooManyBadRowsInShards {
        /// Bad rows over all shards.
        count: u64,
        /// The limit.
        max: u64,
        /// The first bad row in input order, as the report shows it (masked).
        first: String,
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

/// The command's exit code for an error, so a scheduler can tell what to do without reading the
/// message (documented in the README's command-line section). `0` is success; clap's own usage
/// errors exit with [`EXIT_CONFIG`] too.
pub const EXIT_FAILED: u8 = 1;
/// A configuration or command-line value is wrong: fix the invocation, do not retry as is.
pub const EXIT_CONFIG: u8 = 2;
/// The input data is bad (a bad row or file, too many bad rows, too little data): fix the export.
pub const EXIT_BAD_INPUT: u8 = 3;
/// Reading or writing a file failed (missing, unreadable, disk full): often worth a retry.
pub const EXIT_IO: u8 = 4;
/// A stored model version is unreadable or fails its checks: look at the models directory.
pub const EXIT_ARTIFACT: u8 = 5;

impl TrainerError {
    /// The exit code this error ends the command with (see [`EXIT_FAILED`] and the others).
    pub fn exit_code(&self) -> u8 {
        match self {
            TrainerError::BadRow { .. }
            | TrainerError::BadFile { .. }
            | TrainerError::TooManyBadRows { .. }
            | TrainerError::TooManyBadRowsInShards { .. } => EXIT_BAD_INPUT,
            TrainerError::Io { .. } => EXIT_IO,
            TrainerError::Config(_) => EXIT_CONFIG,
            TrainerError::Backtest(_) | TrainerError::Internal(_) => EXIT_FAILED,
            TrainerError::Model(e) => model_exit_code(e),
        }
    }

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

/// The exit code for an error of the shared library (see [`TrainerError::exit_code`]).
pub fn model_exit_code(e: &contactscore_models::Error) -> u8 {
    use contactscore_models::Error;
    match e {
        Error::InvalidConfig(_) | Error::InvalidPlan { .. } | Error::VersionNotFound { .. } => {
            EXIT_CONFIG
        }
        Error::InvalidContact { .. }
        | Error::InvalidTimezone { .. }
        | Error::UnknownValue(_)
        | Error::NotEnoughData(_) => EXIT_BAD_INPUT,
        Error::Io { .. } => EXIT_IO,
        Error::Artifact { .. } => EXIT_ARTIFACT,
        Error::Fit { .. } => EXIT_FAILED,
    }
}

/// Result alias for the trainer library.
pub type Result<T, E = TrainerError> = std::result::Result<T, E>;
