//! Recording outcomes (durable, idempotent on `attempt_id`, applied to the served state) and
//! erasing persons.

use std::sync::atomic::Ordering;

use contactscore_models::Contact;

use super::Engine;
use super::journal::LiveOutcome;
use crate::error::Result;
use crate::metrics;

/// A validated outcome: the journal record plus its normalised contact.
#[derive(Debug, Clone)]
pub struct ValidOutcome {
    /// The record (its `recorded_on` is filled in when recorded).
    pub record: LiveOutcome,
    /// The normalised contact.
    pub contact: Contact,
}

/// What a record call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Newly recorded.
    pub recorded: u64,
    /// Already recorded before (same attempt id).
    pub duplicates: u64,
}

impl Engine {
    /// Record `outcomes` durably and apply them to the served state. Returns once they are
    /// fsynced; outcomes whose `attempt_id` was already recorded change nothing.
    pub async fn record(&self, outcomes: Vec<ValidOutcome>) -> Result<Recorded> {
        let asked = outcomes.len() as u64;
        let _shared = self.gate.read().await;
        // Taken under the gate: a reload cannot swap versions until this call is done.
        let serving = self.current()?;
        let mut fresh = Vec::with_capacity(outcomes.len());
        {
            let mut live = self.live.lock();
            for mut o in outcomes {
                if live.seen.insert(o.record.attempt_id.clone()) {
                    o.record.recorded_on.clone_from(&serving.version);
                    fresh.push(o);
                }
            }
        }
        let total = fresh.len() as u64;
        let counts = Recorded {
            recorded: total,
            duplicates: asked - total,
        };
        if fresh.is_empty() {
            return Ok(counts);
        }
        let records: Vec<LiveOutcome> = fresh.iter().map(|o| o.record.clone()).collect();
        if let Err(e) = self.journal.append(&records).await {
            let mut live = self.live.lock();
            for r in &records {
                live.seen.remove(&r.attempt_id);
            }
            return Err(e);
        }
        self.live.lock().records.extend(records);
        {
            let mut st = serving.state.write();
            for o in &fresh {
                let r = &o.record;
                let slot = st.slot_or_insert(&r.person_id);
                st.apply(slot, &o.contact, r.channel, r.at, r.outcome)?;
            }
            metrics::state_persons(st.len());
        }
        serving.live_applied.fetch_add(total, Ordering::Relaxed);
        metrics::outcomes_recorded(total);
        Ok(counts)
    }

    /// Erase everything held about `person_id`: the served state, the live outcomes in the
    /// journal (rewritten atomically), and every snapshot loaded later (the erasure list).
    /// Returns whether anything was held.
    pub async fn forget(&self, person_id: &str) -> Result<bool> {
        let _exclusive = self.gate.write().await;
        self.erasures.lock().add(person_id)?;
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
        Ok(in_state || !removed.is_empty())
    }
}
