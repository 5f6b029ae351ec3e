//! The attempts reader: validates each row of an attempts file, resolves outcomes through the
//! disposition map, and de-duplicates attempt ids with a 128-bit fingerprint set.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

use contactscore_models::contract::{MAX_AHEAD_SECONDS, implausible_time};
use contactscore_models::rank;
use contactscore_models::{Channel, ContactKind};

use super::cell::Cell;
use super::intern::{Fingerprinter, Fp, PassThroughBuild, StrArena};
use super::report::{Bad, FileReport};
use super::source::Source;
use super::timestamp::parse_rfc3339;
use super::{AttemptRow, CHANNELS, Ctx, parse_channel, resolve, text};
use crate::error::Result;

use contactscore_models::contract::ATTEMPT_COLUMNS as COLUMNS;
const REQUIRED: usize = 6;
const ID: usize = 0;
const PERSON: usize = 1;
const CONTACT: usize = 2;
const CHANNEL: usize = 3;
const AT: usize = 4;
const OUTCOME: usize = 5;
const DURATION: usize = 6;

/// The attempts of all attempt files read so far.
#[derive(Default)]
pub(crate) struct AttemptTables {
    pub(crate) rows: Vec<AttemptRow>,
    pub(crate) ids: StrArena,
    /// Per kept attempt (by [`AttemptRow::id`]), its position in the input (`Ctx::position`);
    /// recorded only when ingesting one shard, whose rows a sharded run merges in input order.
    pub(crate) positions: Vec<u64>,
    /// Fingerprint of each kept attempt id → index in `rows`.
    seen: HashMap<Fp, u32, PassThroughBuild>,
    fingerprint: Fingerprinter,
}

/// A parsed row before the person is interned (so a dropped duplicate interns nothing).
struct Parsed {
    t: i64,
    contact: u32,
    channel: Channel,
    outcome: contactscore_models::Outcome,
    duration_seconds: Option<u32>,
}

/// Read one attempts file into `tables`.
pub(crate) fn read(
    path: &Path,
    ctx: &mut Ctx<'_>,
    tables: &mut AttemptTables,
) -> Result<FileReport> {
    let mut src = Source::open(path)?;
    let cols = resolve(&src, path, &COLUMNS, REQUIRED)?;
    let idx: Vec<usize> = cols.idx.iter().map(|i| i.unwrap_or(usize::MAX)).collect();
    src.set_needed(
        &cols.idx[..=DURATION]
            .iter()
            .flatten()
            .copied()
            .collect::<Vec<_>>(),
    );
    let mut report = ctx.start_file("attempts", path, &src, &cols.others);
    let (mut s_id, mut s_person, mut s_contact) = (String::new(), String::new(), String::new());
    let mut s_other = String::new();
    while src.next_row(path)? {
        if !ctx.next_row(&src, idx[PERSON]) {
            continue;
        }
        report.rows_read += 1;
        let result = parse(&src, &idx, ctx, &mut s_contact, &mut s_other);
        let id_text = text(src.optional_cell(idx[ID]), &mut s_id, idx[ID]);
        let person_text = text(src.optional_cell(idx[PERSON]), &mut s_person, idx[PERSON]);
        let (parsed, id, person) = match (result, id_text, person_text) {
            (Ok(_), Ok(""), _) => {
                let bad = Bad::new(idx[ID], "empty_id", "empty attempt id");
                ctx.bad_row(&src, path, bad, &mut report)?;
                continue;
            }
            (Ok(_), _, Ok("")) => {
                let bad = Bad::new(idx[PERSON], "empty_id", "empty person id");
                ctx.bad_row(&src, path, bad, &mut report)?;
                continue;
            }
            (Ok(p), Ok(id), Ok(person)) => (p, id, person),
            (Err(bad), _, _) | (_, Err(bad), _) | (_, _, Err(bad)) => {
                ctx.bad_row(&src, path, bad, &mut report)?;
                continue;
            }
        };
        let fp = tables.fingerprint.fingerprint(id.as_bytes());
        // One probe of the seen-set: the vacant entry is filled in place.
        let slot = match tables.seen.entry(fp) {
            Entry::Occupied(first) => {
                report.duplicates += 1;
                let f = &tables.rows[*first.get() as usize];
                let same = ctx.persons.id(person) == Some(f.person)
                    && (f.t, f.contact, f.channel, f.outcome, f.duration_seconds)
                        == (
                            parsed.t,
                            parsed.contact,
                            parsed.channel,
                            parsed.outcome,
                            parsed.duration_seconds,
                        );
                if !same {
                    report.conflicting_duplicates += 1;
                }
                continue;
            }
            Entry::Vacant(slot) => slot,
        };
        let row = AttemptRow {
            t: parsed.t,
            person: ctx.person_id(person),
            contact: parsed.contact,
            channel: parsed.channel,
            outcome: parsed.outcome,
            duration_seconds: parsed.duration_seconds,
            id: tables.ids.push(id),
        };
        let index = u32::try_from(tables.rows.len()).expect("more than u32::MAX attempts");
        slot.insert(index);
        tables.rows.push(row);
        if ctx.opts.shard.is_some() {
            tables.positions.push(ctx.position());
        }
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
    s_contact: &mut String,
    s_other: &mut String,
) -> Result<Parsed, Bad> {
    src.check_shape()?;
    let channel = match src.optional_cell(idx[CHANNEL]) {
        Cell::Str(b) => parse_channel(b),
        Cell::Null | Cell::Int(_) | Cell::Float(_) | Cell::Time(_) => None,
    }
    .ok_or_else(|| Bad::new(idx[CHANNEL], "unknown_channel", CHANNELS))?;
    let t = match src.optional_cell(idx[AT]) {
        Cell::Time(t) => t,
        Cell::Str(b) if !b.is_empty() => {
            let s = std::str::from_utf8(b)
                .map_err(|_| Bad::new(idx[AT], "bad_timestamp", "not valid UTF-8"))?;
            parse_rfc3339(s).map_err(|why| Bad::new(idx[AT], "bad_timestamp", why))?
        }
        Cell::Str(_) | Cell::Null => {
            return Err(Bad::new(idx[AT], "bad_timestamp", "empty timestamp"));
        }
        Cell::Int(_) | Cell::Float(_) => {
            let why = "expected an RFC 3339 string or a Parquet timestamp column";
            return Err(Bad::new(idx[AT], "bad_timestamp", why));
        }
    };
    if let Some(why) = implausible_time(t, ctx.opts.now, MAX_AHEAD_SECONDS) {
        return Err(Bad::new(idx[AT], "implausible_time", why));
    }
    let outcome_text = text(src.optional_cell(idx[OUTCOME]), s_other, idx[OUTCOME])?;
    let outcome = ctx.opts.dispositions.resolve(outcome_text).ok_or_else(|| {
        let why = "unknown outcome (expected a canonical outcome such as no_answer, right_party, \
                   or a code from the disposition map)";
        Bad::new(idx[OUTCOME], "unknown_outcome", why)
    })?;
    let duration_seconds = duration(src.optional_cell(idx[DURATION]), idx[DURATION])?;
    let raw = text(src.optional_cell(idx[CONTACT]), s_contact, idx[CONTACT])?;
    let contact = ctx.contact_id(raw, idx[CONTACT])?;
    let kind = ctx.contacts[contact as usize].kind;
    if !rank::supports(kind, channel) {
        let what = match kind {
            ContactKind::Email => "an email address",
            ContactKind::Phone => "a phone number",
        };
        let why = format!("channel {channel} does not fit {what}");
        return Err(Bad::new(idx[CHANNEL], "channel_mismatch", why));
    }
    Ok(Parsed {
        t,
        contact,
        channel,
        outcome,
        duration_seconds,
    })
}

/// `duration_seconds`: empty = unknown; integers, or decimals truncated; negative is bad.
fn duration(c: Cell<'_>, col: usize) -> Result<Option<u32>, Bad> {
    let bad = || {
        Bad::new(
            col,
            "bad_number",
            "duration_seconds must be a non-negative number of seconds",
        )
    };
    let from_f64 = |f: f64| {
        if (0.0..4_294_967_296.0).contains(&f) {
            Ok(Some(f as u32))
        } else {
            Err(bad())
        }
    };
    match c {
        Cell::Null => Ok(None),
        Cell::Str([]) => Ok(None),
        Cell::Str(b) => {
            let s = std::str::from_utf8(b).map_err(|_| bad())?;
            match s.parse::<u32>() {
                Ok(v) => Ok(Some(v)),
                Err(_) => from_f64(s.parse::<f64>().map_err(|_| bad())?),
            }
        }
        Cell::Int(i) => u32::try_from(i).map(Some).map_err(|_| bad()),
        Cell::Float(f) => from_f64(f),
        Cell::Time(_) => Err(bad()),
    }
}
