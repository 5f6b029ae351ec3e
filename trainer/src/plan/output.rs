//! The plan's output files: one row per planned attempt (`person_id, attempt_index, contact,
//! channel, slot_start, slot_end, probability`, in slot order), and optionally the unplanned
//! persons with their reason. Each is written to a temporary file and renamed into place, so a
//! reader never sees half a plan.

use std::io::Write;
use std::path::Path;

use contactscore_models::plan::{PlannedAttempt, Unplanned};

use crate::timefmt::rfc3339;
use crate::{Result, TrainerError};

/// Write `rows` (already CSV lines) under `header` to `path` atomically.
fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let io = |e: std::io::Error| TrainerError::io(path, e);
    let name = path
        .file_name()
        .map_or_else(|| "plan".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let file = std::fs::File::create(&tmp).map_err(|e| TrainerError::io(&tmp, e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let written = fill(&mut w).and_then(|()| w.flush());
    let synced = written.and_then(|()| w.get_ref().sync_all());
    if let Err(e) = synced {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    drop(w);
    std::fs::rename(&tmp, path).map_err(io)
}

/// The planned attempts.
pub(super) fn write_plan(path: &Path, ids: &[Box<str>], attempts: &[PlannedAttempt]) -> Result<()> {
    write_atomic(path, |w| {
        writeln!(
            w,
            "person_id,attempt_index,contact,channel,slot_start,slot_end,probability"
        )?;
        for a in attempts {
            let s = &a.suggestion;
            writeln!(
                w,
                "{},{},{},{},{},{},{:.6}",
                csv_field(ids.get(a.person).map_or("", |i| i)),
                a.attempt_index,
                csv_field(&s.contact),
                s.channel.as_str(),
                rfc3339(s.slot_start),
                rfc3339(s.slot_end()),
                s.probability
            )?;
        }
        Ok(())
    })
}

/// The persons without any attempt and why.
pub(super) fn write_unplanned(
    path: &Path,
    ids: &[Box<str>],
    unplanned: &[Unplanned],
) -> Result<()> {
    write_atomic(path, |w| {
        writeln!(w, "person_id,reason")?;
        for u in unplanned {
            writeln!(
                w,
                "{},{}",
                csv_field(ids.get(u.person).map_or("", |i| i)),
                u.reason.as_str()
            )?;
        }
        Ok(())
    })
}

fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}
