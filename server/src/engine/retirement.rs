//! Retiring live outcomes that the served snapshot covers: the retention windows, and the
//! in-memory side of [`Journal::retire`](super::journal::Journal::retire).
//!
//! Why: without it, `outcomes.jsonl` and the records held in memory grow with every outcome
//! ever reported, and every start and reload replays them all. An outcome attempted before the
//! served snapshot's training cutoff is already in that snapshot (the nightly export contains
//! every attempt up to its cutoff), so its record is only needed to roll `CURRENT` back to an
//! older version, and its id only to answer a late repeat as a duplicate. The two windows bound
//! both: records are kept `outcome_days` before the cutoff, ids `attempt_id_days`.

use std::sync::atomic::Ordering;

use super::journal::RetireRule;
use super::{Engine, retired};
use crate::metrics;

const DAY: i64 = 86_400;

/// How long live outcomes and their ids are kept once the served snapshot covers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Full records are kept while attempted less than this many days before the served
    /// snapshot's cutoff: `CURRENT` can be rolled back that far without losing live outcomes.
    pub outcome_days: u32,
    /// Attempt ids (as digests) are remembered this many days before the cutoff: a repeat of an
    /// older attempt is recorded anew. At least `outcome_days`.
    pub attempt_id_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            outcome_days: 14,
            attempt_id_days: 90,
        }
    }
}

impl Retention {
    /// The rule for a served version with snapshot cutoff `cutoff`.
    pub fn rule(&self, version: &str, cutoff: i64) -> RetireRule {
        RetireRule {
            before: cutoff.saturating_sub(i64::from(self.outcome_days) * DAY),
            keep_version: version.to_owned(),
            ids_before: cutoff.saturating_sub(i64::from(self.attempt_id_days) * DAY),
        }
    }
}

impl Engine {
    /// Retire what the served snapshot covers, from the journal first and then from memory.
    /// Called under the reload lock right after a version goes live; a failure is logged and
    /// leaves everything as it was (the next reload tries again).
    pub(super) async fn retire_covered(&self) {
        let Some(serving) = self.serving.load_full() else {
            return;
        };
        let Some(cutoff) = serving.snapshot_cutoff else {
            return;
        };
        let rule = self.retention.rule(&serving.version, cutoff);
        let due = {
            let live = self.live.lock();
            live.records.iter().any(|r| rule.retires(r))
                || live.retired.values().any(|at| !rule.keeps_id(*at))
        };
        if !due {
            return;
        }
        let counts = match self.journal.retire(rule.clone()).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "could not retire covered live outcomes; keeping them");
                return;
            }
        };
        // Records recorded from now on carry the served version, which the rule keeps, so the
        // journal and memory agree whatever was appended meanwhile.
        let (records, ids) = {
            let mut live = self.live.lock();
            let live = &mut *live;
            live.retired.retain(|_, at| rule.keeps_id(*at));
            let (seen, retired) = (&mut live.seen, &mut live.retired);
            live.records.retain(|r| {
                if !rule.retires(r) {
                    return true;
                }
                seen.remove(&r.attempt_id);
                if rule.keeps_id(r.at) {
                    retired.insert(retired::digest(&r.attempt_id), r.at);
                }
                false
            });
            (live.records.len(), live.retired.len())
        };
        metrics::outcomes_retired(counts.outcomes);
        metrics::journal_size(records, ids);
        tracing::info!(
            version = %serving.version,
            retired_outcomes = counts.outcomes,
            forgotten_ids = counts.ids_forgotten,
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

    #[test]
    fn the_rule_keeps_the_windows_and_the_served_versions_records() {
        let cutoff = 1_767_625_200;
        let rule = Retention::default().rule("v2", cutoff);
        let rec = |days_before: i64, on: &str| LiveOutcome {
            attempt_id: "a".into(),
            person_id: "p".into(),
            contact: "+5511987654321".into(),
            channel: Channel::Voice,
            at: cutoff - days_before * DAY,
            outcome: Outcome::NoAnswer,
            duration_seconds: None,
            campaign: String::new(),
            recorded_on: on.into(),
        };
        assert!(!rule.retires(&rec(13, "v1")), "inside the 14-day window");
        assert!(rule.retires(&rec(15, "v1")));
        assert!(
            !rule.retires(&rec(15, "v2")),
            "restart replays the served version's own"
        );
        assert!(rule.keeps_id(cutoff - 89 * DAY));
        assert!(!rule.keeps_id(cutoff - 91 * DAY));
    }
}
