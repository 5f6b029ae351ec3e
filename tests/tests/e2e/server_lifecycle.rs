//! End to end through the server's life cycle: start with no model (NOT_SERVING), load one,
//! hot reload under concurrent Rank traffic with zero failed requests, live outcomes replayed
//! onto the new snapshot, an erasure that survives the reload, a corrupt version that leaves the
//! old one serving, a crash (SIGKILL) that loses no acknowledged outcome, a graceful SIGTERM,
//! the bearer-token check and the metrics endpoint.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::Result;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::{simulated, split_by_time};
use contactscore_models::artifact::Registry;
use contactscore_models::localtime::DAY;
use contactscore_proto::v1;
use tonic::Code;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_under_traffic_keeps_live_outcomes_and_erasures() -> Result<()> {
    let sim = simulated(1_500, 30, 21)?;
    let start = contactscore_trainer::simulate::SimulateParams::default()
        .start
        .as_second();
    let dir = sim.dir.path();
    let (early, rest) = (dir.join("early.csv"), dir.join("rest.csv"));
    split_by_time(&sim.attempts, start + 24 * DAY, &early, &rest)?;
    let models = dir.join("models");
    let state = dir.join("state");

    // No model yet: the server runs, health says NOT_SERVING, Rank is UNAVAILABLE.
    let server = ServerProc::start(&models, &state, &[])?;
    let mut c = server.client().await?;
    assert_eq!(health(&server, "").await?, NOT_SERVING);
    let err = c
        .rank(v1::RankRequest {
            person_id: "p".into(),
            contacts: vec![point("+5511987654321", &[], "")],
            ..Default::default()
        })
        .await
        .expect_err("no model");
    assert_eq!(err.code(), Code::Unavailable);

    // v1 from the first 24 days; ReloadModel picks it up at once.
    let v1_id = train_into(&early, Some(&sim.contacts), &models, sim.bad_rows)?;
    let info = c
        .reload_model(v1::ReloadModelRequest {})
        .await?
        .into_inner();
    assert_eq!(info.version, v1_id);
    assert_eq!(health(&server, "").await?, SERVING);

    // A live outcome after v2's training cutoff (the simulated history ends on day 30), and an
    // erasure of a person the v2 snapshot will know again.
    let known = first_person(&sim.contacts)?;
    let late = start + 40 * DAY;
    c.record_outcome(outcome(
        "live-1",
        "lead-live",
        "+5511955554444",
        "voice",
        late,
        "invalid",
    ))
    .await?;
    assert!(
        c.forget_person(v1::ForgetPersonRequest {
            person_id: known.clone()
        })
        .await?
        .into_inner()
        .existed
    );

    // Concurrent Rank traffic for the whole reload.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let mut client = server.client().await?;
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) || n < 20 {
                let req = v1::RankRequest {
                    person_id: format!("traffic-{i}-{}", n % 50),
                    contacts: vec![point("+5511987654321", &[], ""), point("a@b.com", &[], "")],
                    as_of: Some(ts(late + 3_600)),
                    ..Default::default()
                };
                match client.rank(req).await {
                    Ok(_) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("rank failed during reload: {e}");
                        // A few failures already fail the test; a dead server must not turn
                        // this loop into a flood.
                        if failed.fetch_add(1, Ordering::Relaxed) >= 10 {
                            break;
                        }
                    }
                }
                n += 1;
            }
        }));
    }

    // v2 from all 30 days, promoted by the trainer; the server switches without a restart.
    let all = sim.attempts.clone();
    let contacts = sim.contacts.clone();
    let models2 = models.clone();
    let bad_rows = sim.bad_rows;
    let v2_id =
        tokio::task::spawn_blocking(move || train_into(&all, Some(&contacts), &models2, bad_rows))
            .await??;
    assert_ne!(v1_id, v2_id);
    let info = c
        .reload_model(v1::ReloadModelRequest {})
        .await?
        .into_inner();
    assert_eq!(info.version, v2_id);
    assert!(info.last_reload_error.is_empty());

    // A corrupt newer version: the reload fails, the old version keeps serving and says why.
    let registry = Registry::open(&models)?;
    let bad = "zzzz-corrupt";
    copy_dir(&models.join(&v2_id), &models.join(bad))?;
    let state_file = models.join(bad).join("state.bin");
    let mut bytes = std::fs::read(&state_file)?;
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&state_file, bytes)?;
    registry.promote(bad)?;
    let info = c
        .reload_model(v1::ReloadModelRequest {})
        .await?
        .into_inner();
    assert_eq!(info.version, v2_id);
    assert_eq!(info.failed_version, bad);
    assert!(
        info.last_reload_error.contains("checksum"),
        "{}",
        info.last_reload_error
    );

    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "failed requests during reloads"
    );
    assert!(ok.load(Ordering::Relaxed) >= 160);

    // The live outcome was replayed onto v2's snapshot; the erasure held.
    let r = c
        .rank(v1::RankRequest {
            person_id: "lead-live".into(),
            as_of: Some(ts(late + 3_600)),
            channels: vec!["voice".into()],
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!(
        r.blocked.first().map(|b| b.reason.as_str()),
        Some("invalid_recent"),
        "{r:?}"
    );
    let err = c
        .rank(v1::RankRequest {
            person_id: known,
            ..Default::default()
        })
        .await
        .expect_err("forgotten person stays forgotten after the reload");
    assert_eq!(err.code(), Code::NotFound);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_no_acknowledged_outcome_and_sigterm_is_graceful() -> Result<()> {
    let sim = simulated(600, 21, 22)?;
    let models = sim.dir.path().join("models");
    let state = sim.dir.path().join("state");
    train_into(&sim.attempts, None, &models, sim.bad_rows)?;
    let server = ServerProc::start(&models, &state, &[])?;
    let mut c = server.client().await?;
    let base = MONDAY;
    // 200 outcomes on one stream, 20 one by one (each acknowledged before the next).
    let batch: Vec<_> = (0..200)
        .map(|i| {
            outcome(
                &format!("s-{i}"),
                &format!("person-{}", i % 40),
                &format!("+55119{:08}", 10_000_000 + i),
                "sms",
                base + i64::from(i),
                "no_answer",
            )
        })
        .collect();
    let counts = c
        .record_outcomes(tokio_stream::iter(batch))
        .await?
        .into_inner();
    assert_eq!((counts.recorded, counts.duplicates), (200, 0));
    for i in 0..20 {
        let r = c
            .record_outcome(outcome(
                &format!("one-{i}"),
                "crash-lead",
                "+5511987654321",
                "voice",
                base + i,
                if i == 19 { "wrong_party" } else { "busy" },
            ))
            .await?
            .into_inner();
        assert!(r.recorded);
    }
    server.kill()?;

    let server = ServerProc::start(&models, &state, &[])?;
    let mut c = server.client().await?;
    let info = c
        .get_model_info(v1::GetModelInfoRequest {})
        .await?
        .into_inner();
    assert_eq!(info.live_outcomes, 220);
    // The effect survived: the number is suppressed as wrong party.
    let r = c
        .rank(v1::RankRequest {
            person_id: "crash-lead".into(),
            as_of: Some(ts(base + 3_600)),
            ..Default::default()
        })
        .await?
        .into_inner();
    assert!(r.suggestions.is_empty());
    assert!(r.blocked.iter().all(|b| b.reason == "wrong_party"), "{r:?}");
    // Still idempotent after the restart.
    let again = c
        .record_outcome(outcome(
            "one-3",
            "crash-lead",
            "+5511987654321",
            "voice",
            base + 3,
            "busy",
        ))
        .await?
        .into_inner();
    assert!(!again.recorded);
    assert_eq!(server.terminate()?, Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_and_metrics() -> Result<()> {
    let sim = simulated(600, 21, 23)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    train_into(&sim.attempts, None, &models, sim.bad_rows)?;
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        "metrics_listen = \"127.0.0.1:0\"\n[auth]\nbearer_token_env = \"CS_TEST_TOKEN\"\n",
    )?;
    let server = ServerProc::start_with_env(
        &models,
        &dir.join("state"),
        &[
            "--config",
            config.to_str().unwrap_or_default(),
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        &[("CS_TEST_TOKEN", "s3cret-token")],
    )?;
    let mut c = server.client().await?;
    let req = || v1::RankRequest {
        person_id: "p".into(),
        contacts: vec![point("+5511987654321", &[], "")],
        as_of: Some(ts(MONDAY)),
        ..Default::default()
    };
    let err = c.rank(req()).await.expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut with = tonic::Request::new(req());
    with.metadata_mut()
        .insert("authorization", "Bearer wrong".parse()?);
    assert_eq!(
        c.rank(with).await.expect_err("wrong token").code(),
        Code::Unauthenticated
    );
    let mut with = tonic::Request::new(req());
    with.metadata_mut()
        .insert("authorization", "Bearer s3cret-token".parse()?);
    assert!(c.rank(with).await.is_ok());
    let mut bad = tonic::Request::new(v1::RankRequest {
        person_id: String::new(),
        ..req()
    });
    bad.metadata_mut()
        .insert("authorization", "Bearer s3cret-token".parse()?);
    assert_eq!(
        c.rank(bad).await.expect_err("invalid").code(),
        Code::InvalidArgument
    );
    // Health stays open without a token.
    assert_eq!(health(&server, "").await?, SERVING);

    let addr = server.metrics.clone().expect("metrics address printed");
    let body = tokio::task::spawn_blocking(move || -> Result<String> {
        let mut s = std::net::TcpStream::connect(addr)?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    })
    .await??;
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(
        body.contains("contactscore_rpc_duration_seconds_bucket{rpc=\"Rank\",code=\"OK\""),
        "{body}"
    );
    assert!(
        body.contains("contactscore_rpc_errors_total{rpc=\"Rank\",code=\"INVALID_ARGUMENT\"} 1"),
        "{body}"
    );
    assert!(body.contains("contactscore_model_info{version="), "{body}");
    assert!(body.contains("contactscore_state_persons"), "{body}");
    Ok(())
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        std::fs::copy(e.path(), to.join(e.file_name()))?;
    }
    Ok(())
}
