//! Versions in the Redis store: the poll/`ReloadModel` step of every replica.
//!
//! 1. When the models directory promotes a version that is not `cs:current`, one replica (the
//!    holder of the `cs:lock:load` lock, `SET NX PX`, refreshed while it works) bulk-loads that
//!    version's snapshot under new keys — pipelined, skipping erased persons, progress logged —
//!    marks it complete (`cs:loaded:<v>`), then flips `cs:current`. Others keep serving.
//! 2. Every replica serves what `cs:current` names: it loads that version's model and a
//!    *skeleton* of its state (zones, default zone, cutoff, rule evidence; no persons) from its
//!    models directory and swaps it in atomically. Ranks in flight finish on the old skeleton,
//!    whose keys stay for `redis_unlink_grace_ms`.
//! 3. After the grace, the lock holder unlinks a superseded version's keys: its completion
//!    marker first (so a replica still on it answers UNAVAILABLE instead of ranking without the
//!    snapshot: `fetch` reads the marker atomically with the person), then its snapshot keys by
//!    `SCAN`. Live events are per person, not per version: they survive every switch.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use contactscore_models::artifact::registry::CURRENT as CURRENT_FILE;
use parking_lot::RwLock;
use redis::AsyncCommands;

use super::{RedisStore, event, keys};
use crate::engine::{ReloadFailure, Reloaded, Serving, load_version, warm_normalizer};
use crate::error::{Result, ServerError};
use crate::telemetry;

/// The load lock expires this long after its last refresh (a loader that died frees it).
const LOCK_TTL_MS: u64 = 30_000;
/// Persons per pipelined batch of a bulk load.
const LOAD_BATCH: usize = 1_000;

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
        let mut conn = self.conn.clone();
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
            .conn
            .clone()
            .get(keys::loaded(version))
            .await
            .map_err(|e| self.unavailable(e))?;
        let loaded = load_version(&self.registry, version).await?;
        let normalizer = warm_normalizer(&loaded.manifest.serving.default_region)?;
        let mut skeleton = loaded.state;
        skeleton.persons = Vec::new();
        skeleton.person_ids = Vec::new();
        skeleton.rebuild_index();
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
            .arg(LOCK_TTL_MS)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(got.map(|_| LockGuard { store: self }))
    }

    /// Extend the lock; an error if it was lost (expired and taken by another replica).
    async fn refresh(&self) -> Result<()> {
        let kept: i64 = redis::Script::new(REFRESH)
            .key(keys::LOAD_LOCK)
            .arg(&self.owner)
            .arg(LOCK_TTL_MS)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.unavailable(e))?;
        if kept == 0 {
            return Err(ServerError::StoreUnavailable(
                "lost the state store's load lock (a step took longer than its 30 s lease)".into(),
            ));
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
        let mut conn = self.conn.clone();
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

    /// Write every (non-erased) person of `version`'s snapshot under its keys, then its marker.
    async fn bulk_load(&self, version: &str) -> Result<()> {
        let started = Instant::now();
        let state = load_version(&self.registry, version).await?.state;
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.sadd(keys::VERSIONS, version)
            .hdel(keys::SUPERSEDED, version)
            .smembers(keys::ERASURES);
        let ((), (), erased): ((), (), HashSet<String>) = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| self.unavailable(e))?;
        let total = state.len();
        tracing::info!(%version, persons = total, "bulk-loading a version into the state store");
        let (mut written, mut skipped) = (0u64, 0u64);
        let mut last_log = Instant::now();
        let cutoff = state.cutoff.unwrap_or(i64::MIN);
        let mut retired = 0u64;
        for (ids, persons) in state
            .person_ids
            .chunks(LOAD_BATCH)
            .zip(state.persons.chunks(LOAD_BATCH))
        {
            let mut pipe = redis::pipe();
            let mut tags = Vec::with_capacity(ids.len());
            for (id, person) in ids.iter().zip(persons) {
                let tag = keys::tag(id);
                if erased.contains(&tag) {
                    skipped += 1;
                    continue;
                }
                pipe.set(
                    keys::snapshot(&tag, version),
                    event::encode_snapshot(person)?,
                )
                .ignore()
                .hgetall(keys::events(&tag));
                tags.push(tag);
                written += 1;
            }
            if !pipe.is_empty() {
                let tails: Vec<HashMap<String, Vec<u8>>> = pipe
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| self.unavailable(e))?;
                retired += self.trim_tails(&tags, tails, cutoff).await?;
            }
            self.refresh().await?;
            if last_log.elapsed() >= Duration::from_secs(5) {
                last_log = Instant::now();
                tracing::info!(%version, written, of = total, "bulk load progress");
            }
        }
        // Persons forgotten while the load ran: their keys may have been written after the
        // erasure deleted them.
        let erased_now: HashSet<String> = conn
            .smembers(keys::ERASURES)
            .await
            .map_err(|e| self.unavailable(e))?;
        let late: Vec<String> = erased_now
            .difference(&erased)
            .map(|t| keys::snapshot(t, version))
            .collect();
        if !late.is_empty() {
            let _: i64 = conn.del(&late).await.map_err(|e| self.unavailable(e))?;
        }
        let _: () = conn
            .set(keys::loaded(version), written)
            .await
            .map_err(|e| self.unavailable(e))?;
        let seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            %version,
            written,
            erased = skipped,
            retired_live_outcomes = retired,
            seconds,
            persons_per_second = written as f64 / seconds.max(1e-9),
            "bulk load complete"
        );
        Ok(())
    }

    /// Retire the live outcomes the snapshot being loaded holds (by the local journal's
    /// retention rule, `event::trim`); returns how many.
    async fn trim_tails(
        &self,
        tags: &[String],
        tails: Vec<HashMap<String, Vec<u8>>>,
        cutoff: i64,
    ) -> Result<u64> {
        let now_us = jiff::Timestamp::now().as_microsecond();
        let mut pipe = redis::pipe();
        let mut retired = 0u64;
        for (tag, tail) in tags.iter().zip(tails) {
            for (field, value) in tail {
                let Ok(e) = event::Event::decode(&value) else {
                    continue;
                };
                match event::trim(&e, cutoff, now_us, self.retention)? {
                    Some(event::Trim::Retire(tombstone)) => {
                        pipe.hset(keys::events(tag), field, tombstone).ignore();
                        retired += 1;
                    }
                    Some(event::Trim::Remove) => {
                        pipe.hdel(keys::events(tag), field).ignore();
                    }
                    None => {}
                }
            }
        }
        if pipe.is_empty() {
            return Ok(retired);
        }
        pipe.query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(retired)
    }

    /// Unlink the keys of versions superseded for longer than the grace (module docs).
    async fn collect_garbage(&self) -> Result<()> {
        let mut conn = self.conn.clone();
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
        let mut conn = self.conn.clone();
        let _: i64 = conn
            .del(keys::loaded(version))
            .await
            .map_err(|e| self.unavailable(e))?;
        let pattern = keys::snapshot_pattern(version);
        let (mut cursor, mut unlinked) = (0u64, 0u64);
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(LOAD_BATCH)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.unavailable(e))?;
            if !found.is_empty() {
                let n: u64 = conn.unlink(&found).await.map_err(|e| self.unavailable(e))?;
                unlinked += n;
                self.refresh().await?;
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let mut pipe = redis::pipe();
        pipe.srem(keys::VERSIONS, version)
            .hdel(keys::SUPERSEDED, version);
        pipe.query_async::<()>(&mut conn)
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
        let released: redis::RedisResult<i64> = redis::Script::new(RELEASE)
            .key(keys::LOAD_LOCK)
            .arg(&self.store.owner)
            .invoke_async(&mut self.store.conn.clone())
            .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not release the load lock; it expires by itself");
        }
    }
}
