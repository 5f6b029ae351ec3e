//! End to end: `redis_wait_replicas = 1` with a real Redis replica. An acknowledged outcome is
//! already on the replica when the answer arrives; with the replica down no replica
//! acknowledges, and the write is answered UNAVAILABLE (not acknowledged) — though it did land
//! on the primary, so the retry once the replica is back answers `recorded = false`.

use anyhow::Result;
use contactscore_e2e::redis::RedisProc;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use tonic::Code;

use crate::common::*;
use crate::redis_store::{persons, redis_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_outcome_is_on_the_replica_and_no_replica_is_unavailable() -> Result<()> {
    let sim = simulated(150, 21, 1408)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let primary = RedisProc::start()?;
    let mut replica = RedisProc::replica_of(&primary)?;
    let config = redis_config(
        dir,
        &primary.url(),
        &["redis_wait_replicas = 1", "redis_timeout_ms = 1000"],
    )?;
    let a = ServerProc::start(&models, &dir.join("a"), &["--config", &config])?;
    let mut ca = a.client().await?;
    let p = persons(&sim.contacts, 1)?.remove(0);
    let n = "+5511987650008";

    // Acknowledged after WAIT 1: the replica holds the event the moment the answer arrives.
    let o = outcome("w-1", &p, n, "voice", MONDAY - 600, "opt_out");
    assert!(ca.record_outcome(o).await?.into_inner().recorded);
    let hashes = replica.cli(&["--scan", "--pattern", "cs:{*}:e"])?;
    let hash = hashes.trim();
    assert!(!hash.is_empty(), "no event hash on the replica");
    let held = replica.cli(&["HGET", hash, "o:w-1"])?;
    assert!(held.contains("opt_out"), "the replica holds {held:?}");

    // No replica: not acknowledged, UNAVAILABLE (WAIT answered 0 of 1 within the timeout).
    replica.stop()?;
    let w = outcome("w-2", &p, n, "voice", MONDAY - 500, "no_answer");
    let e = ca.record_outcome(w.clone()).await.expect_err("no replica");
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    assert_eq!(health(&a, "").await?, SERVING, "Redis itself answers");

    // The replica back (same port, resynchronised): the retry finds the write already there.
    replica.restart()?;
    let replica = RedisProc::wait_synced(&primary, replica)?;
    assert!(!ca.record_outcome(w).await?.into_inner().recorded);
    assert!(replica.cli(&["HGET", hash, "o:w-2"])?.contains("no_answer"));
    Ok(())
}
