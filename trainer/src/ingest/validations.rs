//! Carrier (HLR) validations: the validations file (`--validations`: one row per lookup) and the
//! validation columns of the contacts file (the latest lookup of each contact point), read into
//! [`ValidationRow`]s that the replay applies at their instant, like attempts.

use std::collections::HashMap;
use std::path::Path;

use contactscore_models::contract::VALIDATION_COLUMNS as COLUMNS;
use contactscore_models::validation::parse_ported;
use contactscore_models::{ContactKind, LineType, ValidationStatus};

use super::cell::Cell;
use super::report::{Bad, FileReport};
use super::source::Source;
use super::timestamp::parse_rfc3339;
use super::{Ctx, ValidationRow, resolve, text};
use crate::error::Result;

const REQUIRED: usize = 4;

/// Columns of one validation, as indices into a file's columns (`usize::MAX` = absent).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValidationCols {
    pub(crate) status: usize,
    pub(crate) at: usize,
    pub(crate) line_type: usize,
    pub(crate) ported: usize,
}

/// The parsed cells of one validation: instant, status, line type, ported.
pub(crate) type Cells = (i64, ValidationStatus, LineType, Option<bool>);

/// A timestamp cell (RFC 3339 text or a Parquet timestamp); `None` when empty.
pub(crate) fn timestamp(c: Cell<'_>, col: usize) -> Result<Option<i64>, Bad> {
    match c {
        Cell::Time(t) => Ok(Some(t)),
        Cell::Null | Cell::Str([]) => Ok(None),
        Cell::Str(b) => {
            let s = std::str::from_utf8(b)
                .map_err(|_| Bad::new(col, "bad_timestamp", "not valid UTF-8"))?;
            parse_rfc3339(s)
                .map(Some)
                .map_err(|why| Bad::new(col, "bad_timestamp", why))
        }
        Cell::Int(_) | Cell::Float(_) => Err(Bad::new(
            col,
            "bad_timestamp",
            "expected an RFC 3339 string or a Parquet timestamp column",
        )),
    }
}

/// The validation in the current row, if any: none when status, time, line type and ported are
/// all empty; otherwise status and time are both required and every value must be in the
/// vocabulary (bad values are bad rows with reason `bad_validation` / `bad_timestamp`).
pub(crate) fn parse_cells(
    src: &Source,
    cols: ValidationCols,
    scratch: &mut String,
) -> Result<Option<Cells>, Bad> {
    let at = timestamp(src.optional_cell(cols.at), cols.at)?;
    let status = text(src.optional_cell(cols.status), scratch, cols.status)?.to_owned();
    let line = text(src.optional_cell(cols.line_type), scratch, cols.line_type)?.to_owned();
    let ported = text(src.optional_cell(cols.ported), scratch, cols.ported)?.to_owned();
    if at.is_none() && status.is_empty() && line.is_empty() && ported.is_empty() {
        return Ok(None);
    }
    if status.is_empty() {
        let why = "validation_status is required when a validation is given";
        return Err(Bad::new(cols.status, "bad_validation", why));
    }
    let status: ValidationStatus =
        status
            .parse()
            .map_err(|e: contactscore_models::contract::UnknownValue| {
                Bad::new(cols.status, "bad_validation", e.to_string())
            })?;
    let Some(at) = at else {
        let why = "validated_at is required when a validation is given";
        return Err(Bad::new(cols.at, "bad_timestamp", why));
    };
    let line_type: LineType =
        line.parse()
            .map_err(|e: contactscore_models::contract::UnknownValue| {
                Bad::new(cols.line_type, "bad_validation", e.to_string())
            })?;
    let ported = parse_ported(&ported)
        .map_err(|e| Bad::new(cols.ported, "bad_validation", e.to_string()))?;
    Ok(Some((at, status, line_type, ported)))
}

/// Read a validations file, appending to `out`. An exact repeat of a (person, contact, instant)
/// counts as a duplicate (a different status for the same instant as a conflicting one; the
/// first row is kept).
pub(crate) fn read(
    path: &Path,
    ctx: &mut Ctx<'_>,
    out: &mut Vec<ValidationRow>,
) -> Result<FileReport> {
    let mut src = Source::open(path)?;
    let cols = resolve(&src, path, &COLUMNS, REQUIRED)?;
    src.set_needed(&cols.idx.iter().flatten().copied().collect::<Vec<_>>());
    let idx: Vec<usize> = cols.idx.iter().map(|i| i.unwrap_or(usize::MAX)).collect();
    let vcols = ValidationCols {
        at: idx[2],
        status: idx[3],
        line_type: idx[4],
        ported: idx[6],
    };
    let mut report = ctx.start_file("validations", path, &src, &cols.others);
    let mut seen: HashMap<(u32, u32, i64), usize> = HashMap::new();
    let (mut s_person, mut s_contact, mut s_other) = (String::new(), String::new(), String::new());
    while src.next_row(path)? {
        if !ctx.next_row(&src, idx[0]) {
            continue;
        }
        report.rows_read += 1;
        let row = match parse(
            &src,
            &idx,
            vcols,
            ctx,
            [&mut s_person, &mut s_contact, &mut s_other],
        ) {
            Ok(row) => row,
            Err(bad) => {
                ctx.bad_row(&src, path, bad, &mut report)?;
                continue;
            }
        };
        if let Some(&first) = seen.get(&(row.person, row.contact, row.t)) {
            report.duplicates += 1;
            if out[first] != row {
                report.conflicting_duplicates += 1;
            }
            continue;
        }
        seen.insert((row.person, row.contact, row.t), out.len());
        out.push(row);
        report.rows_used += 1;
    }
    ctx.end_file();
    report.sha256 = src.finish(path)?;
    Ok(report)
}

fn parse(
    src: &Source,
    idx: &[usize],
    vcols: ValidationCols,
    ctx: &mut Ctx<'_>,
    [s_person, s_contact, s_other]: [&mut String; 3],
) -> Result<ValidationRow, Bad> {
    src.check_shape()?;
    let person = text(src.optional_cell(idx[0]), s_person, idx[0])?;
    if person.is_empty() {
        return Err(Bad::new(idx[0], "empty_id", "empty person id"));
    }
    let raw = text(src.optional_cell(idx[1]), s_contact, idx[1])?;
    let contact = ctx.contact_id(raw, idx[1])?;
    if ctx.contacts[contact as usize].kind == ContactKind::Email {
        let why = "carrier validation applies to phone numbers, not email addresses";
        return Err(Bad::new(idx[1], "channel_mismatch", why));
    }
    let Some((t, status, line_type, ported)) = parse_cells(src, vcols, s_other)? else {
        let why = "validation_status is required";
        return Err(Bad::new(vcols.status, "bad_validation", why));
    };
    Ok(ValidationRow {
        t,
        person: ctx.person_id(person),
        contact,
        status,
        line_type,
        ported,
    })
}
