//! The state directory's small line files (consents, retired ids, erasures): durable appends that
//! never leave a torn line behind, and reading that tells a torn final line (an append a crash cut
//! short, never acknowledged) from a complete one that merely lacks its `\n`.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

use crate::error::{Result, ServerError};

/// Append `bytes` (whole lines) to `path`, creating it, and fsync (the directory too when the
/// file is new). If the write or the fsync fails, the file is cut back to its length before,
/// so a later append never continues a torn line; the error is returned either way.
pub(super) fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let created = !path.exists();
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    let began = f.metadata()?.len();
    if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_data()) {
        if let Err(cut) = f.set_len(began).and_then(|()| f.sync_all()) {
            tracing::error!(file = %path.display(), error = %e, cut_error = %cut, "a failed append could not be cut back");
        }
        return Err(e);
    }
    if created {
        let dir = path.parent().unwrap_or(Path::new("."));
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The lines of `path` (without their `\n`), numbered from 1; none when the file does not
/// exist. A final line without `\n` is kept (and its `\n` written) when `complete` accepts it,
/// else it is a torn append and is cut off the file (and logged).
pub(super) fn read_lines(
    path: &Path,
    complete: impl Fn(&str) -> bool,
) -> Result<Vec<(usize, String)>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ServerError::io(path, e)),
    };
    let io = |e| ServerError::io(path, e);
    let body_len = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    // A crash can cut a multi-byte character too: decode the tail on its own.
    let tail = std::str::from_utf8(&bytes[body_len..])
        .ok()
        .filter(|t| !t.is_empty());
    let mut keep_tail = None;
    if body_len < bytes.len() {
        match tail {
            Some(t) if complete(t) => {
                append(path, b"\n").map_err(io)?;
                keep_tail = Some(t.to_owned());
            }
            Some(_) | None => {
                tracing::warn!(file = %path.display(), "dropping a torn final line (never acknowledged)");
                let f = OpenOptions::new().write(true).open(path).map_err(io)?;
                f.set_len(body_len as u64)
                    .and_then(|()| f.sync_all())
                    .map_err(io)?;
            }
        }
    }
    let body =
        String::from_utf8(bytes[..body_len].to_vec()).map_err(|e| ServerError::CorruptState {
            path: path.to_owned(),
            line: bytes[..e.utf8_error().valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1,
            reason: "not valid UTF-8".into(),
        })?;
    let mut out: Vec<(usize, String)> = body
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end().to_owned()))
        .collect();
    if let Some(t) = keep_tail {
        out.push((out.len() + 1, t.trim_end().to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(lines: &[(usize, &str)]) -> Vec<(usize, String)> {
        lines.iter().map(|&(n, l)| (n, l.to_owned())).collect()
    }

    #[test]
    fn torn_tails_are_cut_and_complete_ones_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.txt");
        let is_word = |l: &str| l.len() == 3;
        assert!(read_lines(&path, is_word).expect("absent").is_empty());

        fs::write(&path, "abc\r\n\nabd\nab").expect("write");
        let want = owned(&[(1, "abc"), (2, ""), (3, "abd")]);
        assert_eq!(read_lines(&path, is_word).expect("read"), want);
        assert_eq!(fs::read_to_string(&path).expect("read"), "abc\r\n\nabd\n");

        // A complete record without its newline is kept, and the newline written.
        fs::write(&path, "abc\nxyz").expect("write");
        let want = owned(&[(1, "abc"), (2, "xyz")]);
        assert_eq!(read_lines(&path, is_word).expect("read"), want);
        assert_eq!(fs::read_to_string(&path).expect("read"), "abc\nxyz\n");

        // A multi-byte character cut in half is a torn tail, not an error.
        fs::write(&path, b"abc\n\xc3").expect("write");
        assert_eq!(
            read_lines(&path, is_word).expect("read"),
            owned(&[(1, "abc")])
        );

        append(&path, b"def\n").expect("append");
        assert_eq!(fs::read_to_string(&path).expect("read"), "abc\ndef\n");
    }
}
