//! Retiring live outcomes that the served snapshot covers: the retention windows, and the
//! in-memory side of [`Journal::retire`](super::journal::Journal::retire).
//!
//! Why: without it, `outcomes.jsonl` and the records held in memory grow with every outcome
//! ever reported, and every start and reload replays them all. An outcome attempted before the
//! served snapshot's training cutoff is already in that snapshot (the nightly export contains
//! every attempt up to its cutoff), so its record is only needed to roll `CURRENT` back to an
//! older version, and its id only to answer a repeat as a duplicate. Two windows bound both:
//! records are kept `outcome_days` before the cutoff; ids `attempt_id_days` after they were
//! recorded (wall clock, so a late backfill of old attempts is protected like a fresh one).
//!
//! Contact-rule evidence is not covered by that assumption (see [`super::replay`]), so its
//! records stay past the window until they can no longer change a rule: an `invalid` once its
//! suppression is over, any evidence once superseded by a later record on the same pair
//! ([`RetireRule::retires`]). One opt-out per pair is kept for good (until the person is
//! forgotten): rolling `CURRENT` back to any older version still replays it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use contactscore_models::localtime::DAY;

use super::journal::{EvidenceKey, RetireRule};
use super::{Engine, retired_ids};
use crate::telemetry;

/// How long live outcomes and their ids are kept once the served snapshot covers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Full records are kept while attempted less than this many days before the served
    /// snapshot's cutoff: `CURRENT` can be rolled back that far without losing live outcomes.
    pub outcome_days: u32,
    /// Ids of retired outcomes (as digests) are remembered this many days after they were
    /// recorded; a repeat after that is recorded anew. At least 1.
    pub attempt_id_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            outcome_days: 14,
            attempt_id_days: 30,
        }
    }
}

/// What the contact rules need to know to retire rule evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceWindow {
    /// How long an `invalid` suppresses its pair (the policy's window), in seconds.
    pub invalid_for: i64,
    /// The latest instant per rule-evidence key among the live records.
    pub latest: Arc<HashMap<EvidenceKey, i64>>,
}

impl Retention {
    /// The rule for a served version with snapshot cutoff `cutoff`, at wall-clock `now`.
    pub fn rule(
        &self,
        version: &str,
        cutoff: i64,
        now: i64,
        evidence: EvidenceWindow,
    ) -> RetireRule {
        RetireRule {
            before: cutoff.saturating_sub(i64::from(self.outcome_days) * DAY),
            keep_version: version.to_owned(),
            evidence_lapsed_before: now.saturating_sub(evidence.invalid_for),
            latest_evidence: evidence.latest,
            ids_before: now.saturating_sub(i64::from(self.attempt_id_days) * DAY),
            compact_ids: false,
        }
    }
}

impl Engine {
    /// Retire what the served snapshot covers, from the journal first and then from memory.
    /// Called under the reload lock right after a version goes live; a failure is logged and
    /// every record stays (the next reload tries again).
    pub(super) async fn retire_covered(&self) {
        let Some(serving) = self.serving.load_full() else {
            return;
        };
        let Some(cutoff) = serving.snapshot_cutoff else {
            return;
        };
        // Shared gate: recording goes on (its records carry the served version, which the rule
        // keeps), but an erasure, which rewrites the journal from memory, waits.
        let _gate = self.gate.read().await;
        let now = jiff::Timestamp::now().as_second();
        let latest = Arc::new(super::journal::latest_evidence(&self.live.lock().records));
        let evidence = EvidenceWindow {
            invalid_for: self.policy.invalid_for(),
            latest,
        };
        let mut rule = self.retention.rule(&serving.version, cutoff, now, evidence);
        let (retiring, aged, remembered) = {
            let live = self.live.lock();
            let aged = live
                .retired
                .values()
                .filter(|t| !rule.keeps_id(**t))
                .count();
            let retiring = live.records.iter().filter(|r| rule.retires(r)).count();
            (retiring, aged, live.retired.len())
        };
        if retiring == 0 && aged == 0 {
            return;
        }
        // Rewrite the id file only once half of it is forgotten; else append to it.
        rule.compact_ids = aged > 0 && aged * 2 >= remembered;
        let counts = match self.journal.retire(rule.clone()).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "could not retire covered live outcomes; keeping them");
                return;
            }
        };
        let (records, ids) = {
            let mut live = self.live.lock();
            let live = &mut *live;
            live.retired.retain(|_, t| rule.keeps_id(*t));
            let (seen, retired) = (&mut live.seen, &mut live.retired);
            live.records.retain(|r| {
                if !rule.retires(r) {
                    return true;
                }
                seen.remove(&r.attempt_id);
                if rule.keeps_id(r.id_time()) {
                    retired.insert(retired_ids::digest(&r.attempt_id), r.id_time());
                }
                false
            });
            (live.records.len(), live.retired.len())
        };
        telemetry::outcomes_retired(counts.outcomes);
        telemetry::journal_size(records, ids);
        tracing::info!(
            version = %serving.version,
            retired_outcomes = counts.outcomes,
            ids_added = counts.ids_added,
            ids_dropped_from_file = counts.ids_forgotten,
            live_outcomes = records,
            retired_ids = ids,
            replayed_on_load = serving.live_applied.load(Ordering::Relaxed),
            "retired live outcomes covered by the served snapshot"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::journal::LiveOutcome;
    use contactscore_models::{Channel, Outcome};

    fn rec(at: i64, on: &str, outcome: Outcome) -> LiveOutcome {
        LiveOutcome {
            attempt_id: "a".into(),
            person_id: "p".into(),
            contact: "+5511987654321".into(),
            channel: Channel::Voice,
            at,
            outcome,
            duration_seconds: None,
            campaign: String::new(),
            recorded_on: on.into(),
            recorded_at: 0,
        }
    }

    fn no_evidence() -> EvidenceWindow {
        EvidenceWindow {
            invalid_for: 30 * DAY,
            latest: Arc::default(),
        }
    }

    #[test]
    fn the_rule_keeps_the_windows_and_the_served_versions_records() {
        let cutoff = 1_767_625_200;
        let now = cutoff + 40 * DAY;
        let rule = Retention::default().rule("v2", cutoff, now, no_evidence());
        let rec =
            |days_before: i64, on: &str| rec(cutoff - days_before * DAY, on, Outcome::NoAnswer);
        assert!(!rule.retires(&rec(13, "v1")), "inside the 14-day window");
        assert!(rule.retires(&rec(15, "v1")));
        assert!(
            !rule.retires(&rec(15, "v2")),
            "restart replays the served version's own"
        );
        // Ids count from when they were recorded, against the wall clock.
        assert!(rule.keeps_id(now - 29 * DAY));
        assert!(!rule.keeps_id(now - 31 * DAY));
        let mut backfill = rec(200, "v1");
        backfill.recorded_at = now - DAY;
        assert!(rule.retires(&backfill) && rule.keeps_id(backfill.id_time()));
    }

    #[test]
    fn rule_evidence_stays_until_it_can_no_longer_change_a_rule() {
        let cutoff = 1_767_625_200;
        let now = cutoff + 10 * DAY;
        let old = cutoff - 100 * DAY;
        let opt_out = rec(old, "v1", Outcome::OptOut);
        let wrong = rec(old, "v1", Outcome::WrongParty);
        let invalid = rec(old, "v1", Outcome::Invalid);
        // Outside the 14-day window, but its 30-day suppression (from the attempt) still runs.
        let suppressing = rec(cutoff - 17 * DAY, "v1", Outcome::Invalid);
        let rule = Retention::default().rule("v2", cutoff, now, no_evidence());
        // Far outside the window, but the only evidence on their pairs: kept.
        assert!(!rule.retires(&opt_out) && !rule.retires(&wrong));
        // An invalid whose suppression is over retires; one still suppressing stays.
        assert!(rule.retires(&invalid));
        assert!(!rule.retires(&suppressing));
        assert!(rule.retires(&rec(cutoff - 17 * DAY, "v1", Outcome::NoAnswer)));

        // Superseded by a later record on the same pair: the later one carries the rule.
        let later = [
            rec(old + DAY, "v1", Outcome::OptOut),
            rec(old + DAY, "v1", Outcome::WrongParty),
        ];
        let mut sms = rec(old + 2 * DAY, "v1", Outcome::OptOut);
        sms.channel = Channel::Sms;
        let latest = Arc::new(super::super::journal::latest_evidence(
            later.iter().chain([&sms]),
        ));
        let evidence = EvidenceWindow {
            invalid_for: 30 * DAY,
            latest,
        };
        let rule = Retention::default().rule("v2", cutoff, now, evidence);
        assert!(rule.retires(&opt_out) && rule.retires(&wrong));
        assert!(
            !rule.retires(&later[0]) && !rule.retires(&later[1]),
            "the latest stays"
        );
        let mut voice_only = opt_out.clone();
        voice_only.at = old + 2 * DAY;
        assert!(
            !rule.retires(&voice_only),
            "an SMS opt-out does not supersede one on voice"
        );
    }
}
