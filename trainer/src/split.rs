//! Splitting an attempts CSV by time into a training part and a later holdout, for out-of-time
//! evaluation (the `demo` command and the end-to-end tests).

use std::path::Path;

use crate::ingest::timestamp::parse_rfc3339;
use crate::{Result, TrainerError};

/// Copy the rows of `src` with `attempted_at` before `cutoff` (unix seconds) to `before` and the
/// rest to `after`, both with the header. Returns the two row counts.
pub fn split_by_time(src: &Path, cutoff: i64, before: &Path, after: &Path) -> Result<(u64, u64)> {
    split_on("attempted_at", src, cutoff, before, after)
}

/// [`split_by_time`] on the RFC 3339 column `column` (`validated_at` for a validations file).
pub fn split_on(
    column: &str,
    src: &Path,
    cutoff: i64,
    before: &Path,
    after: &Path,
) -> Result<(u64, u64)> {
    let mut r = csv::Reader::from_path(src).map_err(|e| TrainerError::csv(src, e))?;
    let headers = r
        .byte_headers()
        .map_err(|e| TrainerError::csv(src, e))?
        .clone();
    let col = headers
        .iter()
        .position(|h| h.eq_ignore_ascii_case(column.as_bytes()))
        .ok_or_else(|| TrainerError::BadFile {
            file: src.to_owned(),
            reason: format!("no {column} column"),
        })?;
    let mut wb = csv::Writer::from_path(before).map_err(|e| TrainerError::csv(before, e))?;
    let mut wa = csv::Writer::from_path(after).map_err(|e| TrainerError::csv(after, e))?;
    wb.write_byte_record(&headers)
        .map_err(|e| TrainerError::csv(before, e))?;
    wa.write_byte_record(&headers)
        .map_err(|e| TrainerError::csv(after, e))?;
    let (mut nb, mut na) = (0, 0);
    let mut rec = csv::ByteRecord::new();
    let mut line = 1;
    while r
        .read_byte_record(&mut rec)
        .map_err(|e| TrainerError::csv(src, e))?
    {
        line += 1;
        let raw = String::from_utf8_lossy(rec.get(col).unwrap_or_default()).into_owned();
        let t = parse_rfc3339(&raw).map_err(|reason| TrainerError::BadRow {
            file: src.to_owned(),
            line,
            column: column.into(),
            value: raw.clone(),
            reason,
        })?;
        if t < cutoff {
            wb.write_byte_record(&rec)
                .map_err(|e| TrainerError::csv(before, e))?;
            nb += 1;
        } else {
            wa.write_byte_record(&rec)
                .map_err(|e| TrainerError::csv(after, e))?;
            na += 1;
        }
    }
    wb.flush().map_err(|e| TrainerError::io(before, e))?;
    wa.flush().map_err(|e| TrainerError::io(after, e))?;
    Ok((nb, na))
}
