//! Files of fixed-size binary records for the split's partials: an 8-byte magic, the record
//! count (u64, little-endian), then the records. Written from an iterator and read back one record
//! at a time, so that a merge over many such files holds one buffer per file, never a file.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::{Result, TrainerError};

/// The read buffer per open file: a merge of `P` files holds `P` of these.
const READ_BUFFER: usize = 1 << 16;

/// Write `count` records of `N` bytes from `records` to `path` (created or truncated) and fsync
/// it. Fails when `records` does not yield exactly `count` records.
pub(crate) fn write_records<const N: usize>(
    path: &Path,
    magic: &[u8; 8],
    count: u64,
    records: impl IntoIterator<Item = [u8; N]>,
) -> Result<()> {
    let io = |e| TrainerError::io(path, e);
    let file = File::create(path).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(magic).map_err(io)?;
    w.write_all(&count.to_le_bytes()).map_err(io)?;
    let mut written = 0u64;
    for record in records {
        w.write_all(&record).map_err(io)?;
        written += 1;
    }
    if written != count {
        return Err(TrainerError::Internal(format!(
            "{}: {written} records written, {count} announced",
            path.display()
        )));
    }
    let file = w.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)
}

/// Reads a file written by [`write_records`] one record at a time.
pub(crate) struct RecordReader<const N: usize> {
    path: PathBuf,
    r: BufReader<File>,
    left: u64,
}

impl<const N: usize> RecordReader<N> {
    /// Open `path`, checking its magic.
    pub(crate) fn open(path: &Path, magic: &[u8; 8]) -> Result<Self> {
        let file = File::open(path).map_err(|e| TrainerError::io(path, e))?;
        let mut r = BufReader::with_capacity(READ_BUFFER, file);
        let mut head = [0u8; 16];
        r.read_exact(&mut head)
            .map_err(|e| TrainerError::io(path, e))?;
        if &head[..8] != magic {
            return Err(TrainerError::BadFile {
                file: path.to_owned(),
                reason: format!(
                    "not a split partial's {} file",
                    String::from_utf8_lossy(magic)
                ),
            });
        }
        let mut n = [0u8; 8];
        n.copy_from_slice(&head[8..]);
        Ok(Self {
            path: path.to_owned(),
            r,
            left: u64::from_le_bytes(n),
        })
    }

    /// The next record; `None` after the last one.
    pub(crate) fn next(&mut self) -> Result<Option<[u8; N]>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut record = [0u8; N];
        self.r
            .read_exact(&mut record)
            .map_err(|e| TrainerError::io(&self.path, e))?;
        Ok(Some(record))
    }
}
