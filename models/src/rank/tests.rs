//! Unit tests of the ranking on hand-made states: best-slot choice, suppression of invalid,
//! wrong-party and opted-out pairs, cool-down, unsupported channels, candidate defaults,
//! de-duplication, truncation and zone resolution.

use super::*;
use crate::localtime::DAY;
use crate::policy::PolicyConfig;
use crate::{ContactNormalizer, Outcome};

/// 2026-01-05T00:00:00Z, a Monday. São Paulo is UTC-3, New York UTC-5 in January.
const MON: i64 = 1_767_571_200;

/// Prefers local hour `hour` (feature `local_hour`); 0.1 elsewhere, 0.5 at that hour.
struct LikesHour {
    schema: FeatureSchema,
    hour: f32,
}

impl LikesHour {
    fn new(hour: f32) -> Self {
        Self {
            schema: FeatureSchema::new(Vec::new()),
            hour,
        }
    }
}

impl Scorer for LikesHour {
    fn schema(&self) -> &FeatureSchema {
        &self.schema
    }
    fn probability(&self, row: &[f32]) -> f64 {
        let i = self.schema.index("local_hour").expect("local_hour");
        let voice = self.schema.index("ch_voice").expect("ch_voice");
        let base = if row[i] == self.hour { 0.5 } else { 0.1 };
        // Voice a little better than the other channels, so the order is predictable.
        base + if row[voice] == 1.0 { 0.05 } else { 0.0 }
    }
}

fn contact(raw: &str) -> Contact {
    ContactNormalizer::new("BR")
        .and_then(|n| n.normalize(raw))
        .expect("contact")
}

struct Fixture {
    state: FeatureState,
    slot: u32,
    policy: Policy,
}

impl Fixture {
    fn new() -> Self {
        let mut state = FeatureState::new("America/Sao_Paulo").expect("zone");
        let slot = state.slot_or_insert("P1");
        Self {
            state,
            slot,
            policy: Policy::default(),
        }
    }

    fn apply(&mut self, raw: &str, ch: Channel, t: i64, o: Outcome) {
        self.state
            .apply(self.slot, &contact(raw), ch, t, o)
            .expect("apply");
    }

    fn query(&self, contacts: &[(&str, &[Channel])], as_of: i64) -> RankQuery {
        RankQuery {
            slot: Some(self.slot),
            contacts: Some(
                contacts
                    .iter()
                    .map(|(raw, chs)| RankContact {
                        contact: contact(raw),
                        channels: chs.to_vec(),
                        zone: None,
                    })
                    .collect(),
            ),
            channels: Vec::new(),
            as_of,
            horizon_hours: 24,
            max_suggestions: 5,
            person_zone: None,
            rejected: Vec::new(),
        }
    }

    fn rank(&self, q: &RankQuery, hour: f32) -> Ranking {
        rank(&self.state, &LikesHour::new(hour), &self.policy, q)
    }
}

const A: &str = "+5511987654321";
const B: &str = "+5511912345678";

#[test]
fn picks_the_best_hour_inside_the_window() {
    let f = Fixture::new();
    // From Monday 00:00 São Paulo; the scorer likes 19:00 local.
    let r = f.rank(&f.query(&[(A, &[Channel::Voice])], MON + 3 * 3_600), 19.0);
    assert_eq!(r.suggestions.len(), 1);
    let s = &r.suggestions[0];
    assert_eq!(s.contact, "+5511987654321");
    assert_eq!(s.slot_start, MON + 3 * 3_600 + 19 * 3_600);
    assert_eq!(s.slot_end() - s.slot_start, 3_600);
    assert!((s.probability - 0.55).abs() < 1e-12);
    assert!(s.reasons.contains(&"best_hour_evening"));
    assert!(s.reasons.contains(&"new_number"));
    assert!(r.blocked.is_empty());
}

#[test]
fn an_hour_outside_the_window_is_never_chosen_however_good() {
    let f = Fixture::new();
    // The scorer likes 23:00, which the default window forbids; ties keep the earliest slot.
    let r = f.rank(&f.query(&[(A, &[Channel::Voice])], MON + 3 * 3_600), 23.0);
    assert_eq!(r.suggestions[0].slot_start, MON + 3 * 3_600 + 9 * 3_600);
}

#[test]
fn invalid_and_wrong_party_numbers_drop_out_with_reasons() {
    let mut f = Fixture::new();
    let t = MON + 3 * 3_600 + 10 * 3_600;
    f.apply(A, Channel::Voice, t, Outcome::Invalid);
    f.apply(B, Channel::Voice, t + 60, Outcome::WrongParty);
    let q = f.query(
        &[(A, &[Channel::Voice, Channel::Sms]), (B, &[Channel::Voice])],
        t + 3_600,
    );
    let r = f.rank(&q, 19.0);
    // Invalid suppresses the (contact, channel); SMS on A is still allowed.
    assert_eq!(r.suggestions.len(), 1);
    assert_eq!(r.suggestions[0].channel, Channel::Sms);
    // The slot is the same evening, within 24 h of the failed attempts.
    assert!(r.suggestions[0].reasons.contains(&"attempted_recently"));
    let invalid = r
        .blocked
        .iter()
        .find(|b| b.contact == A)
        .expect("A blocked");
    assert_eq!(invalid.reason, Exclusion::Rule(BlockReason::Invalid));
    assert_eq!(invalid.until, Some(t + 30 * DAY));
    let wrong = r
        .blocked
        .iter()
        .find(|b| b.contact == B)
        .expect("B blocked");
    assert_eq!(wrong.reason, Exclusion::Rule(BlockReason::WrongParty));
    assert_eq!(wrong.until, None);
}

#[test]
fn an_engaged_outcome_blocks_everything_until_the_cool_down_ends() {
    let mut f = Fixture::new();
    let t = MON + 3 * 3_600 + 10 * 3_600;
    f.apply(A, Channel::Voice, t, Outcome::RightParty);
    let mut q = f.query(&[(A, &[]), (B, &[])], t + 60);
    // The cool-down lifts at Tuesday 10:00, inside a 24 h horizon: look 12 h ahead only.
    q.horizon_hours = 12;
    let r = f.rank(&q, 19.0);
    assert!(r.suggestions.is_empty(), "{:?}", r.suggestions);
    // Neither is in a contacts file: both get the phone defaults (A's voice among them).
    assert_eq!(r.blocked.len(), 2 * DEFAULT_PHONE_CHANNELS.len());
    for b in &r.blocked {
        assert_eq!(b.reason, Exclusion::Rule(BlockReason::CoolDown));
        assert_eq!(b.until, Some(t + DAY));
    }
}

#[test]
fn opt_out_is_for_good_and_only_on_that_channel() {
    let mut f = Fixture::new();
    let t = MON + 3 * 3_600 + 10 * 3_600;
    f.apply(A, Channel::Sms, t, Outcome::OptOut);
    let r = f.rank(
        &f.query(&[(A, &[Channel::Sms, Channel::Voice])], t + 40 * DAY),
        19.0,
    );
    assert_eq!(r.suggestions.len(), 1);
    assert_eq!(r.suggestions[0].channel, Channel::Voice);
    assert_eq!(r.blocked[0].reason, Exclusion::Rule(BlockReason::OptedOut));
    assert_eq!(r.blocked[0].until, None);
}

#[test]
fn email_on_voice_is_reported_not_dropped() {
    let f = Fixture::new();
    let q = f.query(
        &[("Ana@Example.com ", &[Channel::Voice, Channel::Email])],
        MON,
    );
    let r = f.rank(&q, 19.0);
    assert_eq!(r.suggestions.len(), 1);
    assert_eq!(r.suggestions[0].contact, "ana@example.com");
    assert!(r.suggestions[0].reasons.contains(&"any_hour_channel"));
    assert!(r.suggestions[0].reasons.contains(&"new_address"));
    assert_eq!(r.blocked.len(), 1);
    assert_eq!(r.blocked[0].reason, Exclusion::ChannelNotSupported);
}

#[test]
fn without_contacts_the_known_ones_are_used_and_future_ones_ignored() {
    let mut f = Fixture::new();
    let t = MON + 3 * 3_600 + 10 * 3_600;
    f.apply(A, Channel::Voice, t, Outcome::NoAnswer);
    // B becomes known only later (a contacts-file `added_at` in the future of as_of).
    f.state
        .register_contact(
            f.slot,
            &contact(B),
            &[Channel::Whatsapp],
            None,
            Some(t + 10 * DAY),
        )
        .expect("register");
    let mut q = f.query(&[], t + DAY);
    q.contacts = None;
    let r = f.rank(&q, 19.0);
    // A: never listed, so the phone defaults (voice scores best); B is not known yet.
    assert_eq!(r.suggestions.len(), 3);
    assert!(r.suggestions.iter().all(|s| s.contact == A));
    assert_eq!(r.suggestions[0].channel, Channel::Voice);
    q.as_of = t + 11 * DAY;
    let r = f.rank(&q, 19.0);
    let pairs: Vec<_> = r
        .suggestions
        .iter()
        .map(|s| (s.contact.as_str(), s.channel))
        .collect();
    assert!(pairs.contains(&(B, Channel::Whatsapp)), "{pairs:?}");
}

#[test]
fn repeated_contacts_and_channels_count_once_and_the_list_is_cut() {
    let f = Fixture::new();
    let q = f.query(
        &[
            (A, &[Channel::Voice, Channel::Voice, Channel::Sms]),
            ("(11) 98765-4321", &[Channel::Whatsapp]),
            (B, &[]),
        ],
        MON,
    );
    let r = f.rank(&q, 19.0);
    // A: voice + sms (the national-format repeat is the same number); B: three defaults.
    assert_eq!(r.suggestions.len(), 5);
    let mut pairs: Vec<_> = r
        .suggestions
        .iter()
        .map(|s| (s.contact.clone(), s.channel))
        .collect();
    pairs.sort_by_key(|(c, ch)| (c.clone(), ch.index()));
    pairs.dedup();
    assert_eq!(pairs.len(), 5);
    let mut q = q;
    q.max_suggestions = 2;
    let r = f.rank(&q, 19.0);
    assert_eq!(r.suggestions.len(), 2);
    assert!(r.suggestions.iter().all(|s| s.channel == Channel::Voice));
    // A request-level channel filter applies to every contact.
    q.max_suggestions = 10;
    q.channels = vec![Channel::Sms];
    let r = f.rank(&q, 19.0);
    assert_eq!(r.suggestions.len(), 2);
    assert!(r.suggestions.iter().all(|s| s.channel == Channel::Sms));
}

#[test]
fn the_request_zone_places_slots_in_the_persons_own_hours() {
    let mut f = Fixture::new();
    let mut zones_state = std::mem::replace(&mut f.state, FeatureState::new("UTC").expect("zone"));
    let tokyo = zones_state.zones.intern("Asia/Tokyo").expect("zone");
    f.state = zones_state;
    let slot = f.state.slot_or_insert("P1");
    f.slot = slot;
    let mut q = f.query(&[(A, &[Channel::Voice])], MON);
    q.person_zone = Some(tokyo);
    let r = f.rank(&q, 19.0);
    let s = &r.suggestions[0];
    // 19:00 in Tokyo (UTC+9) is 10:00 UTC.
    assert_eq!(s.slot_start.rem_euclid(DAY), 10 * 3_600);
    // Without the request zone the state's default (São Paulo) applies: 19:00 is 22:00 UTC.
    q.person_zone = None;
    let r = f.rank(&q, 19.0);
    assert_eq!(r.suggestions[0].slot_start.rem_euclid(DAY), 22 * 3_600);
}

#[test]
fn a_stricter_policy_is_honoured() {
    let mut f = Fixture::new();
    f.policy = PolicyConfig {
        max_attempts_per_local_day: 1,
        ..PolicyConfig::default()
    }
    .validate()
    .expect("valid");
    let t = MON + 3 * 3_600 + 10 * 3_600;
    f.apply(A, Channel::Voice, t, Outcome::NoAnswer);
    let r = f.rank(&f.query(&[(A, &[Channel::Voice])], t + 60), 19.0);
    // Monday is used up and the horizon ends Tuesday 10:01, before the liked 19:00: the slots
    // left are Tuesday 09:00 and 10:00, which score the same, so the earlier one wins.
    assert_eq!(r.suggestions.len(), 1);
    assert_eq!(r.suggestions[0].slot_start, t + DAY - 3_600);
}

#[test]
fn instants_at_the_ends_of_time_never_wrap() {
    // Overflow checks are on in tests: any `+`/`-` on these instants that wraps panics.
    for (history, as_of) in [
        (i64::MIN, i64::MIN),
        (i64::MIN, MON),
        (i64::MAX, i64::MAX),
        (i64::MAX - 1, i64::MIN),
        (MON, i64::MAX),
    ] {
        let mut f = Fixture::new();
        f.apply(A, Channel::Voice, history, Outcome::RightParty);
        f.apply(A, Channel::Sms, history, Outcome::Invalid);
        f.apply(B, Channel::Voice, history, Outcome::NoAnswer);
        let mut q = f.query(&[(A, &[]), (B, &[Channel::Voice])], as_of);
        q.horizon_hours = 168;
        let r = f.rank(&q, 19.0);
        assert!(
            r.suggestions.len() + r.blocked.len() >= 2,
            "{history} {as_of}: {r:?}"
        );
    }
}
