//! The sharded-training commands of the binary: `split`, `replay` and `fit` (see
//! `contactscore_trainer::shard`). `train --shards P` runs the same three in one process.

use std::path::PathBuf;

use anyhow::Result;
use contactscore_trainer::config::Config;
use contactscore_trainer::ingest::InputPaths;
use contactscore_trainer::progress::Progress;
use contactscore_trainer::shard::ShardFilter;
use contactscore_trainer::shard::plan::{SplitPlan, split as make_plan};
use contactscore_trainer::shard::run::{StateLayout, fit_shards, replay_shard};
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
    /// Where to write the plan (JSON).
    #[arg(long)]
    out: PathBuf,
    /// Read the export in this many shards, one at a time (memory: one shard).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    shards: u32,
    /// Skip and count up to N bad rows (over the whole export) instead of failing on the first.
    #[arg(long, default_value_t = 0)]
    max_bad_rows: u64,
}

/// `split`: write the plan.
pub fn split(args: SplitArgs, threads: Threads, progress: &Progress) -> Result<()> {
    let settings = Config::load(args.config.as_deref())?.validate()?;
    let inputs: InputPaths = args.inputs.into();
    let plan = make_plan(
        &inputs,
        &settings,
        args.shards,
        args.max_bad_rows,
        threads,
        progress,
    )?;
    plan.write(&args.out)?;
    println!(
        "wrote {}: {} attempts, slices train {} / calibration {} / test {}",
        args.out.display(),
        plan.attempts,
        plan.counts[0],
        plan.counts[1],
        plan.counts[2]
    );
    Ok(())
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
    let shard = ShardFilter::new(args.shard, args.of).ok_or_else(|| {
        contactscore_trainer::TrainerError::Config(format!(
            "--shard {} --of {}: the shard must be below the count",
            args.shard, args.of
        ))
    })?;
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
