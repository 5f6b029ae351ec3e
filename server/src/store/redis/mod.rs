//! The Redis state store: server replicas as stateless scorers over one shared, person-keyed
//! store. Each replica keeps only a *skeleton* of the served version in memory (model, zones,
//! default zone, cutoff, the rule evidence of its export); a person's state lives in Redis as
//! the version's snapshot of that person plus an idempotent hash of live events, fetched per
//! Rank (one atomic round trip; two on a cluster) and folded (`event.rs`). Promotion (`promote.rs`) bulk-loads a
//! version under new keys (`load.rs`), then flips one pointer. Key names: `keys.rs`; one Redis
//! or a Redis Cluster: `conn.rs`.
//!
//! Failure: any Redis error is [`ServerError::StoreUnavailable`] (UNAVAILABLE): a Rank never
//! answers without the caps and opt-outs it could not read, a write is never acknowledged
//! before Redis confirmed it (and `WAIT`ed for replicas when configured). Health is
//! NOT_SERVING while Redis does not answer a PING; the connection manager reconnects by itself.

mod conn;
mod event;
mod keys;
mod load;
mod promote;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwapOption;
use contactscore_models::artifact::Registry;
use contactscore_models::features::PersonState;
use contactscore_models::policy::Policy;
use contactscore_models::rank::{self, Ranking};
use parking_lot::Mutex;
use redis::AsyncCommands;
use tokio::sync::watch;

use self::conn::{Conn, Redis};
use self::event::{Event, Onto};
use super::config::RedisSettings;
use crate::engine::{
    ConsentReport, OutcomeReport, PersonQuery, Recorded, ReloadFailure, Reloaded, Retention,
    Serving, ValidationReport,
};
use crate::error::{Result, ServerError};
use crate::telemetry;

/// One person's fetch: the snapshot, the event hash.
type Person = (Option<Vec<u8>>, HashMap<String, Vec<u8>>);

/// The Redis store.
pub struct RedisStore {
    registry: Registry,
    policy: Policy,
    retention: Retention,
    settings: RedisSettings,
    redis: Redis,
    serving: ArcSwapOption<Serving>,
    reload_lock: tokio::sync::Mutex<()>,
    failure: Mutex<ReloadFailure>,
    loaded: watch::Sender<Option<String>>,
    healthy: watch::Sender<bool>,
    reachable: AtomicBool,
    /// Outcomes recorded through this replica since it started.
    recorded: AtomicU64,
    /// This process's token for the load lock.
    owner: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connect (lazily: a Redis that is down at start-up is retried, health NOT_SERVING until
    /// it answers), open the registry and serve the version Redis holds, loading the promoted
    /// one first if it is not there yet.
    pub async fn open(
        models_dir: &Path,
        policy: Policy,
        retention: Retention,
        settings: RedisSettings,
    ) -> Result<Arc<Self>> {
        let registry = Registry::open(models_dir)?;
        let redis =
            Redis::open(&settings).map_err(|e| ServerError::Config(format!("state.store: {e}")))?;
        tracing::info!(url = %settings.url, cluster = redis.is_cluster(), wait_replicas = settings.wait_replicas, "state store: redis");
        let store = Arc::new(Self {
            registry,
            policy,
            retention,
            settings,
            redis,
            serving: ArcSwapOption::empty(),
            reload_lock: tokio::sync::Mutex::new(()),
            failure: Mutex::new(ReloadFailure::default()),
            loaded: watch::channel(None).0,
            healthy: watch::channel(false).0,
            reachable: AtomicBool::new(false),
            recorded: AtomicU64::new(0),
            owner: format!(
                "{}-{}",
                std::process::id(),
                jiff::Timestamp::now().as_nanosecond()
            ),
        });
        let _ = store.ping().await;
        match store.reload().await {
            Ok(Reloaded::NoVersion) => tracing::warn!(
                models_dir = %models_dir.display(),
                "no promoted model yet; serving NOT_SERVING until one is promoted"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "could not load the promoted model"),
        }
        Ok(store)
    }

    /// The served version, or [`ServerError::NoModel`].
    pub fn current(&self) -> Result<Arc<Serving>> {
        self.serving.load_full().ok_or(ServerError::NoModel)
    }

    /// The contact rules.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The last reload failure.
    pub fn last_failure(&self) -> ReloadFailure {
        self.failure.lock().clone()
    }

    /// Outcomes recorded through this replica since it started (the store-wide count would
    /// cost a round trip to every node).
    pub fn live_outcomes(&self) -> usize {
        usize::try_from(self.recorded.load(Ordering::Relaxed)).unwrap_or(usize::MAX)
    }

    /// `true` while a version is served and Redis answers.
    pub fn health(&self) -> watch::Receiver<bool> {
        self.healthy.subscribe()
    }

    /// A connection (on a cluster: connected on first use; an error while no node answers).
    async fn conn(&self) -> Result<Conn> {
        self.redis.conn().await.map_err(|e| self.unavailable(e))
    }

    /// PING Redis (every primary of a cluster) and update health; `true` when Redis answers
    /// again (or for the first time) after it did not.
    pub async fn ping(&self) -> bool {
        let ok = match self.redis.conn().await {
            Ok(mut c) => redis::cmd("PING").query_async::<String>(&mut c).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &ok
            && self.reachable.load(Ordering::Relaxed)
        {
            tracing::warn!(error = %e, "the state store does not answer");
        }
        self.set_reachable(ok.is_ok())
    }

    /// Record whether Redis answers; `true` on the change to answering.
    fn set_reachable(&self, ok: bool) -> bool {
        let was = self.reachable.swap(ok, Ordering::Relaxed);
        if ok && !was {
            tracing::info!("the state store answers");
        }
        self.publish_health();
        ok && !was
    }

    fn publish_health(&self) {
        let healthy = self.reachable.load(Ordering::Relaxed) && self.serving.load().is_some();
        self.healthy
            .send_if_modified(|h| std::mem::replace(h, healthy) != healthy);
    }

    /// A Redis error as the caller sees it (UNAVAILABLE); health drops until the next PING.
    fn unavailable(&self, e: redis::RedisError) -> ServerError {
        tracing::warn!(error = %e, "state store call failed");
        if e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
        {
            let _ = self.set_reachable(false);
        }
        ServerError::StoreUnavailable(e.to_string())
    }

    fn onto<'a>(serving: &'a Serving) -> Onto<'a> {
        Onto {
            version: &serving.version,
            cutoff: serving.snapshot_cutoff.unwrap_or(i64::MIN),
            evidence: &serving.evidence,
        }
    }

    /// The person's state in `serving`'s version, then the fold. `None` = unknown person.
    ///
    /// On one node, one atomic round trip: the version's completion marker, the snapshot, the
    /// events. On a cluster the marker is in another slot than the person: the snapshot and
    /// events first (one atomic round trip to the person's node), then the marker. The unlink
    /// deletes the marker before any snapshot key, so a marker still there after the read
    /// proves the snapshot read was not cut short by a clean-up.
    async fn fetch(&self, serving: &Serving, person_id: &str) -> Result<Option<PersonState>> {
        let tag = keys::tag(person_id);
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        if !conn.is_cluster() {
            pipe.get(keys::loaded(&serving.version));
        }
        pipe.get(keys::snapshot(&tag, &serving.version))
            .hgetall(keys::events(&tag));
        let (marker, (snapshot, events)) = if conn.is_cluster() {
            let person: Person = pipe
                .query_async(&mut conn)
                .await
                .map_err(|e| self.unavailable(e))?;
            (self.marker(&mut conn, serving).await?, person)
        } else {
            let (marker, snapshot, events): (Option<String>, _, _) = pipe
                .query_async(&mut conn)
                .await
                .map_err(|e| self.unavailable(e))?;
            (marker.is_some(), (snapshot, events))
        };
        if !marker {
            return Err(self.unloaded(serving));
        }
        let snapshot = snapshot.map(|b| event::decode_snapshot(&b)).transpose()?;
        let events = decode_events(events.into_values());
        let skeleton = serving.state.read();
        Ok(event::fold(
            &skeleton,
            snapshot,
            events,
            &Self::onto(serving),
        ))
    }

    /// Whether `serving`'s version is still loaded (its completion marker is there).
    async fn marker(&self, conn: &mut Conn, serving: &Serving) -> Result<bool> {
        let n: Option<String> = conn
            .get(keys::loaded(&serving.version))
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(n.is_some())
    }

    /// The served version's keys are being unlinked: never rank without the snapshot's rules.
    fn unloaded(&self, serving: &Serving) -> ServerError {
        tracing::warn!(version = %serving.version, "the served version is no longer loaded in the state store");
        ServerError::StoreUnavailable(format!(
            "version {} is no longer loaded in the state store; this replica switches on its next poll",
            serving.version
        ))
    }

    /// Several persons' states (PlanCampaign): per chunk of 1 000, each person's snapshot and
    /// events (one atomic group per person, `conn.rs`), then the marker (as in [`Self::fetch`]).
    pub async fn fetch_many(
        &self,
        serving: &Serving,
        ids: &[String],
    ) -> Result<Vec<Option<PersonState>>> {
        let mut out = Vec::with_capacity(ids.len());
        let mut conn = self.conn().await?;
        for chunk in ids.chunks(1_000) {
            let groups = chunk
                .iter()
                .map(|id| {
                    let tag = keys::tag(id);
                    let mut pipe = redis::pipe();
                    pipe.atomic()
                        .get(keys::snapshot(&tag, &serving.version))
                        .hgetall(keys::events(&tag));
                    pipe
                })
                .collect();
            let values = conn.groups(groups).await.map_err(|e| self.unavailable(e))?;
            if !self.marker(&mut conn, serving).await? {
                return Err(self.unloaded(serving));
            }
            let skeleton = serving.state.read();
            for person in values {
                let (snapshot, events): Person =
                    redis::from_redis_value(redis::Value::Array(person))
                        .map_err(|e| self.unavailable(e.into()))?;
                let snapshot = snapshot.map(|b| event::decode_snapshot(&b)).transpose()?;
                out.push(event::fold(
                    &skeleton,
                    snapshot,
                    decode_events(events.into_values()),
                    &Self::onto(serving),
                ));
            }
        }
        Ok(out)
    }

    /// Rank for one person on `serving`.
    pub async fn rank(&self, serving: &Serving, q: PersonQuery) -> Result<Ranking> {
        let person = self.fetch(serving, &q.person_id).await?;
        if person.is_none() && q.query.contacts.is_none() {
            return Err(ServerError::NotFound(
                "person_id: no contact points known for this person; pass them in contacts".into(),
            ));
        }
        let person = person.unwrap_or_default();
        let skeleton = serving.state.read();
        Ok(rank::rank_person(
            &skeleton,
            &person,
            &serving.model,
            &self.policy,
            &q.query,
        ))
    }

    /// After a write to the keys `written`: `WAIT` for the configured replicas (on a cluster,
    /// on the nodes holding those keys: `conn.rs`); fewer in time is an error (the write is not
    /// acknowledged, and a retry is idempotent).
    async fn wait_replicas(&self, conn: &Conn, written: &[&str]) -> Result<()> {
        let n = self.settings.wait_replicas;
        if n == 0 {
            return Ok(());
        }
        // Half the call timeout: the answer (fewer replicas) must come before the call times
        // out. Never 0, which would make WAIT block for good.
        let timeout = u64::try_from(self.settings.timeout.as_millis() / 2)
            .unwrap_or(u64::MAX)
            .max(1);
        let got = conn
            .wait(n, timeout, written)
            .await
            .map_err(|e| self.unavailable(e))?;
        if got < n {
            tracing::warn!(
                got,
                wanted = n,
                "a write did not reach redis_wait_replicas replicas in time"
            );
            return Err(ServerError::StoreUnavailable(format!(
                "the write reached {got} of {n} Redis replicas in time (redis_wait_replicas); retry"
            )));
        }
        Ok(())
    }

    /// Record outcomes: one `HSETNX` each into the person's event hash, pipelined; answered
    /// once Redis confirmed them (and the replicas, with `redis_wait_replicas`).
    pub async fn record(&self, outcomes: Vec<OutcomeReport>) -> Result<Recorded> {
        if outcomes.is_empty() {
            return Ok(Recorded::default());
        }
        let serving = self.current()?;
        let now_us = jiff::Timestamp::now().as_microsecond();
        let mut groups = Vec::with_capacity(outcomes.len());
        let mut written = Vec::with_capacity(outcomes.len());
        for (i, o) in outcomes.into_iter().enumerate() {
            let e = Event::Outcome {
                attempt_id: o.attempt_id,
                contact: o.contact,
                channel: o.channel,
                at: o.at,
                outcome: o.outcome,
                recorded_on: serving.version.clone(),
                recorded_us: now_us.saturating_add(i64::try_from(i).unwrap_or(0)),
                duration_seconds: o.duration_seconds,
                campaign: o.campaign,
            };
            let json = e.encode()?;
            let key = keys::events(&keys::tag(&o.person_id));
            let mut pipe = redis::pipe();
            pipe.hset_nx(&key, e.field(&json), json);
            groups.push(pipe);
            written.push(key);
        }
        let conn = self.conn().await?;
        let replies = conn.groups(groups).await.map_err(|e| self.unavailable(e))?;
        let fresh = replies
            .into_iter()
            .map(|r| redis::from_redis_value::<(bool,)>(redis::Value::Array(r)).map(|(f,)| f))
            .collect::<std::result::Result<Vec<bool>, _>>()
            .map_err(|e| self.unavailable(e.into()))?;
        let written: Vec<&str> = written.iter().map(String::as_str).collect();
        self.wait_replicas(&conn, &written).await?;
        let recorded = fresh.iter().filter(|f| **f).count() as u64;
        self.recorded.fetch_add(recorded, Ordering::Relaxed);
        telemetry::outcomes_recorded(recorded);
        Ok(Recorded {
            recorded,
            duplicates: fresh.len() as u64 - recorded,
        })
    }

    /// Record a re-consent; returns whether it lifted an opt-out now.
    pub async fn consent(&self, c: ConsentReport) -> Result<bool> {
        let serving = self.current()?;
        let lifted = self
            .fetch(&serving, &c.person_id)
            .await?
            .is_some_and(|mut p| p.lift_opt_out(&c.contact.key, c.channel, c.at));
        let e = Event::Consent {
            contact: c.contact.key,
            channel: c.channel,
            at: c.at,
        };
        let json = e.encode()?;
        let key = keys::events(&keys::tag(&c.person_id));
        let mut conn = self.conn().await?;
        let _: i64 = conn
            .hset(&key, e.field(&json), json)
            .await
            .map_err(|e| self.unavailable(e))?;
        self.wait_replicas(&conn, &[&key]).await?;
        Ok(lifted)
    }

    /// Record a carrier validation; `false` for an exact repeat.
    pub async fn validate(&self, v: ValidationReport) -> Result<bool> {
        let e = Event::Validation {
            validation: contactscore_models::Validation {
                at: v.at,
                status: v.status,
                line_type: v.line_type,
                ported: v.ported,
            },
            contact: v.contact,
            carrier: v.carrier,
        };
        let json = e.encode()?;
        let key = keys::events(&keys::tag(&v.person_id));
        let mut conn = self.conn().await?;
        let fresh: bool = conn
            .hset_nx(&key, e.field(&json), json)
            .await
            .map_err(|e| self.unavailable(e))?;
        self.wait_replicas(&conn, &[&key]).await?;
        Ok(fresh)
    }

    /// Erase the person: the tag joins the erasure set first (a bulk load running now drops
    /// the person when it finishes), then every key of the person in every version goes (one
    /// pipeline: they share the person's slot).
    pub async fn forget(&self, person_id: &str) -> Result<bool> {
        let tag = keys::tag(person_id);
        let mut conn = self.conn().await?;
        let _: i64 = conn
            .sadd(keys::ERASURES, &tag)
            .await
            .map_err(|e| self.unavailable(e))?;
        let mut versions: Vec<String> = conn
            .smembers(keys::VERSIONS)
            .await
            .map_err(|e| self.unavailable(e))?;
        if let Some(s) = self.serving.load().as_ref() {
            versions.push(s.version.clone());
        }
        let events = keys::events(&tag);
        let mut pipe = redis::pipe();
        pipe.del(&events);
        for v in &versions {
            pipe.del(keys::snapshot(&tag, v));
        }
        let removed: Vec<i64> = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| self.unavailable(e))?;
        self.wait_replicas(&conn, &[keys::ERASURES, &events])
            .await?;
        Ok(removed.iter().any(|n| *n > 0))
    }
}

/// Decode event values; one that does not decode is logged and skipped (never its content).
fn decode_events(values: impl Iterator<Item = Vec<u8>>) -> Vec<Event> {
    values
        .filter_map(|v| match Event::decode(&v) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::error!(error = %e, "skipping an undecodable live event");
                None
            }
        })
        .collect()
}
