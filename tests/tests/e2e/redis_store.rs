//! End to end: two server replicas on one real Redis (`--state-store redis://…`). An outcome,
//! an opt-out, a re-consent and a carrier validation recorded through one replica change the
//! other's very next Rank; both rank like a local-store server before any live event; the same
//! attempt id sent to both is recorded once (one at a time and as a stream); a replica killed
//! with SIGKILL loses nothing it acknowledged; ForgetPerson through one erases the person
//! everywhere.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use contactscore_e2e::redis::RedisProc;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use contactscore_proto::v1;
use tonic::Code;
use tonic::transport::Channel;

use crate::common::*;

pub type Client = v1::contact_scoring_client::ContactScoringClient<Channel>;

/// The first `n` distinct person ids of a contacts file.
pub fn persons(contacts: &Path, n: usize) -> Result<Vec<String>> {
    let mut r = csv::Reader::from_path(contacts)?;
    let mut out: Vec<String> = Vec::new();
    for rec in r.records() {
        let id = rec?[0].to_owned();
        if !out.contains(&id) {
            out.push(id);
        }
        if out.len() == n {
            break;
        }
    }
    Ok(out)
}

/// A replica on `redis`.
pub fn replica(models: &Path, state: &Path, redis: &RedisProc) -> Result<ServerProc> {
    ServerProc::start(models, state, &["--state-store", &redis.url()])
}

/// A `server.toml` in `dir` naming the Redis store `url`, with these more `[state]` lines;
/// its path, for `--config`.
pub fn redis_config(dir: &Path, url: &str, state: &[&str]) -> Result<String> {
    let path = dir.join("server.toml");
    std::fs::write(
        &path,
        format!(
            "reload_interval_ms = 3600000\n[state]\nstore = \"{url}\"\n{}\n",
            state.join("\n")
        ),
    )?;
    Ok(path.to_string_lossy().into_owned())
}

/// Rank `person` at [`MONDAY`] (contacts given, or the known ones when `None`).
pub async fn rank(
    c: &mut Client,
    person: &str,
    contact: Option<&str>,
) -> Result<v1::RankResponse, tonic::Status> {
    let contacts = contact
        .map(|n| vec![point(n, &["voice"], "America/Sao_Paulo")])
        .unwrap_or_default();
    c.rank(v1::RankRequest {
        person_id: person.into(),
        contacts,
        as_of: Some(ts(MONDAY)),
        ..Default::default()
    })
    .await
    .map(tonic::Response::into_inner)
}

/// The blocked reasons of `contact` for `person` in the next Rank.
pub async fn reasons(c: &mut Client, person: &str, contact: &str) -> Result<BTreeSet<String>> {
    Ok(rank(c, person, Some(contact))
        .await?
        .blocked
        .into_iter()
        .filter(|b| b.contact == contact)
        .map(|b| b.reason)
        .collect())
}

fn record(id: &str, person: &str, contact: &str, at: i64, what: &str) -> v1::RecordOutcomeRequest {
    outcome(id, person, contact, "voice", at, what)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_see_each_others_live_events_at_once() -> Result<()> {
    let sim = simulated(300, 21, 1401)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let redis = RedisProc::start()?;
    let a = replica(&models, &dir.join("a"), &redis)?;
    let b = replica(&models, &dir.join("b"), &redis)?;
    let local = ServerProc::start(&models, &dir.join("local"), &[])?;
    let (mut ca, mut cb, mut cl) = (a.client().await?, b.client().await?, local.client().await?);
    assert_eq!(health(&a, "").await?, SERVING);

    // Before any live event, both replicas rank every person as the local store does.
    let ids = persons(&sim.contacts, 12)?;
    for id in &ids {
        let want = rank(&mut cl, id, None).await?;
        for c in [&mut ca, &mut cb] {
            let got = rank(c, id, None).await?;
            assert_eq!(got.suggestions, want.suggestions, "person {id}");
            assert_eq!(got.blocked, want.blocked, "person {id}");
        }
    }

    let n = "+5511987650001";
    let (p1, p2, p3) = (&ids[0], &ids[1], &ids[2]);
    // Every event goes to the local-store server too: after each, the other replica's next
    // Rank must equal the local store's, and have changed.
    async fn same(x: &mut Client, l: &mut Client, p: &str, n: &str) -> Result<v1::RankResponse> {
        let (got, want) = (rank(x, p, Some(n)).await?, rank(l, p, Some(n)).await?);
        assert_eq!(got.suggestions, want.suggestions, "person {p}");
        assert_eq!(got.blocked, want.blocked, "person {p}");
        Ok(got)
    }

    // An engaged outcome through A: B's next Rank moves into the cool-down.
    let before = same(&mut cb, &mut cl, p1, n).await?;
    let e = record("e1", p1, n, MONDAY - 3_600, "right_party");
    assert!(ca.record_outcome(e.clone()).await?.into_inner().recorded);
    cl.record_outcome(e).await?;
    let after = same(&mut cb, &mut cl, p1, n).await?;
    assert_ne!(
        before.suggestions, after.suggestions,
        "the outcome changed nothing"
    );

    // An opt-out through B: A's next Rank blocks the pair; a re-consent through A lifts it
    // for B.
    let o = record("o1", p2, n, MONDAY - 7_200, "opt_out");
    cb.record_outcome(o.clone()).await?;
    cl.record_outcome(o).await?;
    same(&mut ca, &mut cl, p2, n).await?;
    assert!(reasons(&mut ca, p2, n).await?.contains("opted_out"));
    let consent = v1::RecordConsentRequest {
        person_id: p2.clone(),
        contact: n.into(),
        channel: "voice".into(),
        consented_at: Some(ts(MONDAY - 60)),
    };
    assert!(
        ca.record_consent(consent.clone())
            .await?
            .into_inner()
            .lifted
    );
    cl.record_consent(consent).await?;
    same(&mut cb, &mut cl, p2, n).await?;
    assert!(!reasons(&mut cb, p2, n).await?.contains("opted_out"));

    // A carrier validation (inactive) through B: A blocks the number.
    let v = v1::RecordValidationRequest {
        person_id: p3.clone(),
        contact: n.into(),
        status: "inactive".into(),
        validated_at: Some(ts(MONDAY - 60)),
        ..Default::default()
    };
    assert!(cb.record_validation(v.clone()).await?.into_inner().recorded);
    assert!(
        !ca.record_validation(v.clone()).await?.into_inner().recorded,
        "an exact repeat"
    );
    cl.record_validation(v).await?;
    same(&mut ca, &mut cl, p3, n).await?;
    assert!(
        reasons(&mut ca, p3, n)
            .await?
            .contains("validated_inactive")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_is_recorded_once_and_survives_a_replica_crash_and_erasure_is_global()
-> Result<()> {
    let sim = simulated(300, 21, 1402)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let redis = RedisProc::start()?;
    let a = replica(&models, &dir.join("a"), &redis)?;
    let b = replica(&models, &dir.join("b"), &redis)?;
    let (mut ca, mut cb) = (a.client().await?, b.client().await?);
    let ids = persons(&sim.contacts, 3)?;
    let n = "+5511987650002";

    // The same attempt id to both at once: recorded exactly once.
    for i in 0..20 {
        let o = record(
            &format!("same-{i}"),
            &ids[0],
            n,
            MONDAY - 86_400 + i,
            "no_answer",
        );
        let (x, y) = tokio::join!(ca.record_outcome(o.clone()), cb.record_outcome(o));
        let (x, y) = (x?.into_inner().recorded, y?.into_inner().recorded);
        assert!(x ^ y, "attempt {i}: recorded by both or neither ({x}, {y})");
    }

    // Acknowledged by A, then A is killed: nothing is lost (B and a restarted A see them all).
    for i in 0..50 {
        let o = record(&format!("k-{i}"), &ids[1], n, MONDAY - 90_000 + i, "busy");
        assert!(ca.record_outcome(o).await?.into_inner().recorded);
    }
    a.kill()?;
    let a = replica(&models, &dir.join("a"), &redis)?;
    let mut ca = a.client().await?;
    for i in 0..50 {
        let o = record(&format!("k-{i}"), &ids[1], n, MONDAY - 90_000 + i, "busy");
        let c = if i % 2 == 0 { &mut ca } else { &mut cb };
        assert!(
            !c.record_outcome(o).await?.into_inner().recorded,
            "k-{i} lost"
        );
    }

    // A RecordOutcomes stream (two batches) through B: every one a duplicate through A.
    let stream: Vec<_> = (0..600)
        .map(|i| {
            record(
                &format!("s-{i}"),
                &ids[1],
                n,
                MONDAY - 80_000 + i,
                "no_answer",
            )
        })
        .collect();
    let first = cb
        .record_outcomes(tokio_stream::iter(stream.clone()))
        .await?
        .into_inner();
    assert_eq!((first.recorded, first.duplicates), (600, 0));
    let again = ca
        .record_outcomes(tokio_stream::iter(stream))
        .await?
        .into_inner();
    assert_eq!((again.recorded, again.duplicates), (0, 600));

    // ForgetPerson through A: B no longer knows the person (snapshot and live events gone).
    let p = &ids[2];
    rank(&mut cb, p, None).await.context("known before")?;
    cb.record_outcome(record("f-1", p, n, MONDAY - 600, "no_answer"))
        .await?;
    let existed = ca
        .forget_person(v1::ForgetPersonRequest {
            person_id: p.clone(),
        })
        .await?
        .into_inner()
        .existed;
    assert!(existed);
    let gone = rank(&mut cb, p, None).await.expect_err("forgotten");
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
    let erased = redis.cli(&["SMEMBERS", "cs:erasures"])?;
    assert!(
        !erased.contains(p.as_str()),
        "the erasure set holds digests only"
    );
    Ok(())
}
