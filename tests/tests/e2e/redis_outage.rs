//! End to end: Redis stops during traffic. Rank and RecordOutcome answer UNAVAILABLE (never a
//! ranking without the state), health goes NOT_SERVING; when Redis is back, on the same data,
//! the replica recovers by itself and every acknowledged outcome is still there. A replica
//! started while Redis is down is NOT_SERVING and UNAVAILABLE, and serves by itself once Redis
//! starts.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use contactscore_e2e::redis::RedisProc;
use contactscore_e2e::server::train_into;
use contactscore_e2e::simulated;
use tonic::Code;

use crate::common::*;
use crate::redis_store::{persons, rank, replica};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_unavailable_then_recovers_by_itself() -> Result<()> {
    let sim = simulated(200, 21, 1404)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let mut redis = RedisProc::start()?;
    let a = replica(&models, &dir.join("a"), &redis)?;
    let mut c = a.client().await?;
    let p = persons(&sim.contacts, 1)?.remove(0);
    let n = "+5511987650003";
    let o = outcome("before", &p, n, "voice", MONDAY - 600, "opt_out");
    assert!(c.record_outcome(o.clone()).await?.into_inner().recorded);
    assert_eq!(health(&a, "").await?, SERVING);

    redis.stop()?;
    let e = rank(&mut c, &p, None).await.expect_err("no Redis");
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    let w = outcome("during", &p, n, "voice", MONDAY - 500, "no_answer");
    let e = c.record_outcome(w.clone()).await.expect_err("no Redis");
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(&a, "").await? != NOT_SERVING {
        if Instant::now() > deadline {
            bail!("health stayed SERVING with Redis down");
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // polling
    }

    redis.restart()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let r = loop {
        match rank(&mut c, &p, Some(n)).await {
            Ok(r) => break r,
            Err(e) if e.code() == Code::Unavailable && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await; // polling
            }
            Err(e) => bail!("no recovery: {e:?}"),
        }
    };
    assert!(
        r.blocked
            .iter()
            .any(|b| b.contact == n && b.reason == "opted_out"),
        "the opt-out acknowledged before the outage is applied: {r:?}"
    );
    assert!(!c.record_outcome(o).await?.into_inner().recorded);
    assert!(c.record_outcome(w).await?.into_inner().recorded);
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(&a, "").await? != SERVING {
        if Instant::now() > deadline {
            bail!("health did not come back");
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // polling
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_started_with_redis_down_serves_once_redis_is_up() -> Result<()> {
    let sim = simulated(150, 21, 1409)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    // A Redis that is down: its port known, nothing listening.
    let mut redis = RedisProc::start()?;
    redis.stop()?;
    let a = replica(&models, &dir.join("a"), &redis)?;
    let mut c = a.client().await?;
    let p = persons(&sim.contacts, 1)?.remove(0);
    assert_eq!(health(&a, "").await?, NOT_SERVING);
    let e = rank(&mut c, &p, None).await.expect_err("no Redis");
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    let o = outcome("down", &p, "+5511987650009", "voice", MONDAY - 600, "busy");
    let e = c.record_outcome(o).await.expect_err("no Redis");
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    assert_eq!(health(&a, "").await?, NOT_SERVING);

    // Redis starts: the replica loads the promoted version into it and serves, by itself.
    redis.restart()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(&a, "").await? != SERVING {
        if Instant::now() > deadline {
            bail!("still NOT_SERVING with Redis up");
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // polling
    }
    assert!(!rank(&mut c, &p, None).await?.suggestions.is_empty());
    Ok(())
}
