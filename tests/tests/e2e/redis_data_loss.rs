//! End to end: Redis losing its data (`FLUSHALL`; a restart without persistence is the same).
//! A replica then finds the served version's `cs:loaded` marker gone: every Rank answers
//! UNAVAILABLE — never a ranking of a person as unknown — until its next poll (here a
//! `ReloadModel`), which loads the version again from the models directory, flips the pointer
//! and serves. Live events recorded before the loss are lost with it (docs/SERVER.md).

use anyhow::Result;
use contactscore_e2e::redis::RedisProc;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use tonic::Code;

use crate::redis_promotion::reload;
use crate::redis_store::{persons, rank, redis_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_flushall_a_replica_answers_unavailable_then_loads_the_version_again() -> Result<()> {
    let sim = simulated(200, 21, 1431)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    let v1 = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let redis = RedisProc::start()?;
    // No background poll: the gap between the loss and the reload is the test's to decide.
    let config = redis_config(dir, &redis.url(), &[])?;
    let a = ServerProc::start(&models, &dir.join("a"), &["--config", &config])?;
    let mut ca = a.client().await?;
    let ids = persons(&sim.contacts, 5)?;
    let before = rank(&mut ca, &ids[0], None).await?;

    redis.cli(&["FLUSHALL"])?;
    for id in &ids {
        let e = rank(&mut ca, id, None)
            .await
            .expect_err("ranked without the version's snapshots");
        assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    }

    assert_eq!(reload(&mut ca).await?, v1);
    assert_eq!(redis.cli(&["GET", "cs:current"])?.trim(), v1);
    let snapshots = redis
        .cli(&["--scan", "--pattern", &format!("cs:{{*}}:s:{v1}")])?
        .lines()
        .count();
    assert_eq!(snapshots, 200);
    let after = rank(&mut ca, &ids[0], None).await?;
    assert_eq!(after.suggestions, before.suggestions);
    assert_eq!(after.blocked, before.blocked);
    Ok(())
}
