//! End to end through the real server: simulate → train → start `contactscore-server` on
//! `127.0.0.1:0` → a tonic client ranks, records outcomes and sees their effects; the rules hold
//! in each person's own time zone; bad requests name their field (a bad contact point is not a
//! bad request: `server_dirty.rs`); health and reflection answer.

use anyhow::Result;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use contactscore_models::localtime::DAY;
use contactscore_proto::v1;
use prost_types::Timestamp;
use tonic::Code;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rank_record_and_see_the_rules_applied() -> Result<()> {
    let sim = simulated(1_500, 30, 11)?;
    let models = sim.dir.path().join("models");
    let version = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &sim.dir.path().join("state"), &[])?;
    let mut c = server.client().await?;

    // Health: SERVING once the model is loaded; reflection lists the services.
    assert_eq!(
        health(&server, "contactscore.v1.ContactScoring").await?,
        SERVING
    );
    let services = reflection_services(&server).await?;
    assert!(
        services.contains(&"contactscore.v1.ContactScoring".to_owned()),
        "{services:?}"
    );
    assert!(
        services.contains(&"grpc.health.v1.Health".to_owned()),
        "{services:?}"
    );
    let info = c
        .get_model_info(v1::GetModelInfoRequest {})
        .await?
        .into_inner();
    assert_eq!(info.version, version);
    assert!(
        info.metrics.is_some() && info.trained_to.is_some(),
        "{info:?}"
    );

    // A new lead in Tokyo (the server's fallback zone is São Paulo): phones in two formats and an
    // email, ranked from Monday 2026-02-09 00:00Z (09:00 in Tokyo) over 48 hours.
    let t0 = MONDAY;
    let a = "+5511987654321";
    let lead = |as_of: i64| v1::RankRequest {
        person_id: "lead-tokyo".into(),
        contacts: vec![
            point(a, &["voice", "sms"], ""),
            point("(11) 91234-5678", &[], ""),
            point("Ana@Example.com", &[], ""),
        ],
        as_of: Some(ts(as_of)),
        horizon_hours: 48,
        max_suggestions: 10,
        timezone: "Asia/Tokyo".into(),
        ..Default::default()
    };
    let r = c.rank(lead(t0)).await?.into_inner();
    assert_eq!(r.model_version, version);
    // A zone is matched as the time-zone database matches names: any case, aliases too.
    for alias in ["asia/tokyo", "Japan"] {
        let same = c
            .rank(v1::RankRequest {
                timezone: alias.into(),
                ..lead(t0)
            })
            .await?
            .into_inner();
        assert_eq!(same.suggestions, r.suggestions, "{alias}");
    }
    assert!(r.blocked.is_empty(), "{:?}", r.blocked);
    // a: voice + sms; b: the phone defaults voice, sms, whatsapp; email: email.
    assert_eq!(r.suggestions.len(), 6, "{:?}", r.suggestions);
    assert!(r.suggestions.iter().any(|s| s.contact == "+5511912345678"));
    assert!(r.suggestions.iter().any(|s| s.contact == "ana@example.com"));
    for w in r.suggestions.windows(2) {
        assert!(w[0].score >= w[1].score);
    }
    for s in &r.suggestions {
        let start = secs(&s.slot_start);
        assert_eq!(secs(&s.slot_end) - start, 3_600);
        assert!(start >= t0 && start < t0 + 48 * 3_600);
        assert!((0.0..=1.0).contains(&s.probability) && !s.reasons.is_empty());
        if s.channel != "email" {
            // Default windows in Tokyo (UTC+9, no DST): Mon–Fri 09–21, Sat 10–16.
            let (weekday, hour) = local(start, 9 * 3_600);
            let ok = match weekday {
                0..=4 => (9..21).contains(&hour),
                5 => (10..16).contains(&hour),
                _ => false,
            };
            assert!(
                ok,
                "{} slot at local weekday {weekday} hour {hour}",
                s.channel
            );
        }
    }

    // The number comes back invalid on voice: that pair drops out for 30 days.
    let invalid_at = t0 + 3_600;
    let rec = c
        .record_outcome(outcome(
            "att-1",
            "lead-tokyo",
            "+55 11 98765-4321",
            "voice",
            invalid_at,
            "invalid",
        ))
        .await?
        .into_inner();
    assert!(rec.recorded);
    let r = c.rank(lead(t0 + 2 * 3_600)).await?.into_inner();
    assert!(
        !r.suggestions
            .iter()
            .any(|s| s.contact == a && s.channel == "voice")
    );
    let b = blocked(&r, a, "voice").expect("voice on a blocked");
    assert_eq!(b.reason, "invalid_recent");
    assert_eq!(
        b.until.as_ref().map(|t| t.seconds),
        Some(invalid_at + 30 * DAY)
    );
    assert!(
        r.suggestions
            .iter()
            .any(|s| s.contact == a && s.channel == "sms")
    );

    // Idempotent on attempt_id.
    let again = c
        .record_outcome(outcome(
            "att-1",
            "lead-tokyo",
            a,
            "voice",
            invalid_at,
            "invalid",
        ))
        .await?
        .into_inner();
    assert!(!again.recorded);

    // A right-party contact starts the 24 h cool-down on everything.
    let engaged_at = t0 + 3 * 3_600;
    c.record_outcome(outcome(
        "att-2",
        "lead-tokyo",
        "11912345678",
        "voice",
        engaged_at,
        "right_party",
    ))
    .await?;
    let mut req = lead(t0 + 4 * 3_600);
    req.horizon_hours = 12;
    let r = c.rank(req).await?.into_inner();
    assert!(r.suggestions.is_empty(), "{:?}", r.suggestions);
    assert_eq!(r.blocked.len(), 6, "{:?}", r.blocked);
    let cool: Vec<_> = r
        .blocked
        .iter()
        .filter(|b| b.reason == "cooldown_after_engaged")
        .collect();
    assert_eq!(cool.len(), 5, "{:?}", r.blocked);
    for b in cool {
        assert_eq!(b.until.as_ref().map(|t| t.seconds), Some(engaged_at + DAY));
    }

    // Opt-out on a channel is honoured for good.
    c.record_outcome(outcome(
        "att-3",
        "lead-2",
        "bia@example.com",
        "email",
        t0,
        "opt_out",
    ))
    .await?;
    let r = c
        .rank(v1::RankRequest {
            person_id: "lead-2".into(),
            contacts: vec![
                point("bia@example.com", &[], ""),
                point(a, &["sms"], "America/New_York"),
            ],
            as_of: Some(ts(t0 + 92 * DAY)),
            ..Default::default()
        })
        .await?
        .into_inner();
    let b = blocked(&r, "bia@example.com", "email").expect("email blocked");
    assert_eq!((b.reason.as_str(), b.until.is_none()), ("opted_out", true));
    // The contact's own zone rules its hours: New York is on EDT (UTC-4) in May 2026.
    let sms = r
        .suggestions
        .iter()
        .find(|s| s.channel == "sms")
        .expect("sms suggested");
    let (_, hour) = local(secs(&sms.slot_start), -4 * 3_600);
    assert!((9..21).contains(&hour), "New York hour {hour}");

    // A person known from the training history, ranked on the contacts the server knows.
    let known = first_person(&sim.contacts)?;
    let r = c
        .rank(v1::RankRequest {
            person_id: known.clone(),
            as_of: Some(ts(t0)),
            ..Default::default()
        })
        .await?
        .into_inner();
    assert!(!r.suggestions.is_empty() || !r.blocked.is_empty());

    // RankStream answers in request order; a bad request ends the stream naming its index.
    let reqs = vec![
        lead(t0),
        v1::RankRequest {
            person_id: known.clone(),
            ..Default::default()
        },
    ];
    let mut out = c.rank_stream(tokio_stream::iter(reqs)).await?.into_inner();
    let first = out.message().await?.expect("first");
    let second = out.message().await?.expect("second");
    assert_eq!(
        (first.person_id.as_str(), second.person_id.as_str()),
        ("lead-tokyo", known.as_str())
    );
    assert!(out.message().await?.is_none());
    let reqs = vec![lead(t0), v1::RankRequest::default()];
    let mut out = c.rank_stream(tokio_stream::iter(reqs)).await?.into_inner();
    assert!(out.message().await?.is_some());
    let err = out.message().await.expect_err("second request is invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("request #1") && err.message().contains("person_id"),
        "{}",
        err.message()
    );

    // Forgetting a person erases them: without contacts there is nothing left to rank.
    let f = c
        .forget_person(v1::ForgetPersonRequest {
            person_id: known.clone(),
        })
        .await?
        .into_inner();
    assert!(f.existed);
    let err = c
        .rank(v1::RankRequest {
            person_id: known,
            ..Default::default()
        })
        .await
        .expect_err("forgotten");
    assert_eq!(err.code(), Code::NotFound);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_rejected_naming_the_field() -> Result<()> {
    let sim = simulated(600, 21, 12)?;
    let models = sim.dir.path().join("models");
    train_into(&sim.attempts, None, &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &sim.dir.path().join("state"), &[])?;
    let mut c = server.client().await?;
    let good = || v1::RankRequest {
        person_id: "p".into(),
        contacts: vec![point("+5511987654321", &[], "")],
        ..Default::default()
    };
    let cases: Vec<(v1::RankRequest, &str)> = vec![
        (
            v1::RankRequest {
                person_id: " ".into(),
                ..good()
            },
            "person_id",
        ),
        (
            v1::RankRequest {
                channels: vec!["fax".into()],
                ..good()
            },
            "channels[0]",
        ),
        (
            v1::RankRequest {
                timezone: "Mars/Olympus".into(),
                ..good()
            },
            "timezone",
        ),
        (
            v1::RankRequest {
                horizon_hours: 10_000,
                ..good()
            },
            "horizon_hours",
        ),
        (
            // Not a contact point at all: the request is malformed.
            v1::RankRequest {
                contacts: vec![point(&"9".repeat(300), &[], "")],
                ..good()
            },
            "contacts[0].contact",
        ),
        (
            v1::RankRequest {
                contacts: vec![point("+5511987654321", &["pigeon"], "")],
                ..good()
            },
            "contacts[0].channels[0]",
        ),
    ];
    for (req, field) in cases {
        invalid_names(c.rank(req).await, field);
    }
    let bad_outcomes = [
        (
            outcome("", "p", "+5511987654321", "voice", MONDAY, "busy"),
            "outcome.attempt_id",
        ),
        (
            outcome("x", "p", "not a number", "voice", MONDAY, "busy"),
            "outcome.contact",
        ),
        (
            outcome("x", "p", "+5511987654321", "fax", MONDAY, "busy"),
            "outcome.channel",
        ),
        (
            outcome("x", "p", "+5511987654321", "voice", MONDAY, "maybe"),
            "outcome.outcome",
        ),
        (
            outcome("x", "p", "+5511987654321", "voice", 4_000_000_000, "busy"),
            "outcome.attempted_at",
        ),
        (v1::RecordOutcomeRequest { outcome: None }, "outcome"),
    ];
    for (req, field) in bad_outcomes {
        invalid_names(c.record_outcome(req).await, field);
    }
    // The server is still healthy after all that.
    assert!(c.rank(good()).await.is_ok());
    Ok(())
}

/// The call failed with INVALID_ARGUMENT and a message starting with the field's path.
fn invalid_names<T: std::fmt::Debug>(result: Result<T, tonic::Status>, field: &str) {
    let err = result.expect_err(field);
    assert_eq!(
        err.code(),
        Code::InvalidArgument,
        "{field}: {}",
        err.message()
    );
    assert!(
        err.message().starts_with(field),
        "{field}: {}",
        err.message()
    );
}

fn blocked<'a>(r: &'a v1::RankResponse, contact: &str, channel: &str) -> Option<&'a v1::Blocked> {
    r.blocked
        .iter()
        .find(|b| b.contact == contact && b.channel == channel)
}

fn secs(t: &Option<Timestamp>) -> i64 {
    t.as_ref().map_or(i64::MIN, |t| t.seconds)
}

/// Weekday (Monday = 0) and hour at UTC offset `offset`.
fn local(t: i64, offset: i64) -> (i64, i64) {
    let l = t + offset;
    (
        (l.div_euclid(DAY) + 3).rem_euclid(7),
        l.rem_euclid(DAY) / 3_600,
    )
}
