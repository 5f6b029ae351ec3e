//! Property test of the policy engine against an independent brute-force checker: for random
//! histories and random policies, every slot [`Policy::allowed_slots`] returns satisfies every
//! rule when recomputed from the raw attempt list (not from the feature state), and every slot
//! the checker finds allowed (away from DST transitions) is returned.
//!
//! The checker deliberately shares no code with the engine: windows are tested minute by minute
//! against the raw generated intervals, caps and suppressions are recounted from the attempts,
//! carrier validations and which number lies outside the metadata's ranges.
//! The ranking property test (`rank/proptests.rs`) reuses the generator and the checker.

use proptest::prelude::*;

use super::*;
use crate::features::state::FeatureState;
use crate::{Contact, ContactNormalizer, LineType, Outcome, Validation, ValidationStatus};

/// 2026-02-25T00:00:00Z: histories span the New York DST change of 2026-03-08.
pub(crate) const BASE: i64 = 1_771_977_600;
pub(crate) const ZONES: [&str; 3] = ["America/Sao_Paulo", "America/New_York", "Asia/Kolkata"];
pub(crate) const PRESET_NAMES: [&str; 3] = ["default", "us_tcpa", "br"];
pub(crate) const KEYS: [&str; 5] = [
    "+5511987654321",
    "+5511912345678",
    "ana@example.com",
    "+5511955554444", // never attempted: the candidate may be unknown to the state
    "+5520987654321", // outside the metadata's ranges (no area code 20)
];
/// The index in [`KEYS`] of the number outside the metadata's ranges.
pub(crate) const UNLISTED: usize = 4;

/// Raw windows of one weekday in minutes, `[start, end)`, possibly overlapping.
pub(crate) type RawWeek = [Vec<(u32, u32)>; 7];

#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub(crate) contact: usize,
    pub(crate) channel: Channel,
    pub(crate) t: i64,
    pub(crate) outcome: Outcome,
}

/// A carrier validation of number `contact` (an index into [`KEYS`]).
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    pub(crate) contact: usize,
    pub(crate) t: i64,
    pub(crate) status: ValidationStatus,
}

#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) person_zone: Option<usize>,
    pub(crate) attempts: Vec<Attempt>,
    pub(crate) lookups: Vec<Lookup>,
    pub(crate) block_invalid_numbers: bool,
    pub(crate) block_validated_inactive: bool,
    pub(crate) preset: usize,
    pub(crate) overrides: Vec<Option<RawWeek>>,
    pub(crate) daily: u32,
    pub(crate) weekly: u32,
    pub(crate) cooldown_h: u32,
    pub(crate) invalid_d: u32,
    pub(crate) cand_contact: usize,
    pub(crate) cand_channel: usize,
    pub(crate) from_after: i64,
    pub(crate) horizon: u32,
}

fn raw_week() -> impl Strategy<Value = RawWeek> {
    let day = prop::collection::vec((0u32..96, 1u32..96), 0..3).prop_map(|v| {
        v.into_iter()
            .map(|(s, len)| (s * 15, (s + len).min(96) * 15))
            .collect::<Vec<_>>()
    });
    prop::array::uniform7(day)
}

fn attempt() -> impl Strategy<Value = Attempt> {
    let contacts = prop::sample::select(vec![0usize, 1, 2, UNLISTED]);
    (contacts, 0usize..5, 0i64..21 * DAY, 0usize..12).prop_map(|(contact, ch, t, o)| Attempt {
        contact,
        // The email address is only ever emailed; numbers get the other channels.
        channel: if contact == 2 {
            Channel::Email
        } else {
            Channel::ALL[ch % 4]
        },
        t: BASE + t,
        outcome: Outcome::ALL[o],
    })
}

fn lookup() -> impl Strategy<Value = Lookup> {
    let numbers = prop::sample::select(vec![0usize, 1, 3, UNLISTED]);
    (numbers, 0i64..21 * DAY, 0usize..3).prop_map(|(contact, t, s)| Lookup {
        contact,
        t: BASE + t,
        status: ValidationStatus::ALL[s],
    })
}

pub(crate) fn case() -> impl Strategy<Value = Case> {
    (
        (
            prop::option::of(0usize..3),
            prop::collection::vec(attempt(), 0..40),
            0usize..3,
            prop::collection::vec(prop::option::weighted(0.3, raw_week()), 5),
        ),
        (1u32..6, 1u32..15, 0u32..48, 0u32..40),
        (0usize..KEYS.len(), 0usize..5, 0i64..3 * DAY, 1u32..200),
        (any::<bool>(), 0i64..21 * DAY, any::<bool>()),
        (
            prop::collection::vec(lookup(), 0..6),
            prop::bool::weighted(0.3),
            prop::bool::weighted(0.8),
        ),
    )
        .prop_map(
            |((pz, mut attempts, preset, overrides), caps, cand, spread, lookups)| {
                // Half the histories are squeezed into ~2 days around a random instant, so daily
                // and weekly caps bind; half the queries start within 3 hours of the last attempt.
                let (dense, center, soon) = spread;
                let (mut lookups, block_invalid_numbers, block_validated_inactive) = lookups;
                if dense {
                    for a in &mut attempts {
                        a.t = BASE + center + (a.t - BASE) / 10;
                    }
                    for l in &mut lookups {
                        l.t = BASE + center + (l.t - BASE) / 10;
                    }
                }
                attempts.sort_by_key(|a| a.t);
                attempts.dedup_by_key(|a| a.t);
                // One lookup per number and instant: the latest is then unambiguous.
                lookups.sort_by_key(|l| (l.contact, l.t));
                lookups.dedup_by_key(|l| (l.contact, l.t));
                let (daily, weekly, cooldown_h, invalid_d) = caps;
                let (cand_contact, cand_channel, from_after, horizon) = cand;
                Case {
                    person_zone: pz,
                    attempts,
                    lookups,
                    block_invalid_numbers,
                    block_validated_inactive,
                    preset,
                    overrides,
                    daily,
                    weekly,
                    cooldown_h,
                    invalid_d,
                    cand_contact,
                    cand_channel,
                    from_after: if soon { from_after / 24 } else { from_after },
                    horizon,
                }
            },
        )
}

fn clock(m: u32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

pub(crate) fn config(c: &Case) -> PolicyConfig {
    let mut cfg = PolicyConfig::preset(PRESET_NAMES[c.preset]).expect("preset");
    for (i, o) in c.overrides.iter().enumerate() {
        if let Some(w) = o {
            let day = |d: usize| -> Vec<String> {
                w[d].iter()
                    .map(|&(s, e)| format!("{}-{}", clock(s), clock(e)))
                    .collect()
            };
            let ww = WeekWindows {
                mon: day(0),
                tue: day(1),
                wed: day(2),
                thu: day(3),
                fri: day(4),
                sat: day(5),
                sun: day(6),
            };
            cfg.windows.insert(Channel::ALL[i], ww);
        }
    }
    cfg.max_attempts_per_local_day = c.daily;
    cfg.max_attempts_per_7_days = c.weekly;
    cfg.cooldown_after_engaged_hours = c.cooldown_h;
    cfg.invalid_suppression_days = c.invalid_d;
    cfg.block_invalid_numbers = c.block_invalid_numbers;
    cfg.block_validated_inactive = c.block_validated_inactive;
    cfg
}

/// The raw windows the checker uses for the candidate channel, in minutes.
pub(crate) fn raw_windows(c: &Case, channel: Channel) -> RawWeek {
    if let Some(w) = &c.overrides[channel.index()] {
        return w.clone();
    }
    if channel.is_email() {
        return std::array::from_fn(|_| vec![(0, 1_440)]);
    }
    match PRESET_NAMES[c.preset] {
        "us_tcpa" => std::array::from_fn(|_| vec![(480, 1_260)]),
        _ => std::array::from_fn(|d| match d {
            0..=4 => vec![(540, 1_260)],
            5 => vec![(600, 960)],
            _ => Vec::new(),
        }),
    }
}

/// Whether every second of `[t, t + 3600)` is inside a raw window (sampled each minute and at
/// the last second; window bounds and zone transitions fall on whole minutes).
pub(crate) fn brute_in_window(zones: &Zones, zone: u16, week: &RawWeek, t: i64) -> bool {
    (0..60).map(|m| t + m * 60).chain([t + 3_599]).all(|s| {
        let l = zones.local(zone, s);
        let minute = l.second_of_day / 60;
        week[usize::from(l.weekday)]
            .iter()
            .any(|&(a, b)| a <= minute && minute < b)
    })
}

/// Every non-window rule, recomputed from the raw attempts, for an attempt at `t >= all`.
pub(crate) fn brute_rules_ok(c: &Case, p: &PolicyConfig, zones: &Zones, zone: u16, t: i64) -> bool {
    brute_pair_ok(
        c,
        p,
        zones,
        zone,
        c.cand_contact,
        Channel::ALL[c.cand_channel],
        t,
    )
}

/// [`brute_rules_ok`] for contact `k` (index into [`KEYS`]) and channel `ch`.
pub(crate) fn brute_pair_ok(
    c: &Case,
    p: &PolicyConfig,
    zones: &Zones,
    zone: u16,
    k: usize,
    ch: Channel,
    t: i64,
) -> bool {
    let day = zones.local(zone, t).day;
    let same_day = c
        .attempts
        .iter()
        .filter(|a| zones.local(zone, a.t).day == day)
        .count();
    let week = c
        .attempts
        .iter()
        .filter(|a| a.t > t - 7 * DAY && a.t <= t)
        .count();
    let cool = c.attempts.iter().any(|a| {
        a.outcome.is_engaged()
            && a.t <= t
            && t < a.t + i64::from(p.cooldown_after_engaged_hours) * 3_600
    });
    let opted = c
        .attempts
        .iter()
        .any(|a| a.contact == k && a.channel == ch && a.outcome == Outcome::OptOut);
    let wrong = c.attempts.iter().any(|w| {
        w.contact == k
            && w.outcome == Outcome::WrongParty
            && !c
                .attempts
                .iter()
                .any(|e| e.contact == k && e.outcome.is_engaged() && e.t > w.t)
    });
    let invalid = c.attempts.iter().any(|a| {
        a.contact == k
            && a.channel == ch
            && a.outcome == Outcome::Invalid
            && t < a.t + i64::from(p.invalid_suppression_days) * DAY
    });
    let number_blocked = brute_number_blocked(c, p, k, ch);
    same_day < p.max_attempts_per_local_day as usize
        && week < p.max_attempts_per_7_days as usize
        && !cool
        && !opted
        && !wrong
        && !invalid
        && !number_blocked
}

/// Whether the number itself blocks contact `k` of case `c` on `ch` whatever the instant: its
/// latest lookup says inactive with no engagement since (`block_validated_inactive`), or it is
/// the number outside the metadata's ranges (`block_invalid_numbers`); phone channels only.
pub(crate) fn brute_number_blocked(c: &Case, p: &PolicyConfig, k: usize, ch: Channel) -> bool {
    let phone = !ch.is_email();
    let latest = c
        .lookups
        .iter()
        .filter(|l| l.contact == k)
        .max_by_key(|l| l.t);
    let validated_inactive = p.block_validated_inactive
        && phone
        && latest.is_some_and(|l| {
            l.status == ValidationStatus::Inactive
                && !c
                    .attempts
                    .iter()
                    .any(|e| e.contact == k && e.outcome.is_engaged() && e.t >= l.t)
        });
    let unlisted = p.block_invalid_numbers && phone && k == UNLISTED;
    validated_inactive || unlisted
}

/// The feature state after the case's history: person `P` in slot 0, and the [`KEYS`] contacts.
pub(crate) fn build_state(c: &Case) -> (FeatureState, u32, Vec<Contact>) {
    let mut state = FeatureState::new("America/Sao_Paulo").expect("zone");
    let slot = state.slot_or_insert("P");
    let pz = c.person_zone.map(|i| ZONES[i]);
    state.set_person_info(slot, pz, Vec::new()).expect("zone");
    let norm = ContactNormalizer::new("BR").expect("region");
    let contacts: Vec<Contact> = KEYS
        .iter()
        .map(|k| norm.normalize(k).expect("key"))
        .collect();
    // Lookups and attempts in time order (a lookup first at equal instants, as the replay does).
    let mut lookups = c.lookups.iter().peekable();
    for a in &c.attempts {
        while let Some(l) = lookups.next_if(|l| l.t <= a.t) {
            apply_lookup(&mut state, slot, &contacts[l.contact], l);
        }
        let contact = &contacts[a.contact];
        state
            .apply(slot, contact, a.channel, a.t, a.outcome)
            .expect("apply");
    }
    for l in lookups {
        apply_lookup(&mut state, slot, &contacts[l.contact], l);
    }
    (state, slot, contacts)
}

/// Apply lookup `l` of `contact` to the person in `slot` (line type unknown, porting unknown).
pub(crate) fn apply_lookup(state: &mut FeatureState, slot: u32, contact: &Contact, l: &Lookup) {
    let v = Validation {
        at: l.t,
        status: l.status,
        line_type: LineType::Unknown,
        ported: None,
    };
    state.apply_validation(slot, contact, v).expect("validate");
}

fn run(c: &Case) -> std::result::Result<(), TestCaseError> {
    let (state, slot, contacts) = build_state(c);
    let cfg = config(c);
    let policy = cfg.clone().validate().expect("generated config is valid");
    let person = state.person(slot);
    let cand = person
        .contact_index(&contacts[c.cand_contact].key)
        .map(|i| &person.contacts[i]);
    let zone = state.resolve_zone(person, cand);
    let channel = Channel::ALL[c.cand_channel];
    let last = c.attempts.last().map_or(BASE, |a| a.t);
    let from = last + c.from_after;
    let end = from + i64::from(c.horizon) * 3_600;
    let zones = &state.zones;
    // As the ranking asks: a number the state does not know is judged by its number alone.
    let got = match cand {
        None => match policy.number_block(contacts[c.cand_contact].number, channel) {
            Some(b) => Err(b),
            None => policy.allowed_slots(zones, zone, person, cand, channel, from, c.horizon),
        },
        Some(_) => policy.allowed_slots(zones, zone, person, cand, channel, from, c.horizon),
    };
    let week = raw_windows(c, channel);
    let allowed = got.clone().unwrap_or_default();
    // Soundness: every returned slot obeys every rule.
    for &t in &allowed {
        prop_assert!(t >= from && t < end, "slot {t} outside [{from}, {end})");
        prop_assert!(zones.local(zone, t).second_of_day.is_multiple_of(3_600));
        prop_assert!(
            brute_in_window(zones, zone, &week, t),
            "slot {t} outside window"
        );
        prop_assert!(
            brute_rules_ok(c, &cfg, zones, zone, t),
            "slot {t} breaks a rule"
        );
        prop_assert_eq!(policy.check(zones, zone, person, cand, channel, t), Ok(()));
    }
    // Completeness away from DST: every local-hour slot the checker allows is returned.
    let mut s = from + (900 - from.rem_euclid(900)) % 900;
    while s < end {
        let steady = zones.local(zone, s).offset == zones.local(zone, s + 3_599).offset;
        if steady
            && zones.local(zone, s).second_of_day.is_multiple_of(3_600)
            && brute_in_window(zones, zone, &week, s)
            && brute_rules_ok(c, &cfg, zones, zone, s)
        {
            prop_assert!(allowed.contains(&s), "allowed slot {s} missing: {got:?}");
        }
        s += 900;
    }
    // A reported block lifts after the start of the query (it was binding then).
    if let Err(Block { until: Some(u), .. }) = got {
        prop_assert!(u > from, "block lifts at {u}, before from {from}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn allowed_slots_obey_every_rule(c in case()) {
        run(&c)?;
    }
}
