//! The persons reader: person time zones plus attribute columns, each typed as numeric (every
//! non-empty value parses as a finite number) or categorical (sorted levels, encoded by index).

use std::collections::HashMap;
use std::path::Path;

use super::intern::Interner;
use super::report::{Bad, FileReport};
use super::source::Source;
use super::{AttrKind, AttrSpec, Ctx, PersonRow, resolve, text};
use contactscore_models::quote;

use crate::error::{Result, TrainerError};

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
        if !ctx.next_row(&src, person_col) {
            continue;
        }
        report.rows_read += 1;
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
        let person = ctx.person_id(person);
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

    if let Some(global) = &ctx.opts.attr_specs {
        // One shard of a sharded run: the whole file's typing, so that every shard (and the
        // unsharded run) encodes a value alike.
        let level_values = encode_with(global, &attr_names, &levels, path)?;
        specs.extend(global.iter().cloned());
        push_rows(rows, kept, &codes, &level_values);
        return Ok(report);
    }
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
    push_rows(rows, kept, &codes, &level_values);
    Ok(report)
}

/// The kept rows with each attribute's level replaced by its value.
fn push_rows(
    rows: &mut Vec<PersonRow>,
    kept: Vec<(u32, Option<String>)>,
    codes: &[u32],
    level_values: &[Vec<f32>],
) {
    let n = level_values.len();
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
}

/// The value of every level read, under the whole file's typing `global` (from `split`).
fn encode_with(
    global: &[AttrSpec],
    names: &[String],
    levels: &[Interner],
    path: &Path,
) -> Result<Vec<Vec<f32>>> {
    let mismatch = |why: String| TrainerError::BadFile {
        file: path.to_owned(),
        reason: format!("the persons file differs from the one the split was made on: {why}"),
    };
    if global.len() != names.len() || global.iter().zip(names).any(|(g, n)| &g.name != n) {
        return Err(mismatch("other attribute columns".into()));
    }
    global
        .iter()
        .zip(levels)
        .map(|(spec, levels)| {
            levels
                .iter()
                .map(|level| {
                    let value = match &spec.kind {
                        AttrKind::Numeric => level
                            .parse::<f64>()
                            .ok()
                            .filter(|f| f.is_finite())
                            .map(|f| f as f32),
                        AttrKind::Categorical { levels } => levels
                            .binary_search_by(|l| l.as_str().cmp(level))
                            .ok()
                            .map(|rank| rank as f32),
                    };
                    value.ok_or_else(|| {
                        mismatch(format!(
                            "a value of column {} it did not hold",
                            quote(&spec.name)
                        ))
                    })
                })
                .collect()
        })
        .collect()
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
