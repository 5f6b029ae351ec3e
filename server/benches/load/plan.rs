//! Times `PlanCampaign` through the real server: `--plan-persons` distinct persons of the served
//! state (drawn with a seeded shuffle; `--explicit-percent` of them with their contact points
//! spelled out, the rest with `contacts: []`) planned over the 24 hourly slots from `as_of`,
//! under one shared capacity per hour for `--plan-fill` of the list, `--plan-runs` times over
//! one HTTP/2 connection. Per call: wall time on the client (encode, transport, validation,
//! snapshot, plan, decode), server CPU, request and response sizes; whether every run returned
//! the same plan; the process's peak RSS during the calls.

use std::time::Instant;

use anyhow::{Result, bail};
use contactscore_proto::v1;
use contactscore_proto::v1::contact_scoring_client::ContactScoringClient;
use contactscore_server::server::Bound;
use prost::Message;
use tonic::transport::Endpoint;

use crate::drive::SplitMix;
use crate::report::thousands;
use crate::setup::Workload;
use crate::sys::{mib, proc_status_mib};
use crate::{Args, TARGET_PLAN_SECONDS};

const HOUR: i64 = 3_600;

/// The list: `n` distinct persons of the workload, seeded.
fn list(args: &Args, workload: &Workload) -> Vec<v1::RankRequest> {
    let n = args.plan_persons.min(workload.persons);
    let mut rng = SplitMix(args.seed ^ 0x0091_a11c);
    // Partial Fisher–Yates over every person: the first `n` are a uniform sample.
    let mut order: Vec<u32> = (0..workload.persons as u32).collect();
    for k in 0..n {
        let j = k + rng.below((order.len() - k) as u64) as usize;
        order.swap(k, j);
    }
    order[..n]
        .iter()
        .map(|&i| {
            let i = i as usize;
            let explicit = rng.below(100) < u64::from(args.explicit_percent);
            v1::RankRequest {
                person_id: workload.person_id(i),
                contacts: if explicit {
                    workload.contacts[i % workload.contacts.len()]
                        .iter()
                        .map(|c| v1::ContactPoint {
                            contact: c.clone(),
                            ..Default::default()
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                ..Default::default()
            }
        })
        .collect()
}

/// CPU seconds of the whole process (user + system), exited threads included: the planner's
/// scoring threads are gone by the time a per-thread sample could see them.
fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // Fields after the command name start at field 3; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |k: usize| {
        fields
            .get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn ts(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

/// Run the PlanCampaign calls and print one line per call and a summary.
pub(crate) async fn plan_campaign(args: &Args, bound: Bound, workload: &Workload) -> Result<()> {
    if args.plan_persons == 0 || args.plan_runs == 0 {
        return Ok(());
    }
    let persons = list(args, workload);
    let n = persons.len();
    let per_hour = ((n as f64 * args.plan_fill) / 24.0).ceil() as u32;
    let request = v1::PlanCampaignRequest {
        persons,
        window_start: ts(workload.as_of),
        window_end: ts(workload.as_of + 24 * HOUR),
        capacity: (0..24)
            .map(|h| v1::SlotCapacity {
                slot_start: ts(workload.as_of + h * HOUR),
                attempts: per_hour,
                channel: String::new(),
            })
            .collect(),
        attempts_per_person: args.plan_attempts,
        channels: Vec::new(),
    };
    println!(
        "\nPlanCampaign: {} persons ({} % with explicit contacts), 24 hourly slots from {}, {} \
         attempts an hour shared by every channel, {} attempt(s) per person; request {:.1} MB",
        thousands(n),
        args.explicit_percent,
        crate::setup::ts_text(workload.as_of),
        thousands(per_hour as usize),
        args.plan_attempts,
        request.encoded_len() as f64 / 1e6
    );
    let channel = Endpoint::from_shared(format!("http://{}", bound.grpc))?
        .connect()
        .await?;
    let mut client = ContactScoringClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    // Reset VmHWM so the figure below is the peak while planning (Linux ≥ 4.0).
    let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before = proc_status_mib("VmRSS:");
    let mut first: Option<v1::PlanCampaignResponse> = None;
    let mut walls = Vec::with_capacity(args.plan_runs);
    let mut same = true;
    for run in 0..args.plan_runs {
        let req = request.clone();
        let cpu_from = process_cpu();
        let start = Instant::now();
        let r = client.plan_campaign(req).await?.into_inner();
        let wall = start.elapsed().as_secs_f64();
        let cpu = process_cpu() - cpu_from;
        walls.push(wall);
        println!(
            "PlanCampaign run {}: {wall:.2} s wall; {cpu:.1} CPU s (the whole process: server, \
             its planner threads, client); response {:.1} MB",
            run + 1,
            r.encoded_len() as f64 / 1e6
        );
        match &first {
            None => first = Some(r),
            Some(f) => same &= *f == r,
        }
    }
    let Some(r) = first else {
        bail!("no PlanCampaign run");
    };
    let planned: std::collections::HashSet<&str> =
        r.assignments.iter().map(|a| a.person_id.as_str()).collect();
    let mut reasons: Vec<(&str, usize)> = Vec::new();
    for u in &r.unplanned {
        match reasons.iter_mut().find(|(k, _)| *k == u.reason) {
            Some((_, c)) => *c += 1,
            None => reasons.push((&u.reason, 1)),
        }
    }
    let busiest = (0..24)
        .map(|h| {
            let t = workload.as_of + h * HOUR;
            r.assignments
                .iter()
                .filter(|a| {
                    a.suggestion
                        .as_ref()
                        .and_then(|s| s.slot_start.as_ref())
                        .is_some_and(|s| s.seconds == t)
                })
                .count()
        })
        .max()
        .unwrap_or(0);
    let mut sorted = walls.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    println!(
        "PlanCampaign result: {} assignments for {} persons, busiest hour {} of {} (capacity \
         respected: {}); unplanned {:?}; expected engaged {:.1}, upper bound {:.1} (ratio \
         {:.4}); every run identical: {same}",
        thousands(r.assignments.len()),
        thousands(planned.len()),
        thousands(busiest),
        thousands(per_hour as usize),
        busiest <= per_hour as usize,
        reasons,
        r.expected_engaged,
        r.upper_bound,
        if r.upper_bound > 0.0 {
            r.expected_engaged / r.upper_bound
        } else {
            1.0
        }
    );
    println!(
        "PlanCampaign wall: min {:.2} s, median {median:.2} s, max {:.2} s (target ≤ \
         {TARGET_PLAN_SECONDS} s for 100 000 persons × 24 slots: {}); RSS before the calls {}, \
         peak during them {} ({})",
        sorted[0],
        sorted[sorted.len() - 1],
        if n == 100_000 && median <= TARGET_PLAN_SECONDS {
            "met"
        } else if n == 100_000 {
            "NOT met"
        } else {
            "not this size"
        },
        mib(rss_before),
        mib(proc_status_mib("VmHWM:")),
        if hwm_reset {
            "VmHWM reset before the calls"
        } else {
            "whole process"
        }
    );
    Ok(())
}
