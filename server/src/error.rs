//! The server's one error type. Every failure a handler can meet is a variant here, and
//! `status.rs` maps each to a gRPC code in one exhaustive match.

use std::path::PathBuf;

/// Errors of the server library.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A request field is missing or malformed; `field` is its path (`contacts[1].timezone`).
    #[error("{field}: {reason}")]
    InvalidArgument {
        /// Path of the offending field.
        field: String,
        /// What is wrong and what is expected.
        reason: String,
    },

    /// The request names something the server does not know.
    #[error("{0}")]
    NotFound(String),

    /// No model is loaded yet (the models directory has no promoted version).
    #[error("no model loaded yet: train and promote a version into the models directory")]
    NoModel,

    /// The bearer token is missing or wrong.
    #[error("missing or invalid bearer token")]
    Unauthenticated,

    /// The caller's token does not allow this call (an admin RPC without the admin token).
    #[error("{0} needs the admin token ([auth] admin_token_env / admin_token_file)")]
    PermissionDenied(&'static str),

    /// The request stream of a client-streaming call failed (the client went away, or a
    /// message was over the size limit): the status it failed with.
    #[error("request stream failed: {0}")]
    Received(tonic::Status),

    /// A `RecordOutcomes` stream stopped at message `#resume_from` because of `error`: every
    /// message before it is recorded (durable) and none from it on, so the client can resend
    /// from there.
    #[error(
        "{error} (the {resume_from} messages before it are recorded: {recorded} new, {duplicates} already recorded; resend from message #{resume_from})"
    )]
    StreamStopped {
        /// Why the stream stopped.
        error: Box<ServerError>,
        /// Messages before the stop (all recorded).
        resume_from: u64,
        /// Of those, newly recorded.
        recorded: u64,
        /// Of those, already recorded before.
        duplicates: u64,
    },

    /// Another process holds the state directory's lock (two servers must never share one).
    #[error(
        "{}: the state directory is in use by another process ({}); stop it first, or give this \
         server its own --state-dir",
        dir.display(),
        pid.map_or_else(|| "pid unknown".to_owned(), |p| format!("pid {p}"))
    )]
    StateDirInUse {
        /// The state directory.
        dir: PathBuf,
        /// The holder's pid, as written in the lock file.
        pid: Option<u32>,
    },

    /// The shared state store (Redis) did not answer, or could not confirm a write: nothing
    /// was answered from partial state and nothing is acknowledged; retrying is safe. The
    /// detail goes to the log only.
    #[error("state store unavailable: {0}")]
    StoreUnavailable(String),

    /// A failure inside the server that no request could cause (a task that panicked, a
    /// writer thread gone). Logged with its details; callers get a generic message.
    #[error("internal: {0}")]
    Internal(String),

    /// The shared library failed (loading a model, a corrupt artifact).
    #[error(transparent)]
    Models(#[from] contactscore_models::Error),

    /// Reading or writing a file of the state directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// A listening socket could not be opened (start-up only: the address is taken, or not
    /// this machine's).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// A state-directory file is not in the expected format.
    #[error("{}:{line}: {reason}", path.display())]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },

    /// The configuration is invalid (start-up only).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl ServerError {
    /// An invalid-argument error for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ServerError::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ServerError::Io {
            path: path.into(),
            source,
        }
    }

    /// Prefix the field path of an invalid-argument error (`contact` → `contacts[2].contact`).
    pub fn within(mut self, prefix: &str) -> Self {
        if let ServerError::InvalidArgument { field, .. } = &mut self {
            *field = format!("{prefix}.{field}");
        }
        self
    }
}

/// Result alias.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;
