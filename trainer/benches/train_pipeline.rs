//! Benchmark (not a test) of the training pipeline at scale: simulates an attempt log, then runs
//! `train` on it and prints ingest and replay throughput (per wall second and per CPU second, the
//! per-core figure), per-family fit times, total wall time and peak memory (VmHWM). Figures go
//! to BENCHMARKS.md.
//!
//! `cargo bench -p contactscore-trainer --bench train_pipeline -- [PERSONS] [DAYS] [THREADS]`
//! (default 250 000 persons × 90 days ≈ 10M attempts, every core; `THREADS` is `train
//! --threads`, so 1 and 2 give the per-stage speed-up of the second core).

use std::time::Instant;

use contactscore_trainer::config::Config;
use contactscore_trainer::progress::Progress;
use contactscore_trainer::simulate::{SimulateParams, simulate};
use contactscore_trainer::threads::Threads;
use contactscore_trainer::train::{TrainRequest, train};

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; take the numbers among the arguments.
    let nums: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let persons = nums.first().copied().unwrap_or(250_000);
    let days = nums.get(1).copied().unwrap_or(90);
    let threads = Threads::new(nums.get(2).copied().unwrap_or(0) as usize);
    let dir = tempfile::tempdir()?;
    let t = Instant::now();
    let params = SimulateParams {
        persons,
        days,
        seed: 1,
        ..SimulateParams::default()
    };
    let sim = simulate(&params, dir.path())?;
    println!(
        "simulate: {persons} persons × {days} days → {} attempts in {:.1}s",
        sim.attempts,
        t.elapsed().as_secs_f64()
    );
    let size = std::fs::metadata(dir.path().join("attempts.csv"))?.len();
    println!("attempts.csv: {:.0} MiB", size as f64 / (1 << 20) as f64);

    let settings = Config::default().validate()?;
    let mut req = TrainRequest::on_simulated(
        dir.path(),
        "attempts.csv",
        "validations.csv",
        dir.path().join("models"),
        sim.bad_rows(),
    );
    req.threads = threads;
    println!("train --threads {threads}");
    let out = train(&req, &settings, &Progress::new(false))?;
    let n = out.manifest.rows.attempts as f64;
    let get = |k: &str| {
        out.timings
            .iter()
            .find(|(name, _)| name == k)
            .map_or(f64::NAN, |(_, s)| *s)
    };
    let (ingest, replay) = (get("ingest"), get("replay"));
    let cpu = |k: &str| {
        out.cpu_timings
            .iter()
            .find(|(name, _)| name == k)
            .map_or(f64::NAN, |(_, s)| *s)
    };
    let (ingest_cpu, replay_cpu) = (cpu("ingest"), cpu("replay"));
    println!("\n| figure | wall | CPU (all threads) |\n|---|---|---|");
    println!("| attempts (after de-duplication) | {n:.0} | |");
    println!(
        "| ingest | {ingest:.1} s ({:.2} M attempts/s) | {ingest_cpu:.1} s ({:.2} M attempts/CPU-s) |",
        n / ingest / 1e6,
        n / ingest_cpu / 1e6
    );
    println!(
        "| replay (features for sampled rows + state updates) | {replay:.1} s ({:.2} M attempts/s) \
         | {replay_cpu:.1} s ({:.2} M attempts/CPU-s) |",
        n / replay / 1e6,
        n / replay_cpu / 1e6
    );
    println!(
        "| **ingest + replay** | {:.2} M attempts/s | **{:.2} M attempts/s per core** |",
        n / (ingest + replay) / 1e6,
        n / (ingest_cpu + replay_cpu) / 1e6
    );
    for (k, s) in &out.timings {
        if let Some(f) = k.strip_prefix("fit_") {
            println!("| fit + calibrate + test `{f}` | {s:.1} s |");
        }
    }
    println!(
        "| rows: train / calibration / test | {} / {} / {} |",
        out.manifest.rows.train, out.manifest.rows.calibration, out.manifest.rows.test
    );
    println!("| total `train` wall time | {:.1} s |", get("total"));
    if let Some(m) = peak_rss_mib() {
        println!("| peak RSS (VmHWM, whole process incl. simulation) | {m:.0} MiB |");
    }
    println!("| selected family | {} |", out.manifest.family);
    Ok(())
}
