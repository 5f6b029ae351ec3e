//! Unit tests of the fold: order, which outcomes apply onto a version, consents last.

use contactscore_models::artifact::RuleEvidence;
use contactscore_models::features::{FeatureState, PersonState};
use contactscore_models::{Channel, Contact, ContactNormalizer, Outcome};

use super::*;

const T0: i64 = 1_770_595_200;

fn number() -> Contact {
    ContactNormalizer::new("BR")
        .expect("normalizer")
        .normalize("+55 11 98765-4321")
        .expect("number")
}

fn skeleton() -> FeatureState {
    let mut s = FeatureState::new("America/Sao_Paulo").expect("state");
    s.zones.intern_all_known();
    s
}

fn outcome(id: &str, at: i64, outcome: Outcome, on: &str, us: i64) -> Event {
    Event::Outcome {
        attempt_id: id.into(),
        contact: number(),
        channel: Channel::Voice,
        at,
        outcome,
        recorded_on: on.into(),
        recorded_us: us,
        duration_seconds: None,
        campaign: String::new(),
    }
}

fn onto<'a>(evidence: &'a RuleEvidence, cutoff: i64) -> Onto<'a> {
    Onto {
        version: "v2",
        cutoff,
        evidence,
    }
}

/// The state the local engine would hold: the same outcomes applied in time order.
fn applied_in_order(events: &[(i64, Outcome)]) -> PersonState {
    let mut st = skeleton();
    let slot = st.slot_or_insert("p");
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|e| e.0);
    for (at, o) in sorted {
        st.apply(slot, &number(), Channel::Voice, at, o)
            .expect("apply");
    }
    st.person(slot).clone()
}

#[test]
fn outcomes_fold_in_attempt_order_whatever_the_hash_order() {
    let ev = RuleEvidence::default();
    let list = [
        (T0 + 7_200, Outcome::RightParty),
        (T0, Outcome::NoAnswer),
        (T0 + 3_600, Outcome::WrongParty),
    ];
    let events: Vec<Event> = list
        .iter()
        .enumerate()
        .map(|(i, &(at, o))| outcome(&format!("a{i}"), at, o, "v1", 0))
        .collect();
    let mut reversed = events.clone();
    reversed.reverse();
    let a = fold(&skeleton(), None, events, &onto(&ev, i64::MIN)).expect("known");
    let b = fold(&skeleton(), None, reversed, &onto(&ev, i64::MIN)).expect("known");
    assert_eq!(a, b);
    assert_eq!(a, applied_in_order(&list));
    // The engaged outcome came after the wrong party: it is cleared, as in time order.
    assert_eq!(a.contacts[0].wrong_party_at, None);
}

#[test]
fn which_outcomes_apply_onto_a_version() {
    let cutoff = T0 + 86_400;
    let ev = RuleEvidence::collect([("in-export", Outcome::OptOut)]);
    let events = vec![
        // Covered by the snapshot, recorded on another version: not applied again.
        outcome("old", T0, Outcome::NoAnswer, "v1", 0),
        // Covered by its date, but recorded while v2 was served (a restart): applied.
        outcome("same-version", T0 + 60, Outcome::Voicemail, "v2", 0),
        // Newer than the cutoff: applied.
        outcome("new", cutoff + 60, Outcome::NoAnswer, "v1", 0),
    ];
    let p = fold(&skeleton(), None, events, &onto(&ev, cutoff)).expect("known");
    assert_eq!(p.recent, vec![T0 + 60, cutoff + 60]);

    // Rule evidence: applied unless the export holds it, whatever its date.
    let late = outcome("late", T0, Outcome::OptOut, "v1", 0);
    let p = fold(&skeleton(), None, vec![late], &onto(&ev, cutoff)).expect("known");
    assert_eq!(p.contacts[0].channels[0].opted_out_at, Some(T0));
    let held = outcome("in-export", T0, Outcome::OptOut, "v1", 0);
    let p = fold(&skeleton(), None, vec![held], &onto(&ev, cutoff)).expect("known");
    assert!(p.contacts.is_empty(), "the snapshot holds it already");
}

#[test]
fn ties_apply_in_recording_order() {
    let ev = RuleEvidence::default();
    // Same instant: recorded second wins the "latest" fields either way round in the hash.
    let first = outcome("b", T0, Outcome::RightParty, "v1", 1);
    let second = outcome("a", T0, Outcome::WrongParty, "v1", 2);
    let p = fold(
        &skeleton(),
        None,
        vec![second.clone(), first.clone()],
        &onto(&ev, i64::MIN),
    )
    .expect("known");
    let q = fold(&skeleton(), None, vec![first, second], &onto(&ev, i64::MIN)).expect("known");
    assert_eq!(p, q);
    assert_eq!(p.contacts[0].wrong_party_at, Some(T0));
}

#[test]
fn consents_apply_last_and_lift_only_older_opt_outs() {
    let ev = RuleEvidence::default();
    let consent = Event::Consent {
        contact: number().key,
        channel: Channel::Voice,
        at: T0 + 100,
    };
    // A consent listed before the opt-out it covers still lifts it.
    let events = vec![consent.clone(), outcome("o", T0, Outcome::OptOut, "v1", 0)];
    let p = fold(&skeleton(), None, events, &onto(&ev, i64::MIN)).expect("known");
    assert_eq!(p.contacts[0].channels[0].opted_out_at, None);
    // An opt-out dated after the consent stands.
    let events = vec![consent, outcome("o", T0 + 200, Outcome::OptOut, "v1", 0)];
    let p = fold(&skeleton(), None, events, &onto(&ev, i64::MIN)).expect("known");
    assert_eq!(p.contacts[0].channels[0].opted_out_at, Some(T0 + 200));
}

#[test]
fn a_person_with_nothing_is_unknown_and_a_snapshot_round_trips() {
    let ev = RuleEvidence::default();
    assert!(fold(&skeleton(), None, Vec::new(), &onto(&ev, i64::MIN)).is_none());
    let p = applied_in_order(&[(T0, Outcome::RightParty)]);
    let bytes = encode_snapshot(&p).expect("encode");
    assert_eq!(decode_snapshot(&bytes).expect("decode"), p);
    assert!(decode_snapshot(&bytes[1..]).is_err(), "no format byte");
    let q = fold(
        &skeleton(),
        Some(p.clone()),
        Vec::new(),
        &onto(&ev, i64::MIN),
    );
    assert_eq!(q, Some(p));
}

#[test]
fn fields_make_repeats_one_event() {
    let o = outcome("att-1", T0, Outcome::RightParty, "v1", 5);
    assert_eq!(o.field(&o.encode().expect("json")), "o:att-1");
    let c = Event::Consent {
        contact: number().key,
        channel: Channel::Sms,
        at: T0,
    };
    let json = c.encode().expect("json");
    assert_eq!(Event::decode(json.as_bytes()).expect("decode"), c);
    assert!(c.field(&json).starts_with("c:"));
    assert_eq!(c.field(&json), c.clone().field(&c.encode().expect("json")));
}

#[test]
fn a_bulk_load_retires_covered_outcomes_and_keeps_rule_evidence() {
    let r = crate::engine::Retention::default();
    let cutoff = T0 + 30 * DAY_S;
    let old = T0; // 30 days before the cutoff: past the 14-day window
    let recent = cutoff - DAY_S;
    let now_us = (cutoff + DAY_S) * 1_000_000;
    let trimmed = |e: &Event| trim(e, cutoff, now_us, r).expect("trim");
    let covered = outcome("a", old, Outcome::NoAnswer, "v1", 7);
    match trimmed(&covered) {
        Some(Trim::Retire(json)) => {
            let t = Event::decode(json.as_bytes()).expect("tombstone");
            assert_eq!(t, Event::Retired { recorded_us: 7 });
            // The tombstone changes no state.
            let ev = RuleEvidence::default();
            assert!(
                fold(
                    &skeleton(),
                    Some(PersonState::default()),
                    vec![t],
                    &onto(&ev, cutoff)
                )
                .is_some_and(|p| p.contacts.is_empty())
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        trimmed(&outcome("b", recent, Outcome::NoAnswer, "v1", 7)),
        None
    );
    assert_eq!(trimmed(&outcome("c", old, Outcome::OptOut, "v1", 7)), None);
    // A tombstone leaves 30 days after its outcome was recorded.
    let fresh = Event::Retired {
        recorded_us: now_us - 1_000_000,
    };
    let stale = Event::Retired {
        recorded_us: now_us - 31 * DAY_S * 1_000_000,
    };
    assert_eq!(trimmed(&fresh), None);
    assert_eq!(trimmed(&stale), Some(Trim::Remove));
}

const DAY_S: i64 = 86_400;
