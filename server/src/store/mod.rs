//! Where the live state is kept: the local state directory ([`Engine`], the default: one
//! process, nothing to install) or a Redis shared by several replicas ([`RedisStore`]). The
//! handlers call this one façade; each call goes to the store the configuration chose.
//!
//! An enum rather than a trait object: two stores, each call a plain `match` the compiler
//! checks, no boxed futures, and a third store makes every place to extend a compile error.

pub mod config;
mod redis;
mod tls;

use std::sync::Arc;

use contactscore_models::features::PersonState;
use contactscore_models::policy::Policy;
use contactscore_models::rank::Ranking;
use tokio::sync::watch;
use tokio_stream::{Stream, StreamExt};

pub use self::config::{RedisSettings, StateConfig, StoreSettings};
pub use self::redis::RedisStore;
use crate::config::Settings;
use crate::engine::{
    ConsentReport, Engine, OutcomeReport, PersonQuery, RECORD_BATCH, Recorded, ReloadFailure,
    Reloaded, Serving, ValidationReport,
};
use crate::error::{Result, ServerError};

/// The live state's store.
#[derive(Debug, Clone)]
pub enum Store {
    /// The local state directory.
    Local(Arc<Engine>),
    /// A shared Redis.
    Redis(Arc<RedisStore>),
}

impl Store {
    /// Open the store the settings name and load the promoted version.
    pub async fn open(settings: &Settings) -> Result<Self> {
        Ok(match &settings.store {
            StoreSettings::Local => Store::Local(
                Engine::open(
                    &settings.models_dir,
                    &settings.state_dir,
                    settings.policy.clone(),
                    settings.retention,
                )
                .await?,
            ),
            StoreSettings::Redis(r) => Store::Redis(
                RedisStore::open(
                    &settings.models_dir,
                    settings.policy.clone(),
                    settings.retention,
                    r.clone(),
                )
                .await?,
            ),
        })
    }

    /// The served version, or [`ServerError::NoModel`].
    pub fn current(&self) -> Result<Arc<Serving>> {
        match self {
            Store::Local(e) => e.current(),
            Store::Redis(r) => r.current(),
        }
    }

    /// The contact rules.
    pub fn policy(&self) -> &Policy {
        match self {
            Store::Local(e) => e.policy(),
            Store::Redis(r) => r.policy(),
        }
    }

    /// The last reload failure.
    pub fn last_failure(&self) -> ReloadFailure {
        match self {
            Store::Local(e) => e.last_failure(),
            Store::Redis(r) => r.last_failure(),
        }
    }

    /// Live outcomes (local: held in the journal; Redis: recorded through this replica).
    pub fn live_outcomes(&self) -> usize {
        match self {
            Store::Local(e) => e.live_outcomes(),
            Store::Redis(r) => r.live_outcomes(),
        }
    }

    /// Check for a newly promoted version now.
    pub async fn reload(&self) -> Result<Reloaded> {
        match self {
            Store::Local(e) => e.reload().await,
            Store::Redis(r) => r.reload().await,
        }
    }

    /// Rank one person on `serving`.
    pub async fn rank(&self, serving: &Serving, q: PersonQuery) -> Result<Ranking> {
        match self {
            Store::Local(e) => e.rank(serving, q),
            Store::Redis(r) => r.rank(serving, q).await,
        }
    }

    /// Record outcomes (durable before it answers; idempotent on `attempt_id`).
    pub async fn record(&self, outcomes: Vec<OutcomeReport>) -> Result<Recorded> {
        match self {
            Store::Local(e) => e.record(outcomes).await,
            Store::Redis(r) => r.record(outcomes).await,
        }
    }

    /// Record a stream of validated outcomes in order, in batches of [`RECORD_BATCH`].
    ///
    /// The stream stops at its first error (a message that did not validate, the client's
    /// stream failing): the messages before it are recorded first, then the error is returned
    /// as [`ServerError::StreamStopped`] saying how many messages are recorded, so the client
    /// can resend from there. A batch that fails to be written stops the stream the same way,
    /// at the batch's first message.
    pub async fn record_stream(
        &self,
        messages: impl Stream<Item = Result<OutcomeReport>>,
    ) -> Result<Recorded> {
        let mut messages = std::pin::pin!(messages);
        let mut total = Recorded::default();
        let mut batch = Vec::with_capacity(RECORD_BATCH);
        let stopped = |total: Recorded, error: ServerError| ServerError::StreamStopped {
            error: Box::new(error),
            resume_from: total.recorded + total.duplicates,
            recorded: total.recorded,
            duplicates: total.duplicates,
        };
        loop {
            let (stop, end) = match messages.next().await {
                Some(Ok(o)) => {
                    batch.push(o);
                    (None, false)
                }
                Some(Err(e)) => (Some(e), false),
                None => (None, true),
            };
            if !batch.is_empty() && (batch.len() >= RECORD_BATCH || stop.is_some() || end) {
                match self.record(std::mem::take(&mut batch)).await {
                    Ok(c) => {
                        total.recorded += c.recorded;
                        total.duplicates += c.duplicates;
                    }
                    Err(e) => return Err(stopped(total, e)),
                }
            }
            if let Some(e) = stop {
                return Err(stopped(total, e));
            }
            if end {
                return Ok(total);
            }
        }
    }

    /// Erase a person everywhere; whether anything was held.
    pub async fn forget(&self, person_id: &str) -> Result<bool> {
        match self {
            Store::Local(e) => e.forget(person_id).await,
            Store::Redis(r) => r.forget(person_id).await,
        }
    }

    /// Record a re-consent; whether it lifted an opt-out now.
    pub async fn consent(&self, c: ConsentReport) -> Result<bool> {
        match self {
            Store::Local(e) => e.consent(c).await,
            Store::Redis(r) => r.consent(c).await,
        }
    }

    /// Record a carrier validation; `false` for a repeat.
    pub async fn validate(&self, v: ValidationReport) -> Result<bool> {
        match self {
            Store::Local(e) => e.validate(v).await,
            Store::Redis(r) => r.validate(v).await,
        }
    }

    /// The listed persons' states for a plan when they live outside the served state (Redis);
    /// `None` for the local store, whose plan copies them from the served state itself.
    pub async fn plan_states(
        &self,
        serving: &Serving,
        ids: &[String],
    ) -> Result<Option<Vec<Option<PersonState>>>> {
        match self {
            Store::Local(_) => Ok(None),
            Store::Redis(r) => r.fetch_many(serving, ids).await.map(Some),
        }
    }

    /// `true` while the server can answer: a version is served (and, for Redis, Redis answers).
    pub fn health(&self) -> watch::Receiver<bool> {
        match self {
            Store::Local(e) => {
                let mut loaded = e.watch_loaded();
                let (tx, rx) = watch::channel(loaded.borrow_and_update().is_some());
                tokio::spawn(async move {
                    while loaded.changed().await.is_ok() {
                        let serving = loaded.borrow_and_update().is_some();
                        if tx.send(serving).is_err() {
                            return;
                        }
                    }
                });
                rx
            }
            Store::Redis(r) => r.health(),
        }
    }

    /// Background work: poll for promoted versions every `every`; for Redis also PING it every
    /// second (health), and poll at once when it answers again with no version served yet (a
    /// replica started while Redis was down serves as soon as Redis is up).
    pub fn spawn_background(&self, every: std::time::Duration) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                // Failures are logged, counted and kept for GetModelInfo by the store.
                let _ = store.reload().await;
            }
        });
        if let Store::Redis(r) = self {
            let r = Arc::clone(r);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if r.ping().await && r.current().is_err() {
                        // Failures are logged, counted and kept for GetModelInfo by the store.
                        let _ = r.reload().await;
                    }
                }
            });
        }
    }
}
