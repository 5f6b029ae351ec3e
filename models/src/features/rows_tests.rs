//! Bit-identity of the segmented feature paths: [`FeatureState::features`] (now written in
//! segments) and [`PersonRows`] (segments cached per key) against a verbatim copy of the
//! vector as it was computed before the segments, on random histories, contacts, zones,
//! attributes and instants.

use proptest::prelude::*;

use super::fastmath::ln_1p;
use super::schema::{AttrKind, AttrSpec, BASE_FEATURES, RATE_PRIOR};
use super::tally::{H, TallyView};
use super::*;
use crate::localtime::DAY;
use crate::policy::proptests::{BASE, KEYS, ZONES, build_state, case};
use crate::{
    Channel, ContactKind, ContactNormalizer, LineType, NumberType, Validation, ValidationStatus,
};

/// The feature vector exactly as `vector.rs` computed it before it was split into segments
/// (FEATURE_VERSION 2: with the number's metadata and its latest carrier validation).
fn legacy(
    state: &FeatureState,
    schema: &FeatureSchema,
    slot: Option<u32>,
    cand: &Candidate<'_>,
    out: &mut Vec<f32>,
) {
    struct W<'a> {
        out: &'a mut Vec<f32>,
    }
    impl W<'_> {
        fn push(&mut self, v: f32) {
            self.out.push(v);
        }
        fn flag(&mut self, b: bool) {
            self.out.push(if b { 1.0 } else { 0.0 });
        }
        fn counts(&mut self, v: [f32; H]) {
            for x in v {
                self.out.push(ln_1p(x));
            }
        }
        fn days_since(&mut self, t: i64, at: Option<i64>) {
            self.out.push(at.map_or(f32::NAN, |a| {
                (t.saturating_sub(a).max(0) as f32) / DAY as f32
            }));
        }
    }
    fn looks_dead(c: &ContactState, t: i64) -> bool {
        c.wrong_party_at.is_some()
            || (!c.channels.is_empty()
                && c.channels.iter().all(|s| {
                    s.last_invalid_at
                        .is_some_and(|i| t.saturating_sub(i) < 30 * DAY)
                }))
    }
    let start = out.len();
    let empty = PersonState::default();
    let person = slot.map_or(&empty, |s| state.person(s));
    let contact = person
        .contact_index(cand.contact)
        .map(|i| &person.contacts[i])
        .filter(|c| c.known_at(cand.t) || c.tally.attempts[0] > 0.0);
    let zone = cand
        .zone
        .unwrap_or_else(|| state.resolve_zone(person, contact));
    let local = state.zones.local(zone, cand.t);
    let t = cand.t;
    let mut w = W { out };

    // Candidate context.
    for c in Channel::ALL {
        w.flag(c == cand.channel);
    }
    w.push(f32::from(local.hour));
    w.push(f32::from(local.weekday));
    w.flag(local.is_weekend());
    for b in 0..8 {
        w.flag(local.hour / 3 == b);
    }

    // (person, contact, channel).
    let ch = contact.and_then(|c| c.channel(cand.channel));
    let v = ch.map_or_else(TallyView::default, |s| s.tally.view(t));
    w.counts(v.attempts);
    w.counts(v.engaged);
    w.push(v.engaged_rate(1, RATE_PRIOR, 2.0));
    w.days_since(t, ch.and_then(|s| s.last_attempt_at));
    w.days_since(t, ch.and_then(|s| s.last_engaged_at));
    w.push(ch.map_or(0.0, |s| f32::from(s.consecutive_failures)));
    w.push(ch.map_or(0.0, |s| f32::from(s.invalid_count)));
    w.days_since(t, ch.and_then(|s| s.last_invalid_at));
    w.flag(ch.is_some_and(|s| s.opted_out_at.is_some()));

    // (person, contact).
    let cv = contact.map_or_else(TallyView::default, |c| c.tally.view(t));
    let pv = person.tally.view(t);
    w.counts(cv.attempts);
    w.counts(cv.reached);
    w.counts(cv.engaged);
    w.push(cv.engaged_rate(2, RATE_PRIOR, 2.0));
    w.days_since(t, contact.and_then(|c| c.last_engaged_at));
    w.days_since(t, contact.and_then(|c| c.last_reached_at));
    w.push(contact.map_or(0.0, |c| f32::from(c.consecutive_failures)));
    w.flag(contact.is_some_and(|c| c.wrong_party_at.is_some()));
    w.days_since(t, contact.and_then(|c| c.known_since));
    w.flag(contact.is_none_or(|c| c.last_attempt_at.is_none()));
    w.push(if pv.engaged[2] > 0.01 {
        cv.engaged[2] / pv.engaged[2]
    } else {
        f32::NAN
    });
    w.push(match contact {
        Some(c) if c.listed_channels != 0 => {
            if c.listed_channels & (1 << cand.channel.index()) != 0 {
                1.0
            } else {
                0.0
            }
        }
        Some(_) | None => f32::NAN,
    });

    // Person.
    w.counts(pv.attempts);
    w.counts(pv.engaged);
    w.push(pv.reached_rate(1, RATE_PRIOR * 2.0, 2.0));
    w.days_since(t, person.last_attempt_at);
    w.days_since(t, person.last_engaged_at);
    w.push(person.attempts_within(t, DAY) as f32);
    w.push(person.attempts_within(t, 7 * DAY) as f32);
    let (mut known, mut alive) = (0.0_f32, 0.0_f32);
    for c in person.contacts.iter().filter(|c| c.known_at(t)) {
        known += 1.0;
        if !looks_dead(c, t) {
            alive += 1.0;
        }
    }
    w.push(known);
    w.push(alive);

    // Person × local hour of week.
    let bucket = local.bucket();
    let block = local.hour / 3;
    let (mut ba, mut be, mut ka, mut ke) = (0.0_f32, 0.0_f32, 0.0_f32, 0.0_f32);
    // Only cells of the same 3-hour block matter (at most 7), so decay only those.
    for h in person.hours.iter().filter(|h| h.bucket % 8 == block) {
        let f = h.decay(t);
        ka += h.attempts * f;
        ke += h.engaged * f;
        if h.bucket == bucket {
            ba += h.attempts * f;
            be += h.engaged * f;
        }
    }
    let person_rate = pv.engaged_rate(2, RATE_PRIOR, 2.0);
    w.push(ln_1p(ba));
    w.push(ln_1p(be));
    w.push(ln_1p(ka));
    w.push(ln_1p(ke));
    w.push((ke + 3.0 * person_rate) / (ka + 3.0));
    w.push((be + 3.0 * person_rate) / (ba + 3.0));

    // The number itself: metadata validity and type (NaN / all zero for an email).
    let number = contact.and_then(|c| c.number).or(cand.number);
    w.push(number.map_or(f32::NAN, |n| if n.valid { 1.0 } else { 0.0 }));
    for t in NumberType::ALL {
        w.flag(number.is_some_and(|n| n.number_type == t));
    }
    // Its latest carrier validation known at `t`.
    let v = contact.and_then(|c| c.validation).filter(|v| v.at <= t);
    w.push(v.map_or(f32::NAN, |v| match v.status {
        ValidationStatus::Active => 1.0,
        ValidationStatus::Unknown => 0.0,
        ValidationStatus::Inactive => -1.0,
    }));
    w.days_since(t, v.map(|v| v.at));
    for line in [LineType::Mobile, LineType::Landline, LineType::Voip] {
        w.flag(v.is_some_and(|v| v.line_type == line));
    }
    w.push(
        v.and_then(|v| v.ported)
            .map_or(f32::NAN, |p| if p { 1.0 } else { 0.0 }),
    );

    assert_eq!(w.out.len() - start, BASE_FEATURES.len());
    for i in 0..schema.attributes.len() {
        w.push(person.attrs.get(i).copied().unwrap_or(f32::NAN));
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Extra state on top of the policy generator's histories: attributes, a contact registered
/// later (not yet known at some instants) with listed channels, and a contact zone.
#[derive(Debug, Clone)]
struct Extra {
    attrs: Vec<Option<f32>>,
    added_after: Option<i64>,
    listed: u8,
    contact_zone: Option<usize>,
    offsets: Vec<i64>,
    zone_override: Option<usize>,
    /// A carrier lookup with a line type and porting (the policy generator's have neither):
    /// contact index, offset from the last attempt, status, line type, ported.
    lookup: Option<(usize, i64, usize, usize, Option<bool>)>,
}

fn extra() -> impl Strategy<Value = Extra> {
    (
        prop::collection::vec(prop::option::of(-5.0f32..5.0), 0..3),
        prop::option::of(0i64..6 * DAY),
        0u8..32,
        prop::option::of(0usize..3),
        prop::collection::vec(-DAY..3 * DAY, 1..30),
        prop::option::weighted(0.3, 0usize..3),
        prop::option::of((
            prop::sample::select(vec![0usize, 1, 3, 4]),
            -DAY..2 * DAY,
            0usize..3,
            0usize..4,
            prop::option::of(any::<bool>()),
        )),
    )
        .prop_map(
            |(attrs, added_after, listed, contact_zone, offsets, zone_override, lookup)| Extra {
                attrs,
                added_after,
                listed,
                contact_zone,
                offsets,
                zone_override,
                lookup,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn segmented_rows_equal_the_former_vector(c in case(), e in extra()) {
        let (mut state, slot, contacts) = build_state(&c);
        let last = c.attempts.last().map_or(BASE, |a| a.t);
        let attrs: Vec<AttrSpec> = (0..e.attrs.len())
            .map(|i| AttrSpec { name: format!("a{i}"), kind: AttrKind::Numeric })
            .collect();
        let values = e.attrs.iter().map(|a| a.unwrap_or(f32::NAN)).collect();
        state.set_person_info(slot, None, values).expect("no zone");
        // The never-attempted contact, registered (known from a later instant, maybe).
        let listed: Vec<Channel> = Channel::ALL
            .into_iter()
            .filter(|ch| e.listed & (1 << ch.index()) != 0 && !ch.is_email())
            .collect();
        state
            .register_contact(
                slot,
                &contacts[3],
                &listed,
                e.contact_zone.map(|z| ZONES[z]),
                e.added_after.map(|a| last + a),
            )
            .expect("zone");
        if let Some((k, off, status, line, ported)) = e.lookup {
            let v = Validation {
                at: last + off,
                status: [ValidationStatus::Active, ValidationStatus::Inactive, ValidationStatus::Unknown][status],
                line_type: [LineType::Mobile, LineType::Landline, LineType::Voip, LineType::Unknown][line],
                ported,
            };
            state.apply_validation(slot, &contacts[k], v).expect("validate");
        }
        let zone_override = e.zone_override.map(|z| state.zones.intern(ZONES[z]).expect("zone"));
        let schema = FeatureSchema::new(attrs);
        let times: Vec<i64> = e.offsets.iter().map(|o| last + o).collect();
        let mut rows = PersonRows::new(&state, state.person(slot), &schema, times.clone());
        let mut got = Vec::new();
        let mut want = Vec::new();
        let mut old = Vec::new();
        // Numbers the state does not know: their features come from the candidate's own
        // metadata (a valid mobile, a fixed line, one outside the ranges, none at all).
        let norm = ContactNormalizer::new("BR").expect("region");
        let fresh: Vec<crate::Contact> = ["+5511933332222", "+551133334444", "+5520933332222"]
            .iter()
            .map(|k| norm.normalize(k).expect("key"))
            .collect();
        let mut listed_pairs: Vec<(&str, ContactKind, Option<crate::NumberInfo>)> = contacts
            .iter()
            .map(|c| (c.key.as_str(), c.kind, c.number))
            .collect();
        listed_pairs.extend(fresh.iter().map(|c| (c.key.as_str(), c.kind, c.number)));
        listed_pairs.push(("+5511922221111", ContactKind::Phone, None));
        prop_assert!(fresh.iter().any(|c| c.number.is_some_and(|n| !n.valid)));
        prop_assert!(fresh.iter().any(|c| c.number.is_some_and(|n| n.number_type != NumberType::Mobile)));
        // Pairs in an order that revisits contacts and instants, as a ranking does.
        for &(key, kind, number) in &listed_pairs {
            for ch in Channel::ALL {
                let pair = rows.pair(key, kind, number, ch, zone_override);
                for &t in &times {
                    let ti = rows.time_index(t).expect("asked-for instant");
                    got.clear();
                    want.clear();
                    old.clear();
                    rows.push(&pair, ti, &mut got);
                    let cand = Candidate { contact: key, kind, number, zone: zone_override, channel: ch, t };
                    state.features(&schema, Some(slot), &cand, &mut want);
                    legacy(&state, &schema, Some(slot), &cand, &mut old);
                    prop_assert_eq!(bits(&want), bits(&old), "features() vs the former vector");
                    prop_assert_eq!(bits(&got), bits(&want), "PersonRows vs features()");
                }
            }
        }
        // A person never seen.
        let empty = PersonState::default();
        let mut rows = PersonRows::new(&state, &empty, &schema, times.clone());
        let number = contacts[0].number;
        let pair = rows.pair(KEYS[0], ContactKind::Phone, number, Channel::Sms, None);
        for ti in 0..rows.times().len() {
            got.clear();
            old.clear();
            rows.push(&pair, ti, &mut got);
            let t = rows.times()[ti];
            let cand = Candidate { contact: KEYS[0], kind: ContactKind::Phone, number, zone: None, channel: Channel::Sms, t };
            legacy(&state, &schema, None, &cand, &mut old);
            prop_assert_eq!(bits(&got), bits(&old));
        }
    }
}
