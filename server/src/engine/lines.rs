//! Reading the state directory's small line files (consents, retired ids, erasures): an absent
//! file is empty, and a torn final line — an append that a crash cut short, so never
//! acknowledged — is cut off the file, so the next append starts on a clean line.

use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::path::Path;

use crate::error::{Result, ServerError};

/// The complete lines of `path` (without their `\n`), numbered from 1; `""` when the file does
/// not exist. A final line without `\n` is truncated away (and logged).
pub(super) fn complete_lines(path: &Path) -> Result<Vec<(usize, String)>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ServerError::io(path, e)),
    };
    let mut out = Vec::new();
    let mut good_len = 0u64;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let Some(line) = line.strip_suffix('\n') else {
            tracing::warn!(file = %path.display(), line = i + 1, "dropping a torn final line (never acknowledged)");
            let io = |e| ServerError::io(path, e);
            let f = OpenOptions::new().write(true).open(path).map_err(io)?;
            f.set_len(good_len)
                .and_then(|()| f.sync_all())
                .map_err(io)?;
            break;
        };
        good_len += line.len() as u64 + 1;
        out.push((i + 1, line.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_is_empty_and_a_torn_tail_is_cut_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.txt");
        assert!(complete_lines(&path).expect("absent").is_empty());
        fs::write(&path, "a\n\nb\ntor").expect("write");
        let lines = complete_lines(&path).expect("read");
        let want = [(1, "a"), (2, ""), (3, "b")].map(|(n, l)| (n, l.to_owned()));
        assert_eq!(lines, want);
        assert_eq!(fs::read_to_string(&path).expect("read"), "a\n\nb\n");
    }
}
