//! Versions in the Redis store: the poll/`ReloadModel` step of every replica.
//!
//! 1. When the models directory promotes a version that is not `cs:current`, one replica (the
//!    holder of the `cs:lock:load` lock, `SET NX PX`, refreshed while it works) bulk-loads that
//!    version's snapshot under new keys (`load.rs`) — pipelined, skipping erased persons,
//!    progress logged — marks it complete (`cs:loaded:<v>`), then flips `cs:current`. Others
//!    keep serving.
//! 2. Every replica serves what `cs:current` names: it loads that version's model and a
//!    *skeleton* of its state (zones, default zone, cutoff, rule evidence; no persons) from its
//!    models directory and swaps it in atomically. Ranks in flight finish on the old skeleton,
//!    whose keys stay for `redis_unlink_grace_ms`.
//! 3. After the grace, the lock holder unlinks a superseded version's keys: its completion
//!    marker first (so a replica still on it answers UNAVAILABLE instead of ranking without the
//!    snapshot: `fetch` reads the marker with or after the person), then its snapshot keys by
//!    `SCAN` — on a cluster, of every primary (`conn.rs`). Live events are per person, not per
//!    version: they survive every switch.
//!
//! Why `SCAN` rather than deleting the keys of the superseded version's persons, listed from
//! its models directory: the clean-up then needs no state file (the version may have left the
//! models directory, or never have been in this replica's), holds nothing per person in memory,
//! and also finds keys a crashed load wrote for persons no snapshot lists any more.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use contactscore_models::artifact::registry::CURRENT as CURRENT_FILE;
use parking_lot::RwLock;
use redis::AsyncCommands;

use super::{RedisStore, keys};
use crate::engine::{ReloadFailure, Reloaded, Serving, load_skeleton, warm_normalizer};
use crate::error::{Result, ServerError};
use crate::telemetry;

/// Keys per `SCAN` step of the clean-up.
const SCAN_COUNT: usize = 1_000;

const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
const REFRESH: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";

impl RedisStore {
    /// One reload step (module docs). A failure keeps the served version and is kept for
    /// `GetModelInfo`, logged and counted, as with the local store.
    pub async fn reload(&self) -> Result<Reloaded> {
        let _one_at_a_time = self.reload_lock.lock().await;
        let result = self.reload_step().await;
        match &result {
            Ok(Reloaded::Switched(_)) => {
                *self.failure.lock() = ReloadFailure::default();
                telemetry::reload("ok");
            }
            Ok(Reloaded::Unchanged(_)) => *self.failure.lock() = ReloadFailure::default(),
            Ok(Reloaded::NoVersion) => {}
            Err(e) => {
                tracing::error!(error = %e, "model reload failed; keeping the served version");
                *self.failure.lock() = ReloadFailure {
                    version: self.registry.current().ok().flatten().unwrap_or_default(),
                    error: e.to_string(),
                };
                telemetry::reload("error");
            }
        }
        self.publish_health();
        result
    }

    async fn reload_step(&self) -> Result<Reloaded> {
        let mut conn = self.conn().await?;
        let promoted = self.registry.current()?;
        let pointer: Option<String> = conn
            .get(keys::CURRENT)
            .await
            .map_err(|e| self.unavailable(e))?;
        if let Some(p) = &promoted
            && pointer.as_ref() != Some(p)
        {
            self.promote(p).await?;
        }
        let pointer: Option<String> = conn
            .get(keys::CURRENT)
            .await
            .map_err(|e| self.unavailable(e))?;
        let served = self.serving.load().as_ref().map(|s| s.version.clone());
        let Some(target) = pointer else {
            if served.is_some() {
                *self.failure.lock() = ReloadFailure {
                    version: String::new(),
                    error: format!(
                        "{CURRENT_FILE} names no version loaded into the state store yet"
                    ),
                };
            }
            return Ok(Reloaded::NoVersion);
        };
        let reloaded = if served.as_deref() == Some(target.as_str()) {
            Reloaded::Unchanged(target)
        } else {
            self.switch_to(&target).await?;
            Reloaded::Switched(target)
        };
        // After the switch: a replica never unlinks the version it is still serving itself.
        if let Err(e) = self.collect_garbage().await {
            tracing::warn!(error = %e, "unlinking superseded versions failed; retried on the next poll");
        }
        Ok(reloaded)
    }

    /// Serve `version` (already loaded into Redis): model and skeleton from the models dir.
    async fn switch_to(&self, version: &str) -> Result<()> {
        let started = Instant::now();
        let persons: Option<u64> = self
            .conn()
            .await?
            .get(keys::loaded(version))
            .await
            .map_err(|e| self.unavailable(e))?;
        // Without the persons: a version kept as state parts is never merged here either.
        let loaded = load_skeleton(&self.registry, version).await?;
        let normalizer = warm_normalizer(&loaded.manifest.serving.default_region)?;
        let mut skeleton = loaded.state;
        skeleton.zones.intern_all_known();
        let cutoff = skeleton.cutoff;
        let zones = skeleton.zones.clone();
        let serving = Serving {
            version: version.to_owned(),
            manifest: loaded.manifest,
            model: loaded.model,
            normalizer,
            state: RwLock::new(skeleton),
            zones,
            loaded_at: jiff::Timestamp::now().as_second(),
            live_applied: AtomicU64::new(0),
            snapshot_cutoff: cutoff,
            evidence: loaded.evidence,
            persons_in_store: Some(persons.unwrap_or(0)),
        };
        let previous = self
            .serving
            .swap(Some(Arc::new(serving)))
            .map(|s| s.version.clone());
        self.loaded.send_replace(Some(version.to_owned()));
        let persons = usize::try_from(persons.unwrap_or(0)).unwrap_or(usize::MAX);
        telemetry::model_loaded(previous.as_deref(), version, persons);
        tracing::info!(%version, persons, seconds = started.elapsed().as_secs_f64(), "model version live (redis store)");
        Ok(())
    }

    /// Take the load lock, or `None` if another replica holds it.
    async fn lock(&self) -> Result<Option<LockGuard<'_>>> {
        let got: Option<String> = redis::cmd("SET")
            .arg(keys::LOAD_LOCK)
            .arg(&self.owner)
            .arg("NX")
            .arg("PX")
            .arg(self.settings.lock_ttl_ms)
            .query_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(got.map(|_| LockGuard { store: self }))
    }

    /// Extend the lock; an error if it was lost (expired and taken by another replica).
    pub(super) async fn refresh(&self) -> Result<()> {
        let kept: i64 = redis::Script::new(REFRESH)
            .key(keys::LOAD_LOCK)
            .arg(&self.owner)
            .arg(self.settings.lock_ttl_ms)
            .invoke_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.unavailable(e))?;
        if kept == 0 {
            return Err(ServerError::StoreUnavailable(format!(
                "lost the state store's load lock (a step took longer than its {} ms lease, \
                 state.redis_lock_ttl_ms)",
                self.settings.lock_ttl_ms
            )));
        }
        Ok(())
    }

    /// Load `version` into Redis and flip the pointer to it, if this replica gets the lock.
    async fn promote(&self, version: &str) -> Result<()> {
        let Some(guard) = self.lock().await? else {
            tracing::info!(%version, "another replica is loading a version into the state store");
            return Ok(());
        };
        let result = self.load_and_flip(version).await;
        guard.release().await;
        result
    }

    async fn load_and_flip(&self, version: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        let done: Option<u64> = conn
            .get(keys::loaded(version))
            .await
            .map_err(|e| self.unavailable(e))?;
        if done.is_none() {
            self.bulk_load(version).await?;
        }
        let previous: Option<String> = redis::cmd("SET")
            .arg(keys::CURRENT)
            .arg(version)
            .arg("GET")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.unavailable(e))?;
        let mut pipe = redis::pipe();
        pipe.hdel(keys::SUPERSEDED, version);
        if let Some(p) = previous.as_deref().filter(|p| *p != version) {
            pipe.hset(keys::SUPERSEDED, p, jiff::Timestamp::now().as_millisecond());
        }
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.unavailable(e))?;
        tracing::info!(%version, previous = previous.as_deref().unwrap_or(""), "state store now serves this version");
        Ok(())
    }

    /// Unlink the keys of versions superseded for longer than the grace (module docs).
    async fn collect_garbage(&self) -> Result<()> {
        let mut conn = self.conn().await?;
        let superseded: HashMap<String, i64> = conn
            .hgetall(keys::SUPERSEDED)
            .await
            .map_err(|e| self.unavailable(e))?;
        let grace = i64::try_from(self.settings.unlink_grace.as_millis()).unwrap_or(i64::MAX);
        let now = jiff::Timestamp::now().as_millisecond();
        let current: Option<String> = conn
            .get(keys::CURRENT)
            .await
            .map_err(|e| self.unavailable(e))?;
        let due: Vec<&String> = superseded
            .iter()
            .filter(|(v, at)| Some(*v) != current.as_ref() && at.saturating_add(grace) <= now)
            .map(|(v, _)| v)
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        let Some(guard) = self.lock().await? else {
            return Ok(());
        };
        let result = async {
            for v in due {
                self.unlink_version(v).await?;
            }
            Ok(())
        }
        .await;
        guard.release().await;
        result
    }

    async fn unlink_version(&self, version: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        let _: i64 = conn
            .del(keys::loaded(version))
            .await
            .map_err(|e| self.unavailable(e))?;
        let pattern = keys::snapshot_pattern(version);
        let unlinked = AtomicU64::new(0);
        let unlinker = conn.clone();
        conn.scan_each(
            &pattern,
            SCAN_COUNT,
            |e| self.unavailable(e),
            |found| {
                let (mut c, unlinked) = (unlinker.clone(), &unlinked);
                async move {
                    // On a cluster redis-rs splits a multi-key UNLINK by slot and sums the replies.
                    let n: u64 = c.unlink(&found).await.map_err(|e| self.unavailable(e))?;
                    unlinked.fetch_add(n, Ordering::Relaxed);
                    self.refresh().await
                }
            },
        )
        .await?;
        let unlinked = unlinked.into_inner();
        let _: i64 = conn
            .srem(keys::VERSIONS, version)
            .await
            .map_err(|e| self.unavailable(e))?;
        let _: i64 = conn
            .hdel(keys::SUPERSEDED, version)
            .await
            .map_err(|e| self.unavailable(e))?;
        tracing::info!(%version, unlinked, "superseded version unlinked from the state store");
        Ok(())
    }
}

/// The held load lock; released explicitly (async), else it expires.
struct LockGuard<'a> {
    store: &'a RedisStore,
}

impl LockGuard<'_> {
    async fn release(self) {
        let released: redis::RedisResult<i64> = match self.store.redis.conn().await {
            Ok(mut conn) => {
                redis::Script::new(RELEASE)
                    .key(keys::LOAD_LOCK)
                    .arg(&self.store.owner)
                    .invoke_async(&mut conn)
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not release the load lock; it expires by itself");
        }
    }
}
