//! The serving engine: the loaded model version with its live feature state, the durable
//! journal of live outcomes, the erasure list, re-consents and carrier validations, and hot
//! reload. gRPC handlers call into it after
//! validating and converting their requests; it knows nothing of protobuf.
//!
//! Concurrency: the served version sits in an `ArcSwap`, so a Rank takes a reference and is
//! never failed or blocked by a reload. Recording takes a shared *gate*; a reload (while it
//! replays the journal onto the new snapshot and swaps) and an erasure take it exclusively, so
//! an outcome is applied exactly once to whichever state ends up served.
//!
//! Once a version is live, outcomes its snapshot covers by more than the [`Retention`] window
//! are retired from the journal (their ids are kept as digests for idempotency), so the
//! journal, its memory and the start-up replay stay bounded however long the server runs.
//! Contact-rule evidence (opt-out, wrong party, invalid) is replayed onto every version whose
//! export does not provably contain it, and kept until it can no longer matter ([`replay`]).

mod consent;
mod erasure;
mod input;
mod journal;
mod lines;
mod load;
mod record;
mod replay;
mod retired_ids;
mod retirement;
mod state_dir;
mod validation;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use arc_swap::ArcSwapOption;
use contactscore_models::ContactNormalizer;
use contactscore_models::artifact::manifest::Manifest;
use contactscore_models::artifact::registry::CURRENT;
use contactscore_models::artifact::{Registry, RuleEvidence};
use contactscore_models::durable::DirLock;
use contactscore_models::features::FeatureState;
use contactscore_models::localtime::Zones;
use contactscore_models::model::ResponseModel;
use contactscore_models::policy::Policy;
use contactscore_models::rank::{self, RankQuery, Ranking};
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

pub use input::{ConsentReport, OutcomeReport, ValidationReport};
pub(crate) use load::{load_skeleton, load_version, warm_normalizer};
pub use record::{RECORD_BATCH, Recorded};

use crate::error::{Result, ServerError};
use crate::telemetry;
use consent::Consents;
use erasure::Erasures;
use journal::{Journal, LiveOutcome};
use retired_ids::RetiredIds;
pub use retirement::Retention;
use validation::Validations;

/// One loaded model version and the feature state kept live on top of its snapshot.
#[derive(Debug)]
pub struct Serving {
    /// Version id.
    pub version: String,
    /// Its manifest.
    pub manifest: Manifest,
    /// The model.
    pub model: ResponseModel,
    /// Normaliser with the model's default region.
    pub normalizer: ContactNormalizer,
    /// Snapshot plus live outcomes.
    pub state: RwLock<FeatureState>,
    /// A frozen copy of the state's zone table, which holds every zone of the time-zone database
    /// ([`Zones::intern_all_known`]): requests resolve their zones here, never interning into the
    /// state, so a read-only Rank never takes the state's write lock. Ids are never reassigned,
    /// so the ids found here are the state's.
    pub zones: Zones,
    /// When it went live (unix seconds).
    pub loaded_at: i64,
    /// Live outcomes applied on top of the snapshot.
    pub live_applied: AtomicU64,
    /// Latest attempt in the snapshot as loaded (its training cutoff), before live outcomes.
    pub snapshot_cutoff: Option<i64>,
    /// The contact-rule evidence the version's export held (the Redis store's fold reads it).
    pub evidence: RuleEvidence,
    /// Persons of the version held outside `state` (the Redis store, where `state` is only the
    /// version's skeleton); `None` when `state` holds them.
    pub persons_in_store: Option<u64>,
}

/// The last reload attempt's failure, if it failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadFailure {
    /// The version that failed to load (empty when the last reload succeeded).
    pub version: String,
    /// Why.
    pub error: String,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reloaded {
    /// No version is promoted yet.
    NoVersion,
    /// The promoted version is already served.
    Unchanged(String),
    /// A new version went live.
    Switched(String),
}

/// A Rank for one person: who, and the models crate's query, built once by `convert` (zones
/// already resolved to ids with [`Serving::zones`]); [`Engine::rank`] fills in the person's slot.
#[derive(Debug, Clone)]
pub struct PersonQuery {
    /// The person.
    pub person_id: String,
    /// What to rank (`slot` is ignored: the engine looks the person up).
    pub query: RankQuery,
}

/// Live outcomes and their ids (the idempotency set).
#[derive(Debug, Default)]
struct Live {
    records: Vec<LiveOutcome>,
    seen: HashSet<String>,
    /// Ids in `seen` whose journal write is still in flight, with a receiver that turns `true`
    /// once the outcome is durable (and closes without turning `true` if the write failed).
    pending: HashMap<String, watch::Receiver<bool>>,
    /// Ids of outcomes retired from the journal (digest → attempt instant).
    retired: RetiredIds,
}

/// The engine.
#[derive(Debug)]
pub struct Engine {
    registry: Registry,
    policy: Policy,
    retention: Retention,
    serving: ArcSwapOption<Serving>,
    gate: Arc<tokio::sync::RwLock<()>>,
    live: Mutex<Live>,
    journal: Journal,
    erasures: Mutex<Erasures>,
    consents: Mutex<Consents>,
    /// Serialises appends to the consents file.
    consent_file: tokio::sync::Mutex<()>,
    validations: Mutex<Validations>,
    /// Serialises appends to the validations file.
    validation_file: tokio::sync::Mutex<()>,
    reload_lock: tokio::sync::Mutex<()>,
    failure: Mutex<ReloadFailure>,
    loaded: watch::Sender<Option<String>>,
    /// The state directory's lock, held for the engine's life.
    _lock: DirLock,
}

impl Engine {
    /// Take the state directory (private, locked: see [`state_dir`]), open the registry and load
    /// the promoted version, if any.
    pub async fn open(
        models_dir: &Path,
        state_dir: &Path,
        policy: Policy,
        retention: Retention,
    ) -> Result<Arc<Self>> {
        let lock = state_dir::take(state_dir)?;
        let registry = Registry::open(models_dir)?;
        let (journal, records) = Journal::open(state_dir)?;
        let retired = retired_ids::read(state_dir)?;
        let erasures = Erasures::open(state_dir)?;
        let consents = Consents::open(state_dir)?;
        let validations = Validations::open(state_dir)?;
        let seen = records.iter().map(|r| r.attempt_id.clone()).collect();
        tracing::info!(
            live_outcomes = records.len(),
            retired_ids = retired.len(),
            erasures = erasures.len(),
            consents = consents.len(),
            validations = validations.len(),
            state_dir = %state_dir.display(),
            "state directory opened"
        );
        let engine = Arc::new(Self {
            registry,
            policy,
            retention,
            serving: ArcSwapOption::empty(),
            gate: Arc::new(tokio::sync::RwLock::new(())),
            live: Mutex::new(Live {
                records,
                seen,
                pending: HashMap::new(),
                retired,
            }),
            journal,
            erasures: Mutex::new(erasures),
            consents: Mutex::new(consents),
            consent_file: tokio::sync::Mutex::new(()),
            validations: Mutex::new(validations),
            validation_file: tokio::sync::Mutex::new(()),
            reload_lock: tokio::sync::Mutex::new(()),
            failure: Mutex::new(ReloadFailure::default()),
            loaded: watch::channel(None).0,
            _lock: lock,
        });
        match engine.reload().await {
            Ok(Reloaded::NoVersion) => tracing::warn!(
                models_dir = %models_dir.display(),
                "no promoted model yet; serving NOT_SERVING until one is promoted"
            ),
            Ok(_) => {}
            // Keep running: the next promoted version may load; health says NOT_SERVING.
            Err(e) => tracing::error!(error = %e, "could not load the promoted model"),
        }
        Ok(engine)
    }

    /// The served version, or [`ServerError::NoModel`].
    pub fn current(&self) -> Result<Arc<Serving>> {
        self.serving.load_full().ok_or(ServerError::NoModel)
    }

    /// The contact rules (PlanCampaign applies them to its own copies of the states).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Watch the served version (for the health service).
    pub fn watch_loaded(&self) -> watch::Receiver<Option<String>> {
        self.loaded.subscribe()
    }

    /// The last reload failure (empty when the last reload succeeded).
    pub fn last_failure(&self) -> ReloadFailure {
        self.failure.lock().clone()
    }

    /// Live outcomes held in the journal.
    pub fn live_outcomes(&self) -> usize {
        self.live.lock().records.len()
    }

    /// Switch to the promoted version if it is not the one served. On failure the served
    /// version stays, and the failure is kept for `GetModelInfo`, logged and counted; it is
    /// cleared once the promoted version is served again (switched to, or `CURRENT` pointed back
    /// to the served one). A `CURRENT` that names no version while one is served keeps it
    /// serving and says so in the failure.
    pub async fn reload(&self) -> Result<Reloaded> {
        let _one_at_a_time = self.reload_lock.lock().await;
        let served = self.serving.load().as_ref().map(|s| s.version.clone());
        let Some(version) = self.registry.current()? else {
            if let Some(served) = served {
                *self.failure.lock() = ReloadFailure {
                    version: String::new(),
                    error: format!(
                        "{CURRENT} names no version (empty or missing); keeping {served} served"
                    ),
                };
            }
            return Ok(Reloaded::NoVersion);
        };
        if served.as_deref() == Some(version.as_str()) {
            *self.failure.lock() = ReloadFailure::default();
            return Ok(Reloaded::Unchanged(version));
        }
        match self.switch_to(&version).await {
            Ok(()) => {
                *self.failure.lock() = ReloadFailure::default();
                telemetry::reload("ok");
                // Still under the reload lock: the version cannot change while retiring.
                self.retire_covered().await;
                Ok(Reloaded::Switched(version))
            }
            Err(e) => {
                tracing::error!(%version, error = %e, "model reload failed; keeping the served version");
                *self.failure.lock() = ReloadFailure {
                    version: version.clone(),
                    error: e.to_string(),
                };
                telemetry::reload("error");
                Err(e)
            }
        }
    }

    async fn switch_to(&self, version: &str) -> Result<()> {
        let started = std::time::Instant::now();
        let loaded = load_version(&self.registry, version).await?;
        let normalizer = warm_normalizer(&loaded.manifest.serving.default_region)?;
        let mut state = loaded.state;
        let unloadable_zones = state.zones.intern_all_known();
        if unloadable_zones > 0 {
            tracing::warn!(
                unloadable_zones,
                "some zones of the time-zone database could not be loaded; requests naming them \
                 are answered as naming an unknown zone"
            );
        }
        // Erasures first, outside the gate (hashing every id takes a while on big states).
        let (generation, erased) = {
            let er = self.erasures.lock();
            let n = if er.is_empty() {
                0
            } else {
                state.forget_where(|id| er.contains(id))
            };
            (er.generation(), n)
        };
        let cutoff = state.cutoff.unwrap_or(i64::MIN);
        let _exclusive = self.gate.write().await;
        for id in self.erasures.lock().since(generation) {
            state.forget(id);
        }
        let replayed = replay::replay(
            &mut state,
            &self.live.lock().records,
            &replay::Onto {
                version,
                cutoff,
                evidence: &loaded.evidence,
                normalizer: &normalizer,
            },
        )?;
        // Carrier validations recorded live, then re-consents last: they lift opt-outs from the
        // snapshot and the replay alike.
        let validations_applied = self.validations.lock().apply_all(&mut state, &normalizer);
        let consents_applied = self.consents.lock().apply_all(&mut state);
        let persons = state.len();
        let rule_evidence_in_export = loaded.evidence.len();
        let zones = state.zones.clone();
        let serving = Serving {
            version: version.to_owned(),
            manifest: loaded.manifest,
            model: loaded.model,
            normalizer,
            state: RwLock::new(state),
            zones,
            loaded_at: jiff::Timestamp::now().as_second(),
            live_applied: AtomicU64::new(replayed.outcomes),
            snapshot_cutoff: (cutoff != i64::MIN).then_some(cutoff),
            evidence: loaded.evidence,
            persons_in_store: None,
        };
        let previous = self
            .serving
            .swap(Some(Arc::new(serving)))
            .map(|s| s.version.clone());
        drop(_exclusive);
        self.loaded.send_replace(Some(version.to_owned()));
        telemetry::model_loaded(previous.as_deref(), version, persons);
        tracing::info!(
            %version,
            persons,
            erased,
            replayed_live_outcomes = replayed.outcomes,
            late_rule_evidence = replayed.late_evidence,
            rule_evidence_in_export,
            consents_applied,
            validations_applied,
            seconds = started.elapsed().as_secs_f64(),
            "model version live"
        );
        Ok(())
    }

    /// Rank for one person on the served version `serving`, under one read lock of its state.
    pub fn rank(&self, serving: &Serving, q: PersonQuery) -> Result<Ranking> {
        let PersonQuery {
            person_id,
            mut query,
        } = q;
        let st = serving.state.read();
        query.slot = st.slot(&person_id);
        if query.slot.is_none() && query.contacts.is_none() {
            return Err(ServerError::NotFound(
                "person_id: no contact points known for this person; pass them in contacts".into(),
            ));
        }
        Ok(rank::rank(&st, &serving.model, &self.policy, &query))
    }
}
