//! End to end: a bulk loader that died mid-way. What a replica killed with `kill -9` while it
//! bulk-loads a new version leaves in Redis is its load lock (no longer refreshed) and some of
//! the version's snapshot keys, with no `cs:loaded` marker and `cs:current` on the old version.
//! The test writes exactly that state (a dead owner's lock, half the new version's snapshot
//! keys holding bytes no snapshot decodes to) rather than racing a `kill -9` against a load
//! that takes milliseconds at test size: deterministic, and the takeover path is the same.
//! While the lock is held the replicas keep serving the old version under Rank load; once the
//! lease runs out, a replica takes the load over, rewrites every key, flips the pointer, and
//! both switch — and not one Rank failed or saw the half-loaded version.

use anyhow::Result;
use contactscore_e2e::redis::RedisProc;
use contactscore_e2e::server::train_into;
use contactscore_e2e::simulated;

use crate::redis_promotion::{Loads, reload, switch_under_load};
use crate::redis_store::{persons, replica};

/// Bytes no postcard snapshot decodes to, marking the dead loader's half-written keys.
const HALF: &str = "half-loaded-by-a-dead-replica";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_loaders_version_is_taken_over_once_its_lock_expires() -> Result<()> {
    let sim = simulated(300, 21, 1421)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    let v1 = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let redis = RedisProc::start()?;
    let a = replica(&models, &dir.join("a"), &redis)?;
    let b = replica(&models, &dir.join("b"), &redis)?;
    let (mut ca, mut cb) = (a.client().await?, b.client().await?);
    assert_eq!(reload(&mut ca).await?, v1);
    let ids = persons(&sim.contacts, 40)?;

    // The dead loader's lock, taken before the new version exists (so no replica's poll can
    // start loading it first); its lease is shortened below, once v2 is half "loaded".
    redis.cli(&["SET", "cs:lock:load", "dead-replica", "PX", "600000"])?;

    let loads = Loads::start(&ca, &cb, &ids);
    let v2 = loads.train_next(&sim, &models).await?;
    assert_ne!(v1, v2);

    // Half of v2's snapshot keys, as a load killed mid-way leaves them.
    let v1_keys: Vec<String> = redis
        .cli(&["--scan", "--pattern", &format!("cs:{{*}}:s:{v1}")])?
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(v1_keys.len(), 300);
    let half: Vec<String> = v1_keys[..150]
        .iter()
        .map(|k| k.replacen(&format!(":s:{v1}"), &format!(":s:{v2}"), 1))
        .collect();
    for k in &half {
        redis.cli(&["SET", k, HALF])?;
    }

    // The lock is held: both keep serving v1 (the half-loaded v2 is never served).
    for _ in 0..3 {
        assert_eq!(reload(&mut ca).await?, v1);
        assert_eq!(reload(&mut cb).await?, v1);
    }
    assert_eq!(redis.cli(&["GET", "cs:current"])?.trim(), v1);
    assert_eq!(
        redis.cli(&["EXISTS", &format!("cs:loaded:{v2}")])?.trim(),
        "0"
    );

    // The rest of the dead loader's lease runs out; a replica takes the load over.
    redis.cli(&["PEXPIRE", "cs:lock:load", "1000"])?;
    let Loads {
        stop,
        failed,
        on_v2,
        tasks,
        ..
    } = loads;
    switch_under_load(&mut ca, &mut cb, &v2, tasks, &stop, &failed, &on_v2).await?;

    assert_eq!(redis.cli(&["GET", "cs:current"])?.trim(), v2);
    let v2_keys = redis
        .cli(&["--scan", "--pattern", &format!("cs:{{*}}:s:{v2}")])?
        .lines()
        .count();
    assert_eq!(v2_keys, 300, "the takeover loaded every person");
    for k in &half {
        assert_ne!(redis.cli(&["GET", k])?.trim(), HALF, "{k} not rewritten");
    }
    let owner = redis.cli(&["GET", "cs:lock:load"])?;
    assert_ne!(owner.trim(), "dead-replica");
    Ok(())
}
