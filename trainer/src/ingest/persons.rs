//! The persons reader: person time zones plus attribute columns, each typed as numeric (every
//! non-empty value parses as a finite number) or categorical (sorted levels, encoded by index).

use std::collections::HashMap;
use std::path::Path;

use super::intern::Interner;
use super::report::{Bad, FileReport};
use super::source::Source;
use super::{AttrKind, AttrSpec, Ctx, PersonRow, resolve, text};
use crate::error::Result;

const MISSING: u32 = u32::MAX;

/// Read the persons file into `specs` and `rows`.
pub(crate) fn read(
    path: &Path,
    ctx: &mut Ctx<'_>,
    specs: &mut Vec<AttrSpec>,
    rows: &mut Vec<PersonRow>,
) -> Result<FileReport> {
    let mut src = Source::open(path)?;
    let cols = resolve(&src, path, &["person_id", "timezone"], 1)?;
    let (person_col, zone_col) = (cols.idx[0].unwrap_or(usize::MAX), cols.idx[1]);
    let attr_cols = cols.others;
    let attr_names: Vec<String> = attr_cols
        .iter()
        .map(|&c| src.columns()[c].clone())
        .collect();
    src.set_needed(&(0..src.columns().len()).collect::<Vec<_>>());
    let mut report = ctx.start_file("persons", path, &src, &[]);
    let mut levels: Vec<Interner> = attr_cols.iter().map(|_| Interner::new()).collect();
    // Per kept row: person, time zone, and one level id per attribute (MISSING when empty).
    let mut kept: Vec<(u32, Option<String>)> = Vec::new();
    let mut codes: Vec<u32> = Vec::new();
    let mut row_codes: Vec<u32> = Vec::with_capacity(attr_cols.len());
    let mut seen: HashMap<u32, usize> = HashMap::new();
    let (mut s_person, mut s_other) = (String::new(), String::new());
    while src.next_row(path)? {
        report.rows_read += 1;
        ctx.row(report.rows_read);
        let cells = Cells {
            person_col,
            zone_col,
            attr_cols: &attr_cols,
        };
        let parsed = parse(
            &src,
            &cells,
            ctx,
            &mut levels,
            &mut row_codes,
            &mut s_person,
            &mut s_other,
        );
        let (person, zone) = match parsed {
            Ok(p) => p,
            Err(bad) => {
                ctx.bad_row(&src, path, bad, &mut report)?;
                continue;
            }
        };
        let person = ctx.persons.get_or_intern(person);
        if let Some(&first) = seen.get(&person) {
            report.duplicates += 1;
            let n = attr_cols.len();
            if kept[first].1 != zone || codes[first * n..(first + 1) * n] != row_codes[..] {
                report.conflicting_duplicates += 1;
            }
            continue;
        }
        seen.insert(person, kept.len());
        kept.push((person, zone));
        codes.extend_from_slice(&row_codes);
        report.rows_used += 1;
    }
    ctx.end_file();
    report.sha256 = src.finish(path)?;

    // Type each attribute and build the value of every level.
    let mut level_values: Vec<Vec<f32>> = Vec::with_capacity(attr_cols.len());
    for k in 0..attr_cols.len() {
        let names: Vec<&str> = levels[k].iter().collect();
        let numbers: Option<Vec<f32>> = names
            .iter()
            .map(|s| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f as f32)
            })
            .collect();
        let name = attr_names[k].clone();
        match numbers {
            Some(values) => {
                specs.push(AttrSpec {
                    name,
                    kind: AttrKind::Numeric,
                });
                level_values.push(values);
            }
            None => {
                let mut order: Vec<usize> = (0..names.len()).collect();
                order.sort_by(|&a, &b| names[a].cmp(names[b]));
                let mut values = vec![0.0f32; names.len()];
                for (rank, &level) in order.iter().enumerate() {
                    values[level] = rank as f32;
                }
                let sorted = order.iter().map(|&i| names[i].to_owned()).collect();
                specs.push(AttrSpec {
                    name,
                    kind: AttrKind::Categorical { levels: sorted },
                });
                level_values.push(values);
            }
        }
    }
    let n = attr_cols.len();
    for (r, (person, timezone)) in kept.into_iter().enumerate() {
        let attrs = (0..n)
            .map(|k| match codes[r * n + k] {
                MISSING => f32::NAN,
                code => level_values[k][code as usize],
            })
            .collect();
        rows.push(PersonRow {
            person,
            timezone,
            attrs,
        });
    }
    Ok(report)
}

struct Cells<'a> {
    person_col: usize,
    zone_col: Option<usize>,
    attr_cols: &'a [usize],
}

/// Validate one row; attribute values are interned into `levels`, their ids left in `row_codes`.
fn parse<'s>(
    src: &'s Source,
    cells: &Cells<'_>,
    ctx: &mut Ctx<'_>,
    levels: &mut [Interner],
    row_codes: &mut Vec<u32>,
    s_person: &'s mut String,
    s_other: &mut String,
) -> Result<(&'s str, Option<String>), Bad> {
    src.check_shape()?;
    let person = text(src.cell(cells.person_col), s_person, cells.person_col)?;
    if person.is_empty() {
        return Err(Bad::new(cells.person_col, "empty_id", "empty person id"));
    }
    let zone = match cells.zone_col {
        Some(c) => ctx.timezone(text(src.cell(c), s_other, c)?, c)?,
        None => None,
    };
    row_codes.clear();
    for (k, &c) in cells.attr_cols.iter().enumerate() {
        let v = text(src.cell(c), s_other, c)?;
        row_codes.push(if v.is_empty() {
            MISSING
        } else {
            levels[k].get_or_intern(v)
        });
    }
    Ok((person, zone))
}
