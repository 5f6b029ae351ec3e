//! Drives the load: `--concurrency` tasks over `--connections` HTTP/2 connections issue
//! requests back to back, phase by phase (empty RPC, Rank, empty RPC), recording the latency of
//! every request completed inside the measured window and the CPU time of each thread group.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use contactscore_proto::v1::contact_scoring_client::ContactScoringClient;
use contactscore_server::server::Bound;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::Args;
use crate::report::pct;
use crate::setup::Workload;
use crate::sys::{cpu_delta, thread_cpu};

/// Latencies (ns) and errors of one measured phase.
pub(crate) struct Phase {
    pub(crate) name: &'static str,
    pub(crate) latencies: Vec<u64>,
    pub(crate) errors: u64,
    pub(crate) seconds: f64,
    /// CPU seconds of (server, load generator, other) threads during the measured window.
    pub(crate) cpu: [f64; 3],
}

impl Phase {
    pub(crate) fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds
    }
}

/// Run the phases against the server at `bound`: empty RPC, Rank, empty RPC again.
pub(crate) async fn drive(
    args: &Args,
    bound: Bound,
    workload: Arc<Workload>,
) -> Result<Vec<Phase>> {
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

/// SplitMix64: a small seeded generator, enough to pick persons and the request mix.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}
