//! Recording outcomes (durable, idempotent on `attempt_id`, applied to the served state), one
//! at a time or as a stream in batches, re-consents, and erasing persons (carrier validations
//! are recorded in `validation.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use contactscore_models::{Contact, Outcome};
use tokio::sync::watch;

use super::consent::{self, Consent};
use super::input::{ConsentReport, OutcomeReport};
use super::journal::LiveOutcome;
use super::{Engine, Serving, retired_ids};
use crate::error::{Result, ServerError};
use crate::telemetry;

/// An outcome on its way to the journal: the record plus its normalised contact.
#[derive(Debug, Clone)]
pub(super) struct ValidOutcome {
    /// The record (its `recorded_on` is filled in when recorded).
    pub record: LiveOutcome,
    /// The normalised contact.
    pub contact: Contact,
}

/// The outcomes of one record call, sorted by [`Engine::claim`].
struct Claim {
    /// Newly claimed: to be written.
    fresh: Vec<ValidOutcome>,
    /// Copies of ids whose write is in flight, with that write's durability signal.
    waits: Vec<(watch::Receiver<bool>, ValidOutcome)>,
    /// Copies of ids already durable.
    duplicates: u64,
    /// Turns `true` once `fresh` is durable.
    done: watch::Sender<bool>,
}

/// Settles claimed ids however the write ends (success, error or panic): no longer pending;
/// durable ones stay seen and wake their waiters with `true`, failed ones are unclaimed so that a
/// retry records them.
struct Settle<'a> {
    engine: &'a Engine,
    ids: Vec<String>,
    done: watch::Sender<bool>,
    durable: bool,
}

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        let mut live = self.engine.live.lock();
        for id in &self.ids {
            live.pending.remove(id);
            if !self.durable {
                live.seen.remove(id);
            }
        }
        if self.durable {
            self.done.send_replace(true);
        }
    }
}

/// What a record call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Newly recorded.
    pub recorded: u64,
    /// Already recorded before (same attempt id).
    pub duplicates: u64,
}

/// A stream of outcomes is made durable in batches of this size (one group commit each;
/// `store::Store::record_stream` batches it).
pub const RECORD_BATCH: usize = 512;

impl Engine {
    /// Record `outcomes` durably and apply them to the served state. Returns once they are
    /// fsynced; outcomes whose `attempt_id` was already recorded change nothing.
    ///
    /// "Already recorded" is only answered once the earlier copy is durable: a copy of an id
    /// whose write is still in flight waits for it, and is recorded itself if that write fails.
    /// The write runs in its own task, so a caller that goes away (a cancelled RPC) cannot leave
    /// an id marked as seen without its outcome written and applied.
    pub async fn record(self: &Arc<Self>, outcomes: Vec<OutcomeReport>) -> Result<Recorded> {
        let mut counts = Recorded::default();
        let mut todo: Vec<ValidOutcome> = outcomes.into_iter().map(ValidOutcome::from).collect();
        while !todo.is_empty() {
            // Held until the write is done: a reload cannot swap versions in between.
            let gate = Arc::clone(&self.gate).read_owned().await;
            let serving = self.current()?;
            let claim = self.claim(todo, &serving.version);
            counts.duplicates += claim.duplicates;
            if !claim.fresh.is_empty() {
                let engine = Arc::clone(self);
                let (fresh, done) = (claim.fresh, claim.done);
                let task = tokio::spawn(async move {
                    let _gate = gate;
                    engine.commit(fresh, done, &serving).await
                });
                counts.recorded += task
                    .await
                    .map_err(|e| ServerError::Internal(format!("outcome recording task: {e}")))??;
            } else {
                drop(gate);
            }
            todo = Vec::new();
            for (mut durable, o) in claim.waits {
                if durable.wait_for(|d| *d).await.is_ok() {
                    counts.duplicates += 1;
                } else {
                    // The earlier copy's write failed: this copy is the outcome now.
                    todo.push(o);
                }
            }
        }
        Ok(counts)
    }

    /// Sort `outcomes` into fresh ones (claimed: marked seen and pending), copies of ids whose
    /// write is in flight (to wait for), and duplicates of durable ones.
    fn claim(&self, outcomes: Vec<ValidOutcome>, version: &str) -> Claim {
        let (done, durable) = watch::channel(false);
        let mut claim = Claim {
            fresh: Vec::with_capacity(outcomes.len()),
            waits: Vec::new(),
            duplicates: 0,
            done,
        };
        let mut live = self.live.lock();
        for mut o in outcomes {
            let id = &o.record.attempt_id;
            if let Some(pending) = live.pending.get(id) {
                claim.waits.push((pending.clone(), o));
            } else if !live.retired.is_empty()
                && live.retired.contains_key(&retired_ids::digest(id))
            {
                // Recorded long ago; its record has been retired into the snapshot.
                claim.duplicates += 1;
            } else if live.seen.insert(id.clone()) {
                live.pending.insert(id.clone(), durable.clone());
                version.clone_into(&mut o.record.recorded_on);
                claim.fresh.push(o);
            } else {
                claim.duplicates += 1;
            }
        }
        claim
    }

    /// Write claimed outcomes to the journal, then apply them to `serving`'s state. Returns how
    /// many were recorded.
    async fn commit(
        &self,
        fresh: Vec<ValidOutcome>,
        done: watch::Sender<bool>,
        serving: &Serving,
    ) -> Result<u64> {
        let records: Vec<LiveOutcome> = fresh.iter().map(|o| o.record.clone()).collect();
        let mut settle = Settle {
            engine: self,
            ids: records.iter().map(|r| r.attempt_id.clone()).collect(),
            done,
            durable: false,
        };
        self.journal.append(&records).await?;
        settle.durable = true;
        let total = records.len() as u64;
        self.live.lock().records.extend(records);
        {
            let mut st = serving.state.write();
            for o in &fresh {
                let r = &o.record;
                let slot = st.slot_or_insert(&r.person_id);
                st.apply(slot, &o.contact, r.channel, r.at, r.outcome)?;
                // An opt-out dated before a recorded re-consent stays lifted.
                if r.outcome == Outcome::OptOut
                    && let Some(at) =
                        self.consents
                            .lock()
                            .latest(&r.person_id, &r.contact, r.channel)
                {
                    st.lift_opt_out(slot, &r.contact, r.channel, at);
                }
            }
            telemetry::state_persons(st.len());
        }
        serving.live_applied.fetch_add(total, Ordering::Relaxed);
        telemetry::outcomes_recorded(total);
        Ok(total)
    }

    /// Record re-consent durably and lift the opt-out it covers in the served state (see
    /// [`super::consent`]). Returns whether an opt-out was lifted now. Runs in its own task, so
    /// a caller that goes away cannot leave a durable consent unapplied.
    pub async fn consent(self: &Arc<Self>, c: ConsentReport) -> Result<bool> {
        let engine = Arc::clone(self);
        tokio::spawn(async move { engine.consent_now(c.into()).await })
            .await
            .map_err(|e| ServerError::Internal(format!("consent task: {e}")))?
    }

    async fn consent_now(&self, c: Consent) -> Result<bool> {
        // Shared gate: a reload applies every consent recorded before it swaps, and an erasure
        // (which rewrites the file) waits.
        let _gate = self.gate.read().await;
        let serving = self.current()?;
        {
            // The fsync runs off the async workers and outside the consents map's lock, which
            // recording takes under the state's write lock.
            let _one_writer = self.consent_file.lock().await;
            let path = self.consents.lock().path().to_owned();
            let line = c.clone();
            tokio::task::spawn_blocking(move || consent::append(&path, &line))
                .await
                .map_err(|e| ServerError::Internal(format!("consent write task: {e}")))??;
        }
        let (person_id, contact, channel, at) =
            (c.person_id.clone(), c.contact.clone(), c.channel, c.at);
        self.consents.lock().note(c);
        let mut st = serving.state.write();
        Ok(st
            .slot(&person_id)
            .is_some_and(|slot| st.lift_opt_out(slot, &contact, channel, at)))
    }

    /// Erase everything held about `person_id`: the served state, the live outcomes in the
    /// journal (rewritten atomically), their re-consents and carrier validations, and every
    /// snapshot loaded later (the erasure list). Returns whether anything was held.
    pub async fn forget(&self, person_id: &str) -> Result<bool> {
        let _exclusive = self.gate.write().await;
        self.erasures.lock().add(person_id)?;
        let consents = self.consents.lock().forget(person_id)?;
        let validations = self.validations.lock().forget(person_id)?;
        let (kept, removed): (Vec<LiveOutcome>, Vec<LiveOutcome>) = {
            let live = self.live.lock();
            live.records
                .iter()
                .cloned()
                .partition(|r| r.person_id != person_id)
        };
        if !removed.is_empty() {
            self.journal.replace(&kept).await?;
            let mut live = self.live.lock();
            live.records = kept;
            for r in &removed {
                live.seen.remove(&r.attempt_id);
            }
        }
        let in_state = self
            .serving
            .load()
            .as_ref()
            .is_some_and(|s| s.state.write().forget(person_id));
        Ok(in_state || consents || validations || !removed.is_empty())
    }
}
