//! Unit tests of the ranking with contact points that are not plain valid numbers: numbers
//! outside the metadata's ranges (ranked by default, blocked when configured), contact points
//! the caller could not have ranked (reported blocked while the others are ranked), and numbers
//! validated inactive.

use super::*;
use crate::localtime::DAY;
use crate::policy::PolicyConfig;
use crate::{ContactNormalizer, LineType, Outcome, Validation, ValidationStatus};

/// 2026-01-05T00:00:00Z, a Monday.
const MON: i64 = 1_767_571_200;

/// Scores every row alike, so the ranking lists every pair it may suggest.
struct Flat(FeatureSchema);

impl Scorer for Flat {
    fn schema(&self) -> &FeatureSchema {
        &self.0
    }
    fn probability(&self, _row: &[f32]) -> f64 {
        0.2
    }
}

fn contact(raw: &str) -> Contact {
    ContactNormalizer::new("BR")
        .and_then(|n| n.normalize(raw))
        .unwrap_or_else(|e| panic!("{raw}: {e}"))
}

fn query(slot: u32, contacts: &[&str], rejected: Vec<Rejected>) -> RankQuery {
    RankQuery {
        slot: Some(slot),
        contacts: Some(
            contacts
                .iter()
                .map(|raw| RankContact {
                    contact: contact(raw),
                    channels: vec![Channel::Voice, Channel::Sms],
                    zone: None,
                })
                .collect(),
        ),
        rejected,
        channels: Vec::new(),
        as_of: MON + 11 * 3_600,
        horizon_hours: 24,
        max_suggestions: 10,
        person_zone: None,
    }
}

fn reasons_of(r: &Ranking, key: &str) -> Vec<(Channel, &'static str)> {
    r.blocked
        .iter()
        .filter(|b| b.contact == key)
        .map(|b| (b.channel, b.reason.as_str()))
        .collect()
}

const VALID: &str = "+5511987654321";
const UNLISTED: &str = "+5520987654321";

#[test]
fn unlisted_numbers_are_ranked_unless_the_policy_blocks_them() {
    let mut state = FeatureState::new("America/Sao_Paulo").expect("zone");
    let slot = state.slot_or_insert("P1");
    let scorer = Flat(FeatureSchema::new(Vec::new()));
    let q = query(slot, &[VALID, UNLISTED], Vec::new());
    let r = rank(&state, &scorer, &Policy::default(), &q);
    assert_eq!(r.suggestions.len(), 4, "{r:?}");
    assert!(r.blocked.is_empty());
    for s in &r.suggestions {
        assert_eq!(
            s.reasons.contains(&"unlisted_number"),
            s.contact == UNLISTED,
            "{s:?}"
        );
    }

    let strict = PolicyConfig {
        block_invalid_numbers: true,
        ..PolicyConfig::default()
    }
    .validate()
    .expect("valid");
    // New to the state, and known to it: blocked on every phone channel either way.
    for known in [false, true] {
        if known {
            state
                .apply(
                    slot,
                    &contact(UNLISTED),
                    Channel::Voice,
                    MON,
                    Outcome::NoAnswer,
                )
                .expect("apply");
        }
        let r = rank(&state, &scorer, &strict, &q);
        assert!(r.suggestions.iter().all(|s| s.contact == VALID), "{r:?}");
        assert_eq!(r.suggestions.len(), 2);
        assert_eq!(
            reasons_of(&r, UNLISTED),
            [
                (Channel::Voice, "invalid_number"),
                (Channel::Sms, "invalid_number")
            ]
        );
    }
}

#[test]
fn rejected_contact_points_come_back_blocked_and_the_others_are_ranked() {
    let mut state = FeatureState::new("America/Sao_Paulo").expect("zone");
    let slot = state.slot_or_insert("P1");
    let known = contact("+5511912345678");
    state
        .register_contact(slot, &known, &[Channel::Voice], None, Some(MON - DAY))
        .expect("register");
    let scorer = Flat(FeatureSchema::new(Vec::new()));
    let rejected = vec![
        Rejected {
            contact: "N/A".into(),
            kind: ContactKind::Phone,
            channels: Vec::new(),
            reason: Rejection::UnparseableContact,
        },
        Rejected {
            contact: "ana@".into(),
            kind: ContactKind::Email,
            channels: Vec::new(),
            reason: Rejection::UnparseableContact,
        },
        // Known to the state: its listed channel, the rejection given once per channel.
        Rejected {
            contact: known.key.clone(),
            kind: ContactKind::Phone,
            channels: Vec::new(),
            reason: Rejection::UnknownTimezone,
        },
        Rejected {
            contact: "(11) 9876".into(),
            kind: ContactKind::Phone,
            channels: vec![Channel::Sms, Channel::Sms],
            reason: Rejection::UnparseableContact,
        },
    ];
    let mut q = query(slot, &[VALID], rejected);
    let r = rank(&state, &scorer, &Policy::default(), &q);
    assert_eq!(r.suggestions.len(), 2, "{r:?}");
    assert!(r.suggestions.iter().all(|s| s.contact == VALID));
    let unparseable = "unparseable_contact";
    assert_eq!(
        reasons_of(&r, "N/A"),
        [
            (Channel::Voice, unparseable),
            (Channel::Sms, unparseable),
            (Channel::Whatsapp, unparseable)
        ]
    );
    assert_eq!(reasons_of(&r, "ana@"), [(Channel::Email, unparseable)]);
    assert_eq!(
        reasons_of(&r, &known.key),
        [(Channel::Voice, "unknown_timezone")]
    );
    assert_eq!(reasons_of(&r, "(11) 9876"), [(Channel::Sms, unparseable)]);
    assert!(r.blocked.iter().all(|b| b.until.is_none()));
    // The request's channel restriction applies to them too.
    q.channels = vec![Channel::Email];
    let r = rank(&state, &scorer, &Policy::default(), &q);
    assert!(r.suggestions.is_empty());
    assert_eq!(r.blocked.len(), 1, "{r:?}");
    assert_eq!(r.blocked[0].contact, "ana@");
}

#[test]
fn a_number_validated_inactive_is_blocked_and_the_others_ranked() {
    let mut state = FeatureState::new("America/Sao_Paulo").expect("zone");
    let slot = state.slot_or_insert("P1");
    let dead = contact(VALID);
    state
        .apply_validation(
            slot,
            &dead,
            Validation {
                at: MON,
                status: ValidationStatus::Inactive,
                line_type: LineType::Mobile,
                ported: Some(false),
            },
        )
        .expect("validate");
    let scorer = Flat(FeatureSchema::new(Vec::new()));
    // The validation made the number known: asking for the known contact points finds it.
    let mut q = query(slot, &[], Vec::new());
    q.contacts = None;
    let r = rank(&state, &scorer, &Policy::default(), &q);
    assert!(r.suggestions.is_empty(), "{r:?}");
    assert_eq!(
        reasons_of(&r, VALID),
        [
            (Channel::Voice, "validated_inactive"),
            (Channel::Sms, "validated_inactive"),
            (Channel::Whatsapp, "validated_inactive")
        ]
    );
    let q = query(slot, &[VALID, "+5511912345678"], Vec::new());
    let r = rank(&state, &scorer, &Policy::default(), &q);
    assert!(r.suggestions.iter().all(|s| s.contact == "+5511912345678"));
    assert_eq!(r.suggestions.len(), 2);
}
