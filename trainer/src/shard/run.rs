//! The sharded run's steps: [`replay_shard`] (one shard's rows and state to a directory),
//! [`fit_shards`] (merge every shard's output, then fit, calibrate, test, select and publish as
//! `train` does) and [`train_sharded`] (`train --shards P`: split, each shard in turn, fit).
//!
//! Why the result is `train`'s byte for byte: a person's features and state never depend on
//! another person, so a shard replays its persons exactly as the whole log's run does, given the
//! same zone ids (every zone of the time-zone database is interned first), the same attribute
//! typing and the same slice boundaries and sampling rates (from the split plan). Rows are
//! merged by (instant, input position), which is the unsharded run's time order with ties in
//! input order; persons by where the input first named them, which is the unsharded run's slot
//! order; ingest reports are summed file by file.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;

use contactscore_models::artifact::RuleEvidence;
use contactscore_models::artifact::state_parts;
use contactscore_models::family::Dataset;
use contactscore_models::features::{FeatureSchema, FeatureState};

use super::output::{self, RowKey, RowReader, ShardDone, shard_dir};
use super::plan::{SplitOptions, SplitPlan, split};
use super::{ShardFilter, merge};
use crate::config::Settings;
use crate::ingest::{IngestOptions, InputPaths};
use crate::pipeline::{Prelude, Prepared, ShardIngest, prepare};
use crate::progress::{Progress, process_cpu_seconds};
use crate::replay::{Selection, replay};
use crate::slices::{Replayed, Slices, rates, sampled};
use crate::threads::Threads;
use crate::train::{
    FittedState, Fitting, StateSource, Timings, TrainOutcome, TrainRequest, fit_and_publish,
};
use crate::{Result, TrainerError};

/// Replay shard `shard` of the export under `plan` and write its rows, state, evidence and
/// report to its directory under `out` ([`shard_dir`]).
#[allow(clippy::too_many_arguments)]
pub fn replay_shard(
    inputs: &InputPaths,
    settings: &Settings,
    plan: &SplitPlan,
    shard: ShardFilter,
    out: &Path,
    max_bad_rows: u64,
    threads: Threads,
    progress: &Progress,
) -> Result<ShardDone> {
    plan.check(inputs, settings)?;
    let started = progress.timer();
    let mut state = FeatureState::new(&settings.default_timezone)?;
    let prelude = Prelude {
        inputs,
        normalizer: settings.normalizer,
        dispositions: &settings.dispositions,
        max_bad_rows,
        threads,
        shard: Some(ShardIngest {
            filter: shard,
            attr_specs: plan.attr_specs.clone(),
            now: plan.now,
        }),
    };
    let Prepared { data, slots } = prepare(&prelude, &mut state, progress, |_| {})?;
    let schema = FeatureSchema::new(data.person_attrs.clone());
    let width = schema.len();
    let rates = rates(plan.counts(), settings);
    let seed = settings.hyperparameters.get().seed;
    let window = plan.window;
    let selection = Selection::new(&data, |_, row| {
        sampled(&rates, window.slice(row.t), data.attempt_id(row), seed)
    });
    let blank = RowKey {
        t: 0,
        pos: 0,
        slice: 0,
        label: false,
    };
    let mut keys = vec![blank; selection.len()];
    let mut features = vec![0f32; selection.len() * width];
    let target = settings.target;
    replay(
        &mut state,
        &data,
        &slots,
        &schema,
        &selection,
        threads,
        |k, row, f| {
            keys[k] = RowKey {
                t: row.t,
                pos: data.attempt_positions[row.id as usize],
                slice: window.slice(row.t) as u8,
                label: target.is_positive(row.outcome),
            };
            features[k * width..(k + 1) * width].copy_from_slice(f);
        },
        progress,
    )?;
    if state.len() != data.person_positions.len() {
        return Err(TrainerError::Internal(format!(
            "shard state has {} persons, ingest read {}",
            state.len(),
            data.person_positions.len()
        )));
    }
    let evidence = RuleEvidence::collect(
        data.attempts
            .iter()
            .map(|row| (data.attempt_id(row), row.outcome)),
    );
    let mut rows = [0u64; 3];
    for k in &keys {
        rows[usize::from(k.slice)] += 1;
    }
    let done = ShardDone {
        shard: shard.index,
        of: shard.of,
        settings: plan.settings.clone(),
        window,
        attempts: data.attempts.len() as u64,
        rows,
        persons: state.len() as u64,
        width: width as u32,
    };
    let dir = shard_dir(out, shard.index, shard.of);
    output::write_shard(
        &dir,
        &done,
        &keys,
        &features,
        &data.person_positions,
        &state,
        &evidence,
        &data.report,
    )?;
    progress.say(format_args!(
        "shard {}/{}: {} attempts, {} persons, rows {}/{}/{} in {:.1}s",
        shard.index + 1,
        shard.of,
        done.attempts,
        done.persons,
        rows[0],
        rows[1],
        rows[2],
        started.elapsed().as_secs_f64()
    ));
    Ok(done)
}

/// How `fit` publishes the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateLayout {
    /// Merged into one `state.bin`, as `train` publishes it.
    Merged,
    /// Kept as the shards' parts (`state/part-NNNNN.bin`): `fit` never holds the whole state,
    /// and the loader merges the parts (in parallel) into the same state.
    Parts,
}

/// Merge the `of` shards' outputs under `root` (replayed under `plan`), fit, choose, compare
/// with the champion and publish, as `train` does after its replay.
pub fn fit_shards(
    req: &TrainRequest,
    settings: &Settings,
    plan: &SplitPlan,
    root: &Path,
    of: u32,
    layout: StateLayout,
    progress: &Progress,
) -> Result<TrainOutcome> {
    let since = Since {
        started: progress.timer(),
        stages: Vec::new(),
    };
    fit_shards_since(req, settings, plan, root, of, layout, progress, since)
}

/// When a run started (its total time counts from here) and the stages it timed before `fit`.
struct Since {
    started: std::time::Instant,
    stages: Vec<(String, f64)>,
}

/// [`fit_shards`] within a run that started at `since.started`.
#[allow(clippy::too_many_arguments)]
fn fit_shards_since(
    req: &TrainRequest,
    settings: &Settings,
    plan: &SplitPlan,
    root: &Path,
    of: u32,
    layout: StateLayout,
    progress: &Progress,
    since: Since,
) -> Result<TrainOutcome> {
    plan.check_settings(settings)?;
    let started = progress.timer();
    let cpu_started = process_cpu_seconds();
    let schema = FeatureSchema::new(plan.attr_specs.clone());
    let width = schema.len();
    let dirs: Vec<_> = (0..of).map(|i| shard_dir(root, i, of)).collect();
    let mut dones = Vec::with_capacity(dirs.len());
    for (i, dir) in dirs.iter().enumerate() {
        let done = output::read_done(dir)?;
        if done.shard as usize != i
            || done.of != of
            || done.settings != plan.settings
            || done.window != plan.window
            || done.width as usize != width
        {
            return Err(TrainerError::Config(format!(
                "{}: replayed under another split plan or shard count",
                dir.display()
            )));
        }
        dones.push(done);
    }
    let attempts: u64 = dones.iter().map(|d| d.attempts).sum();
    if attempts != plan.attempts {
        return Err(TrainerError::Config(format!(
            "the shards replayed {attempts} attempts, the split counted {}: is an attempt id \
             used for persons of two shards? Run split with --shards {of} (or its partials with \
             --of {of}) to have it checked",
            plan.attempts
        )));
    }
    let reports = dirs
        .iter()
        .map(|d| output::read_report(d))
        .collect::<Result<Vec<_>>>()?;
    let report = merge::reports(reports, req.max_bad_rows)?;
    let same_files = report.files.len() == plan.inputs.len()
        && report
            .files
            .iter()
            .zip(&plan.inputs)
            .all(|(f, p)| f.path == p.path && f.sha256 == p.sha256);
    if !same_files {
        return Err(TrainerError::Config(
            "the shards read other files than the split plan was made on".into(),
        ));
    }
    let (slices, test_times) = merge_rows(&dirs, &dones, width)?;
    let evidence = RuleEvidence::merge(
        dirs.iter()
            .map(|d| output::read_evidence(d))
            .collect::<Result<Vec<_>>>()?,
    );
    // The state is read only after the fit (see `StateSource::Later`): at 100M attempts the
    // merged state is as large as the rows and the fit's working set together.
    let state_dirs = dirs.clone();
    let state = StateSource::Later(Box::new(move || {
        Ok(match layout {
            StateLayout::Merged => {
                let parts = state_dirs
                    .iter()
                    .map(|d| output::read_state(d))
                    .collect::<Result<Vec<_>>>()?;
                FittedState::Whole(state_parts::merge(parts)?)
            }
            StateLayout::Parts => FittedState::Parts(
                state_dirs
                    .iter()
                    .map(|d| output::read_state_bytes(d))
                    .collect::<Result<Vec<_>>>()?,
            ),
        })
    }));
    let secs = started.elapsed().as_secs_f64();
    progress.say(format_args!(
        "merged {of} shards in {secs:.1}s: {} persons; rows: train {}, calibration {}, test {}",
        dones.iter().map(|d| d.persons).sum::<u64>(),
        slices.train.len(),
        slices.calibration.len(),
        slices.test.len()
    ));
    let mut timings = Timings {
        wall: since.stages,
        cpu: Vec::new(),
    };
    timings.wall.push(("merge".to_owned(), secs));
    timings.cpu_since("merge", cpu_started);
    let replayed = Replayed {
        slices,
        test_times,
        evidence,
        report,
        secs,
        cpu_secs: None,
    };
    let fitting = Fitting {
        schema,
        attempts: plan.attempts as usize,
        window: plan.window,
        replayed,
        state,
    };
    fit_and_publish(req, settings, fitting, progress, timings, since.started)
}

/// Every shard's rows merged into the slices in (instant, input position) order, and each test
/// row's instant.
fn merge_rows(
    dirs: &[std::path::PathBuf],
    dones: &[ShardDone],
    width: usize,
) -> Result<(Slices, Vec<i64>)> {
    let total = |s: usize| dones.iter().map(|d| d.rows[s] as usize).sum::<usize>();
    let mut slices = Slices {
        train: Dataset::with_rows(width, total(0)),
        calibration: Dataset::with_rows(width, total(1)),
        test: Dataset::with_rows(width, total(2)),
    };
    let mut test_times = Vec::with_capacity(total(2));
    let mut readers = dirs
        .iter()
        .map(|d| RowReader::open(d, width))
        .collect::<Result<Vec<_>>>()?;
    let mut bufs: Vec<Vec<f32>> = vec![Vec::with_capacity(width); readers.len()];
    let mut heap = BinaryHeap::new();
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some(k) = r.next(&mut bufs[i])? {
            heap.push(Reverse((k, i)));
        }
    }
    let mut next = [0usize; 3];
    while let Some(Reverse((k, i))) = heap.pop() {
        let s = usize::from(k.slice);
        let d = match s {
            0 => &mut slices.train,
            1 => &mut slices.calibration,
            _ => &mut slices.test,
        };
        if next[s] >= d.len() {
            return Err(TrainerError::Internal(
                "more shard rows than counted".into(),
            ));
        }
        d.set(next[s], &bufs[i], k.label);
        next[s] += 1;
        if s == 2 {
            test_times.push(k.t);
        }
        if let Some(k) = readers[i].next(&mut bufs[i])? {
            heap.push(Reverse((k, i)));
        }
    }
    Ok((slices, test_times))
}

/// `train --shards P`: make the split plan, replay each shard in turn into a private scratch
/// directory under the models directory, then fit and publish from them; the scratch directory
/// is removed afterwards, whatever the outcome.
pub fn train_sharded(
    req: &TrainRequest,
    settings: &Settings,
    shards: u32,
    progress: &Progress,
) -> Result<TrainOutcome> {
    let started = progress.timer();
    let scratch = req
        .models_dir
        .join(format!(".train-shards-{}", std::process::id()));
    let opts = SplitOptions {
        max_bad_rows: req.max_bad_rows,
        now: IngestOptions::now(),
        threads: req.threads,
    };
    let result = (|| {
        let plan = split(
            &req.inputs,
            settings,
            shards,
            &opts,
            &scratch.join("split"),
            progress,
        )?;
        let split_secs = started.elapsed().as_secs_f64();
        let replay_started = progress.timer();
        for index in 0..shards {
            let shard = ShardFilter::new(index, shards)
                .ok_or_else(|| TrainerError::Config("--shards must be at least 1".into()))?;
            replay_shard(
                &req.inputs,
                settings,
                &plan,
                shard,
                &scratch,
                req.max_bad_rows,
                req.threads,
                progress,
            )?;
        }
        let since = Since {
            started,
            stages: vec![
                ("split".to_owned(), split_secs),
                ("replay".to_owned(), replay_started.elapsed().as_secs_f64()),
            ],
        };
        fit_shards_since(
            req,
            settings,
            &plan,
            &scratch,
            shards,
            StateLayout::Merged,
            progress,
            since,
        )
    })();
    if scratch.exists() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    result
}
