//! Prints the result: the phases as a Markdown table, the Rank-to-empty-RPC ratio, the verdict
//! on the targets and the memory figures.

use crate::drive::Phase;
use crate::sys::mib;
use crate::{Args, TARGET_P99_MS, TARGET_RATIO};

/// Resident memory figures (MiB), from `/proc/self/status`.
pub(crate) struct Memory {
    /// VmHWM after simulate, train, grow and publish.
    pub(crate) setup_peak: Option<f64>,
    /// Whether VmHWM could be reset before the server started.
    pub(crate) hwm_reset: bool,
    /// VmHWM at the end of the load (since the reset, when it worked).
    pub(crate) serving_peak: Option<f64>,
    /// VmRSS at the end of the load, server still up.
    pub(crate) serving_now: Option<f64>,
}

/// Print the figures as a Markdown table, the ratio and the verdict on the targets.
pub(crate) fn report(args: &Args, phases: &[Phase], memory: &Memory) {
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
pub(crate) fn thousands(n: usize) -> String {
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
pub(crate) fn pct(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}
