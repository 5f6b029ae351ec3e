//! End to end: two server replicas on a real three-primary Redis Cluster
//! (`--state-store redis+cluster://…`). Persons land on every node; both replicas rank like a
//! local-store server; an outcome and an opt-out recorded through one change the other's next
//! Rank exactly as on the local store; the same attempt id sent to both is recorded once; a
//! promotion under Rank load fails no call and the superseded version's keys leave every node;
//! ForgetPerson erases the person's keys wherever they are. A replica started while the whole
//! cluster is down is NOT_SERVING and UNAVAILABLE, and serves by itself once it is back.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use contactscore_e2e::redis::RedisCluster;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use contactscore_proto::v1;
use tonic::Code;

use crate::common::*;
use crate::redis_promotion::{load, reload, switch_under_load};
use crate::redis_store::{Client, persons, rank, reasons, redis_config};

/// Rank `p` on `x` and on the local store `l` (contact `n`): the same answer.
async fn same(x: &mut Client, l: &mut Client, p: &str, n: &str) -> Result<v1::RankResponse> {
    let (got, want) = (rank(x, p, Some(n)).await?, rank(l, p, Some(n)).await?);
    assert_eq!(got.suggestions, want.suggestions, "person {p}");
    assert_eq!(got.blocked, want.blocked, "person {p}");
    Ok(got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_a_redis_cluster_share_state_and_promote_without_failures() -> Result<()> {
    let sim = simulated(300, 21, 1407)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    let v1 = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let cluster = RedisCluster::start()?;
    // A grace long enough for the second replica to switch under load, short for the test.
    let config = redis_config(dir, &cluster.url(), &["redis_unlink_grace_ms = 5000"])?;
    let a = ServerProc::start(&models, &dir.join("a"), &["--config", &config])?;
    let b = ServerProc::start(&models, &dir.join("b"), &["--config", &config])?;
    let local = ServerProc::start(&models, &dir.join("local"), &[])?;
    let (mut ca, mut cb, mut cl) = (a.client().await?, b.client().await?, local.client().await?);
    assert_eq!(health(&a, "").await?, SERVING);
    assert_eq!(health(&b, "").await?, SERVING);

    // The bulk load spread the persons over the cluster: every node holds some.
    let snapshots = |v: &str| cluster.keys(&format!("cs:{{*}}:s:{v}"));
    assert_eq!(snapshots(&v1)?.len(), 300);
    let sizes = cluster.sizes()?;
    assert!(sizes.iter().all(|n| *n > 0), "keys per node: {sizes:?}");

    // Before any live event, both replicas rank as the local store does.
    let ids = persons(&sim.contacts, 40)?;
    for id in &ids[..12] {
        let want = rank(&mut cl, id, None).await?;
        for c in [&mut ca, &mut cb] {
            let got = rank(c, id, None).await?;
            assert_eq!(got.suggestions, want.suggestions, "person {id}");
            assert_eq!(got.blocked, want.blocked, "person {id}");
        }
    }

    // An outcome through A changes B's next Rank; an opt-out through B blocks in A's.
    let n = "+5511987650007";
    let (p1, p2) = (&ids[0], &ids[1]);
    let before = same(&mut cb, &mut cl, p1, n).await?;
    let e = outcome("c-e1", p1, n, "voice", MONDAY - 3_600, "right_party");
    assert!(ca.record_outcome(e.clone()).await?.into_inner().recorded);
    cl.record_outcome(e).await?;
    let after = same(&mut cb, &mut cl, p1, n).await?;
    assert_ne!(
        before.suggestions, after.suggestions,
        "the outcome changed nothing"
    );
    let o = outcome("c-o1", p2, n, "voice", MONDAY - 7_200, "opt_out");
    assert!(cb.record_outcome(o.clone()).await?.into_inner().recorded);
    cl.record_outcome(o).await?;
    same(&mut ca, &mut cl, p2, n).await?;
    assert!(reasons(&mut ca, p2, n).await?.contains("opted_out"));

    // The same attempt id to both at once, for persons on every node: recorded once.
    for (i, p) in ids[2..22].iter().enumerate() {
        let at = MONDAY - 86_400 + i as i64;
        let o = outcome(&format!("c-same-{i}"), p, n, "voice", at, "no_answer");
        let (x, y) = tokio::join!(ca.record_outcome(o.clone()), cb.record_outcome(o));
        let (x, y) = (x?.into_inner().recorded, y?.into_inner().recorded);
        assert!(x ^ y, "attempt {i}: recorded by both or neither ({x}, {y})");
    }
    // A stream (many persons, so many slots, in one batch) through A: duplicates through B.
    let stream: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, p)| outcome(&format!("c-s-{i}"), p, n, "voice", MONDAY - 80_000, "busy"))
        .collect();
    let first = ca
        .record_outcomes(tokio_stream::iter(stream.clone()))
        .await?
        .into_inner();
    assert_eq!((first.recorded, first.duplicates), (40, 0));
    let again = cb
        .record_outcomes(tokio_stream::iter(stream.clone()))
        .await?
        .into_inner();
    assert_eq!((again.recorded, again.duplicates), (0, 40));
    cl.record_outcomes(tokio_stream::iter(stream)).await?;

    // A promotion under Rank load on both replicas: no call fails.
    let (stop, failed, on_v2) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let v2_slot = Arc::new(OnceLock::new());
    let tasks = [&ca, &cb, &ca, &cb]
        .into_iter()
        .map(|c| {
            tokio::spawn(load(
                c.clone(),
                ids[2..].to_vec(),
                v2_slot.clone(),
                stop.clone(),
                failed.clone(),
                on_v2.clone(),
            ))
        })
        .collect();
    let (attempts, contacts, bad) = (sim.attempts.clone(), sim.contacts.clone(), sim.bad_rows);
    let m = models.clone();
    let v2 = tokio::task::spawn_blocking(move || train_into(&attempts, Some(&contacts), &m, bad))
        .await??;
    assert_ne!(v1, v2);
    let _ = v2_slot.set(v2.clone());
    switch_under_load(&mut ca, &mut cb, &v2, tasks, &stop, &failed, &on_v2).await?;
    // The live events survived the switch.
    same(&mut ca, &mut cl, p2, n).await?;
    assert!(reasons(&mut cb, p2, n).await?.contains("opted_out"));

    // After the grace, the next poll unlinks v1 on every node: snapshots, then the marker.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !snapshots(&v1)?.is_empty() || !cluster.keys(&format!("cs:loaded:{v1}"))?.is_empty() {
        if Instant::now() > deadline {
            bail!("{} snapshots of {v1} left", snapshots(&v1)?.len());
        }
        reload(&mut ca).await?;
        tokio::time::sleep(Duration::from_millis(200)).await; // polling
    }
    assert_eq!(snapshots(&v2)?.len(), 300);
    assert_eq!(cluster.cli(&["SMEMBERS", "cs:versions"])?.trim(), v2);

    // ForgetPerson through A: B no longer knows the person; one snapshot and one event hash
    // fewer in the whole cluster, wherever the person's node is.
    let p = &ids[3];
    let events = || cluster.keys("cs:{*}:e").map(|k| k.len());
    let (hashes, snaps) = (events()?, snapshots(&v2)?.len());
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
    assert_eq!(events()?, hashes - 1);
    assert_eq!(snapshots(&v2)?.len(), snaps - 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_started_with_the_cluster_down_serves_once_it_is_up() -> Result<()> {
    let sim = simulated(150, 21, 1410)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let mut cluster = RedisCluster::start()?;
    cluster.stop()?;
    let a = ServerProc::start(&models, &dir.join("a"), &["--state-store", &cluster.url()])?;
    let mut c = a.client().await?;
    let p = persons(&sim.contacts, 1)?.remove(0);
    assert_eq!(health(&a, "").await?, NOT_SERVING);
    let e = rank(&mut c, &p, None).await.expect_err("no cluster");
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");

    cluster.restart()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while health(&a, "").await? != SERVING {
        if Instant::now() > deadline {
            bail!("still NOT_SERVING with the cluster up");
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // polling
    }
    assert!(!rank(&mut c, &p, None).await?.suggestions.is_empty());
    Ok(())
}
