//! The capacity file: `slot_start, attempts[, channel]`, one line per hourly slot (and channel:
//! a line with a channel is that channel's own capacity in the slot, one without is shared by
//! the others). A slot not listed has no capacity. Errors name the file, line, column and value.

use std::path::Path;

use contactscore_models::Channel;
use contactscore_models::plan::{Capacity, CapacityEntry, PlanWindow};

use super::table::Table;
use crate::{Result, TrainerError};

/// Read the capacity file at `path` for `window`. A file without lines means unlimited.
pub(super) fn read(path: &Path, window: &PlanWindow) -> Result<Capacity> {
    let mut table = Table::open(path)?;
    let col = |name: &str| table.column(name);
    let (Some(slot_col), Some(attempts_col)) = (col("slot_start"), col("attempts")) else {
        return Err(
            table.error("needs the columns slot_start and attempts (and optionally channel)")
        );
    };
    let channel_col = col("channel");
    let mut entries = Vec::new();
    let mut lines = Vec::new();
    let mut record = csv::StringRecord::new();
    while let Some(line) = table.next(&mut record)? {
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").trim();
        let start = field(Some(slot_col));
        let slot_start = start
            .parse::<jiff::Timestamp>()
            .map_err(|e| {
                TrainerError::bad_row(
                    path,
                    line,
                    "slot_start",
                    start,
                    format!("not an RFC 3339 timestamp: {e}"),
                )
            })?
            .as_second();
        let n = field(Some(attempts_col));
        let attempts = n.parse::<u32>().map_err(|_| {
            TrainerError::bad_row(
                path,
                line,
                "attempts",
                n,
                "expected a whole number of attempts",
            )
        })?;
        let ch = field(channel_col);
        let channel = if ch.is_empty() {
            None
        } else {
            Some(
                ch.parse::<Channel>()
                    .map_err(|e| TrainerError::bad_row(path, line, "channel", ch, e.to_string()))?,
            )
        };
        entries.push(CapacityEntry {
            slot_start,
            channel,
            attempts,
        });
        lines.push((line, start.to_owned()));
    }
    Capacity::new(window, &entries).map_err(|e| {
        if let contactscore_models::Error::InvalidPlan { field, reason } = &e {
            // `capacity[i].slot_start` or `capacity[i]`: point at line i.
            let i = field
                .strip_prefix("capacity[")
                .and_then(|r| r.split(']').next())
                .and_then(|i| i.parse::<usize>().ok());
            if let Some((line, value)) = i.and_then(|i| lines.get(i)) {
                return TrainerError::bad_row(path, *line, "slot_start", value, reason.clone());
            }
        }
        TrainerError::Model(e)
    })
}
