//! Reading the state directory's line files (journal, consents, retired ids, erasures) through
//! [`contactscore_models::durable::read_lines`]: errors become [`ServerError`]s naming the file
//! (and the line, for a malformed one), and a torn final line that was cut off is logged.

use std::path::Path;

use contactscore_models::durable;

use crate::error::{Result, ServerError};

/// Either an I/O error (the file is named here) or the caller's own error for a line.
enum Failure {
    Io(std::io::Error),
    Line(ServerError),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

/// Call `each(line_number, line)` for every complete line of `path` (none when it does not
/// exist); see [`durable::read_lines`] for the torn final line and `complete`.
pub(super) fn read_lines(
    path: &Path,
    complete: impl Fn(&[u8]) -> bool,
    mut each: impl FnMut(usize, &[u8]) -> Result<()>,
) -> Result<()> {
    let cut = durable::read_lines(path, complete, |n, line| {
        each(n, line).map_err(Failure::Line)
    })
    .map_err(|f| match f {
        Failure::Io(e) => ServerError::io(path, e),
        Failure::Line(e) => e,
    })?;
    if cut > 0 {
        tracing::warn!(file = %path.display(), bytes = cut, "dropped a torn final line (never acknowledged)");
    }
    Ok(())
}

/// The error for a malformed line `n` of `path`.
pub(super) fn corrupt(path: &Path, n: usize, reason: impl Into<String>) -> ServerError {
    ServerError::CorruptState {
        path: path.to_owned(),
        line: n,
        reason: reason.into(),
    }
}
