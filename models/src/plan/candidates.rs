//! One person's options for one attempt: every (contact, channel) pair the rules allow in each
//! window slot that still has capacity for its channel, scored by the model from the person's
//! state (or from a copy with the plan's earlier attempts applied as failures), and the best
//! pair kept per capacity resource. Also why a person has no option at all.

use super::input::Capacity;
use super::{PlanPerson, PlanWindow, UnplannedReason};
use crate::features::{FeatureState, PersonRows, PersonState, RowPair};
use crate::policy::{HOUR, Policy};
use crate::rank::{Blocked, Pair, RankQuery, Scorer, collect_pairs};
use crate::{Channel, Contact, Outcome};

/// The best pair of one person at one resource.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Opt {
    /// The capacity resource.
    pub resource: u32,
    /// The window slot.
    pub slot: u32,
    /// Index of the pair in the person's pair list (see [`Ctx::pairs`]).
    pub pair: u32,
    /// The model's probability that the attempt engages.
    pub p: f64,
}

/// A person's options for one attempt, or why there is none.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Scored {
    /// Best pair per resource, in resource order.
    pub options: Vec<Opt>,
    /// What each option is worth to the assignment: its probability, or in a first round of
    /// several, with the later attempts it leaves room for ([`Ctx::look_ahead`]).
    pub values: Vec<f64>,
    /// Why `options` is empty (in the first round).
    pub reason: Option<UnplannedReason>,
    /// Model rows scored.
    pub rows: u64,
}

/// Per-thread buffers, reused from person to person.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    rows: Vec<f32>,
    probs: Vec<f64>,
    allowed: Vec<bool>,
    cand: Vec<(u32, u32, u32)>,
}

/// A planned attempt as later rounds and the rendering need it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Chosen {
    pub slot: u32,
    pub pair: u32,
    pub p: f64,
}

/// What every worker shares: the state (zones), model, rules, window, capacity and each
/// person's query.
pub(super) struct Ctx<'a> {
    pub state: &'a FeatureState,
    pub scorer: &'a (dyn Scorer + Sync),
    pub policy: &'a Policy,
    pub window: PlanWindow,
    pub capacity: &'a Capacity,
    pub starts: Vec<i64>,
    /// Per person: their state (`None` = unknown), the query the pairs come from, and whether
    /// the request's and the person's channel restrictions leave any channel at all.
    pub persons: Vec<(Option<&'a PersonState>, RankQuery, bool)>,
}

impl<'a> Ctx<'a> {
    /// The context of a plan over `persons`.
    pub fn new(
        state: &'a FeatureState,
        scorer: &'a (dyn Scorer + Sync),
        policy: &'a Policy,
        capacity: &'a Capacity,
        window: PlanWindow,
        channels: &[Channel],
        persons: Vec<PlanPerson<'a>>,
    ) -> Self {
        Ctx {
            state,
            scorer,
            policy,
            window,
            capacity,
            starts: window.starts(),
            persons: persons
                .into_iter()
                .map(|p| {
                    let (channels, any) = combine(channels, &p.channels);
                    let query = RankQuery {
                        slot: None,
                        contacts: p.contacts,
                        // Contact points the caller could not read are not in the list: they
                        // are only answered in a ranking's `blocked`, which a plan has not.
                        rejected: Vec::new(),
                        channels,
                        as_of: window.start(0),
                        horizon_hours: window.slots(),
                        max_suggestions: usize::MAX,
                        person_zone: p.zone,
                    };
                    (p.state, query, any)
                })
                .collect(),
        }
    }

    /// The (contact, channel) pairs person `i` is planned over, resolved against `person` (their
    /// stored state or a copy of it). The order depends only on the query and the contacts the
    /// person had, so a copy with hypothetical attempts applied gives the same pairs.
    pub fn pairs<'p>(&'p self, i: usize, person: &'p PersonState) -> Vec<Pair<'p>> {
        let (_, query, any_channel) = &self.persons[i];
        let mut pairs = Vec::new();
        if *any_channel {
            let mut unsupported: Vec<Blocked> = Vec::new();
            collect_pairs(self.state, person, query, &mut pairs, &mut unsupported);
        }
        pairs
    }

    /// The contact of pair `pair` as [`FeatureState::apply_to`] needs it: from the request's
    /// list when it is there (its region gives a new number's zone), else the state's key.
    fn contact(&self, i: usize, pair: &Pair<'_>) -> Contact {
        let (_, query, _) = &self.persons[i];
        query
            .contacts
            .iter()
            .flatten()
            .find(|c| c.contact.key == pair.key)
            .map_or_else(
                || Contact {
                    key: pair.key.to_owned(),
                    kind: pair.kind,
                    region: String::new(),
                    number: pair.number,
                },
                |c| c.contact.clone(),
            )
    }

    /// Person `i`'s state after the plan's attempts `done` all failed: each applied at the
    /// last second of its slot (the latest the dialer can make it, so caps and fatigue are
    /// counted for as long as they can last) with the outcome a failed attempt on its channel
    /// most often has (`no_answer` for a call, `delivered` for a message).
    pub fn after_failures(&self, i: usize, done: &[Chosen]) -> PersonState {
        let base = self.persons[i].0.cloned().unwrap_or_default();
        let mut person = base.clone();
        let pairs = self.pairs(i, &base);
        for c in done {
            let Some(pair) = pairs.get(c.pair as usize) else {
                continue;
            };
            let contact = self.contact(i, pair);
            let at = self.window.start(c.slot) + HOUR - 1;
            self.state.apply_to(
                &mut person,
                &contact,
                pair.channel,
                at,
                failure(pair.channel),
            );
        }
        person
    }

    /// Score person `i`'s options from `person`, in slots after `after` (all when `None`) whose
    /// resource for the pair's channel is still `open`.
    pub fn score(
        &self,
        i: usize,
        person: &PersonState,
        after: Option<u32>,
        open: &[bool],
        s: &mut Scratch,
    ) -> Scored {
        let pairs = self.pairs(i, person);
        if pairs.is_empty() {
            return Scored {
                reason: Some(UnplannedReason::AllContactsBlocked),
                ..Scored::default()
            };
        }
        let from = after.map_or(0, |a| a as usize + 1);
        let starts = self.starts.get(from..).unwrap_or_default();
        s.cand.clear();
        let (mut usable_pair, mut allowed_slot) = (false, false);
        for (pi, pair) in pairs.iter().enumerate() {
            // As in a ranking: a contact point the state does not know is judged by what its
            // number alone says (invalid_number); one it knows by every rule.
            let unknown = pair
                .state
                .is_none()
                .then(|| self.policy.number_block(pair.number, pair.channel))
                .flatten();
            if unknown.is_some() {
                continue;
            }
            let blocked = self.policy.allowed_at(
                &self.state.zones,
                pair.zone,
                person,
                pair.state,
                pair.channel,
                starts,
                &mut s.allowed,
            );
            if blocked.is_err() {
                continue;
            }
            usable_pair = true;
            for (j, _) in s.allowed.iter().enumerate().filter(|(_, ok)| **ok) {
                allowed_slot = true;
                let k = (from + j) as u32;
                if let Some(r) = self.capacity.resource(k, pair.channel)
                    && open[r as usize]
                {
                    s.cand.push((pi as u32, k, r));
                }
            }
        }
        let reason = if !usable_pair {
            Some(UnplannedReason::AllContactsBlocked)
        } else if !allowed_slot {
            Some(UnplannedReason::NoAllowedSlot)
        } else if s.cand.is_empty() {
            Some(UnplannedReason::NoCapacity)
        } else {
            None
        };
        if reason.is_some() {
            return Scored {
                reason,
                ..Scored::default()
            };
        }
        let schema = self.scorer.schema();
        let width = schema.len();
        let times = s
            .cand
            .iter()
            .map(|&(_, k, _)| self.window.start(k))
            .collect();
        let mut rows = PersonRows::new(self.state, person, schema, times);
        s.rows.clear();
        let mut current: Option<(u32, RowPair<'_>)> = None;
        for &(pi, k, _) in &s.cand {
            let pair = match current {
                Some((p, rp)) if p == pi => rp,
                Some(_) | None => {
                    let p = &pairs[pi as usize];
                    let rp = rows.pair(p.key, p.kind, p.number, p.channel, Some(p.zone));
                    current = Some((pi, rp));
                    rp
                }
            };
            let ti = rows.time_index(self.window.start(k)).unwrap_or_default();
            let start = s.rows.len();
            rows.push(&pair, ti, &mut s.rows);
            s.rows.resize(start + width, f32::NAN);
        }
        self.scorer.probabilities(&s.rows, width, &mut s.probs);
        let mut options: Vec<Opt> = Vec::new();
        for (&(pi, k, r), &p) in s.cand.iter().zip(&s.probs) {
            match options.iter_mut().find(|o| o.resource == r) {
                // Strictly better only: ties keep the earlier pair.
                Some(o) if p > o.p => {
                    *o = Opt {
                        resource: r,
                        slot: k,
                        pair: pi,
                        p,
                    }
                }
                Some(_) => {}
                None => options.push(Opt {
                    resource: r,
                    slot: k,
                    pair: pi,
                    p,
                }),
            }
        }
        options.sort_by_key(|o| o.resource);
        Scored {
            values: options.iter().map(|o| o.p).collect(),
            options,
            reason: None,
            rows: s.cand.len() as u64,
        }
    }

    /// With `left` more attempts to come, value each first-attempt option as the start of the
    /// person's attempts: its probability plus, if it fails, the best chain of up to `left`
    /// later attempts. Without it a round would take each person's single best hour even when
    /// that leaves no good hour after it, where an earlier first attempt and a second at the
    /// best hour reach more.
    ///
    /// First every option gets an optimistic value from the same options' probabilities
    /// (`p_b + (1 − p_b)·…` over later slots, as if a failure changed nothing). An option whose
    /// optimistic value beats the person's best single attempt — the only ones the credit can
    /// make the person prefer — is then valued exactly for its next attempt: the later slots
    /// are scored again from a copy of the state with this option applied as a failure, so the
    /// rules (a daily cap of one leaves no second attempt) and the model's fatigue count; deeper
    /// follow-ups keep the optimistic chain. The others keep their probability.
    pub fn look_ahead(
        &self,
        i: usize,
        open: &[bool],
        scored: &mut Scored,
        left: u32,
        s: &mut Scratch,
    ) {
        let opts = scored.options.clone();
        if left == 0 || opts.len() < 2 {
            return;
        }
        // chain[k][b]: option b followed by up to k more attempts, optimistically.
        let mut chain: Vec<Vec<f64>> = vec![opts.iter().map(|o| o.p).collect()];
        for k in 1..=left as usize {
            let prev = &chain[k - 1];
            let next = opts
                .iter()
                .map(|ob| ob.p + (1.0 - ob.p) * best_after(&opts, prev, ob.slot))
                .collect();
            chain.push(next);
        }
        let best_single = opts.iter().map(|o| o.p).fold(0.0, f64::max);
        let deep = &chain[left as usize - 1];
        for (a, oa) in opts.iter().enumerate() {
            if chain[left as usize][a] <= best_single {
                continue;
            }
            let failed = [Chosen {
                slot: oa.slot,
                pair: oa.pair,
                p: oa.p,
            }];
            let copy = self.after_failures(i, &failed);
            let next = self.score(i, &copy, Some(oa.slot), open, s);
            scored.rows += next.rows;
            // The next attempt exactly, the ones after it optimistically.
            let follow = next
                .options
                .iter()
                .map(|nb| {
                    let after = if left > 1 {
                        best_after(&opts, deep, nb.slot)
                    } else {
                        0.0
                    };
                    nb.p + (1.0 - nb.p) * after
                })
                .fold(0.0, f64::max);
            scored.values[a] = oa.p + (1.0 - oa.p) * follow;
        }
    }
}

/// The best of `values` over the options in slots after `slot` (0 when there is none).
fn best_after(opts: &[Opt], values: &[f64], slot: u32) -> f64 {
    opts.iter()
        .zip(values)
        .filter(|(o, _)| o.slot > slot)
        .map(|(_, &v)| v)
        .fold(0.0, f64::max)
}

/// The request's and a person's channel restrictions combined (empty = all), and whether any
/// channel is left.
pub(super) fn combine(request: &[Channel], person: &[Channel]) -> (Vec<Channel>, bool) {
    match (request.is_empty(), person.is_empty()) {
        (true, _) => (person.to_vec(), true),
        (false, true) => (request.to_vec(), true),
        (false, false) => {
            let both: Vec<Channel> = person
                .iter()
                .copied()
                .filter(|c| request.contains(c))
                .collect();
            let any = !both.is_empty();
            (both, any)
        }
    }
}

/// The outcome a hypothetical failed attempt on `channel` is recorded with: what a failed
/// attempt there most often is.
pub(super) fn failure(channel: Channel) -> Outcome {
    match channel {
        Channel::Voice => Outcome::NoAnswer,
        Channel::Sms | Channel::Whatsapp | Channel::Rcs | Channel::Email => Outcome::Delivered,
    }
}
