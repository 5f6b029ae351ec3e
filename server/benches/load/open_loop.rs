//! Open-loop load (issue 14): Rank at offered rates — requests are scheduled at fixed
//! intervals whatever the answers, and latency runs from the scheduled instant, so a slow
//! server cannot slow the generator down and hide its queueing (no coordinated omission) —
//! then RecordOutcome throughput (closed loop, `--concurrency` in flight, fresh attempt ids).
//! With a Redis state store, also Redis's memory per person (`INFO memory`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use contactscore_proto::v1;
use contactscore_proto::v1::contact_scoring_client::ContactScoringClient;
use contactscore_server::server::Bound;
use tokio::task::JoinSet;
use tonic::transport::{Channel, Endpoint};

use crate::Args;
use crate::drive::SplitMix;
use crate::report::pct;
use crate::setup::Workload;

/// Rank at each of `--rates`, then RecordOutcome throughput.
pub(crate) async fn open_loop(args: &Args, bound: Bound, workload: Arc<Workload>) -> Result<()> {
    let url = format!("http://{}", bound.grpc);
    let mut channels: Vec<Channel> = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        channels.push(Endpoint::from_shared(url.clone())?.connect().await?);
    }
    for &rate in &args.rates {
        rank_at(args, rate, &channels, &workload).await?;
    }
    record_outcomes(args, &channels, &workload).await
}

async fn rank_at(
    args: &Args,
    rate: u32,
    channels: &[Channel],
    workload: &Arc<Workload>,
) -> Result<()> {
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let begin = Instant::now() + Duration::from_millis(50);
    let measure_from = begin + Duration::from_secs_f64(args.warmup);
    let until = measure_from + Duration::from_secs_f64(args.measure);
    let mut rng = SplitMix(args.seed ^ u64::from(rate));
    let mut set = JoinSet::new();
    let mut k = 0u32;
    loop {
        let at = begin + interval * k;
        if at >= until {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        let mut c = ContactScoringClient::new(channels[k as usize % channels.len()].clone());
        let req = workload.request(&mut rng);
        let measured = at >= measure_from;
        set.spawn(async move {
            let ok = c.rank(req).await.is_ok();
            (measured, (Instant::now() - at).as_nanos() as u64, ok)
        });
        k += 1;
    }
    let (mut lat, mut errors, mut sent) = (Vec::new(), 0u64, 0u64);
    while let Some(r) = set.join_next().await {
        let (measured, ns, ok) = r?;
        if measured {
            sent += 1;
            if ok {
                lat.push(ns);
            } else {
                errors += 1;
            }
        }
    }
    lat.sort_unstable();
    println!(
        "Rank open loop, offered {rate}/s for {:.0} s: {sent} sent, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, errors {errors}",
        args.measure,
        pct(&lat, 0.50) / 1e6,
        pct(&lat, 0.99) / 1e6,
        lat.last().copied().unwrap_or(0) as f64 / 1e6,
    );
    Ok(())
}

async fn record_outcomes(
    args: &Args,
    channels: &[Channel],
    workload: &Arc<Workload>,
) -> Result<()> {
    let until = Instant::now() + Duration::from_secs_f64(args.measure);
    let mut set = JoinSet::new();
    for i in 0..args.concurrency {
        let mut c = ContactScoringClient::new(channels[i % channels.len()].clone());
        let workload = workload.clone();
        let mut rng = SplitMix(args.seed.wrapping_add(7_000 + i as u64));
        set.spawn(async move {
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
            let mut n = 0u64;
            while Instant::now() < until {
                let p = rng.below(workload.persons as u64) as usize;
                let contact = workload.contacts[p % workload.contacts.len()]
                    .first()
                    .cloned()
                    .unwrap_or_default();
                let req = v1::RecordOutcomeRequest {
                    outcome: Some(v1::Outcome {
                        attempt_id: format!("bench-{i}-{n}"),
                        person_id: workload.person_id(p),
                        contact,
                        channel: "voice".into(),
                        attempted_at: Some(prost_types::Timestamp {
                            seconds: workload.as_of - 3_600,
                            nanos: 0,
                        }),
                        outcome: "no_answer".into(),
                        ..Default::default()
                    }),
                };
                n += 1;
                let start = Instant::now();
                if c.record_outcome(req).await.is_ok() {
                    ok += 1;
                    lat.push((Instant::now() - start).as_nanos() as u64);
                } else {
                    errors += 1;
                }
            }
            (ok, errors, lat)
        });
    }
    let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
    while let Some(r) = set.join_next().await {
        let (o, e, l) = r?;
        ok += o;
        errors += e;
        lat.extend(l);
    }
    lat.sort_unstable();
    println!(
        "RecordOutcome closed loop, {} in flight: {:.0} acknowledged/s, p50 {:.3} ms, p99 {:.3} ms, errors {errors}",
        args.concurrency,
        ok as f64 / args.measure,
        pct(&lat, 0.50) / 1e6,
        pct(&lat, 0.99) / 1e6,
    );
    Ok(())
}

/// `used_memory` of the Redis at `url` (bytes); for `redis+cluster://`, the sum over the nodes it
/// lists (give every primary).
pub(crate) fn redis_used_memory(url: &str) -> Result<u64> {
    let nodes: Vec<String> = match url.split_once("+cluster://") {
        Some((scheme, nodes)) => nodes
            .split(',')
            .map(|n| format!("{scheme}://{n}"))
            .collect(),
        None => vec![url.to_owned()],
    };
    let mut total = 0;
    for node in nodes {
        let mut c = redis::Client::open(node)?.get_connection()?;
        let info: String = redis::cmd("INFO").arg("memory").query(&mut c)?;
        total += info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(total)
}
