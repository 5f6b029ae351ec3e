//! `split-merge`: the split partials of all `P` shards ([`super::partial`]) combined into the
//! [`SplitPlan`] the single-process `split` writes, byte for byte given the same present. Every
//! partial must be there and made under the same settings, inputs, present and attribute typing;
//! the reports are merged (the bad-row budget is over the whole export); an attempt id reused
//! across shards is found by a k-way merge of the partials' sorted id hashes; the slices are
//! counted by streaming each partial's instant runs once the window is known. Memory: one read
//! buffer per partial, whatever the number of attempts.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};

use super::merge;
use super::partial::{IdReader, PartialDone, count_slices, is_done, partial_dir, read_done};
use super::plan::{PLAN_FORMAT, SplitPlan, settings_digest};
use crate::config::Settings;
use crate::progress::Progress;
use crate::slices::Window;
use crate::train::MIN_ATTEMPTS;
use crate::{Result, TrainerError};

/// Merge the `of` split partials under `root` into the plan; bad rows are allowed up to
/// `max_bad_rows` over all of them.
pub fn merge_partials(
    settings: &Settings,
    root: &Path,
    of: u32,
    max_bad_rows: u64,
    progress: &Progress,
) -> Result<SplitPlan> {
    let started = progress.timer();
    let of = of.max(1);
    let dirs: Vec<PathBuf> = (0..of).map(|i| partial_dir(root, i, of)).collect();
    let missing: Vec<String> = dirs
        .iter()
        .filter(|d| !is_done(d))
        .map(|d| d.display().to_string())
        .collect();
    if !missing.is_empty() {
        const NAMED: usize = 10;
        let more = missing.len().saturating_sub(NAMED);
        return Err(TrainerError::Config(format!(
            "{} of {of} split partials are missing or unfinished (their split --shard did not \
             run or did not finish): {}{}",
            missing.len(),
            missing[..missing.len().min(NAMED)].join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )));
    }
    let parts = dirs
        .iter()
        .map(|d| read_done(d))
        .collect::<Result<Vec<_>>>()?;
    check_alike(&parts, &dirs, of, &settings_digest(settings))?;
    let first = &parts[0];
    let report = merge::reports(
        parts.iter().map(PartialDone::report).collect(),
        max_bad_rows,
    )?;
    let n: u64 = parts.iter().map(|p| p.attempts).sum();
    let reused = reused_ids(&dirs, n, progress)?;
    if reused > 0 {
        let attempts = first.inputs.first().map(|f| f.path.as_str()).unwrap_or("");
        return Err(TrainerError::BadFile {
            file: PathBuf::from(attempts),
            reason: format!(
                "{reused} attempt ids are used for more than one person: the unsharded run keeps \
                 only the first row of each, which sharding by person cannot reproduce; fix the \
                 export or train without --shards"
            ),
        });
    }
    if n < MIN_ATTEMPTS as u64 {
        return Err(TrainerError::Model(
            contactscore_models::Error::NotEnoughData(format!(
                "{n} attempts after de-duplication; at least {MIN_ATTEMPTS} are needed to train"
            )),
        ));
    }
    let (lo, hi) = parts
        .iter()
        .filter_map(|p| p.span)
        .fold((i64::MAX, i64::MIN), |(a, b), (f, l)| (a.min(f), b.max(l)));
    let window = Window::new(lo, hi, settings);
    let mut counts = [0u64; 3];
    for dir in &dirs {
        let c = count_slices(dir, &window)?;
        for (total, part) in counts.iter_mut().zip(c) {
            *total += part;
        }
    }
    progress.say(format_args!(
        "split: {n} attempts; slices train {}, calibration {}, test {}; {} bad rows skipped \
         (merged {of} partials in {:.1}s)",
        counts[0],
        counts[1],
        counts[2],
        report.skipped_total(),
        started.elapsed().as_secs_f64(),
    ));
    Ok(SplitPlan {
        format: PLAN_FORMAT,
        now: first.now,
        settings: first.settings.clone(),
        inputs: first.inputs.clone(),
        attempts: n,
        window,
        counts,
        attr_specs: first.attr_specs.clone(),
        bad_rows: report.skipped_total(),
    })
}

/// Refuse a partial of another shard count, configuration, present, inputs or attribute typing
/// than the first one (and the configuration given to the merge).
fn check_alike(parts: &[PartialDone], dirs: &[PathBuf], of: u32, settings: &str) -> Result<()> {
    let (first, first_dir) = (&parts[0], dirs[0].display());
    for (i, (p, dir)) in parts.iter().zip(dirs).enumerate() {
        let differs = |what: &str| {
            Err(TrainerError::Config(format!(
                "{}: {what} (every partial of a split must be made alike)",
                dir.display()
            )))
        };
        if p.shard as usize != i || p.of != of {
            return differs(&format!(
                "the partial of shard {} of {}, not {i} of {of}",
                p.shard, p.of
            ));
        }
        if p.settings != settings {
            return differs("made with another configuration than the merge's --config");
        }
        if p.now != first.now {
            return differs(&format!(
                "made with --now {}, {first_dir} with --now {}",
                p.now, first.now
            ));
        }
        if p.inputs != first.inputs {
            return differs(&format!(
                "read other input files (paths or contents) than {first_dir}"
            ));
        }
        if p.attr_specs != first.attr_specs {
            return differs(&format!(
                "typed the persons file's attributes otherwise than {first_dir} (did the file change?)"
            ));
        }
    }
    Ok(())
}

/// How many attempt-id hashes equal the one before them in the sorted union of every partial's
/// `ids.bin` (each partial's ids are distinct, so these are the ids of several shards): a k-way
/// merge holding one hash per partial.
fn reused_ids(dirs: &[PathBuf], total: u64, progress: &Progress) -> Result<u64> {
    let bar = progress.bar("ids", total);
    let mut readers = dirs
        .iter()
        .map(|d| IdReader::open(d))
        .collect::<Result<Vec<_>>>()?;
    let mut heap = BinaryHeap::with_capacity(readers.len());
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some(h) = r.next()? {
            heap.push(Reverse((h, i)));
        }
    }
    let (mut reused, mut seen, mut prev) = (0u64, 0u64, None);
    while let Some(Reverse((h, i))) = heap.pop() {
        if prev == Some(h) {
            reused += 1;
        }
        prev = Some(h);
        seen += 1;
        if seen % (1 << 16) == 0 {
            bar.set_position(seen);
        }
        if let Some(next) = readers[i].next()? {
            heap.push(Reverse((next, i)));
        }
    }
    bar.finish_and_clear();
    Ok(reused)
}
