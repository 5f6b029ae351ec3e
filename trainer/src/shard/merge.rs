//! Merging what the shards of a sharded run read back into what the unsharded run reports: the
//! ingest reports (counts summed file by file, the first skipped-row examples in input order,
//! the bad-row budget checked over the whole export).

use crate::ingest::IngestReport;
use crate::ingest::report::MAX_EXAMPLES;
use crate::{Result, TrainerError};

/// The whole export's report from its shards' reports (each shard counted its own rows of every
/// file). Fails when the bad rows of all shards exceed `max_bad_rows` (each shard only checked
/// its own).
pub(crate) fn reports(parts: Vec<IngestReport>, max_bad_rows: u64) -> Result<IngestReport> {
    let mut parts = parts.into_iter();
    let Some(mut merged) = parts.next() else {
        return Err(TrainerError::Internal("no shard reports to merge".into()));
    };
    let mut examples: Vec<(u64, String)> = merged
        .example_positions
        .drain(..)
        .zip(merged.skipped_examples.drain(..))
        .collect();
    for part in parts {
        if part.files.len() != merged.files.len() {
            return Err(TrainerError::Internal(
                "shards read different numbers of files".into(),
            ));
        }
        for (m, f) in merged.files.iter_mut().zip(part.files) {
            if m.path != f.path || m.sha256 != f.sha256 {
                return Err(TrainerError::Config(format!(
                    "shards read different files as {} (changed while the shards ran?)",
                    m.path
                )));
            }
            m.rows_read += f.rows_read;
            m.rows_used += f.rows_used;
            m.duplicates += f.duplicates;
            m.conflicting_duplicates += f.conflicting_duplicates;
            for (reason, count) in f.skipped {
                *m.skipped.entry(reason).or_insert(0) += count;
            }
        }
        examples.extend(
            part.example_positions
                .into_iter()
                .zip(part.skipped_examples),
        );
    }
    examples.sort();
    examples.truncate(MAX_EXAMPLES);
    (merged.example_positions, merged.skipped_examples) = examples.into_iter().unzip();
    let skipped = merged.skipped_total();
    if max_bad_rows == 0 && skipped > 0 || skipped > max_bad_rows {
        return Err(TrainerError::TooManyBadRowsInShards {
            count: skipped,
            max: max_bad_rows,
            first: merged.skipped_examples.first().cloned().unwrap_or_default(),
        });
    }
    Ok(merged)
}
