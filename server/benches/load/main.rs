//! Load benchmark (not a test) of `contactscore-server`: Rank latency (p50/p90/p99/max) and
//! throughput at a fixed number of concurrent in-flight requests over loopback, with a model
//! version whose feature state holds 1M persons, next to the empty-RPC baseline
//! (`grpc.health.v1.Health/Check`) measured in the same run. Also times `rank::rank` in
//! isolation, splits CPU time between server and load generator, and reports peak RSS; then
//! times `PlanCampaign` with 100 000 persons × 24 hourly slots on the same server.
//! Figures go to BENCHMARKS.md; nothing is asserted.
//!
//! This file holds the options and the sequence; `setup` builds the served version, `isolation`
//! times the ranker alone, `drive` runs the load, `report` prints the table, `plan` times
//! PlanCampaign and `sys` reads process figures from `/proc`.
//!
//! `cargo bench -p contactscore-server --bench load -- [--persons 1000000] [--warmup 3]
//! [--measure 15] [--concurrency 64] [--connections 4] [--plan-persons 100000] [--plan-only]`
//! (`--help` lists every option). With `--rates 500,1000,2000` it runs the open-loop phases of
//! `open_loop` instead (Rank at offered rates, RecordOutcome throughput), on the local store or,
//! with `--state-store redis://…`, on Redis (bulk load and memory per person reported too).

mod drive;
mod isolation;
mod open_loop;
mod plan;
mod report;
mod setup;
mod sys;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use contactscore_models::localtime::DAY;
use contactscore_server::Config;
use contactscore_server::server::{self, Bound};

use crate::drive::drive;
use crate::report::{Memory, report};
use crate::setup::build_version;
use crate::sys::{cores, loadavg, mib, proc_status_mib};

/// Thread-name prefixes, so CPU time can be split between server and load generator.
const SERVER_THREADS: &str = "srv";
const CLIENT_THREADS: &str = "gen";
/// Targets of the issue.
const TARGET_P99_MS: f64 = 2.0;
const TARGET_RATIO: f64 = 0.5;
/// PlanCampaign with 100 000 persons × 24 slots (issue 13).
const TARGET_PLAN_SECONDS: f64 = 10.0;

/// Rank latency and throughput under concurrent load, next to the empty-RPC baseline.
#[derive(Debug, Parser)]
#[command(name = "load")]
struct Args {
    /// Persons in the served feature state (trained persons replicated under new ids).
    #[arg(long, default_value_t = 1_000_000)]
    persons: usize,
    /// Warm-up seconds before each measured phase.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Measured seconds per phase.
    #[arg(long, default_value_t = 15.0)]
    measure: f64,
    /// Requests in flight at all times (one task each, issuing back to back).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// HTTP/2 connections the tasks share (task i uses connection i mod N).
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Percentage of Rank requests that carry the person's contact points explicitly
    /// (the rest send `contacts: []`, i.e. the contact points the server knows).
    #[arg(long, default_value_t = 10)]
    explicit_percent: u32,
    /// Simulated persons the model is trained on (the templates replicated to `--persons`).
    #[arg(long, default_value_t = 5_000)]
    train_persons: u32,
    /// Simulated days of history.
    #[arg(long, default_value_t = 60)]
    train_days: u32,
    /// Seed of the simulation and of the request stream.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Worker threads of the server's runtime.
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Persons ranked by calling `rank::rank` directly (single thread), before the load.
    #[arg(long, default_value_t = 20_000)]
    isolated: usize,
    /// Persons in each PlanCampaign call, after the load (0 = no PlanCampaign).
    #[arg(long, default_value_t = 100_000)]
    plan_persons: usize,
    /// PlanCampaign calls (the same request each time).
    #[arg(long, default_value_t = 3)]
    plan_runs: usize,
    /// Hourly capacity as a share of the PlanCampaign list (spread over 24 hours).
    #[arg(long, default_value_t = 0.7)]
    plan_fill: f64,
    /// Attempts per person in PlanCampaign.
    #[arg(long, default_value_t = 1)]
    plan_attempts: u32,
    /// Only PlanCampaign: skip the Rank and empty-RPC load phases.
    #[arg(long)]
    plan_only: bool,
    /// Offered Rank rates (requests/s) of the open-loop mode, comma-separated; empty = the
    /// closed-loop phases and PlanCampaign.
    #[arg(long, value_delimiter = ',')]
    rates: Vec<u32>,
    /// The server's state store (`[state] store`): empty = local, `redis://HOST:PORT`, or
    /// `redis+cluster://HOST:PORT,…` (list every primary: the memory figure sums them).
    #[arg(long, default_value = "")]
    state_store: String,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.concurrency == 0
        || args.connections == 0
        || args.persons == 0
        || args.server_threads == 0
        || args.client_threads == 0
    {
        bail!("--persons, --concurrency, --connections and the thread counts must be positive");
    }
    if !(args.warmup >= 0.0 && args.measure > 0.0 && (args.warmup + args.measure).is_finite()) {
        bail!("--warmup must be ≥ 0 and --measure > 0 seconds");
    }
    if !(args.plan_fill > 0.0 && args.plan_fill.is_finite()) {
        bail!("--plan-fill must be positive");
    }
    if args.explicit_percent > 100 {
        bail!("--explicit-percent must be at most 100");
    }
    println!("machine: {} cores, load average {}", cores(), loadavg());
    let dir = tempfile::tempdir()?;
    let models = dir.path().join("models");

    // 1. A trained version, grown to `persons`, published and promoted.
    let (workload, version) = build_version(&args, dir.path(), &models)?;
    let setup_hwm = proc_status_mib("VmHWM:");
    println!(
        "setup peak RSS (simulate, train, grow, publish): {}; RSS before the server starts {}",
        mib(setup_hwm),
        mib(proc_status_mib("VmRSS:"))
    );
    // Reset VmHWM so the serving phase gets its own peak (Linux ≥ 4.0; ignored elsewhere).
    let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();

    // 2. The real server, in-process, on its own runtime and threads.
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        models_dir: models.clone(),
        state_dir: dir.path().join("state"),
        ..Default::default()
    };
    config.state.store.clone_from(&args.state_store);
    let settings = config.validate()?;
    let redis_before = if args.state_store.is_empty() {
        None
    } else {
        // The store's own log lines (bulk load rate) on stderr.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("contactscore_server::store=info")
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .try_init();
        Some(open_loop::redis_used_memory(&args.state_store)?)
    };
    let started = Instant::now();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Bound>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_threads = args.server_threads;
    let server = std::thread::Builder::new()
        .name(format!("{SERVER_THREADS}-main"))
        .spawn(move || -> Result<()> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(server_threads)
                .thread_name(SERVER_THREADS)
                .enable_all()
                .build()?;
            rt.block_on(server::run(
                settings,
                async {
                    let _ = stop_rx.await;
                },
                move |b| {
                    let _ = ready_tx.send(b);
                },
            ))?;
            Ok(())
        })?;
    let bound = ready_rx
        .recv_timeout(Duration::from_secs(600))
        .context("the server did not start")?;
    println!(
        "server start-up (load + verify {version}): {:.1} s, RSS now {}",
        started.elapsed().as_secs_f64(),
        mib(proc_status_mib("VmRSS:"))
    );

    // 3. The load, from a second runtime in the same process.
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads)
        .thread_name(CLIENT_THREADS)
        .enable_all()
        .build()?;
    if let Some(before) = redis_before {
        let after = open_loop::redis_used_memory(&args.state_store)?;
        println!(
            "Redis used_memory: {} before, {} after the load: {:.0} bytes per person",
            mib(Some(before as f64 / 1048576.0)),
            mib(Some(after as f64 / 1048576.0)),
            after.saturating_sub(before) as f64 / args.persons as f64
        );
    }
    if !args.rates.is_empty() {
        client.block_on(open_loop::open_loop(&args, bound, workload.clone()))?;
        if let Some(before) = redis_before {
            let after = open_loop::redis_used_memory(&args.state_store)?;
            println!(
                "Redis used_memory after the open-loop phases: {:.0} bytes per person",
                after.saturating_sub(before) as f64 / args.persons as f64
            );
        }
        let _ = stop_tx.send(());
        server
            .join()
            .map_err(|_| anyhow::anyhow!("server thread panicked"))??;
        return Ok(());
    }
    let results = if args.plan_only {
        Vec::new()
    } else {
        client.block_on(drive(&args, bound, workload.clone()))?
    };
    // Memory while the server still holds its state (VmHWM covers the model load too).
    let memory = Memory {
        setup_peak: setup_hwm,
        hwm_reset,
        serving_peak: proc_status_mib("VmHWM:"),
        serving_now: proc_status_mib("VmRSS:"),
    };

    // 4. PlanCampaign on the same server, then the report.
    client.block_on(plan::plan_campaign(&args, bound, &workload))?;
    let _ = stop_tx.send(());
    server
        .join()
        .map_err(|_| anyhow::anyhow!("server thread panicked"))??;
    drop(client);
    report(&args, &results, &memory);
    Ok(())
}
