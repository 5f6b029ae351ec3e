//! Process figures from `/proc` (Linux; `n/a` elsewhere): resident memory, CPU time per thread
//! group, core count and load average.

use std::collections::HashMap;

use crate::{CLIENT_THREADS, SERVER_THREADS};

pub(crate) const MIB: f64 = (1 << 20) as f64;

/// A `/proc/self/status` line in MiB (`VmHWM:` peak RSS, `VmRSS:` current).
pub(crate) fn proc_status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub(crate) fn mib(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |m| format!("{m:.0} MiB"))
}

/// CPU seconds (user + system) of each live thread of this process, by thread id, with its
/// group: 0 server, 1 load generator, 2 other. Assumes the usual 100 clock ticks per second.
pub(crate) fn thread_cpu() -> HashMap<String, (usize, f64)> {
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
pub(crate) fn cpu_delta(
    from: &HashMap<String, (usize, f64)>,
    to: &HashMap<String, (usize, f64)>,
) -> [f64; 3] {
    let mut by = [0.0; 3];
    for (tid, &(group, secs)) in to {
        let before = from.get(tid).map_or(0.0, |&(_, s)| s);
        by[group] += secs - before;
    }
    by
}

pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, usize::from)
}

pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}
