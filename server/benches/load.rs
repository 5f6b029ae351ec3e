//! Load benchmark (not a test) of `contactscore-server`: Rank latency (p50/p90/p99/max) and
//! throughput at a fixed number of concurrent in-flight requests over loopback, with a model
//! version whose feature state holds 1M persons, next to the empty-RPC baseline
//! (`grpc.health.v1.Health/Check`) measured in the same run. Also times `rank::rank` in
//! isolation, splits CPU time between server and load generator, and reports peak RSS.
//! Figures go to BENCHMARKS.md; nothing is asserted.
//!
//! `cargo bench -p contactscore-server --bench load -- [--persons 1000000] [--warmup 3]
//! [--measure 15] [--concurrency 64] [--connections 4]` (`--help` lists every option).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use contactscore_models::artifact::Registry;
use contactscore_models::features::state::HourCell;
use contactscore_models::features::{
    ChannelState, ContactState, FeatureSchema, FeatureState, PersonState,
};
use contactscore_models::model::ResponseModel;
use contactscore_models::policy::Policy;
use contactscore_models::rank::{self, RankQuery, Scorer};
use contactscore_proto::v1;
use contactscore_proto::v1::contact_scoring_client::ContactScoringClient;
use contactscore_server::Config;
use contactscore_server::server::{self, Bound};
use contactscore_trainer::ingest::InputPaths;
use contactscore_trainer::progress::Progress;
use contactscore_trainer::simulate::{SimulateParams, simulate};
use contactscore_trainer::train::{FamilyChoice, TrainRequest, train};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const DAY: i64 = 86_400;
/// Thread-name prefixes, so CPU time can be split between server and load generator.
const SERVER_THREADS: &str = "srv";
const CLIENT_THREADS: &str = "gen";
/// Targets of the issue.
const TARGET_P99_MS: f64 = 2.0;
const TARGET_RATIO: f64 = 0.5;

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
    let settings = Config {
        listen: "127.0.0.1:0".into(),
        models_dir: models.clone(),
        state_dir: dir.path().join("state"),
        ..Default::default()
    }
    .validate()?;
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
    let results = client.block_on(drive(&args, bound, workload))?;
    // Memory while the server still holds its state (VmHWM covers the model load too).
    let memory = Memory {
        setup_peak: setup_hwm,
        hwm_reset,
        serving_peak: proc_status_mib("VmHWM:"),
        serving_now: proc_status_mib("VmRSS:"),
    };
    let _ = stop_tx.send(());
    server
        .join()
        .map_err(|_| anyhow::anyhow!("server thread panicked"))??;
    drop(client);

    // 4. The report.
    report(&args, &results, &memory);
    Ok(())
}

/// What the load generator needs to build requests: person ids and the template contacts.
struct Workload {
    /// Ids of the trained persons (slots `0..templates`).
    trained_ids: Vec<Box<str>>,
    /// Contact keys of each trained person (replicas share their template's).
    contacts: Vec<Vec<String>>,
    /// Persons in the served state.
    persons: usize,
    /// The fixed `as_of` of every Rank request.
    as_of: i64,
    /// Percentage of requests with explicit contacts.
    explicit_percent: u32,
}

impl Workload {
    fn person_id(&self, i: usize) -> String {
        match self.trained_ids.get(i) {
            Some(id) => id.to_string(),
            None => replica_id(i),
        }
    }

    fn request(&self, rng: &mut SplitMix) -> v1::RankRequest {
        let i = rng.below(self.persons as u64) as usize;
        let explicit = rng.below(100) < u64::from(self.explicit_percent);
        let contacts = if explicit {
            self.contacts[i % self.contacts.len()]
                .iter()
                .map(|c| v1::ContactPoint {
                    contact: c.clone(),
                    ..Default::default()
                })
                .collect()
        } else {
            Vec::new()
        };
        v1::RankRequest {
            person_id: self.person_id(i),
            contacts,
            as_of: Some(prost_types::Timestamp {
                seconds: self.as_of,
                nanos: 0,
            }),
            ..Default::default()
        }
    }
}

fn replica_id(i: usize) -> String {
    format!("load-{i:07}")
}

/// Simulate, train, grow the state to `args.persons`, time `rank::rank` on it, publish and
/// promote the grown version. Returns the workload and the new version id.
fn build_version(args: &Args, dir: &Path, models: &Path) -> Result<(Arc<Workload>, String)> {
    let t = Instant::now();
    let params = SimulateParams {
        persons: args.train_persons,
        days: args.train_days,
        seed: args.seed,
        ..SimulateParams::default()
    };
    let data = dir.join("data");
    let sim = simulate(&params, &data)?;
    println!(
        "simulate: {} persons × {} days → {} attempts in {:.2} s",
        args.train_persons,
        args.train_days,
        sim.attempts,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let req = TrainRequest {
        inputs: InputPaths {
            attempts: vec![data.join("attempts.csv")],
            contacts: Some(data.join("contacts.csv")),
            persons: Some(data.join("persons.csv")),
        },
        models_dir: models.to_owned(),
        family: FamilyChoice::Auto,
        promote: true,
        max_bad_rows: 0,
    };
    let settings = contactscore_trainer::config::Config::default().validate()?;
    let trained = train(&req, &settings, &Progress::silent())?.manifest;
    println!(
        "train: version {} ({} selected) in {:.1} s",
        trained.version,
        trained.family,
        t.elapsed().as_secs_f64()
    );

    let registry = Registry::open(models)?;
    let loaded = registry.load(Some(&trained.version))?;
    let mut state = loaded.state;
    let templates = state.len();
    if templates == 0 {
        bail!("the trained state holds no persons");
    }
    let t = Instant::now();
    grow(&mut state, args.persons);
    println!(
        "grow: {templates} trained persons replicated to {} in {:.1} s; state ≈ {:.0} MiB on the heap",
        state.len(),
        t.elapsed().as_secs_f64(),
        state_heap_bytes(&state) as f64 / MIB
    );

    let cutoff = state.cutoff.unwrap_or(0);
    let as_of = planning_day(cutoff);
    println!(
        "as_of: {} (training cutoff {})",
        ts_text(as_of),
        ts_text(cutoff)
    );
    rank_in_isolation(args, &state, &loaded.model, as_of);

    let workload = Arc::new(Workload {
        trained_ids: state.person_ids[..templates].to_vec(),
        contacts: state.persons[..templates]
            .iter()
            .map(|p| p.contacts.iter().map(|c| c.key.to_string()).collect())
            .collect(),
        persons: state.len(),
        as_of,
        explicit_percent: args.explicit_percent,
    });

    let t = Instant::now();
    let mut manifest = loaded.manifest;
    manifest.version = format!("{}-load{}", trained.version, state.len());
    let path = registry.publish(&mut manifest, &loaded.model, &state)?;
    registry.promote(&manifest.version)?;
    let bytes = std::fs::metadata(path.join("state.bin"))?.len();
    println!(
        "publish + promote {}: {:.1} s; state.bin {:.0} MiB",
        manifest.version,
        t.elapsed().as_secs_f64(),
        bytes as f64 / MIB
    );
    Ok((workload, manifest.version))
}

/// Append clones of the trained persons under new ids until the state holds `persons`.
fn grow(state: &mut FeatureState, persons: usize) {
    let templates = state.len();
    let extra = persons.saturating_sub(templates);
    state.persons.reserve(extra);
    state.person_ids.reserve(extra);
    for i in templates..persons {
        let copy = state.persons[i % templates].clone();
        state.persons.push(copy);
        state.person_ids.push(replica_id(i).into());
    }
    state.rebuild_index();
}

/// The first midnight UTC after `cutoff` that starts a Tuesday to Friday, so the default 24 h
/// horizon covers a working day in the simulated zones and the rules behave the same each run.
fn planning_day(cutoff: i64) -> i64 {
    let mut day = cutoff.div_euclid(DAY) + 1;
    // 1970-01-01 was a Thursday: (day + 4) mod 7 is 0 on Sundays.
    while !(2..=5).contains(&(day + 4).rem_euclid(7)) {
        day += 1;
    }
    day * DAY
}

/// Heap bytes of the state (persons, ids and the id index), from capacities: an estimate.
fn state_heap_bytes(state: &FeatureState) -> usize {
    use std::mem::size_of;
    let person = |p: &PersonState| {
        size_of::<PersonState>()
            + p.attrs.capacity() * size_of::<f32>()
            + p.recent.capacity() * size_of::<i64>()
            + p.hours.capacity() * size_of::<HourCell>()
            + p.contacts.capacity() * size_of::<ContactState>()
            + p.contacts
                .iter()
                .map(|c| c.key.len() + c.channels.capacity() * size_of::<ChannelState>())
                .sum::<usize>()
    };
    let ids: usize = state.person_ids.iter().map(|id| 2 * id.len()).sum();
    // hashbrown: key + value + control byte per bucket, buckets ≈ 8/7 × entries.
    let index = state.len() * 8 / 7 * (size_of::<Box<str>>() + size_of::<u32>() + 1 + 4);
    state.persons.iter().map(person).sum::<usize>()
        + state.person_ids.capacity() * size_of::<Box<str>>()
        + ids
        + index
}

/// Counts (and optionally times) the model calls `rank::rank` makes.
struct CountingScorer<'a> {
    model: &'a ResponseModel,
    timed: bool,
    calls: std::cell::Cell<u64>,
    nanos: std::cell::Cell<u64>,
}

impl Scorer for CountingScorer<'_> {
    fn schema(&self) -> &FeatureSchema {
        &self.model.schema
    }
    fn probability(&self, row: &[f32]) -> f64 {
        self.calls.set(self.calls.get() + 1);
        if !self.timed {
            return self.model.predict(row);
        }
        let t = Instant::now();
        let p = self.model.predict(row);
        self.nanos
            .set(self.nanos.get() + t.elapsed().as_nanos() as u64);
        p
    }
}

/// Time `rank::rank` called directly on the grown state (no gRPC, one thread), the query the
/// server builds for `contacts: []`: what one Rank costs before any transport.
fn rank_in_isolation(args: &Args, state: &FeatureState, model: &ResponseModel, as_of: i64) {
    if args.isolated == 0 {
        return;
    }
    let policy = Policy::default();
    let defaults = Config::default();
    let mut rng = SplitMix(args.seed ^ 0x1501_a7ed);
    let slots: Vec<u32> = (0..args.isolated)
        .map(|_| rng.below(state.len() as u64) as u32)
        .collect();
    let query = |slot| RankQuery {
        slot: Some(slot),
        contacts: None,
        channels: Vec::new(),
        as_of,
        horizon_hours: defaults.default_horizon_hours,
        max_suggestions: defaults.default_max_suggestions as usize,
        person_zone: None,
    };
    let pass = |timed: bool| {
        let scorer = CountingScorer {
            model,
            timed,
            calls: 0.into(),
            nanos: 0.into(),
        };
        let (mut suggestions, mut blocked) = (0usize, 0usize);
        let mut per_call = Vec::with_capacity(slots.len());
        let all = Instant::now();
        for &s in &slots {
            let t = Instant::now();
            let r = rank::rank(state, &scorer, &policy, &query(s));
            per_call.push(t.elapsed().as_nanos() as u64);
            suggestions += r.suggestions.len();
            blocked += r.blocked.len();
        }
        let wall = all.elapsed().as_secs_f64();
        (
            per_call,
            wall,
            scorer.calls.get(),
            scorer.nanos.get(),
            suggestions,
            blocked,
        )
    };
    let (mut per_call, wall, rows, _, suggestions, blocked) = pass(false);
    let (_, timed_wall, _, model_nanos, _, _) = pass(true);
    per_call.sort_unstable();
    let n = slots.len() as f64;
    println!(
        "rank::rank in isolation, 1 thread, {} persons: mean {:.0} µs, p50 {:.0} µs, p99 {:.0} µs, \
         max {:.0} µs ({:.0} calls/s); per call {:.1} model rows scored, {:.1} suggestions, \
         {:.1} blocked; model scoring ≈ {:.0} % of the time ({:.2} µs per row)",
        slots.len(),
        wall / n * 1e6,
        pct(&per_call, 0.50) / 1e3,
        pct(&per_call, 0.99) / 1e3,
        pct(&per_call, 1.0) / 1e3,
        n / wall,
        rows as f64 / n,
        suggestions as f64 / n,
        blocked as f64 / n,
        model_nanos as f64 / 1e9 / timed_wall * 100.0,
        model_nanos as f64 / 1e3 / rows.max(1) as f64,
    );
}

/// Latencies (ns) and errors of one measured phase.
struct Phase {
    name: &'static str,
    latencies: Vec<u64>,
    errors: u64,
    seconds: f64,
    /// CPU seconds of (server, load generator, other) threads during the measured window.
    cpu: [f64; 3],
}

impl Phase {
    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds
    }
}

/// Run the phases against the server at `bound`: empty RPC, Rank, empty RPC again.
async fn drive(args: &Args, bound: Bound, workload: Arc<Workload>) -> Result<Vec<Phase>> {
    let url = format!("http://{}", bound.grpc);
    let mut channels = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        // Each connected Channel is its own HTTP/2 connection.
        channels.push(Endpoint::from_shared(url.clone())?.connect().await?);
    }
    let status = HealthClient::new(channels[0].clone())
        .check(HealthCheckRequest::default())
        .await?
        .into_inner()
        .status;
    if status != tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
        bail!("server health is {status}, not SERVING");
    }
    // One Rank before the load, to fail early with the server's message.
    let mut probe = ContactScoringClient::new(channels[0].clone());
    let r = probe
        .rank(workload.request(&mut SplitMix(args.seed)))
        .await?
        .into_inner();
    println!(
        "probe Rank {}: {} suggestions, {} blocked",
        r.person_id,
        r.suggestions.len(),
        r.blocked.len()
    );
    let mut phases = Vec::new();
    for (name, rank) in [
        ("Health/Check (before)", false),
        ("Rank", true),
        ("Health/Check (after)", false),
    ] {
        let p = phase(args, name, rank, &channels, &workload).await?;
        println!(
            "{name}: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, errors {}",
            p.throughput(),
            pct(&p.latencies, 0.50) / 1e6,
            pct(&p.latencies, 0.99) / 1e6,
            p.errors
        );
        phases.push(p);
    }
    Ok(phases)
}

/// One phase: `args.concurrency` tasks issue requests back to back for warm-up + measure;
/// requests completing inside the measured window are recorded.
async fn phase(
    args: &Args,
    name: &'static str,
    rank: bool,
    channels: &[Channel],
    workload: &Arc<Workload>,
) -> Result<Phase> {
    let begin = Instant::now();
    let measure_from = begin + Duration::from_secs_f64(args.warmup);
    let until = measure_from + Duration::from_secs_f64(args.measure);
    let mut tasks = Vec::with_capacity(args.concurrency);
    for i in 0..args.concurrency {
        let channel = channels[i % channels.len()].clone();
        let workload = workload.clone();
        let mut rng = SplitMix(args.seed.wrapping_add(1 + i as u64).wrapping_mul(0x9E37));
        tasks.push(tokio::spawn(async move {
            let mut health = HealthClient::new(channel.clone());
            let mut scoring = ContactScoringClient::new(channel);
            let mut latencies = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            loop {
                let req = rank.then(|| workload.request(&mut rng));
                let start = Instant::now();
                if start >= until {
                    break;
                }
                let ok = match req {
                    Some(req) => scoring.rank(req).await.is_ok(),
                    None => health.check(HealthCheckRequest::default()).await.is_ok(),
                };
                let done = Instant::now();
                if done >= measure_from && done <= until {
                    latencies.push((done - start).as_nanos() as u64);
                    errors += u64::from(!ok);
                }
            }
            (latencies, errors)
        }));
    }
    // Sample CPU time at the window's edges.
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_from = thread_cpu();
    tokio::time::sleep_until(until.into()).await;
    let cpu_to = thread_cpu();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        latencies.extend(l);
        errors += e;
    }
    latencies.sort_unstable();
    Ok(Phase {
        name,
        latencies,
        errors,
        seconds: args.measure,
        cpu: cpu_delta(&cpu_from, &cpu_to),
    })
}

/// Print the figures as a Markdown table, the ratio and the verdict on the targets.
/// Resident memory figures (MiB), from `/proc/self/status`.
struct Memory {
    /// VmHWM after simulate, train, grow and publish.
    setup_peak: Option<f64>,
    /// Whether VmHWM could be reset before the server started.
    hwm_reset: bool,
    /// VmHWM at the end of the load (since the reset, when it worked).
    serving_peak: Option<f64>,
    /// VmRSS at the end of the load, server still up.
    serving_now: Option<f64>,
}

fn report(args: &Args, phases: &[Phase], memory: &Memory) {
    let find = |name: &str| phases.iter().find(|p| p.name == name);
    let (Some(rank), Some(before), Some(after)) = (
        find("Rank"),
        find("Health/Check (before)"),
        find("Health/Check (after)"),
    ) else {
        return;
    };
    // The baseline: both empty-RPC phases pooled (they bracket the Rank phase).
    let mut pooled = before.latencies.clone();
    pooled.extend(&after.latencies);
    pooled.sort_unstable();
    let baseline = Phase {
        name: "Health/Check (pooled)",
        latencies: pooled,
        errors: before.errors + after.errors,
        seconds: before.seconds + after.seconds,
        cpu: [0, 1, 2].map(|g| before.cpu[g] + after.cpu[g]),
    };
    println!(
        "\n{} persons, {} in flight over {} HTTP/2 connections, {:.0} s warm-up + {:.0} s measured \
         per phase, {} % of Rank requests with explicit contacts\n",
        thousands(args.persons),
        args.concurrency,
        args.connections,
        args.warmup,
        args.measure,
        args.explicit_percent
    );
    println!(
        "| phase | requests | throughput (req/s) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | errors | CPU s: server / load gen / other |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for p in [before, after, &baseline, rank] {
        println!(
            "| {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {:.2} | {} | {:.1} / {:.1} / {:.1} |",
            p.name,
            p.latencies.len(),
            p.throughput(),
            pct(&p.latencies, 0.50) / 1e6,
            pct(&p.latencies, 0.90) / 1e6,
            pct(&p.latencies, 0.99) / 1e6,
            pct(&p.latencies, 1.0) / 1e6,
            p.errors,
            p.cpu[0],
            p.cpu[1],
            p.cpu[2]
        );
    }
    let ratio = rank.throughput() / baseline.throughput();
    let p99 = pct(&rank.latencies, 0.99) / 1e6;
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "\nRank p99 {p99:.3} ms (target ≤ {TARGET_P99_MS} ms): {}",
        verdict(p99 <= TARGET_P99_MS)
    );
    println!(
        "Rank throughput / empty-RPC throughput: {:.1} % (target ≥ {:.0} %): {}",
        ratio * 100.0,
        TARGET_RATIO * 100.0,
        verdict(ratio >= TARGET_RATIO)
    );
    println!(
        "peak RSS: setup {}; since the server started {} ({}); RSS after the load, server up: {}",
        mib(memory.setup_peak),
        mib(memory.serving_peak),
        if memory.hwm_reset {
            "VmHWM reset after setup"
        } else {
            "VmHWM could not be reset: whole process"
        },
        mib(memory.serving_now)
    );
}

/// `1000000` as `1 000 000`.
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The `q` quantile of sorted nanoseconds (nearest rank), as f64 nanoseconds.
fn pct(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

/// SplitMix64: a small seeded generator, enough to pick persons and the request mix.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

const MIB: f64 = (1 << 20) as f64;

/// A `/proc/self/status` line in MiB (`VmHWM:` peak RSS, `VmRSS:` current).
fn proc_status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn mib(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |m| format!("{m:.0} MiB"))
}

/// CPU seconds (user + system) of each live thread of this process, by thread id, with its
/// group: 0 server, 1 load generator, 2 other. Assumes the usual 100 clock ticks per second.
fn thread_cpu() -> HashMap<String, (usize, f64)> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the command name.
        let ticks: f64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
            .sum();
        let group = if comm.starts_with(SERVER_THREADS) {
            0
        } else if comm.starts_with(CLIENT_THREADS) {
            1
        } else {
            2
        };
        let tid = task.file_name().to_string_lossy().into_owned();
        out.insert(tid, (group, ticks / 100.0));
    }
    out
}

/// CPU seconds per group between two samples, per thread, so a thread that exits in between
/// (e.g. the blocking thread that loaded the model) does not subtract its earlier time.
fn cpu_delta(from: &HashMap<String, (usize, f64)>, to: &HashMap<String, (usize, f64)>) -> [f64; 3] {
    let mut by = [0.0; 3];
    for (tid, &(group, secs)) in to {
        let before = from.get(tid).map_or(0.0, |&(_, s)| s);
        by[group] += secs - before;
    }
    by
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, usize::from)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

fn ts_text(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).map_or_else(|_| seconds.to_string(), |t| t.to_string())
}
