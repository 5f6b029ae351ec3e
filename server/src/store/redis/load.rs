//! The bulk load of a version into the Redis store (step 1 of `promote.rs`): every person of
//! the version's snapshot not erased is written under `cs:{tag}:s:<version>`, in batches of
//! [`LOAD_BATCH`] persons (one group per person, same slot: `conn.rs`), each person's live
//! events trimmed by the local journal's retention rule against the version's cutoff
//! (`event::trim`); then persons erased meanwhile are dropped again and the completion marker
//! is set.
//!
//! A version kept as one `state.bin` is loaded from that state. A version kept as state parts
//! (`fit --state-parts`: `state/part-NNNNN.bin`) is never merged: pass 1 reads and verifies
//! every part, [`parts_in_flight`] at a time, and keeps only its cutoff (the version's cutoff
//! is the largest part's, exactly as the merged state takes it, and the trim needs it before
//! the first person is written; a corrupt part, or parts whose zone tables differ — which the
//! merge refuses — also fail the load before any key is written);
//! pass 2 reads them again, as many ahead, and writes each part's persons as it arrives. At most
//! `2 × parts_in_flight` decoded parts are in memory, never the whole state; the price is
//! decoding every part twice, small beside the Redis writes (BENCHMARKS.md: 22–32 k persons/s).
//! Not checked without merging: two parts holding the same person (the merge refuses
//! overlapping sort keys; here the later part's snapshot would win). A sharded fit cannot write
//! that: its shards partition the persons.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::{Duration, Instant};

use contactscore_models::artifact::state_parts::PartFile;
use contactscore_models::features::{FeatureState, PersonState};
use futures_util::{StreamExt, TryStreamExt};
use redis::AsyncCommands;

use super::conn::Conn;
use super::{RedisStore, event, keys};
use crate::engine::load_version;
use crate::error::{Result, ServerError};

/// Persons per batch of a bulk load.
pub const LOAD_BATCH: usize = 1_000;

/// State parts read (and held decoded) ahead of the writes: 2 to 4, by the cores there are.
fn parts_in_flight() -> usize {
    std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .clamp(2, 4)
}

/// Counts of one bulk load, and its progress log.
struct Progress<'a> {
    version: &'a str,
    total: usize,
    written: u64,
    erased: u64,
    retired: u64,
    last_log: Instant,
}

impl Progress<'_> {
    fn tick(&mut self) {
        if self.last_log.elapsed() >= Duration::from_secs(5) {
            self.last_log = Instant::now();
            tracing::info!(version = %self.version, written = self.written, of = self.total, "bulk load progress");
        }
    }
}

impl RedisStore {
    /// Write every (non-erased) person of `version`'s snapshot under its keys, then its marker.
    pub(super) async fn bulk_load(&self, version: &str) -> Result<()> {
        let started = Instant::now();
        let mut conn = self.conn().await?;
        // Separate commands: the three keys are in different slots of a cluster.
        let _: i64 = conn
            .sadd(keys::VERSIONS, version)
            .await
            .map_err(|e| self.unavailable(e))?;
        let _: i64 = conn
            .hdel(keys::SUPERSEDED, version)
            .await
            .map_err(|e| self.unavailable(e))?;
        let erased: HashSet<String> = conn
            .smembers(keys::ERASURES)
            .await
            .map_err(|e| self.unavailable(e))?;
        let mut progress = Progress {
            version,
            total: 0,
            written: 0,
            erased: 0,
            retired: 0,
            last_log: Instant::now(),
        };
        let registry = self.registry.clone();
        let v = version.to_owned();
        let parts = tokio::task::spawn_blocking(move || registry.state_parts(&v))
            .await
            .map_err(|e| ServerError::Internal(format!("manifest read task: {e}")))??;
        let sharded = parts.as_ref().map_or(0, Vec::len);
        match parts {
            None => {
                let state = load_version(&self.registry, version).await?.state;
                progress.total = state.len();
                tracing::info!(%version, persons = progress.total, "bulk-loading a version into the state store");
                let cutoff = state.cutoff.unwrap_or(i64::MIN);
                self.load_persons(&conn, &state, cutoff, &erased, &mut progress)
                    .await?;
            }
            Some(parts) => {
                self.load_parts(&conn, parts, &erased, &mut progress)
                    .await?;
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
            // On a cluster redis-rs splits a multi-key DEL by slot.
            let _: i64 = conn.del(&late).await.map_err(|e| self.unavailable(e))?;
        }
        let _: () = conn
            .set(keys::loaded(version), progress.written)
            .await
            .map_err(|e| self.unavailable(e))?;
        let seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            %version,
            written = progress.written,
            erased = progress.erased,
            retired_live_outcomes = progress.retired,
            state_parts = sharded,
            seconds,
            persons_per_second = progress.written as f64 / seconds.max(1e-9),
            "bulk load complete"
        );
        Ok(())
    }

    /// A parts version, part by part (module docs).
    async fn load_parts(
        &self,
        conn: &Conn,
        parts: Vec<PartFile>,
        erased: &HashSet<String>,
        progress: &mut Progress<'_>,
    ) -> Result<()> {
        let version = progress.version;
        let ahead = parts_in_flight();
        let mut first: Option<FeatureState> = None;
        let (mut cutoff, mut total) = (None, 0usize);
        let mut reads = futures_util::stream::iter(parts.clone())
            .map(|p| self.read_part(version, p))
            .buffered(ahead);
        while let Some(mut part) = reads.try_next().await? {
            (cutoff, total) = (cutoff.max(part.cutoff), total + part.len());
            // As the merge requires: one zone table, which the skeleton serves every part with.
            match &first {
                Some(f) => f.same_zones_as(&part)?,
                None => {
                    part.persons = Vec::new();
                    part.person_ids = Vec::new();
                    first = Some(part);
                }
            }
        }
        progress.total = total;
        tracing::info!(%version, persons = total, state_parts = parts.len(), "bulk-loading a version into the state store");
        let cutoff = cutoff.unwrap_or(i64::MIN);
        let mut reads = futures_util::stream::iter(parts)
            .map(|p| self.read_part(version, p))
            .buffered(ahead);
        while let Some(part) = reads.try_next().await? {
            self.load_persons(conn, &part, cutoff, erased, progress)
                .await?;
        }
        Ok(())
    }

    /// Read, verify and decode one state part off the runtime; started when called, so parts
    /// asked for ahead are read while earlier ones are written.
    fn read_part(
        &self,
        version: &str,
        part: PartFile,
    ) -> impl Future<Output = Result<FeatureState>> + use<> {
        let (registry, v) = (self.registry.clone(), version.to_owned());
        let task = tokio::task::spawn_blocking(move || registry.read_state_part(&v, &part));
        async move {
            task.await
                .map_err(|e| ServerError::Internal(format!("state part read task: {e}")))?
                .map_err(Into::into)
        }
    }

    /// Write `state`'s persons (batches of [`LOAD_BATCH`]) and trim their live events against
    /// `cutoff`, the whole version's.
    async fn load_persons(
        &self,
        conn: &Conn,
        state: &FeatureState,
        cutoff: i64,
        erased: &HashSet<String>,
        progress: &mut Progress<'_>,
    ) -> Result<()> {
        let version = progress.version;
        for (ids, persons) in state
            .person_ids
            .chunks(LOAD_BATCH)
            .zip(state.persons.chunks(LOAD_BATCH))
        {
            let mut groups = Vec::with_capacity(ids.len());
            let mut tags = Vec::with_capacity(ids.len());
            for (id, person) in ids.iter().zip(persons) {
                let tag = keys::tag(id);
                if erased.contains(&tag) {
                    progress.erased += 1;
                    continue;
                }
                groups.push(write_person(&tag, version, person)?);
                tags.push(tag);
            }
            let replies = conn.groups(groups).await.map_err(|e| self.unavailable(e))?;
            let tails = replies
                .into_iter()
                .map(|r| match r.into_iter().nth(1) {
                    Some(v) => redis::from_redis_value(v),
                    None => Ok(HashMap::new()),
                })
                .collect::<std::result::Result<Vec<HashMap<String, Vec<u8>>>, _>>()
                .map_err(|e| self.unavailable(e.into()))?;
            progress.written += tags.len() as u64;
            progress.retired += self.trim_tails(conn, &tags, tails, cutoff).await?;
            self.refresh().await?;
            progress.tick();
        }
        Ok(())
    }

    /// Retire the live outcomes the snapshot being loaded holds (by the local journal's
    /// retention rule, `event::trim`); returns how many.
    async fn trim_tails(
        &self,
        conn: &Conn,
        tags: &[String],
        tails: Vec<HashMap<String, Vec<u8>>>,
        cutoff: i64,
    ) -> Result<u64> {
        let now_us = jiff::Timestamp::now().as_microsecond();
        let mut groups = Vec::new();
        let mut retired = 0u64;
        for (tag, tail) in tags.iter().zip(tails) {
            let mut pipe = redis::pipe();
            for (field, value) in tail {
                let Ok(e) = event::Event::decode(&value) else {
                    continue;
                };
                match event::trim(&e, cutoff, now_us, self.retention)? {
                    Some(event::Trim::Retire(tombstone)) => {
                        pipe.hset(keys::events(tag), field, tombstone);
                        retired += 1;
                    }
                    Some(event::Trim::Remove) => {
                        pipe.hdel(keys::events(tag), field);
                    }
                    None => {}
                }
            }
            if !pipe.is_empty() {
                groups.push(pipe);
            }
        }
        if !groups.is_empty() {
            conn.groups(groups).await.map_err(|e| self.unavailable(e))?;
        }
        Ok(retired)
    }
}

/// One person's group of a bulk load: write the snapshot, read the live events (to trim).
fn write_person(tag: &str, version: &str, person: &PersonState) -> Result<redis::Pipeline> {
    let mut pipe = redis::pipe();
    pipe.set(
        keys::snapshot(tag, version),
        event::encode_snapshot(person)?,
    )
    .hgetall(keys::events(tag));
    Ok(pipe)
}
