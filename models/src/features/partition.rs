//! Moving a contiguous range of persons out of a [`FeatureState`] into a state of their own and
//! back, so that disjoint persons can be replayed on several threads with the ordinary
//! single-threaded [`FeatureState::apply`] and [`FeatureState::features`].
//!
//! Why this is exact: no feature or state update of one person reads another person, and every
//! zone a replay can need is interned before it starts, so a part holds everything its persons'
//! updates and features read (the zone table is copied, not shared). Putting a part back checks
//! that it interned nothing new, since a zone id added to a copy would mean something else in the
//! whole.

use std::collections::HashMap;
use std::ops::Range;

use super::state::{FeatureState, PersonState};
use crate::{Error, Result};

impl FeatureState {
    /// Move the persons of slots `range` into a new state whose slot `i` is slot
    /// `range.start + i` here; their slots here hold empty persons until [`Self::put_back`].
    /// The new state has a copy of the zone table and no cutoff.
    pub fn take_range(&mut self, range: Range<u32>) -> FeatureState {
        let (start, end) = (
            range.start as usize,
            (range.end as usize).min(self.persons.len()),
        );
        let persons: Vec<PersonState> = self.persons[start.min(end)..end]
            .iter_mut()
            .map(std::mem::take)
            .collect();
        FeatureState {
            zones: self.zones.clone(),
            default_zone: self.default_zone,
            person_ids: self.person_ids[start.min(end)..end].to_vec(),
            persons,
            cutoff: None,
            index: HashMap::new(),
        }
    }

    /// Put back a part taken with [`Self::take_range`] at slot `start`, keeping the later of the
    /// two cutoffs. Fails (changing nothing) if the part interned a zone this state lacks or does
    /// not fit.
    pub fn put_back(&mut self, start: u32, part: FeatureState) -> Result<()> {
        let start = start as usize;
        if part.zones.len() != self.zones.len() {
            return Err(Error::InvalidConfig(format!(
                "internal: a replayed part interned {} time zones beyond the {} interned up front",
                part.zones.len().saturating_sub(self.zones.len()),
                self.zones.len()
            )));
        }
        let Some(slots) = self.persons.get_mut(start..start + part.persons.len()) else {
            return Err(Error::InvalidConfig(format!(
                "internal: a part of {} persons does not fit at slot {start} of {}",
                part.persons.len(),
                self.persons.len()
            )));
        };
        for (slot, person) in slots.iter_mut().zip(part.persons) {
            *slot = person;
        }
        self.cutoff = match (self.cutoff, part.cutoff) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::features::FeatureState;
    use crate::{Channel, ContactNormalizer, Outcome};

    #[test]
    fn a_range_replayed_apart_equals_the_whole_replayed_together() {
        let n = ContactNormalizer::new("BR").unwrap_or_else(|e| panic!("{e}"));
        let phone = n
            .normalize("+5511987654321")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut whole = FeatureState::new("America/Sao_Paulo").unwrap_or_else(|e| panic!("{e}"));
        for p in ["a", "b", "c", "d"] {
            whole.slot_or_insert(p);
        }
        // Country zones are interned up front, as the trainer's seed step does.
        whole
            .zones
            .intern("America/Sao_Paulo")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut apart = whole.clone();
        let t0 = 1_767_625_200;
        let apply = |s: &mut FeatureState, slot: u32, k: i64| {
            s.apply(
                slot,
                &phone,
                Channel::Voice,
                t0 + k * 3_600,
                Outcome::NoAnswer,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        };
        for slot in 0..4 {
            apply(&mut whole, slot, i64::from(slot));
        }
        let mut part = apart.take_range(1..3);
        assert_eq!(part.len(), 2);
        apply(&mut apart, 0, 0);
        apply(&mut apart, 3, 3);
        apply(&mut part, 0, 1);
        apply(&mut part, 1, 2);
        apart.put_back(1, part).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(apart.persons, whole.persons);
        assert_eq!(apart.cutoff, whole.cutoff);

        // A part that interned a zone of its own cannot come back.
        let mut part = apart.take_range(0..1);
        part.zones
            .intern("Asia/Tokyo")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(apart.put_back(0, part).is_err());
    }
}
