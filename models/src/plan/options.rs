//! Every person's scored options without assigning them: the best (contact, channel) and its
//! probability at each window slot (and capacity line) the rules allow, exactly as the first
//! round of [`super::plan`] scores them. For planners that decide differently from the same
//! model — the capacity backtest's hour-by-hour baseline — and for inspecting a plan.

use super::candidates::{Ctx, Scored};
use super::{PlanRequest, UnplannedReason, par_map};
use crate::Channel;
use crate::features::{FeatureState, PersonState};
use crate::policy::Policy;
use crate::rank::Scorer;

/// A person's best pair at one slot (and capacity line).
#[derive(Debug, Clone, PartialEq)]
pub struct SlotOption {
    /// The window slot.
    pub slot: u32,
    /// Normalised contact key.
    pub contact: String,
    /// Channel.
    pub channel: Channel,
    /// The model's probability that an attempt in the slot engages the person.
    pub probability: f64,
}

/// Per person of `req` (in order), their options in slot order, or why they have none.
/// `attempts_per_person` is ignored: these are first attempts.
pub fn slot_options(
    state: &FeatureState,
    scorer: &(dyn Scorer + Sync),
    policy: &Policy,
    req: PlanRequest<'_>,
) -> Vec<Result<Vec<SlotOption>, UnplannedReason>> {
    let n = req.persons.len();
    let threads = req.threads.get();
    let not_found: Vec<bool> = req
        .persons
        .iter()
        .map(|p| p.state.is_none() && p.contacts.is_none())
        .collect();
    let ctx = Ctx::new(
        state,
        scorer,
        policy,
        &req.capacity,
        req.window,
        &req.channels,
        req.persons,
    );
    let open = vec![true; req.capacity.resources()];
    let all: Vec<usize> = (0..n).collect();
    par_map(&all, threads, |i, scratch| {
        if not_found[i] {
            return Err(UnplannedReason::NotFound);
        }
        let empty = PersonState::default();
        let person = ctx.persons[i].0.unwrap_or(&empty);
        let Scored {
            options, reason, ..
        } = ctx.score(i, person, None, &open, scratch);
        if let Some(r) = reason {
            return Err(r);
        }
        let pairs = ctx.pairs(i, person);
        let mut out: Vec<SlotOption> = options
            .iter()
            .filter_map(|o| {
                let pair = pairs.get(o.pair as usize)?;
                Some(SlotOption {
                    slot: o.slot,
                    contact: pair.key.to_owned(),
                    channel: pair.channel,
                    probability: o.p,
                })
            })
            .collect();
        out.sort_by_key(|o| o.slot);
        Ok(out)
    })
}
