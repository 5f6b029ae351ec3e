//! The library's one error type: every failure in `contactscore-models`, with the context a user
//! needs to fix it (file, value, expected form); and [`explain`], how the binaries print an error
//! with its causes.

use std::path::PathBuf;

/// Errors from the shared library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of range or malformed.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// A contact point could not be normalised.
    #[error("invalid contact {}: {reason}", crate::quote(value))]
    InvalidContact {
        /// The contact as given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A time-zone name is not in the IANA database.
    #[error(
        "unknown time zone {} (expected an IANA name such as America/Sao_Paulo)",
        crate::quote(value)
    )]
    InvalidTimezone {
        /// The zone as given.
        value: String,
    },

    /// A value outside a closed vocabulary (channel, outcome, target).
    #[error(transparent)]
    UnknownValue(#[from] crate::contract::UnknownValue),

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A file on disk is not in the format this build reads.
    #[error("{}: {reason}", path.display())]
    Artifact {
        /// The artifact file or directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The model registry has no such version (or no versions at all).
    #[error("model version {version:?} not found in {}", dir.display())]
    VersionNotFound {
        /// The models directory.
        dir: PathBuf,
        /// The version asked for (`CURRENT` when none was named).
        version: String,
    },

    /// Fitting a model failed.
    #[error("fitting the {family} model failed: {reason}")]
    Fit {
        /// The model family.
        family: &'static str,
        /// Why.
        reason: String,
    },

    /// Not enough data to do what was asked.
    #[error("not enough data: {0}")]
    NotEnoughData(String),

    /// A campaign plan's input is malformed: `field` names it (`capacity[3].slot_start`,
    /// `window_end`), so each caller can point at its own source (a request field, a file line).
    #[error("{field}: {reason}")]
    InvalidPlan {
        /// The offending field, with the entry's index for lists (`capacity[3].attempts`).
        field: String,
        /// What is wrong and what is expected.
        reason: String,
    },
}

impl Error {
    /// Shorthand for an I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for an artifact format error on `path`.
    pub fn artifact(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Artifact {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
/// An error and its causes joined by `: `, each said once. The errors of this workspace already
/// end with their cause (`attempts.csv: No such file or directory`), which walking the source
/// chain would print a second time; a cause the text so far ends with is skipped.
pub fn explain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the registry")]
    struct Context(#[source] Error);

    #[test]
    fn causes_are_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = Error::io("models/CURRENT", io);
        assert_eq!(explain(&e), "models/CURRENT: No such file");
        let wrapped = Context(e);
        assert_eq!(
            explain(&wrapped),
            "reading the registry: models/CURRENT: No such file"
        );
    }
}
