//! The `contactscore-server` binary: command line, logging, signals. Everything else is in the
//! library (`server.rs` assembles the service).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use contactscore_server::{Config, server};
use tracing_subscriber::EnvFilter;

/// Rank contact point × channel × hour per person over gRPC, inside the contact rules.
#[derive(Debug, Parser)]
#[command(name = "contactscore-server", version, about)]
struct Cli {
    /// The trainer's models directory (serves its CURRENT version).
    #[arg(long)]
    models_dir: Option<PathBuf>,
    /// gRPC listen address (host:port; port 0 picks a free one, printed at start-up).
    #[arg(long)]
    listen: Option<String>,
    /// Where live outcomes and erasures are kept durably.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Where the live state is kept: `local` (the state directory, the default) or a Redis
    /// shared by several replicas, `redis://HOST:PORT[/DB]` (`rediss://` for TLS; the password
    /// from `[state] redis_password_env` or `redis_password_file`), or a Redis Cluster from its
    /// seed nodes, `redis+cluster://HOST:PORT[,HOST:PORT…]` (`rediss+cluster://` for TLS).
    #[arg(long)]
    state_store: Option<String>,
    /// Prometheus /metrics listen address (host:port).
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Configuration file (see examples/server.toml); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logs(&cli.log_format);
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", contactscore_models::explain(e.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logs(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = match &cli.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(d) = cli.models_dir {
        config.models_dir = d;
    }
    if let Some(l) = cli.listen {
        config.listen = l;
    }
    if let Some(d) = cli.state_dir {
        config.state_dir = d;
    }
    if let Some(s) = cli.state_store {
        config.state.store = s;
    }
    if let Some(m) = cli.metrics_listen {
        config.metrics_listen = m;
    }
    let settings = config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        server::run(settings, shutdown_signal(), |bound| {
            // Machine-readable start-up line on stdout (tests and scripts read the port).
            println!("listening on {}", bound.grpc);
            if let Some(m) = bound.metrics {
                println!("metrics on http://{m}/metrics");
            }
        })
        .await
    })?;
    Ok(())
}

/// Resolves on SIGTERM or ctrl-c. The handlers are installed when this is called, before the
/// server says it is listening, so a signal sent as soon as it does still shuts it down
/// gracefully (rather than killing it with the default action).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        let wait = |s: Option<Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        async move {
            tokio::select! {
                () = wait(term) => {}
                () = wait(interrupt) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
