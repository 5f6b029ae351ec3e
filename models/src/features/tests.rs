//! Unit tests for the feature state and vector.

use super::*;
use crate::localtime::DAY;
use crate::{Channel, ContactNormalizer, Outcome};

const T0: i64 = 1_767_625_200; // 2026-01-05T15:00:00Z, a Monday

fn setup() -> (FeatureState, FeatureSchema, crate::Contact, u32) {
    let mut s = FeatureState::new("America/Sao_Paulo").expect("zone");
    let c = ContactNormalizer::new("BR")
        .and_then(|n| n.normalize("11987654321"))
        .expect("number");
    let slot = s.slot_or_insert("P1");
    (s, FeatureSchema::new(Vec::new()), c, slot)
}

fn feats(
    s: &FeatureState,
    schema: &FeatureSchema,
    slot: u32,
    key: &str,
    ch: Channel,
    t: i64,
) -> Vec<f32> {
    let mut out = Vec::new();
    let cand = Candidate {
        contact: key,
        kind: crate::ContactKind::Phone,
        number: None,
        zone: None,
        channel: ch,
        t,
    };
    s.features(schema, Some(slot), &cand, &mut out);
    out
}

fn get(schema: &FeatureSchema, v: &[f32], name: &str) -> f32 {
    v[schema
        .index(name)
        .unwrap_or_else(|| panic!("no feature {name}"))]
}

#[test]
fn vector_matches_schema_and_unknowns_are_sane() {
    let (s, schema, c, slot) = setup();
    let v = feats(&s, &schema, slot, &c.key, Channel::Voice, T0);
    assert_eq!(v.len(), schema.len());
    assert_eq!(get(&schema, &v, "ch_voice"), 1.0);
    assert_eq!(get(&schema, &v, "local_hour"), 12.0);
    assert_eq!(get(&schema, &v, "pc_is_new"), 1.0);
    assert!(get(&schema, &v, "p_days_since_attempt").is_nan());
}

#[test]
fn outcomes_move_the_right_features() {
    let (mut s, schema, c, slot) = setup();
    s.apply(slot, &c, Channel::Voice, T0, Outcome::Invalid)
        .expect("apply");
    s.apply(slot, &c, Channel::Voice, T0 + 60, Outcome::NoAnswer)
        .expect("apply");
    let v = feats(&s, &schema, slot, &c.key, Channel::Voice, T0 + DAY + 30);
    assert_eq!(get(&schema, &v, "pcc_invalid_count"), 1.0);
    assert_eq!(get(&schema, &v, "pcc_consecutive_failures"), 2.0);
    assert!(
        (get(&schema, &v, "p_attempts_24h") - 1.0).abs() < 1e-6,
        "only the 2nd is in 24h"
    );
    assert_eq!(get(&schema, &v, "p_attempts_7d"), 2.0);
    assert!(
        (get(&schema, &v, "pcc_days_since_attempt") - (DAY - 30) as f32 / DAY as f32).abs() < 1e-4
    );
    // Other channels of the same contact share contact-level but not channel-level evidence.
    let sms = feats(&s, &schema, slot, &c.key, Channel::Sms, T0 + DAY);
    assert_eq!(get(&schema, &sms, "pcc_invalid_count"), 0.0);
    assert_eq!(get(&schema, &sms, "pc_consecutive_failures"), 2.0);
}

#[test]
fn wrong_party_is_cleared_by_a_later_engagement() {
    let (mut s, schema, c, slot) = setup();
    s.apply(slot, &c, Channel::Voice, T0, Outcome::WrongParty)
        .expect("apply");
    assert_eq!(
        get(
            &schema,
            &feats(&s, &schema, slot, &c.key, Channel::Voice, T0 + 1),
            "pc_wrong_party"
        ),
        1.0
    );
    s.apply(slot, &c, Channel::Voice, T0 + DAY, Outcome::RightParty)
        .expect("apply");
    let v = feats(&s, &schema, slot, &c.key, Channel::Voice, T0 + 2 * DAY);
    assert_eq!(get(&schema, &v, "pc_wrong_party"), 0.0);
    assert!(get(&schema, &v, "ph_block_engaged") > 0.0);
}

#[test]
fn rule_fields_come_out_as_in_time_order_when_outcomes_arrive_late() {
    let wrong = |s: &FeatureState, slot| s.person(slot).contacts[0].wrong_party_at;
    let channel = |s: &FeatureState, slot| s.person(slot).contacts[0].channels[0].clone();
    // In time order: wrong party, then engaged; and an opt-out and invalid pair.
    let (mut in_order, _, c, slot) = setup();
    for (t, o) in [
        (T0, Outcome::WrongParty),
        (T0 + DAY, Outcome::RightParty),
        (T0 + 2 * DAY, Outcome::OptOut),
        (T0 + 3 * DAY, Outcome::Invalid),
    ] {
        in_order
            .apply(slot, &c, Channel::Voice, t, o)
            .expect("apply");
    }
    // The same outcomes reported newest first.
    let (mut late, _, c, slot) = setup();
    for (t, o) in [
        (T0 + 3 * DAY, Outcome::Invalid),
        (T0 + 2 * DAY, Outcome::OptOut),
        (T0 + DAY, Outcome::RightParty),
        (T0, Outcome::WrongParty),
    ] {
        late.apply(slot, &c, Channel::Voice, t, o).expect("apply");
    }
    assert_eq!(wrong(&in_order, slot), None);
    assert_eq!(wrong(&late, slot), None, "the later engagement clears it");
    let (a, b) = (channel(&in_order, slot), channel(&late, slot));
    assert_eq!(
        (a.opted_out_at, a.last_invalid_at, a.invalid_count),
        (b.opted_out_at, b.last_invalid_at, b.invalid_count)
    );
    assert_eq!(late.cutoff, Some(T0 + 3 * DAY));
    // A wrong party after the latest engagement stands, in any order.
    late.apply(slot, &c, Channel::Voice, T0 + 4 * DAY, Outcome::WrongParty)
        .expect("apply");
    assert_eq!(wrong(&late, slot), Some(T0 + 4 * DAY));
}

#[test]
fn re_consent_lifts_only_an_earlier_opt_out() {
    let (mut s, schema, c, slot) = setup();
    let opted = |s: &FeatureState, ch| {
        get(
            &schema,
            &feats(s, &schema, slot, &c.key, ch, T0 + 9 * DAY),
            "pcc_opted_out",
        )
    };
    assert!(
        !s.lift_opt_out(slot, &c.key, Channel::Sms, T0),
        "unknown contact: nothing to lift"
    );
    s.apply(slot, &c, Channel::Sms, T0, Outcome::OptOut)
        .expect("apply");
    s.apply(slot, &c, Channel::Voice, T0, Outcome::OptOut)
        .expect("apply");
    assert!(
        !s.lift_opt_out(slot, &c.key, Channel::Sms, T0 - 1),
        "consent before the opt-out"
    );
    assert!(s.lift_opt_out(slot, &c.key, Channel::Sms, T0 + DAY));
    assert!(
        !s.lift_opt_out(slot, &c.key, Channel::Sms, T0 + DAY),
        "already lifted"
    );
    assert_eq!(opted(&s, Channel::Sms), 0.0);
    assert_eq!(opted(&s, Channel::Voice), 1.0, "only the consented channel");
    // Opting out again after the consent stands against that consent.
    s.apply(slot, &c, Channel::Sms, T0 + 2 * DAY, Outcome::OptOut)
        .expect("apply");
    assert!(!s.lift_opt_out(slot, &c.key, Channel::Sms, T0 + DAY));
    assert_eq!(opted(&s, Channel::Sms), 1.0);
}

#[test]
fn zone_resolution_prefers_contact_then_person_then_country_then_default() {
    let (mut s, schema, _, slot) = setup();
    let n = ContactNormalizer::new("BR").expect("region");
    let de = n.normalize("+49 30 901820").expect("german number");
    s.apply(slot, &de, Channel::Voice, T0, Outcome::NoAnswer)
        .expect("apply");
    // Country zone (Berlin, UTC+1) beats the default (São Paulo).
    assert_eq!(
        get(
            &schema,
            &feats(&s, &schema, slot, &de.key, Channel::Voice, T0),
            "local_hour"
        ),
        16.0
    );
    s.set_person_info(slot, Some("America/New_York"), Vec::new())
        .expect("zone");
    assert_eq!(
        get(
            &schema,
            &feats(&s, &schema, slot, &de.key, Channel::Voice, T0),
            "local_hour"
        ),
        10.0
    );
    s.register_contact(slot, &de, &[Channel::Voice], Some("Asia/Tokyo"), None)
        .expect("zone");
    assert_eq!(
        get(
            &schema,
            &feats(&s, &schema, slot, &de.key, Channel::Voice, T0),
            "local_hour"
        ),
        0.0
    );
}

#[test]
fn contacts_are_not_known_before_they_were_added() {
    let (mut s, schema, c, slot) = setup();
    s.register_contact(
        slot,
        &c,
        &[Channel::Voice, Channel::Sms],
        None,
        Some(T0 + 10 * DAY),
    )
    .expect("ok");
    let before = feats(&s, &schema, slot, &c.key, Channel::Voice, T0);
    assert_eq!(get(&schema, &before, "p_contacts_known"), 0.0);
    let after = feats(&s, &schema, slot, &c.key, Channel::Whatsapp, T0 + 11 * DAY);
    assert_eq!(get(&schema, &after, "p_contacts_known"), 1.0);
    assert_eq!(get(&schema, &after, "pc_channel_listed"), 0.0);
    assert!((get(&schema, &after, "pc_age_days") - 1.0).abs() < 1e-4);
}

#[test]
fn state_survives_a_binary_round_trip() {
    let (mut s, schema, c, slot) = setup();
    s.apply(slot, &c, Channel::Voice, T0, Outcome::RightParty)
        .expect("apply");
    let bytes = postcard::to_stdvec(&s).expect("encode");
    let mut back: FeatureState = postcard::from_bytes(&bytes).expect("decode");
    back.rebuild_index();
    assert_eq!(back.slot("P1"), Some(slot));
    let a = feats(&s, &schema, slot, &c.key, Channel::Voice, T0 + DAY);
    let b = feats(&back, &schema, slot, &c.key, Channel::Voice, T0 + DAY);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

#[test]
fn schema_detects_incompatibility() {
    let schema = FeatureSchema::new(Vec::new());
    assert!(schema.check_compatible().is_ok());
    let mut old = schema.clone();
    old.version = 0;
    assert!(old.check_compatible().is_err());
    let mut renamed = schema.clone();
    renamed.names[0] = "something_else".into();
    assert!(renamed.check_compatible().is_err());
    assert_ne!(schema.fingerprint(), renamed.fingerprint());
}

#[test]
fn forgetting_a_person_erases_them_and_keeps_the_others_findable() {
    let (mut state, _, c, p1) = setup();
    state
        .apply(p1, &c, Channel::Voice, 1_000, Outcome::RightParty)
        .expect("apply");
    let p2 = state.slot_or_insert("P2");
    state
        .apply(p2, &c, Channel::Sms, 2_000, Outcome::NoAnswer)
        .expect("apply");
    let p3 = state.slot_or_insert("P3");
    state
        .apply(p3, &c, Channel::Email, 3_000, Outcome::Replied)
        .expect("apply");
    let before_p3 = state.person(p3).clone();

    assert!(state.forget(&state.person_ids[p1 as usize].clone()));
    assert!(!state.forget("nobody"));
    assert_eq!(state.len(), 2);
    // P3 moved into the freed slot and is still found by id, intact.
    let s3 = state.slot("P3").expect("P3 still known");
    assert_eq!(state.person(s3), &before_p3);
    assert!(state.slot("P2").is_some());

    assert_eq!(state.forget_where(|id| id == "P2" || id == "P3"), 2);
    assert!(state.is_empty());
    assert_eq!(state.slot("P3"), None);
    // A forgotten person starts from nothing when seen again.
    let again = state.slot_or_insert("P3");
    assert_eq!(state.person(again), &PersonState::default());
}

#[test]
fn number_class_and_type_are_features() {
    let (s, schema, c, slot) = setup();
    let n = ContactNormalizer::new("BR").expect("BR");
    let v = feats(&s, &schema, slot, &c.key, Channel::Voice, T0);
    // Not in the state yet and no number given: missing, not "invalid".
    assert!(get(&schema, &v, "number_valid").is_nan());
    let with = |raw: &str| {
        let contact = n.normalize(raw).expect("parses");
        let cand = Candidate {
            contact: &contact.key,
            kind: contact.kind,
            number: contact.number,
            zone: None,
            channel: Channel::Voice,
            t: T0,
        };
        let mut out = Vec::new();
        s.features(&schema, Some(slot), &cand, &mut out);
        out
    };
    let mobile = with("+55 11 98765-4321");
    assert_eq!(get(&schema, &mobile, "number_valid"), 1.0);
    assert_eq!(get(&schema, &mobile, "nt_mobile"), 1.0);
    assert_eq!(get(&schema, &mobile, "nt_other"), 0.0);
    let landline = with("+55 11 3456-7890");
    assert_eq!(get(&schema, &landline, "nt_fixed_line"), 1.0);
    let unlisted = with("+55 20 98765-4321");
    assert_eq!(get(&schema, &unlisted, "number_valid"), 0.0);
    assert_eq!(get(&schema, &unlisted, "nt_other"), 1.0);
    assert_eq!(get(&schema, &unlisted, "nt_mobile"), 0.0);
    let email = with("ana@example.com");
    assert!(get(&schema, &email, "number_valid").is_nan());
    for t in crate::NumberType::ALL {
        let name = format!("nt_{}", t.as_str());
        assert_eq!(get(&schema, &email, &name), 0.0, "{name}");
    }
    // Once in the state, the state's record of the number is used.
    let mut s2 = s.clone();
    let bad = n.normalize("+55 20 98765-4321").expect("parses");
    s2.apply(slot, &bad, Channel::Voice, T0, Outcome::Invalid)
        .expect("apply");
    let v = feats(&s2, &schema, slot, &bad.key, Channel::Voice, T0 + DAY);
    assert_eq!(get(&schema, &v, "number_valid"), 0.0);
}

#[test]
fn the_latest_validation_known_at_the_instant_is_a_feature() {
    use crate::{LineType, Validation, ValidationStatus};
    let (mut s, schema, c, slot) = setup();
    let validation = |at, status, ported| Validation {
        at,
        status,
        line_type: LineType::Mobile,
        ported,
    };
    s.apply_validation(
        slot,
        &c,
        validation(T0, ValidationStatus::Inactive, Some(true)),
    )
    .expect("validate");
    let v = feats(&s, &schema, slot, &c.key, Channel::Voice, T0 + DAY);
    assert_eq!(get(&schema, &v, "val_status"), -1.0);
    assert!((get(&schema, &v, "val_days_since") - 1.0).abs() < 1e-6);
    assert_eq!(get(&schema, &v, "val_line_mobile"), 1.0);
    assert_eq!(get(&schema, &v, "val_line_landline"), 0.0);
    assert_eq!(get(&schema, &v, "val_ported"), 1.0);
    // Not known before it happened.
    let before = feats(&s, &schema, slot, &c.key, Channel::Voice, T0 - 60);
    assert!(get(&schema, &before, "val_status").is_nan());
    assert!(get(&schema, &before, "val_days_since").is_nan());
    // An older validation arriving later does not replace it; a newer one does.
    s.apply_validation(
        slot,
        &c,
        validation(T0 - DAY, ValidationStatus::Active, None),
    )
    .expect("validate");
    let v = feats(&s, &schema, slot, &c.key, Channel::Voice, T0 + DAY);
    assert_eq!(get(&schema, &v, "val_status"), -1.0);
    s.apply_validation(
        slot,
        &c,
        validation(T0 + 60, ValidationStatus::Active, None),
    )
    .expect("validate");
    let v = feats(&s, &schema, slot, &c.key, Channel::Voice, T0 + DAY);
    assert_eq!(get(&schema, &v, "val_status"), 1.0);
    assert!(get(&schema, &v, "val_ported").is_nan());
    // A validation is not an attempt.
    assert_eq!(get(&schema, &v, "pc_attempts_180d"), 0.0);
    assert_eq!(s.cutoff, None);
}
