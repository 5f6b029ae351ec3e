//! The sharded-training commands of the binary: `split` (whole, or one shard's partial),
//! `split-merge`, `replay` and `fit` (see `contactscore_trainer::shard`). `train --shards P` runs the same three in one process.

use std::path::{Path, PathBuf};

use anyhow::Result;
use contactscore_trainer::config::Config;
use contactscore_trainer::ingest::{IngestOptions, InputPaths};
use contactscore_trainer::progress::Progress;
use contactscore_trainer::shard::combine::merge_partials;
use contactscore_trainer::shard::partial::{partial_dir, split_partial};
use contactscore_trainer::shard::plan::{SplitPlan, split as make_plan};
use contactscore_trainer::shard::run::{StateLayout, fit_shards, replay_shard};
use contactscore_trainer::shard::{ShardFilter, SplitOptions};
use contactscore_trainer::threads::Threads;
use contactscore_trainer::train::TrainOutcome;

use crate::args::{Inputs, Publish};

#[derive(clap::Args)]
pub struct SplitArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Configuration file (TOML): the same for split, replay and fit.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where to write the plan (JSON); with --shard, the directory the partial's
    /// `split-IIIII-of-PPPPP/` is written under (for split-merge --partials).
    #[arg(long)]
    out: PathBuf,
    /// Read the export in this many shards, one at a time (memory: one shard).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    shards: u32,
    /// Make only this shard's partial (0 ≤ I < P), to be merged by split-merge: the partials of
    /// a split can run on P machines.
    #[arg(long, value_name = "I", requires_all = ["of", "now"], conflicts_with = "shards")]
    shard: Option<u32>,
    /// With --shard: the number of shards.
    #[arg(long, value_name = "P", requires = "shard",
          value_parser = clap::value_parser!(u32).range(1..))]
    of: Option<u32>,
    /// The present (unix seconds) implausible instants are judged by, written into the plan:
    /// required with --shard, where every partial must be given the same value (default:
    /// the current time).
    #[arg(long, value_name = "UNIX")]
    now: Option<i64>,
    /// Skip and count up to N bad rows (over the whole export) instead of failing on the first.
    #[arg(long, default_value_t = 0)]
    max_bad_rows: u64,
}

/// `split`: write the plan, or with `--shard` one shard's partial of it.
pub fn split(args: SplitArgs, threads: Threads, progress: &Progress) -> Result<()> {
    let settings = Config::load(args.config.as_deref())?.validate()?;
    let inputs: InputPaths = args.inputs.into();
    let opts = SplitOptions {
        max_bad_rows: args.max_bad_rows,
        now: args.now.unwrap_or_else(IngestOptions::now),
        threads,
    };
    if let (Some(index), Some(of)) = (args.shard, args.of) {
        let shard = shard_filter(index, of)?;
        let done = split_partial(&inputs, &settings, shard, &opts, &args.out, progress)?;
        println!(
            "wrote {}: shard {index} of {of}, {} attempts",
            partial_dir(&args.out, index, of).display(),
            done.attempts
        );
        return Ok(());
    }
    let scratch = scratch_beside(&args.out);
    let plan = make_plan(&inputs, &settings, args.shards, &opts, &scratch, progress)?;
    write_plan(&plan, &args.out)
}

#[derive(clap::Args)]
pub struct SplitMergeArgs {
    /// Configuration file (TOML): the one the partials were made with.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The directory every `split --shard I --of P` wrote under (its --out).
    #[arg(long)]
    partials: PathBuf,
    /// The number of shards.
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u32).range(1..))]
    of: u32,
    /// Where to write the plan (JSON).
    #[arg(long)]
    out: PathBuf,
    /// Skip and count up to N bad rows over the whole export (as given to the partials).
    #[arg(long, default_value_t = 0)]
    max_bad_rows: u64,
}

/// `split-merge`: the plan from every shard's partial.
pub fn split_merge(args: SplitMergeArgs, progress: &Progress) -> Result<()> {
    let settings = Config::load(args.config.as_deref())?.validate()?;
    let plan = merge_partials(
        &settings,
        &args.partials,
        args.of,
        args.max_bad_rows,
        progress,
    )?;
    write_plan(&plan, &args.out)
}

fn write_plan(plan: &SplitPlan, out: &Path) -> Result<()> {
    plan.write(out)?;
    println!(
        "wrote {}: {} attempts, slices train {} / calibration {} / test {}",
        out.display(),
        plan.attempts,
        plan.counts[0],
        plan.counts[1],
        plan.counts[2]
    );
    Ok(())
}

/// The single-process split's scratch directory for its partials: beside the plan, named by
/// the process (removed by the split).
fn scratch_beside(out: &Path) -> PathBuf {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
    parent
        .unwrap_or(Path::new("."))
        .join(format!(".split-{}", std::process::id()))
}

/// Shard `index` of `of`, or a configuration error.
fn shard_filter(index: u32, of: u32) -> Result<ShardFilter> {
    Ok(ShardFilter::new(index, of).ok_or_else(|| {
        contactscore_trainer::TrainerError::Config(format!(
            "--shard {index} --of {of}: the shard must be below the count"
        ))
    })?)
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Configuration file (TOML): the same for split, replay and fit.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The plan `split` wrote.
    #[arg(long)]
    split: PathBuf,
    /// This shard, 0 ≤ I < P.
    #[arg(long, value_name = "I")]
    shard: u32,
    /// The number of shards.
    #[arg(long, value_name = "P")]
    of: u32,
    /// Output root: the shard writes `shard-IIIII-of-PPPPP/` under it.
    #[arg(long)]
    out: PathBuf,
    /// Skip and count up to N bad rows instead of failing on the first (checked again over all
    /// shards by fit).
    #[arg(long, default_value_t = 0)]
    max_bad_rows: u64,
}

/// `replay`: one shard.
pub fn replay(args: ReplayArgs, threads: Threads, progress: &Progress) -> Result<()> {
    let settings = Config::load(args.config.as_deref())?.validate()?;
    let plan = SplitPlan::read(&args.split)?;
    let shard = shard_filter(args.shard, args.of)?;
    let done = replay_shard(
        &args.inputs.into(),
        &settings,
        &plan,
        shard,
        &args.out,
        args.max_bad_rows,
        threads,
        progress,
    )?;
    println!(
        "shard {} of {}: {} attempts, {} persons, rows {} / {} / {}",
        done.shard, done.of, done.attempts, done.persons, done.rows[0], done.rows[1], done.rows[2]
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct FitArgs {
    /// The plan `split` wrote.
    #[arg(long)]
    split: PathBuf,
    /// The output root every shard's replay wrote under.
    #[arg(long)]
    shards_dir: PathBuf,
    /// The number of shards.
    #[arg(long, value_name = "P")]
    of: u32,
    /// Keep the state as the shards' parts (`state/part-NNNNN.bin`) instead of merging it into
    /// one `state.bin`: fit never holds the whole state; the server merges the parts on load.
    #[arg(long)]
    state_parts: bool,
    #[command(flatten)]
    publish: Publish,
}

/// `fit`: merge, fit and publish.
pub fn fit(args: FitArgs, threads: Threads, progress: &Progress) -> Result<TrainOutcome> {
    let settings = Config::load(args.publish.config.as_deref())?.validate()?;
    let plan = SplitPlan::read(&args.split)?;
    let req = args.publish.request(InputPaths::default(), threads)?;
    Ok(fit_shards(
        &req,
        &settings,
        &plan,
        &args.shards_dir,
        args.of,
        if args.state_parts {
            StateLayout::Parts
        } else {
            StateLayout::Merged
        },
        progress,
    )?)
}
