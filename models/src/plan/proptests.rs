//! Property test of the planner against an independent brute-force checker: for random lists of
//! persons with random histories, random policies, windows, capacities (shared and per channel),
//! channel restrictions and attempts per person, every planned attempt obeys every contact rule
//! when recomputed from the raw attempts (history plus the plan's own earlier attempts of that
//! person), no resource exceeds its capacity, each probability is the model's on the state the
//! plan says (recomputed through `FeatureState::apply` on a full copy of the state), the reported
//! objective is the plan's, the bound is above it, and unplanned reasons are true.

use proptest::prelude::*;

use super::*;
use crate::calibration::sigmoid;
use crate::features::{Candidate, FeatureSchema};
use crate::localtime::DAY;
use crate::policy::proptests::{
    BASE, Case, KEYS, ZONES, apply_lookup, brute_in_window, brute_number_blocked, brute_pair_ok,
    case, config, raw_windows,
};
use crate::policy::{HOUR, PolicyConfig};
use crate::rank::{Scorer, candidate_channels};
use crate::{Contact, ContactNormalizer, Outcome};

/// A deterministic scorer whose probabilities vary with every feature (hour, counts, fatigue).
pub(super) struct Wobbly {
    pub(super) schema: FeatureSchema,
    pub(super) weights: Vec<f64>,
}

impl Wobbly {
    pub(super) fn new(seed: u64) -> Self {
        let schema = FeatureSchema::new(Vec::new());
        let weights = (0..schema.len())
            .map(|i| ((seed.wrapping_mul(31).wrapping_add(i as u64 * 17)) % 13) as f64 / 13.0 - 0.5)
            .collect();
        Self { schema, weights }
    }
}

impl Scorer for Wobbly {
    fn schema(&self) -> &FeatureSchema {
        &self.schema
    }
    fn probability(&self, row: &[f32]) -> f64 {
        let z: f64 = row
            .iter()
            .zip(&self.weights)
            .map(|(&x, w)| if x.is_finite() { f64::from(x) * w } else { 0.0 })
            .sum();
        sigmoid(z.sin() * 2.5 - 0.5)
    }
}

/// One slot's capacity lines: shared attempts, and (channel index, attempts) lines.
pub(super) type SlotLines = (Option<u32>, Vec<(usize, u32)>);

/// A random planning problem.
#[derive(Debug, Clone)]
pub(super) struct Problem {
    /// One history per person (the first case also gives the policy).
    pub(super) cases: Vec<Case>,
    /// Whether each person is planned over their known contacts (else the whole list).
    pub(super) known_only: Vec<bool>,
    /// Whole days after the history, and the window's first UTC hour (`None`: the second
    /// value, any hour; mostly daytime in the Americas so that tiny windows are not all closed).
    pub(super) window_after: (i64, Option<i64>, i64),
    pub(super) slots: u32,
    /// `None` = unlimited; else per slot: shared attempts and per-channel lines.
    pub(super) capacity: Option<Vec<SlotLines>>,
    pub(super) attempts: u32,
    pub(super) channels: Vec<usize>,
    pub(super) seed: u64,
}

pub(super) fn problem(
    max_persons: usize,
    max_slots: u32,
    max_attempts: u32,
) -> impl Strategy<Value = Problem> {
    let slot_cap = (
        prop::option::weighted(0.8, 0u32..3),
        prop::collection::vec((0usize..5, 0u32..3), 0..2),
    );
    (
        prop::collection::vec((case(), any::<bool>()), 1..=max_persons),
        (0i64..8, prop::option::weighted(0.75, 12i64..22), 0i64..24),
        1u32..=max_slots,
        prop::option::weighted(0.8, prop::collection::vec(slot_cap, max_slots as usize)),
        1u32..=max_attempts,
        prop::collection::vec(0usize..5, 0..3),
        any::<u64>(),
    )
        .prop_map(
            |(cases, window_after, slots, capacity, attempts, channels, seed)| {
                let (cases, known_only) = cases.into_iter().unzip();
                Problem {
                    cases,
                    known_only,
                    window_after,
                    slots,
                    capacity,
                    attempts,
                    channels,
                    seed,
                }
            },
        )
}

/// Everything built from a [`Problem`].
pub(super) struct Built {
    pub(super) state: FeatureState,
    pub(super) contacts: Vec<Contact>,
    pub(super) cfg: PolicyConfig,
    pub(super) policy: Policy,
    pub(super) window: PlanWindow,
    pub(super) capacity: Capacity,
    pub(super) entries: Vec<CapacityEntry>,
}

pub(super) fn build(p: &Problem) -> Built {
    let mut state = FeatureState::new("America/Sao_Paulo").expect("zone");
    let norm = ContactNormalizer::new("BR").expect("region");
    let contacts: Vec<Contact> = KEYS
        .iter()
        .map(|k| norm.normalize(k).expect("key"))
        .collect();
    let mut last = BASE;
    for (i, c) in p.cases.iter().enumerate() {
        let slot = state.slot_or_insert(&format!("P{i}"));
        let pz = c.person_zone.map(|z| ZONES[z]);
        state.set_person_info(slot, pz, Vec::new()).expect("zone");
        // Lookups and attempts in time order (a lookup first at equal instants), as
        // `build_state` and the replay do: the rule checker reads both.
        let mut lookups = c.lookups.iter().peekable();
        for a in &c.attempts {
            while let Some(l) = lookups.next_if(|l| l.t <= a.t) {
                apply_lookup(&mut state, slot, &contacts[l.contact], l);
            }
            state
                .apply(slot, &contacts[a.contact], a.channel, a.t, a.outcome)
                .expect("apply");
            last = last.max(a.t);
        }
        for l in lookups {
            apply_lookup(&mut state, slot, &contacts[l.contact], l);
            last = last.max(l.t);
        }
    }
    let cfg = config(&p.cases[0]);
    let policy = cfg.clone().validate().expect("generated config is valid");
    let (days, day_hour, any_hour) = p.window_after;
    let start = ((last + 1).div_euclid(DAY) + 1 + days) * DAY + day_hour.unwrap_or(any_hour) * HOUR;
    let window = PlanWindow::new(start, start + i64::from(p.slots) * HOUR + HOUR).expect("window");
    let mut entries = Vec::new();
    for (k, (shared, own)) in p
        .capacity
        .iter()
        .flatten()
        .enumerate()
        .take(window.slots() as usize)
    {
        let slot_start = window.start(k as u32);
        if let Some(a) = shared {
            entries.push(CapacityEntry {
                slot_start,
                channel: None,
                attempts: *a,
            });
        }
        for &(ch, a) in own {
            let channel = Some(Channel::ALL[ch]);
            if !entries
                .iter()
                .any(|e| e.slot_start == slot_start && e.channel == channel)
            {
                entries.push(CapacityEntry {
                    slot_start,
                    channel,
                    attempts: a,
                });
            }
        }
    }
    let capacity = Capacity::new(&window, &entries).expect("capacity");
    Built {
        state,
        contacts,
        cfg,
        policy,
        window,
        capacity,
        entries,
    }
}

/// The plan request over every person of `p`.
pub(super) fn request<'a>(p: &Problem, b: &'a Built, threads: usize) -> PlanRequest<'a> {
    let persons = (0..p.cases.len())
        .map(|i| {
            let slot = b.state.slot(&format!("P{i}")).expect("person");
            PlanPerson {
                state: Some(b.state.person(slot)),
                contacts: (!p.known_only[i]).then(|| {
                    b.contacts
                        .iter()
                        .map(|c| RankContact {
                            contact: c.clone(),
                            channels: Vec::new(),
                            zone: None,
                        })
                        .collect()
                }),
                channels: Vec::new(),
                zone: None,
            }
        })
        .collect();
    PlanRequest {
        window: b.window,
        capacity: b.capacity.clone(),
        attempts_per_person: AttemptsPerPerson::new(p.attempts).expect("attempts"),
        channels: p.channels.iter().map(|&c| Channel::ALL[c]).collect(),
        persons,
        threads: NonZeroUsize::new(threads).expect("threads"),
    }
}

/// Whether the slot at `t` lies inside one window of one local day: every minute inside a raw
/// window ([`brute_in_window`]) and the slot not crossing local midnight (a plan's UTC hours
/// can, in half-hour zones; the day a crossing slot's attempt counts on would be unknown).
pub(super) fn brute_slot_in_window(
    zones: &crate::localtime::Zones,
    zone: u16,
    week: &crate::policy::proptests::RawWeek,
    t: i64,
) -> bool {
    brute_in_window(zones, zone, week, t)
        && zones.local(zone, t).day == zones.local(zone, t + HOUR - 1).day
}

/// The capacity an attempt on `channel` in the slot at `t` uses, recomputed from the entries:
/// the channel's own line, else the shared one; `None` = no capacity; unlimited without lines.
fn line(entries: &[CapacityEntry], t: i64, channel: Channel) -> Option<(usize, u32)> {
    if entries.is_empty() {
        return Some((usize::MAX, u32::MAX));
    }
    let own = entries
        .iter()
        .position(|e| e.slot_start == t && e.channel == Some(channel));
    let shared = entries
        .iter()
        .position(|e| e.slot_start == t && e.channel.is_none());
    own.or(shared).map(|i| (i, entries[i].attempts))
}

fn check(p: &Problem, b: &Built, plan: &Plan) -> Result<(), TestCaseError> {
    let scorer = Wobbly::new(p.seed);
    let n = p.cases.len();
    let zones = &b.state.zones;
    let mut used = vec![0u32; b.entries.len()];
    let mut survival = vec![1.0_f64; n];
    let mut planned: Vec<Vec<&PlannedAttempt>> = vec![Vec::new(); n];
    for w in plan.attempts.windows(2) {
        let key = |a: &PlannedAttempt| (a.suggestion.slot_start, a.person, a.attempt_index);
        prop_assert!(key(&w[0]) < key(&w[1]), "attempts not in slot order");
    }
    for a in &plan.attempts {
        planned[a.person].push(a);
    }
    for (i, mine) in planned.iter_mut().enumerate() {
        mine.sort_by_key(|a| a.attempt_index);
        prop_assert!(mine.len() <= p.attempts as usize);
        let slot = b.state.slot(&format!("P{i}")).expect("person");
        let person = b.state.person(slot);
        // The person's history as raw attempts, growing with the plan's own.
        let mut raw = p.cases[i].clone();
        let mut hypothetical = b.state.clone();
        for (k, a) in mine.iter().enumerate() {
            let s = &a.suggestion;
            let t = s.slot_start;
            prop_assert_eq!(a.attempt_index as usize, k);
            prop_assert!(b.window.index(t).is_some(), "slot {} not a window slot", t);
            if k > 0 {
                prop_assert!(
                    t > mine[k - 1].suggestion.slot_start,
                    "later attempt not later"
                );
            }
            let Some(ci) = b.contacts.iter().position(|c| c.key == s.contact) else {
                return Err(TestCaseError::fail(format!(
                    "unknown contact {}",
                    s.contact
                )));
            };
            if !p.channels.is_empty() {
                prop_assert!(p.channels.iter().any(|&c| Channel::ALL[c] == s.channel));
            }
            prop_assert!(crate::rank::supports(b.contacts[ci].kind, s.channel));
            let cs = person
                .contact_index(&s.contact)
                .map(|x| &person.contacts[x]);
            if p.known_only[i] {
                prop_assert!(
                    cs.is_some_and(|c| c.known_at(b.window.start(0))),
                    "not a known contact"
                );
            }
            let zone = b.state.resolve_zone(person, cs);
            prop_assert!(
                brute_slot_in_window(zones, zone, &raw_windows(&p.cases[0], s.channel), t),
                "slot {} outside the {} window",
                t,
                s.channel
            );
            prop_assert!(
                brute_pair_ok(&raw, &b.cfg, zones, zone, ci, s.channel, t),
                "person {} attempt {} at {} on {} / {} breaks a rule",
                i,
                k,
                t,
                s.contact,
                s.channel
            );
            let Some((line_index, cap)) = line(&b.entries, t, s.channel) else {
                return Err(TestCaseError::fail("attempt in a slot without capacity"));
            };
            if line_index != usize::MAX {
                used[line_index] += 1;
                prop_assert!(
                    used[line_index] <= cap,
                    "capacity line {} exceeded",
                    line_index
                );
            }
            // The probability: the model on the state after the earlier attempts failed.
            let mut row = Vec::new();
            let cand = Candidate {
                contact: &s.contact,
                kind: b.contacts[ci].kind,
                number: b.contacts[ci].number,
                zone: Some(zone),
                channel: s.channel,
                t,
            };
            hypothetical.features(&scorer.schema, Some(slot), &cand, &mut row);
            let want = scorer.probability(&row);
            prop_assert_eq!(
                s.probability.to_bits(),
                want.to_bits(),
                "probability of attempt {}",
                k
            );
            survival[i] *= 1.0 - s.probability;
            let failed = candidates::failure(s.channel);
            hypothetical
                .apply(slot, &b.contacts[ci], s.channel, t + HOUR - 1, failed)
                .expect("apply");
            raw.attempts.push(crate::policy::proptests::Attempt {
                contact: ci,
                channel: s.channel,
                t: t + HOUR - 1,
                outcome: failed,
            });
        }
    }
    let expected: f64 = survival.iter().map(|s| 1.0 - s).sum();
    prop_assert!(
        (expected - plan.expected_engaged).abs() < 1e-9,
        "objective {} vs {}",
        plan.expected_engaged,
        expected
    );
    prop_assert!(
        plan.upper_bound >= plan.expected_engaged,
        "bound {} < value {}",
        plan.upper_bound,
        plan.expected_engaged
    );
    // Unplanned persons: the reason holds when recomputed.
    for u in &plan.unplanned {
        prop_assert!(planned[u.person].is_empty(), "planned and unplanned");
        let i = u.person;
        let slot = b.state.slot(&format!("P{i}")).expect("person");
        let person = b.state.person(slot);
        let mut allowed_anywhere = false;
        let mut usable_pair = false;
        let mut free_capacity = false;
        for (ci, c) in b.contacts.iter().enumerate() {
            let cs = person.contact_index(&c.key).map(|x| &person.contacts[x]);
            if p.known_only[i] && !cs.is_some_and(|c| c.known_at(b.window.start(0))) {
                continue;
            }
            let zone = b.state.resolve_zone(person, cs);
            for ch in candidate_channels(c.kind, cs) {
                if !p.channels.is_empty() && !p.channels.iter().any(|&x| Channel::ALL[x] == ch) {
                    continue;
                }
                let opted = p.cases[i]
                    .attempts
                    .iter()
                    .any(|a| a.contact == ci && a.channel == ch && a.outcome == Outcome::OptOut);
                let wrong = p.cases[i].attempts.iter().any(|w| {
                    w.contact == ci
                        && w.outcome == Outcome::WrongParty
                        && !p.cases[i]
                            .attempts
                            .iter()
                            .any(|e| e.contact == ci && e.outcome.is_engaged() && e.t > w.t)
                });
                let number = brute_number_blocked(&p.cases[i], &b.cfg, ci, ch);
                usable_pair |= !opted && !wrong && !number;
                for k in 0..b.window.slots() {
                    let t = b.window.start(k);
                    if brute_slot_in_window(zones, zone, &raw_windows(&p.cases[0], ch), t)
                        && brute_pair_ok(&p.cases[i], &b.cfg, zones, zone, ci, ch, t)
                    {
                        allowed_anywhere = true;
                        if let Some((li, cap)) = line(&b.entries, t, ch)
                            && (li == usize::MAX || used[li] < cap)
                        {
                            free_capacity = true;
                        }
                    }
                }
            }
        }
        match u.reason {
            UnplannedReason::NotFound => prop_assert!(false, "every person is known"),
            UnplannedReason::AllContactsBlocked => {
                prop_assert!(!usable_pair, "person {} has a usable pair", i)
            }
            UnplannedReason::NoAllowedSlot => prop_assert!(
                usable_pair && !allowed_anywhere,
                "person {} has an allowed slot",
                i
            ),
            // Maximality: an allowed slot with spare capacity would have been taken.
            UnplannedReason::NoCapacity => prop_assert!(
                allowed_anywhere && !free_capacity,
                "person {} left out with capacity to spare",
                i
            ),
        }
    }
    // Everyone is accounted for, once.
    for (i, mine) in planned.iter().enumerate() {
        let listed = plan.unplanned.iter().filter(|u| u.person == i).count();
        prop_assert_eq!(
            listed,
            usize::from(mine.is_empty()),
            "person {} accounted for {} times",
            i,
            listed
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn plans_obey_every_rule_and_capacity(p in problem(5, 30, 3)) {
        let b = build(&p);
        let scorer = Wobbly::new(p.seed);
        let mut one = plan(&b.state, &scorer, &b.policy, request(&p, &b, 1));
        check(&p, &b, &one)?;
        let mut three = plan(&b.state, &scorer, &b.policy, request(&p, &b, 3));
        // Only the timings may differ.
        (one.timing, three.timing) = Default::default();
        prop_assert_eq!(one, three, "threads changed the plan");
    }
}
