//! Prometheus metrics: request latency histograms and errors by code per RPC, the served model
//! version, reloads, state size and recorded outcomes, exposed as text on `GET /metrics` by a
//! tiny HTTP responder (no web framework needed for one read-only page).

use std::net::SocketAddr;
use std::time::Instant;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const LATENCY: &str = "contactscore_rpc_duration_seconds";
const BUCKETS: [f64; 14] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Install the global recorder; `None` if one is installed already (several servers in one
/// process, as in tests).
pub fn install() -> Option<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(LATENCY.into()), &BUCKETS)
        .ok()?
        .install_recorder()
        .ok()
}

/// Serve `/metrics` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, handle: PrometheusHandle) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            // One read is enough for a GET line; the body is the same whatever the path.
            let _ = sock.read(&mut buf).await;
            handle.run_upkeep();
            let body = handle.render();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
        });
    }
}

/// Bind the metrics listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Run one RPC's `work`, recording its latency and status code: the one place every RPC (and
/// every message of a RankStream) is timed and its errors counted by code.
pub async fn observe<T, E: Into<tonic::Status>>(
    rpc: &'static str,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, tonic::Status> {
    let start = Instant::now();
    let result = work.await.map_err(Into::into);
    let code = code_name(
        result
            .as_ref()
            .map_or_else(tonic::Status::code, |_| tonic::Code::Ok),
    );
    histogram!(LATENCY, "rpc" => rpc, "code" => code).record(start.elapsed().as_secs_f64());
    if code != "OK" {
        counter!("contactscore_rpc_errors_total", "rpc" => rpc, "code" => code).increment(1);
    }
    result
}

fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "CANCELLED",
        tonic::Code::Unknown => "UNKNOWN",
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::AlreadyExists => "ALREADY_EXISTS",
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
        tonic::Code::Aborted => "ABORTED",
        tonic::Code::OutOfRange => "OUT_OF_RANGE",
        tonic::Code::Unimplemented => "UNIMPLEMENTED",
        tonic::Code::Internal => "INTERNAL",
        tonic::Code::Unavailable => "UNAVAILABLE",
        tonic::Code::DataLoss => "DATA_LOSS",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A model version went live.
pub fn model_loaded(previous: Option<&str>, version: &str, persons: usize) {
    if let Some(p) = previous {
        gauge!("contactscore_model_info", "version" => p.to_owned()).set(0.0);
    }
    gauge!("contactscore_model_info", "version" => version.to_owned()).set(1.0);
    gauge!("contactscore_model_loaded_timestamp_seconds")
        .set(jiff::Timestamp::now().as_second() as f64);
    state_persons(persons);
}

/// A reload attempt finished (`ok` or `error`).
pub fn reload(result: &'static str) {
    counter!("contactscore_model_reloads_total", "result" => result).increment(1);
}

/// Persons in the served state.
pub fn state_persons(n: usize) {
    gauge!("contactscore_state_persons").set(n as f64);
}

/// Outcomes recorded live.
pub fn outcomes_recorded(n: u64) {
    counter!("contactscore_outcomes_recorded_total").increment(n);
}

/// Live outcomes held in the journal and retired attempt ids remembered, after a retirement.
pub fn journal_size(live_outcomes: usize, retired_ids: usize) {
    gauge!("contactscore_journal_live_outcomes").set(live_outcomes as f64);
    gauge!("contactscore_journal_retired_ids").set(retired_ids as f64);
}

/// Live outcomes retired from the journal (covered by the served snapshot).
pub fn outcomes_retired(n: u64) {
    counter!("contactscore_outcomes_retired_total").increment(n);
}
