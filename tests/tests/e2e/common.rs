//! Small builders and probes shared by the server end-to-end tests.

use std::path::Path;

use anyhow::{Result, anyhow};
use contactscore_e2e::server::ServerProc;
use contactscore_proto::v1;
use prost_types::Timestamp;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

/// 2026-02-09T00:00:00Z, a Monday, after the simulated histories (which start 2026-01-05).
pub const MONDAY: i64 = 1_770_595_200;
/// `grpc.health.v1` SERVING.
pub const SERVING: i32 = 1;
/// `grpc.health.v1` NOT_SERVING.
pub const NOT_SERVING: i32 = 2;

pub fn ts(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

pub fn point(contact: &str, channels: &[&str], tz: &str) -> v1::ContactPoint {
    v1::ContactPoint {
        contact: contact.into(),
        channels: channels.iter().map(|c| (*c).to_owned()).collect(),
        timezone: tz.into(),
    }
}

pub fn outcome(
    id: &str,
    person: &str,
    contact: &str,
    channel: &str,
    at: i64,
    outcome: &str,
) -> v1::RecordOutcomeRequest {
    v1::RecordOutcomeRequest {
        outcome: Some(v1::Outcome {
            attempt_id: id.into(),
            person_id: person.into(),
            contact: contact.into(),
            channel: channel.into(),
            attempted_at: Some(ts(at)),
            outcome: outcome.into(),
            ..Default::default()
        }),
    }
}

/// Health status of `service` (`""` = the server as a whole).
pub async fn health(server: &ServerProc, service: &str) -> Result<i32> {
    let mut h = HealthClient::new(server.channel().await?);
    Ok(h.check(HealthCheckRequest {
        service: service.into(),
    })
    .await?
    .into_inner()
    .status)
}

/// Service names listed by server reflection (v1).
pub async fn reflection_services(server: &ServerProc) -> Result<Vec<String>> {
    let mut r = ServerReflectionClient::new(server.channel().await?);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = r
        .server_reflection_info(tokio_stream::iter([req]))
        .await?
        .into_inner();
    let resp = stream
        .message()
        .await?
        .ok_or_else(|| anyhow!("no reflection answer"))?;
    match resp.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => {
            Ok(l.service.into_iter().map(|s| s.name).collect())
        }
        other => Err(anyhow!("unexpected reflection answer {other:?}")),
    }
}

/// The first person id in a contacts file.
pub fn first_person(contacts: &Path) -> Result<String> {
    let mut r = csv::Reader::from_path(contacts)?;
    let rec = r
        .records()
        .next()
        .ok_or_else(|| anyhow!("empty contacts file"))??;
    Ok(rec[0].to_owned())
}
