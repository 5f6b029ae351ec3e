//! The `contactscore-trainer` command line: parses flags into requests for the library and turns
//! errors into a message and a non-zero exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use contactscore_trainer::config::Config;
use contactscore_trainer::error::{EXIT_FAILED, model_exit_code};
use contactscore_trainer::features_cmd::{ExportRequest, export};
use contactscore_trainer::progress::Progress;
use contactscore_trainer::shard::run::train_sharded;
use contactscore_trainer::simulate::{SimulateParams, simulate};
use contactscore_trainer::threads::Threads;
use contactscore_trainer::train::{TrainOutcome, train};
use contactscore_trainer::{
    TrainerError, backtest, champion, demo, evaluate, inspect, promote, score,
};

mod args;
mod plan_cli;
mod shard_cli;

use args::{Inputs, Publish, ScoreArgs};

#[derive(Parser)]
#[command(
    name = "contactscore-trainer",
    version,
    about = "Train, evaluate and publish contact response models"
)]
struct Cli {
    /// Print no progress or stage summaries.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Threads for ingest, replay and fitting (0 = every core). Results are the same for any
    /// count; only the time changes.
    #[arg(long, global = true, default_value_t = 0)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole job on generated data: simulate, hold out the last days, train, evaluate.
    Demo {
        /// Output directory.
        #[arg(long, default_value = "out/demo")]
        out: PathBuf,
        /// Number of persons.
        #[arg(long, default_value_t = 20_000)]
        persons: u32,
        /// Days of history.
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// Days at the end held out for the out-of-time evaluation.
        #[arg(long, default_value_t = 20)]
        holdout_days: u32,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Configuration file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Does the model's top suggestion beat a naive dialer? Simulate a history, train on it,
    /// then let both plan the following days in the simulator's hidden world.
    Backtest {
        /// Output directory (simulated CSVs, models/, backtest.json).
        #[arg(long, default_value = "out/backtest")]
        out: PathBuf,
        /// Number of persons.
        #[arg(long, default_value_t = 5_000)]
        persons: u32,
        /// Days of simulated history to train on.
        #[arg(long, default_value_t = 60)]
        history_days: u32,
        /// Days after the history on which both planners make one attempt per person per day.
        #[arg(long, default_value_t = 14)]
        eval_days: u32,
        /// Random seed (simulation, planners, the world's answers).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Configuration file (TOML) for training.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Contact policy file (TOML, like examples/policy.toml); default: the default policy.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Capacity mode: a call centre making N attempts per hour (any channel) works the
        /// whole list daily, one attempt per person per day; compares the plan, Rank hour by
        /// hour, a naive dialer and a greedy planner on the true probabilities (capacity.json).
        #[arg(long, value_name = "N")]
        capacity: Option<u32>,
        /// Diagnostic: give the model the simulator's hidden traits (weekly pattern,
        /// responsiveness, voice affinity) as the persons file's segment, age and balance, to
        /// measure what a perfect inference of them would reach. Not a realistic backtest.
        #[arg(long)]
        reveal_traits: bool,
    },
    /// Plan a list under hourly capacity from a version's state (the batch form of the server's
    /// PlanCampaign): writes person_id, attempt_index, contact, channel, slot_start, slot_end,
    /// probability, one row per planned attempt in slot order.
    Plan(plan_cli::PlanArgs),
    /// Write a realistic synthetic attempt log (attempts, contacts, persons, truth CSVs).
    Simulate {
        /// Number of persons.
        #[arg(long, default_value_t = 20_000)]
        persons: u32,
        /// Number of days of history.
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Malformed attempt rows (bad rows for ingest) per 10 000 attempts.
        #[arg(long, default_value_t = 10)]
        malformed_per_10k: u32,
        /// Attempt rows with implausible times (before 1990, decades ahead) per 10 000 attempts.
        #[arg(long, default_value_t = 2)]
        implausible_per_10k: u32,
    },
    /// Fit, calibrate, select and publish a model version.
    Train {
        #[command(flatten)]
        inputs: Inputs,
        #[command(flatten)]
        publish: Publish,
        /// Process the persons in P shards (by a fixed hash of person_id), one at a time: memory
        /// is set by one shard and the sampled rows, not by the whole log. The version is the
        /// same byte for byte as without --shards (docs/MODELS.md, "Sharded training").
        #[arg(long, value_name = "P", value_parser = clap::value_parser!(u32).range(1..))]
        shards: Option<u32>,
    },
    /// Sharded training, step 1: one pass over the export writing the facts every shard shares
    /// (slice boundaries, rows per slice, attribute typing) to a small JSON file; with
    /// `--shard I --of P --now T`, only shard I's partial of it (merged by split-merge), so
    /// that the split runs on P machines. Memory: one shard's ingest.
    Split(shard_cli::SplitArgs),
    /// Sharded training, step 1 distributed: merge the P partials of `split --shard I --of P`
    /// into the plan `split` writes (byte for byte, given the same --now), checking they are
    /// all there, made alike, and that no attempt id is used in two shards.
    SplitMerge(shard_cli::SplitMergeArgs),
    /// Sharded training, step 2: replay one shard's persons (`--shard I --of P`) under a split
    /// plan, writing its sampled rows and state to a directory.
    Replay(shard_cli::ReplayArgs),
    /// Sharded training, step 3: merge every shard's rows and state, then fit, calibrate, test,
    /// select and publish a version, as `train` does.
    Fit(shard_cli::FitArgs),
    /// Score later attempts from a version's state snapshot: writes attempt_id,probability.
    Score {
        #[command(flatten)]
        common: ScoreArgs,
        /// Output CSV.
        #[arg(long)]
        out: PathBuf,
    },
    /// Metrics of a version on later attempts, next to the baseline's.
    Evaluate {
        #[command(flatten)]
        common: ScoreArgs,
        /// Also write the report as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Also write reliability, cumulative-gains and by-hour charts (SVG) into this directory.
        #[arg(long)]
        plots: Option<PathBuf>,
    },
    /// Write the point-in-time feature rows of an attempt log to CSV or Parquet (replayed from
    /// an empty state as `train` does, or from a version's snapshot with --models-dir).
    Features {
        #[command(flatten)]
        inputs: Inputs,
        /// Replay from this models directory's version (its schema; adds its probability;
        /// --contacts and --persons are then part of its snapshot and not taken).
        #[arg(long)]
        models_dir: Option<PathBuf>,
        /// Version (default: CURRENT); needs --models-dir.
        #[arg(long)]
        version: Option<String>,
        /// Output file, .csv or .parquet.
        #[arg(long)]
        out: PathBuf,
        /// Configuration file (TOML): target, disposition map, default region and zone.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Skip and count up to N bad rows instead of failing on the first.
        #[arg(long, default_value_t = 0)]
        max_bad_rows: u64,
    },
    /// Point CURRENT at a published version, after verifying that it loads.
    Promote {
        /// Models directory.
        #[arg(long)]
        models_dir: PathBuf,
        /// The version to promote (`latest` = the newest published).
        #[arg(long)]
        version: String,
    },
    /// List versions, or show one manifest.
    Inspect {
        /// Models directory.
        #[arg(long)]
        models_dir: PathBuf,
        /// Show this version's manifest (`current` for CURRENT).
        #[arg(long)]
        version: Option<String>,
    },
}

fn run(cli: Cli) -> Result<()> {
    let progress = Progress::new(cli.quiet);
    let threads = Threads::new(cli.threads);
    match cli.command {
        Command::Demo {
            out,
            persons,
            days,
            holdout_days,
            seed,
            config,
        } => {
            let settings = Config::load(config.as_deref())?.validate()?;
            let req = demo::DemoRequest {
                out: out.clone(),
                persons,
                days,
                holdout_days,
                seed,
            };
            let (trained, report) = demo::demo(&req, &settings, &progress)?;
            println!(
                "trained {} ({})\n",
                trained.manifest.version, trained.manifest.family
            );
            print!("{}", evaluate::render(&report));
            println!("\n{}", demo::describe(&out));
        }
        Command::Backtest {
            out,
            persons,
            history_days,
            eval_days,
            seed,
            config,
            policy,
            capacity,
            reveal_traits,
        } => {
            let settings = Config::load(config.as_deref())?.validate()?;
            let req = backtest::BacktestRequest {
                out: out.clone(),
                persons,
                history_days,
                eval_days,
                seed,
                policy: backtest::load_policy(policy.as_deref())?,
                reveal_traits,
            };
            if let Some(per_hour) = capacity {
                return plan_cli::capacity_backtest(req, per_hour, &settings, &progress);
            }
            let report = backtest::backtest(&req, &settings, &progress)
                .with_context(|| format!("backtesting into {}", out.display()))?;
            print!("{}", backtest::render(&report));
            progress.say(format_args!(
                "wrote {}",
                out.join(backtest::REPORT_FILE).display()
            ));
        }
        Command::Plan(args) => plan_cli::run(args, threads, &progress)?,
        Command::Simulate {
            persons,
            days,
            seed,
            out,
            malformed_per_10k,
            implausible_per_10k,
        } => {
            let params = SimulateParams {
                persons,
                days,
                seed,
                malformed_per_10k,
                implausible_per_10k,
                ..SimulateParams::default()
            };
            let s = simulate(&params, &out)
                .with_context(|| format!("simulating into {}", out.display()))?;
            println!(
                "wrote {} attempts ({} duplicate rows), {} persons, {} contact points ({} outside \
                 the numbering metadata's ranges, {} with a carrier lookup), {} carrier lookups \
                 to {} ({} engaged)",
                s.attempts,
                s.duplicate_rows,
                s.persons,
                s.contacts,
                s.unlisted_contacts,
                s.validated_contacts,
                s.validations,
                out.display(),
                s.engaged
            );
            if s.bad_rows() > 0 {
                println!(
                    "attempts.csv also has {} malformed and {} implausible rows: train with \
                     --max-bad-rows {}",
                    s.malformed_rows,
                    s.implausible_rows,
                    s.bad_rows()
                );
            }
        }
        Command::Train {
            inputs,
            publish,
            shards,
        } => {
            let settings = Config::load(publish.config.as_deref())?.validate()?;
            let req = publish.request(inputs.into(), threads)?;
            let out = match shards {
                None => train(&req, &settings, &progress)?,
                Some(p) => train_sharded(&req, &settings, p, &progress)?,
            };
            print_trained(&out);
        }
        Command::Split(args) => shard_cli::split(args, threads, &progress)?,
        Command::SplitMerge(args) => shard_cli::split_merge(args, &progress)?,
        Command::Replay(args) => shard_cli::replay(args, threads, &progress)?,
        Command::Fit(args) => print_trained(&shard_cli::fit(args, threads, &progress)?),
        Command::Score { common, out } => {
            let run = score::score(&common.request(threads)?, &progress)?;
            score::write_scores(&out, &run.scored)?;
            progress.say(format_args!(
                "wrote {} scores to {}",
                run.scored.len(),
                out.display()
            ));
        }
        Command::Evaluate {
            common,
            json,
            plots,
        } => {
            let run = score::score(&common.request(threads)?, &progress)?;
            let m = &run.manifest;
            let report = evaluate::evaluate(
                &m.version,
                m.family.as_str(),
                m.target.as_str(),
                &run.scored,
            );
            print!("{}", evaluate::render(&report));
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&report)?;
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if let Some(dir) = plots {
                for path in contactscore_trainer::plots::write_plots(&report, &run.scored, &dir)? {
                    progress.say(format_args!("wrote {}", path.display()));
                }
            }
        }
        Command::Features {
            inputs,
            models_dir,
            version,
            out,
            config,
            max_bad_rows,
        } => {
            let settings = Config::load(config.as_deref())?.validate()?;
            let req = ExportRequest {
                inputs: inputs.into(),
                models_dir,
                version,
                out: out.clone(),
                max_bad_rows,
                threads,
            };
            let s = export(&req, &settings, &progress)?;
            println!(
                "wrote {} rows ({} features{}) to {}",
                s.rows,
                s.features,
                s.version
                    .map_or_else(String::new, |v| format!(", probability of {v}")),
                out.display()
            );
        }
        Command::Promote {
            models_dir,
            version,
        } => {
            let p = promote::promote(&models_dir, &version)?;
            println!(
                "promoted {} (was {})",
                p.version,
                p.previous.as_deref().unwrap_or("none")
            );
        }
        Command::Inspect {
            models_dir,
            version,
        } => match version {
            None => print!("{}", inspect::list(&models_dir)?),
            Some(v) => {
                let v = (v != "current").then_some(v);
                println!("{}", inspect::show(&models_dir, v.as_deref())?);
            }
        },
    }
    Ok(())
}

/// A published version's id, each family's test metrics (the chosen one starred) and the
/// comparison with the champion.
fn print_trained(out: &TrainOutcome) {
    let m = &out.manifest;
    println!("{}", m.version);
    for (family, x) in &m.metrics {
        println!(
            "{}{:<8} test log loss {:.4}  AUC {}  Brier {:.4}  ECE {:.4}  base rate {:.4}  lift@10% {}",
            if *family == m.family { "* " } else { "  " },
            family.as_str(),
            x.log_loss,
            x.auc.map_or_else(|| "n/a".into(), |a| format!("{a:.4}")),
            x.brier,
            x.ece,
            x.base_rate,
            x.lift_top_decile
                .map_or_else(|| "n/a".into(), |l| format!("{l:.2}")),
        );
    }
    if let Some(c) = &m.champion {
        println!("{}", champion::describe(c, out.promoted));
    }
}

/// The exit code for `e`: that of the first trainer or library error in its chain (see
/// `TrainerError::exit_code`), else 1.
fn exit_code(e: &anyhow::Error) -> u8 {
    e.chain()
        .find_map(|c| {
            c.downcast_ref::<TrainerError>()
                .map(TrainerError::exit_code)
                .or_else(|| {
                    c.downcast_ref::<contactscore_models::Error>()
                        .map(model_exit_code)
                })
        })
        .unwrap_or(EXIT_FAILED)
}

fn main() -> ExitCode {
    // Usage errors exit with 2 (clap's convention, and ours for configuration).
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", contactscore_models::explain(e.as_ref()));
            ExitCode::from(exit_code(&e))
        }
    }
}
