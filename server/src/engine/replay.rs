//! Replaying live outcomes onto a freshly loaded snapshot (start-up and every reload): which
//! records, and in which order.
//!
//! Which: an ordinary outcome is replayed when it is newer than the snapshot's training cutoff,
//! or was recorded while that same version was served (a restart): the nightly export is
//! assumed to contain every attempt up to its cutoff. Contact-rule evidence (opt-out, wrong
//! party, invalid) is not left to that assumption, because a late report the export missed
//! would let the pair be suggested again: it is replayed unless the version's export provably
//! contains it (its digest is in the version's [`RuleEvidence`]).
//!
//! Order: by attempt instant, ties in recording order, the order the trainer applies its
//! history in, so the replayed state matches what the next model's snapshot will hold.

use contactscore_models::artifact::RuleEvidence;
use contactscore_models::features::FeatureState;
use contactscore_models::{ContactNormalizer, Masked};

use super::journal::LiveOutcome;
use crate::error::Result;

/// The snapshot being replayed onto.
#[derive(Debug)]
pub struct Onto<'a> {
    /// Its version id.
    pub version: &'a str,
    /// Its training cutoff (latest attempt in the snapshot; `i64::MIN` when empty).
    pub cutoff: i64,
    /// The rule evidence its export contained.
    pub evidence: &'a RuleEvidence,
    /// The version's contact normaliser.
    pub normalizer: &'a ContactNormalizer,
}

impl Onto<'_> {
    /// Whether `r` is applied onto this snapshot.
    pub fn replays(&self, r: &LiveOutcome) -> bool {
        if r.outcome.is_rule_evidence() {
            !self.evidence.contains(&r.attempt_id, r.outcome)
        } else {
            r.at > self.cutoff || r.recorded_on == self.version
        }
    }

    /// Whether `r` is rule evidence replayed only because the export does not list it: dated
    /// within the snapshot's history and recorded on another version (a late report).
    fn late_evidence(&self, r: &LiveOutcome) -> bool {
        r.outcome.is_rule_evidence() && r.at <= self.cutoff && r.recorded_on != self.version
    }
}

/// What a replay applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Live outcomes applied.
    pub outcomes: u64,
    /// Of those, rule evidence the snapshot's export did not contain although dated within it.
    pub late_evidence: u64,
}

/// Apply onto `state` every record of `records` that [`Onto::replays`], in time order (ties in
/// recording order). A record whose contact no longer normalises is logged and skipped.
pub fn replay(
    state: &mut FeatureState,
    records: &[LiveOutcome],
    onto: &Onto<'_>,
) -> Result<Replayed> {
    let mut todo: Vec<&LiveOutcome> = records.iter().filter(|r| onto.replays(r)).collect();
    todo.sort_by_key(|r| r.at); // stable
    let mut done = Replayed::default();
    for r in todo {
        match onto.normalizer.normalize(&r.contact) {
            Ok(contact) => {
                let slot = state.slot_or_insert(&r.person_id);
                state.apply(slot, &contact, r.channel, r.at, r.outcome)?;
                done.outcomes += 1;
                done.late_evidence += u64::from(onto.late_evidence(r));
            }
            Err(e) => {
                // The error quotes the contact: log only why, with the contact masked.
                let reason = match &e {
                    contactscore_models::Error::InvalidContact { reason, .. } => reason.as_str(),
                    e @ (contactscore_models::Error::InvalidConfig(_)
                    | contactscore_models::Error::InvalidTimezone { .. }
                    | contactscore_models::Error::UnknownValue(_)
                    | contactscore_models::Error::Io { .. }
                    | contactscore_models::Error::Artifact { .. }
                    | contactscore_models::Error::VersionNotFound { .. }
                    | contactscore_models::Error::Fit { .. }
                    | contactscore_models::Error::NotEnoughData(_)
                    | contactscore_models::Error::InvalidPlan { .. }) => {
                        tracing::error!(error = %e, "unexpected normalisation error");
                        "unexpected error"
                    }
                };
                tracing::error!(
                    attempt_id = %r.attempt_id,
                    contact = %Masked(&r.contact),
                    reason,
                    "live outcome not replayable"
                );
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use contactscore_models::localtime::DAY;
    use contactscore_models::{Channel, Outcome};

    const CUTOFF: i64 = 1_767_625_200;

    fn rec(id: &str, at: i64, outcome: Outcome, on: &str) -> LiveOutcome {
        LiveOutcome {
            attempt_id: id.into(),
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

    #[test]
    fn rule_evidence_replays_unless_the_export_provably_holds_it() {
        let normalizer = ContactNormalizer::new("BR").expect("BR");
        let evidence = RuleEvidence::collect([("in-export", Outcome::OptOut)]);
        let onto = Onto {
            version: "v2",
            cutoff: CUTOFF,
            evidence: &evidence,
            normalizer: &normalizer,
        };
        let before = CUTOFF - DAY;
        // Ordinary outcomes: the export is trusted up to its cutoff.
        assert!(!onto.replays(&rec("a", before, Outcome::NoAnswer, "v1")));
        assert!(onto.replays(&rec("a", before, Outcome::NoAnswer, "v2")));
        assert!(onto.replays(&rec("a", CUTOFF + 1, Outcome::NoAnswer, "v1")));
        // Rule evidence: only what the export lists is left out, whatever the dates.
        for o in [Outcome::OptOut, Outcome::WrongParty, Outcome::Invalid] {
            assert!(onto.replays(&rec("late", before, o, "v1")), "{o}");
        }
        assert!(!onto.replays(&rec("in-export", before, Outcome::OptOut, "v1")));
        assert!(!onto.replays(&rec("in-export", before, Outcome::OptOut, "v2")));
        assert!(
            onto.replays(&rec("in-export", before, Outcome::Invalid, "v1")),
            "same id, another outcome: not provably held"
        );
    }

    #[test]
    fn replay_applies_in_time_order_and_counts_late_evidence() {
        let normalizer = ContactNormalizer::new("BR").expect("BR");
        let evidence = RuleEvidence::default();
        let onto = Onto {
            version: "v2",
            cutoff: CUTOFF,
            evidence: &evidence,
            normalizer: &normalizer,
        };
        // Recorded newest first: the engagement, then the older wrong party it clears.
        let records = [
            rec("e", CUTOFF + 100, Outcome::RightParty, "v1"),
            rec("w", CUTOFF - 100, Outcome::WrongParty, "v1"),
            rec("old", CUTOFF - 50, Outcome::NoAnswer, "v1"),
        ];
        let mut state = FeatureState::new("America/Sao_Paulo").expect("zone");
        let done = replay(&mut state, &records, &onto).expect("replay");
        assert_eq!(
            done,
            Replayed {
                outcomes: 2,
                late_evidence: 1
            }
        );
        let slot = state.slot("p").expect("person");
        let c = &state.person(slot).contacts[0];
        assert_eq!(c.wrong_party_at, None, "cleared by the later engagement");
        assert_eq!(c.last_engaged_at, Some(CUTOFF + 100));
    }
}
