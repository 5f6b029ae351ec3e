//! The two planners a backtest compares. Each picks at most one attempt per person for a day,
//! from the same candidates and under the same contact policy: the model follows the ranking's
//! top suggestion; the naive dialer takes a uniformly random allowed (contact, channel) at a
//! uniformly random allowed hour. So the comparison measures the ranking, not a difference in
//! what either was allowed to do.

use contactscore_models::Channel;
use contactscore_models::features::{ContactState, FeatureState};
use contactscore_models::model::ResponseModel;
use contactscore_models::policy::Policy;
use contactscore_models::rank::{self, RankQuery};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Slots are planned from the day's start (08:00 in the dialer's zone) over this many hours, so
/// the last slot starts at 21:00 there, like the logging dialer's working day.
pub const HORIZON_HOURS: u32 = 14;

/// Which planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Planner {
    /// The model's top suggestion from [`rank::rank`].
    Model,
    /// A random allowed candidate at a random allowed hour.
    Naive,
}

impl Planner {
    /// Both, in report order.
    pub const ALL: [Planner; 2] = [Planner::Model, Planner::Naive];

    /// Stable name (report, JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Planner::Model => "model",
            Planner::Naive => "naive",
        }
    }
}

/// One planned attempt.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// Normalised contact key, as the state knows it.
    pub contact: String,
    /// Channel.
    pub channel: Channel,
    /// Start of the chosen hourly slot (unix seconds).
    pub slot_start: i64,
    /// The model's calibrated probability for the slot (model planner only).
    pub predicted: Option<f64>,
}

/// What both planners read: the planner's own state, the policy and the day's start.
pub(crate) struct Day<'a> {
    /// The planner's feature state (its own copy, fed with its own outcomes).
    pub state: &'a FeatureState,
    /// The contact policy.
    pub policy: &'a Policy,
    /// Plan from this instant.
    pub as_of: i64,
}

/// The model planner: the ranking's best suggestion over every contact point the state knows.
pub(crate) fn model_plan(day: &Day<'_>, model: &ResponseModel, slot: u32) -> Option<Plan> {
    let query = RankQuery {
        slot: Some(slot),
        contacts: None,
        channels: Vec::new(),
        as_of: day.as_of,
        horizon_hours: HORIZON_HOURS,
        max_suggestions: 1,
        person_zone: None,
        rejected: Vec::new(),
    };
    let ranking = rank::rank(day.state, model, day.policy, &query);
    ranking.suggestions.into_iter().next().map(|s| Plan {
        contact: s.contact,
        channel: s.channel,
        slot_start: s.slot_start,
        predicted: Some(s.probability),
    })
}

/// The naive planner: among the candidates with at least one allowed slot, one uniformly at
/// random, then one of its allowed slots uniformly at random.
pub(crate) fn naive_plan(day: &Day<'_>, slot: u32, rng: &mut ChaCha8Rng) -> Option<Plan> {
    let mut options: Vec<(&ContactState, Channel, Vec<i64>)> = Vec::new();
    for (contact, zone, channel) in candidates(day.state, slot, day.as_of) {
        let allowed = day.policy.allowed_slots(
            &day.state.zones,
            zone,
            day.state.person(slot),
            Some(contact),
            channel,
            day.as_of,
            HORIZON_HOURS,
        );
        if let Ok(slots) = allowed.map_err(|_blocked| ())
            && !slots.is_empty()
        {
            options.push((contact, channel, slots));
        }
    }
    if options.is_empty() {
        return None;
    }
    let (contact, channel, slots) = &options[rng.random_range(0..options.len())];
    Some(Plan {
        contact: contact.key.to_string(),
        channel: *channel,
        slot_start: slots[rng.random_range(0..slots.len())],
        predicted: None,
    })
}

/// The (contact, zone, channel) candidates [`rank::rank`] considers for `RankQuery { contacts:
/// None, channels: [], person_zone: None }`: every contact point known at `as_of`, in the zone
/// the ranking resolves for it (the one order, [`FeatureState::resolve_zone_with`], with no zone
/// from the request), on the channels [`rank::candidate_channels`] gives it.
pub(crate) fn candidates(
    state: &FeatureState,
    slot: u32,
    as_of: i64,
) -> Vec<(&ContactState, u16, Channel)> {
    let person = state.person(slot);
    person
        .contacts
        .iter()
        .filter(|c| c.known_at(as_of))
        .flat_map(|c| {
            let zone = state.resolve_zone_with(person, Some(c), None, None);
            rank::candidate_channels(c.kind, Some(c))
                .into_iter()
                .map(move |ch| (c, zone, ch))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use contactscore_models::features::FeatureSchema;
    use contactscore_models::rank::{Exclusion, Scorer};
    use contactscore_models::{ContactNormalizer, Outcome};
    use rand::SeedableRng;

    use super::*;

    /// 2026-01-05T11:00:00Z, Monday 08:00 in São Paulo.
    const MON_8: i64 = 1_767_571_200 + 11 * 3600;
    use contactscore_models::localtime::DAY;

    /// Scores every row alike: the ranking then lists every candidate it can suggest.
    struct Flat(FeatureSchema);

    impl Scorer for Flat {
        fn schema(&self) -> &FeatureSchema {
            &self.0
        }
        fn probability(&self, _row: &[f32]) -> f64 {
            0.1
        }
    }

    fn contact(raw: &str) -> contactscore_models::Contact {
        ContactNormalizer::new("BR")
            .and_then(|n| n.normalize(raw))
            .unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    /// A person with a listed mobile, two unlisted landlines (one attempted), a New York number,
    /// an email, a number added later, and some history: an opt-out, an invalid, a wrong party.
    fn fixture() -> (FeatureState, u32) {
        let mut state = FeatureState::new("America/Sao_Paulo").unwrap_or_else(|e| panic!("{e}"));
        let slot = state.slot_or_insert("P1");
        let reg = |state: &mut FeatureState, raw: &str, chs: &[Channel], added: i64| {
            state
                .register_contact(slot, &contact(raw), chs, None, Some(added))
                .unwrap_or_else(|e| panic!("{e}"));
        };
        let mobile = [Channel::Voice, Channel::Sms, Channel::Whatsapp];
        reg(&mut state, "+55 11 98765-4321", &mobile, MON_8 - 90 * DAY);
        reg(&mut state, "+55 11 3456-7890", &[], MON_8 - 90 * DAY);
        reg(
            &mut state,
            "+1 212-664-7665",
            &[Channel::Voice],
            MON_8 - 90 * DAY,
        );
        reg(&mut state, "Ana@Example.com", &[], MON_8 - 90 * DAY);
        reg(&mut state, "(31) 3222-1100", &[], MON_8 - 90 * DAY);
        reg(&mut state, "+55 21 99876-5432", &mobile, MON_8 + 2 * DAY);
        let mut apply = |raw: &str, ch, t, o| {
            state
                .apply(slot, &contact(raw), ch, t, o)
                .unwrap_or_else(|e| panic!("{e}"));
        };
        apply(
            "+55 11 98765-4321",
            Channel::Sms,
            MON_8 - 9 * DAY,
            Outcome::OptOut,
        );
        apply(
            "+55 11 3456-7890",
            Channel::Voice,
            MON_8 - 8 * DAY,
            Outcome::Invalid,
        );
        apply(
            "+1 212-664-7665",
            Channel::Sms,
            MON_8 - 3 * DAY,
            Outcome::WrongParty,
        );
        (state, slot)
    }

    fn pairs<'a>(it: impl IntoIterator<Item = (&'a str, Channel)>) -> BTreeSet<(String, usize)> {
        it.into_iter()
            .map(|(k, c)| (k.to_owned(), c.index()))
            .collect()
    }

    /// The naive planner's candidates, and the subset it may use, are exactly those of the
    /// ranking (suggested or blocked), on several days of the week and with history.
    #[test]
    fn naive_candidates_are_the_rankings() {
        let (state, slot) = fixture();
        let policy = Policy::default();
        let scorer = Flat(FeatureSchema::new(Vec::new()));
        for d in 0..7 {
            let as_of = MON_8 + d * DAY;
            let query = RankQuery {
                slot: Some(slot),
                contacts: None,
                channels: Vec::new(),
                as_of,
                horizon_hours: HORIZON_HOURS,
                max_suggestions: usize::MAX,
                person_zone: None,
                rejected: Vec::new(),
            };
            let ranking = rank::rank(&state, &scorer, &policy, &query);
            assert!(
                ranking
                    .blocked
                    .iter()
                    .all(|b| b.reason != Exclusion::ChannelNotSupported)
            );
            let ranked = pairs(
                ranking
                    .suggestions
                    .iter()
                    .map(|s| (s.contact.as_str(), s.channel))
                    .chain(
                        ranking
                            .blocked
                            .iter()
                            .map(|b| (b.contact.as_str(), b.channel)),
                    ),
            );
            let ours = candidates(&state, slot, as_of);
            assert_eq!(ranked, pairs(ours.iter().map(|(c, _, ch)| (&*c.key, *ch))));
            let suggestible = pairs(
                ranking
                    .suggestions
                    .iter()
                    .map(|s| (s.contact.as_str(), s.channel)),
            );
            let day = Day {
                state: &state,
                policy: &policy,
                as_of,
            };
            let mut picked = BTreeSet::new();
            for seed in 0..200 {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                if let Some(p) = naive_plan(&day, slot, &mut rng) {
                    picked.insert((p.contact, p.channel.index()));
                }
            }
            assert_eq!(picked, suggestible, "day {d}");
            // The history blocks some pairs for good (opt-out, wrong party, recent invalid).
            assert!(
                suggestible.len() + 4 <= ranked.len(),
                "day {d}: {suggestible:?}"
            );
        }
    }

    #[test]
    fn naive_picks_only_allowed_slots_and_is_seeded() {
        let (state, slot) = fixture();
        let policy = Policy::default();
        let mut hours = BTreeSet::new();
        for d in 0..7 {
            let day = Day {
                state: &state,
                policy: &policy,
                as_of: MON_8 + d * DAY,
            };
            for seed in 0..100 {
                let plan = |s| naive_plan(&day, slot, &mut ChaCha8Rng::seed_from_u64(s));
                let Some(p) = plan(seed) else {
                    panic!("the email can always be used");
                };
                assert_eq!(Some(&p), plan(seed).as_ref(), "same seed, same plan");
                let person = state.person(slot);
                let i = person.contact_index(&p.contact).unwrap_or(usize::MAX);
                let cs = person.contacts.get(i);
                let zone = state.resolve_zone(person, cs);
                let allowed = policy
                    .allowed_slots(&state.zones, zone, person, cs, p.channel, day.as_of, 14)
                    .unwrap_or_default();
                assert!(allowed.contains(&p.slot_start), "{p:?} on day {d}");
                let local = state.zones.local(zone, p.slot_start);
                if p.channel != Channel::Email {
                    // Default windows: no phone channel on Sunday, Saturday 10–16.
                    assert_ne!(local.weekday, 6, "{p:?}");
                }
                hours.insert(local.hour);
            }
        }
        assert!(hours.len() >= 8, "slots should vary: {hours:?}");
    }
}
