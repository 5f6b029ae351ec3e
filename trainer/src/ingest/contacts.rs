//! The contacts reader: which contact points (and channels, time zone, date added, latest carrier
//! validation) each person is known to have. Repeated (person, contact) pairs keep the first row.

use std::collections::HashMap;
use std::path::Path;

use contactscore_models::rank;
use contactscore_models::{Channel, ContactKind};

use super::report::{Bad, FileReport};
use super::source::Source;
use super::validations::{self, ValidationCols};
use super::{CHANNELS, Ctx, KnownContact, ValidationRow, parse_channel, resolve, text};
use crate::error::Result;

use contactscore_models::contract::CONTACT_COLUMNS as COLUMNS;
const REQUIRED: usize = 2;

/// Read the contacts file, appending to `out`, and the validation its row gives to
/// `validations`.
pub(crate) fn read(
    path: &Path,
    ctx: &mut Ctx<'_>,
    out: &mut Vec<KnownContact>,
    validations: &mut Vec<ValidationRow>,
) -> Result<FileReport> {
    let mut src = Source::open(path)?;
    let cols = resolve(&src, path, &COLUMNS, REQUIRED)?;
    src.set_needed(&cols.idx.iter().flatten().copied().collect::<Vec<_>>());
    let idx: Vec<usize> = cols.idx.iter().map(|i| i.unwrap_or(usize::MAX)).collect();
    let mut report = ctx.start_file("contacts", path, &src, &cols.others);
    // The first row of each pair: its index in `out` and its validation.
    let mut seen: HashMap<(u32, u32), (usize, Option<ValidationRow>)> = HashMap::new();
    let (mut s1, mut s2, mut s3) = (String::new(), String::new(), String::new());
    while src.next_row(path)? {
        if !ctx.next_row(&src, idx[0]) {
            continue;
        }
        report.rows_read += 1;
        let (row, validation) = match parse(&src, &idx, ctx, [&mut s1, &mut s2, &mut s3]) {
            Ok(row) => row,
            Err(bad) => {
                ctx.bad_row(&src, path, bad, &mut report)?;
                continue;
            }
        };
        if let Some((first, first_validation)) = seen.get(&(row.person, row.contact)) {
            report.duplicates += 1;
            if out[*first] != row || *first_validation != validation {
                report.conflicting_duplicates += 1;
            }
            continue;
        }
        seen.insert((row.person, row.contact), (out.len(), validation));
        out.push(row);
        validations.extend(validation);
        report.rows_used += 1;
    }
    ctx.end_file();
    report.sha256 = src.finish(path)?;
    Ok(report)
}

fn parse(
    src: &Source,
    idx: &[usize],
    ctx: &mut Ctx<'_>,
    [s_person, s_contact, s_other]: [&mut String; 3],
) -> Result<(KnownContact, Option<ValidationRow>), Bad> {
    src.check_shape()?;
    let person = text(src.optional_cell(idx[0]), s_person, idx[0])?;
    if person.is_empty() {
        return Err(Bad::new(idx[0], "empty_id", "empty person id"));
    }
    let raw = text(src.optional_cell(idx[1]), s_contact, idx[1])?;
    let contact = ctx.contact_id(raw, idx[1])?;
    let kind = ctx.contacts[contact as usize].kind;
    let channels_text = text(src.optional_cell(idx[2]), s_other, idx[2])?;
    let mut channels = Vec::new();
    for part in channels_text
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let c = parse_channel(part.as_bytes())
            .ok_or_else(|| Bad::new(idx[2], "unknown_channel", CHANNELS))?;
        if !rank::supports(kind, c) {
            let why = format!("channel {c} does not fit this contact's kind ({kind:?})");
            return Err(Bad::new(idx[2], "channel_mismatch", why));
        }
        if !channels.contains(&c) {
            channels.push(c);
        }
    }
    if channels.is_empty() {
        channels = Channel::ALL
            .into_iter()
            .filter(|c| rank::supports(kind, *c))
            .collect();
    }
    channels.sort();
    let zone = text(src.optional_cell(idx[3]), s_other, idx[3])?;
    let timezone = ctx.timezone(zone, idx[3])?;
    let added_at = validations::timestamp(src.optional_cell(idx[4]), idx[4])?;
    let vcols = ValidationCols {
        status: idx[5],
        at: idx[6],
        line_type: idx[7],
        ported: idx[9],
    };
    let validation = validations::parse_cells(src, vcols, s_other)?;
    if validation.is_some() && kind == ContactKind::Email {
        let why = "carrier validation applies to phone numbers, not email addresses";
        return Err(Bad::new(idx[5], "channel_mismatch", why));
    }
    let person = ctx.person_id(person);
    let validation = validation.map(|(t, status, line_type, ported)| ValidationRow {
        t,
        person,
        contact,
        status,
        line_type,
        ported,
    });
    let row = KnownContact {
        person,
        contact,
        channels,
        timezone,
        added_at,
    };
    Ok((row, validation))
}
