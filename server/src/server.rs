//! Assembles and runs the gRPC server: the `ContactScoring` service behind the optional bearer
//! token check, `grpc.health.v1` driven by the store's state (NOT_SERVING until a model is
//! loaded, and while a shared Redis does not answer), server reflection, optional TLS, the models-directory poller for hot reload, the
//! metrics endpoint, and graceful shutdown (health goes NOT_SERVING, new connections stop,
//! in-flight requests get the grace period).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use contactscore_proto::v1::contact_scoring_server::ContactScoringServer;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::auth::TokenCheck;
use crate::config::Settings;
use crate::error::{Result, ServerError};
use crate::limit::{MAX_MESSAGE_BYTES, MessageLimitLayer};
use crate::service::Service;
use crate::store::Store;
use crate::telemetry;

/// Addresses the server actually bound (ports resolved when 0 was asked for).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// gRPC.
    pub grpc: SocketAddr,
    /// Metrics, when enabled.
    pub metrics: Option<SocketAddr>,
}

/// Run the server until `shutdown` resolves; `ready` is called once the sockets are bound.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send,
    ready: impl FnOnce(Bound),
) -> Result<()> {
    // Metrics first, so the model loaded at start-up is counted.
    let metrics_addr = match settings.metrics_listen {
        None => None,
        Some(addr) => {
            let l = telemetry::bind(addr)
                .await
                .map_err(|source| ServerError::Listen { addr, source })?;
            let bound = l
                .local_addr()
                .map_err(|source| ServerError::Listen { addr, source })?;
            match telemetry::install() {
                Some(handle) => {
                    tokio::spawn(telemetry::serve(l, handle));
                }
                None => {
                    tracing::warn!("a metrics recorder is already installed; /metrics disabled")
                }
            }
            Some(bound)
        }
    };

    let store = Store::open(&settings).await?;
    let (reporter, health) = tonic_health::server::health_reporter();
    // tonic-health starts the overall service ("") as SERVING: publish the store's real state
    // before the listener opens, so no probe ever sees a replica that cannot answer as SERVING.
    let mut healthy = store.health();
    publish_health(&reporter, *healthy.borrow_and_update()).await;
    tokio::spawn(drive_health(healthy, reporter.clone()));
    store.spawn_background(settings.reload_interval);

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(contactscore_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServerError::Config(format!("reflection: {e}")))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(contactscore_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| ServerError::Config(format!("reflection: {e}")))?;
    let check = TokenCheck {
        bearer: settings.bearer_token.as_deref().map(Arc::from),
        admin: settings.admin_token.as_deref().map(Arc::from),
    };
    // The decoding limit is per service in tonic, not per call: raised for PlanCampaign's lists.
    let scoring = tonic::service::interceptor::InterceptedService::new(
        ContactScoringServer::new(Service::new(store.clone(), settings.limits))
            .max_decoding_message_size(settings.limits.max_request_bytes),
        check,
    );

    let listener =
        TcpListener::bind(settings.listen)
            .await
            .map_err(|source| ServerError::Listen {
                addr: settings.listen,
                source,
            })?;
    let grpc = listener
        .local_addr()
        .map_err(|source| ServerError::Listen {
            addr: settings.listen,
            source,
        })?;
    // 4 MiB for every call but PlanCampaign, which takes a campaign list (max_request_mib).
    let limit = MessageLimitLayer::new(MAX_MESSAGE_BYTES).with_method(
        "/contactscore.v1.ContactScoring/PlanCampaign",
        settings.limits.max_request_bytes.max(MAX_MESSAGE_BYTES),
    );
    let mut builder = Server::builder().layer(limit);
    if let Some((cert, key)) = &settings.tls {
        builder = builder
            .tls_config(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
            .map_err(|e| ServerError::Config(format!("tls: {e}")))?;
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serve = builder
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(scoring)
        .serve_with_incoming_shutdown(
            // TCP_NODELAY: a Rank answer leaves in two writes (data, then trailers); with Nagle on,
            // the second waits ~40 ms for a delayed ACK (BENCHMARKS.md, "gRPC server under load").
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            async {
                let _ = stop_rx.await;
            },
        );
    tracing::info!(%grpc, metrics = ?metrics_addr, tls = settings.tls.is_some(), auth = settings.bearer_token.is_some(), admin_token = settings.admin_token.is_some(), "listening");
    ready(Bound {
        grpc,
        metrics: metrics_addr,
    });
    tokio::pin!(serve);
    let result = tokio::select! {
        r = &mut serve => r,
        () = shutdown => {
            tracing::info!("shutting down: draining in-flight requests");
            reporter.set_service_status("", ServingStatus::NotServing).await;
            reporter.set_not_serving::<ContactScoringServer<Service>>().await;
            let _ = stop_tx.send(());
            match tokio::time::timeout(settings.shutdown_grace, &mut serve).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!("grace period over; closing remaining connections");
                    Ok(())
                }
            }
        }
    };
    result.map_err(|e| ServerError::Internal(format!("grpc server: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}

/// Keep `grpc.health.v1` in step with the store: SERVING while it can answer (a model is
/// loaded; for the Redis store, Redis answers too). The state at start-up is published before.
async fn drive_health(mut healthy: tokio::sync::watch::Receiver<bool>, reporter: HealthReporter) {
    while healthy.changed().await.is_ok() {
        let serving = *healthy.borrow_and_update();
        publish_health(&reporter, serving).await;
    }
}

/// Set the overall service ("") and the scoring service to `serving`.
async fn publish_health(reporter: &HealthReporter, serving: bool) {
    if serving {
        reporter
            .set_service_status("", ServingStatus::Serving)
            .await;
        reporter
            .set_serving::<ContactScoringServer<Service>>()
            .await;
    } else {
        reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;
        reporter
            .set_not_serving::<ContactScoringServer<Service>>()
            .await;
    }
}
