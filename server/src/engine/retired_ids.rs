//! Attempt ids of live outcomes retired from the journal (`retired_ids.txt` in the state
//! directory), so `RecordOutcome` stays idempotent for them after their records are gone.
//!
//! Only a 128-bit digest of each attempt id is kept (dialer ids can carry personal data), with
//! the instant its memory counts from ([`LiveOutcome::id_time`](super::journal::LiveOutcome)).
//! The journal's writer thread appends to it (fsynced before the records leave the journal) and
//! now and then rewrites it without forgotten ids (atomically, [`durable::replace`]). A torn
//! final line (a crash mid-append, before the journal was touched) is cut off on reading; any
//! other malformed line is an error naming the line.

use std::collections::HashMap;
use std::path::Path;

use contactscore_models::artifact::evidence::digest128;
use contactscore_models::durable;

use super::lines::{corrupt, read_lines};
use crate::error::Result;

/// File name inside the state directory.
pub const FILE: &str = "retired_ids.txt";

/// Digest of an attempt id: the first 16 bytes of its SHA-256. With 10⁹ ids remembered the
/// chance that a new id collides with any of them is below 10⁻²⁰.
pub type IdDigest = u128;

/// Retired attempt ids: digest → id time (unix seconds).
pub type RetiredIds = HashMap<IdDigest, i64>;

/// The digest kept for `attempt_id`.
pub fn digest(attempt_id: &str) -> IdDigest {
    digest128(attempt_id.as_bytes())
}

fn parse_line(line: &[u8]) -> Option<(IdDigest, i64)> {
    let (hex, at) = std::str::from_utf8(line).ok()?.trim_end().split_once(' ')?;
    let d = (hex.len() == 32)
        .then(|| u128::from_str_radix(hex, 16).ok())
        .flatten()?;
    Some((d, at.parse::<i64>().ok()?))
}

/// Read the file in `dir` (absent = none retired yet).
pub fn read(dir: &Path) -> Result<RetiredIds> {
    let path = dir.join(FILE);
    let mut out = RetiredIds::new();
    read_lines(
        &path,
        |l| parse_line(l).is_some(),
        |n, line| {
            let (d, at) = parse_line(line).ok_or_else(|| {
                corrupt(
                    &path,
                    n,
                    "expected a 32-digit hex digest, a space and unix seconds",
                )
            })?;
            out.insert(d, at);
            Ok(())
        },
    )?;
    Ok(out)
}

fn lines<'a>(ids: impl Iterator<Item = (&'a IdDigest, &'a i64)>) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    for (d, t) in ids {
        let _ = writeln!(text, "{d:032x} {t}");
    }
    text
}

/// Replace the file in `dir` with `ids` atomically, directory fsynced.
pub(super) fn write(dir: &Path, ids: &RetiredIds) -> std::io::Result<()> {
    let mut sorted: Vec<(&IdDigest, &i64)> = ids.iter().collect();
    sorted.sort_unstable();
    durable::replace(&dir.join(FILE), lines(sorted.into_iter()).as_bytes())
}

/// Append `ids` to the file in `dir`, fsynced (and the directory, when the file is new).
pub(super) fn append(dir: &Path, ids: &[(IdDigest, i64)]) -> std::io::Result<()> {
    let text = lines(ids.iter().map(|(d, t)| (d, t)));
    durable::append(&dir.join(FILE), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, OpenOptions};
    use std::io::Write;

    #[test]
    fn ids_round_trip_as_digests_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read(dir.path()).expect("absent").is_empty());
        let ids: RetiredIds = [
            (digest("A-123.456.789-09"), 1_767_625_200),
            (digest("b"), -5),
        ]
        .into_iter()
        .collect();
        write(dir.path(), &ids).expect("write");
        let text = fs::read_to_string(dir.path().join(FILE)).expect("read");
        assert!(
            !text.contains("123.456"),
            "ids are never written in clear: {text}"
        );
        assert_eq!(read(dir.path()).expect("read back"), ids);
        assert_ne!(digest("a"), digest("b"));

        // Appends add lines; a torn final line is cut off.
        append(dir.path(), &[(digest("c"), 9)]).expect("append");
        let path = dir.path().join(FILE);
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"00ab").expect("tear");
        let back = read(dir.path()).expect("read torn");
        assert_eq!(back.len(), 3);
        assert_eq!(back.get(&digest("c")), Some(&9));
        append(dir.path(), &[(digest("d"), 10)]).expect("append after a torn line");
        assert_eq!(read(dir.path()).expect("read").len(), 4);

        fs::write(&path, format!("{text}00ff 12\n")).expect("write");
        let err = read(dir.path()).expect_err("corrupt");
        assert!(err.to_string().contains(":3:"), "{err}");
    }
}
