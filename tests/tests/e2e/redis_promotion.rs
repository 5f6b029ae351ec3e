//! End to end: promoting a new version while both replicas on one Redis serve Rank load: one
//! replica bulk-loads it and flips the pointer, both switch, and not one call fails; a person
//! forgotten before the promotion stays forgotten in the new version. And the superseded
//! version's keys are unlinked once the grace is over, while the bulk load retired the live
//! outcomes its snapshot covers (their ids stay duplicates) and kept the rule evidence.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use contactscore_e2e::redis::RedisProc;
use contactscore_e2e::server::train_into;
use contactscore_e2e::{SimData, simulated};
use contactscore_proto::v1;
use tonic::Code;

use contactscore_models::localtime::DAY;

use crate::common::*;
use crate::redis_store::{Client, persons, rank, redis_config, replica};

/// Rank in a loop until `stop`; counts failures and answers per version (v1, v2).
pub async fn load(
    mut c: Client,
    ids: Vec<String>,
    v2: Arc<OnceLock<String>>,
    stop: Arc<AtomicBool>,
    failed: Arc<AtomicU64>,
    on_v2: Arc<AtomicU64>,
) {
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        match rank(&mut c, &ids[i % ids.len()], None).await {
            Ok(r) => {
                if v2.get().is_some_and(|v| *v == r.model_version) {
                    on_v2.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                eprintln!("failed Rank during promotion: {e:?}");
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        i += 1;
    }
}

/// Four Rank loops ([`load`]) over `ids`, two through each client, and their shared counters.
pub struct Loads {
    /// Set to stop them.
    pub stop: Arc<AtomicBool>,
    /// Failed calls.
    pub failed: Arc<AtomicU64>,
    /// Answers from the new version.
    pub on_v2: Arc<AtomicU64>,
    /// The new version, once known.
    pub v2: Arc<OnceLock<String>>,
    /// The loops.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Loads {
    /// Start them.
    pub fn start(ca: &Client, cb: &Client, ids: &[String]) -> Self {
        let (stop, failed, on_v2) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
        );
        let v2 = Arc::new(OnceLock::new());
        let tasks = [ca, cb, ca, cb]
            .into_iter()
            .map(|c| {
                tokio::spawn(load(
                    c.clone(),
                    ids.to_vec(),
                    v2.clone(),
                    stop.clone(),
                    failed.clone(),
                    on_v2.clone(),
                ))
            })
            .collect();
        Self {
            stop,
            failed,
            on_v2,
            v2,
            tasks,
        }
    }
}

impl Loads {
    /// Train the next version into `models` (off the runtime's threads) while the loops run;
    /// they count its answers from then on.
    pub async fn train_next(&self, sim: &SimData, models: &Path) -> Result<String> {
        let (attempts, contacts, bad) = (sim.attempts.clone(), sim.contacts.clone(), sim.bad_rows);
        let m = models.to_owned();
        let v2 =
            tokio::task::spawn_blocking(move || train_into(&attempts, Some(&contacts), &m, bad))
                .await??;
        let _ = self.v2.set(v2.clone());
        Ok(v2)
    }
}

pub async fn reload(c: &mut Client) -> Result<String> {
    Ok(c.reload_model(v1::ReloadModelRequest {})
        .await?
        .into_inner()
        .version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_under_load_fails_no_call_on_either_replica() -> Result<()> {
    let sim = simulated(400, 21, 1403)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    let v1 = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let redis = RedisProc::start()?;
    let a = replica(&models, &dir.join("a"), &redis)?;
    let b = replica(&models, &dir.join("b"), &redis)?;
    let (mut ca, mut cb) = (a.client().await?, b.client().await?);
    let ids = persons(&sim.contacts, 40)?;
    let forgotten = ids[0].clone();
    ca.forget_person(v1::ForgetPersonRequest {
        person_id: forgotten.clone(),
    })
    .await?;
    let ids = ids[1..].to_vec();

    let loads = Loads::start(&ca, &cb, &ids);
    let v2 = loads.train_next(&sim, &models).await?;
    assert_ne!(v1, v2);
    let Loads {
        stop,
        failed,
        on_v2,
        tasks,
        ..
    } = loads;
    switch_under_load(&mut ca, &mut cb, &v2, tasks, &stop, &failed, &on_v2).await?;

    // The bulk load skipped the forgotten person.
    let gone = rank(&mut cb, &forgotten, None)
        .await
        .expect_err("forgotten");
    assert_eq!(gone.code(), Code::NotFound);
    let loaded = redis.cli(&["GET", "cs:current"])?;
    assert_eq!(loaded.trim(), v2);
    Ok(())
}

/// Both replicas switch to `v2` (one of them, or a background poll, bulk-loads it first) while
/// the Rank `tasks` run; they stop once 200 answers came from `v2`, and not one call failed.
pub async fn switch_under_load(
    ca: &mut Client,
    cb: &mut Client,
    v2: &str,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: &AtomicBool,
    failed: &AtomicU64,
    on_v2: &AtomicU64,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (x, y) = (reload(ca).await?, reload(cb).await?);
        if x == v2 && y == v2 {
            break;
        }
        if Instant::now() > deadline {
            bail!("replicas serve {x} and {y}, not {v2}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // polling, not synchronisation
    }
    // Keep the load on until every task has been answered by the new version too.
    let deadline = Instant::now() + Duration::from_secs(60);
    while on_v2.load(Ordering::Relaxed) < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "failed calls during the promotion"
    );
    assert!(on_v2.load(Ordering::Relaxed) >= 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_retires_covered_outcomes_and_unlinks_the_superseded_version() -> Result<()> {
    let sim = simulated(200, 21, 1405)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    let v1 = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    let redis = RedisProc::start()?;
    let config = redis_config(dir, &redis.url(), &["redis_unlink_grace_ms = 0"])?;
    let a = contactscore_e2e::server::ServerProc::start(
        &models,
        &dir.join("a"),
        &["--config", &config],
    )?;
    let mut ca = a.client().await?;
    let snapshots = |v: &str| -> Result<usize> {
        let pattern = format!("cs:{{*}}:s:{v}");
        Ok(redis
            .cli(&["--scan", "--pattern", &pattern])?
            .lines()
            .count())
    };
    assert_eq!(snapshots(&v1)?, 200);
    // Live outcomes: one the next snapshot covers by more than 14 days (retired by the bulk
    // load: a tombstone keeps its id), an opt-out as old (rule evidence: kept), a recent one.
    let p = persons(&sim.contacts, 1)?.remove(0);
    let n = "+5511987650005";
    let old = MONDAY - 30 * DAY;
    let sent = [
        outcome("old-1", &p, n, "voice", old, "no_answer"),
        outcome("old-opt", &p, n, "sms", old, "opt_out"),
        outcome("new-1", &p, n, "voice", MONDAY - 600, "no_answer"),
    ];
    for o in &sent {
        assert!(ca.record_outcome(o.clone()).await?.into_inner().recorded);
    }
    let v2 = train_into(&sim.attempts, Some(&sim.contacts), &models, sim.bad_rows)?;
    assert_eq!(reload(&mut ca).await?, v2);
    // With no grace, the reload that switched unlinked v1 (marker, snapshots, bookkeeping);
    // another poll changes nothing.
    reload(&mut ca).await?;
    assert_eq!(snapshots(&v1)?, 0);
    assert_eq!(snapshots(&v2)?, 200);
    assert_eq!(
        redis.cli(&["EXISTS", &format!("cs:loaded:{v1}")])?.trim(),
        "0"
    );
    assert_eq!(redis.cli(&["SMEMBERS", "cs:versions"])?.trim(), v2);
    rank(&mut ca, &p, None).await?;
    let hash = redis.cli(&["--scan", "--pattern", "cs:{*}:e"])?;
    let hash = hash.trim();
    let field = |f: &str| redis.cli(&["HGET", hash, f]);
    assert!(
        field("o:old-1")?.contains("\"k\":\"retired\""),
        "{}",
        field("o:old-1")?
    );
    assert!(field("o:old-opt")?.contains("opt_out"));
    assert!(field("o:new-1")?.contains("no_answer"));
    for o in sent {
        assert!(
            !ca.record_outcome(o).await?.into_inner().recorded,
            "still a duplicate"
        );
    }
    Ok(())
}
