//! Moving a contiguous range of persons out of a [`FeatureState`] into a state of their own and
//! back, so that disjoint persons can be replayed on several threads with the ordinary
//! single-threaded [`FeatureState::apply`] and [`FeatureState::features`]; and merging the
//! states of disjoint shards of persons (a sharded training run) into one.
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

impl FeatureState {
    /// An error unless `other` has this state's zone table and default zone (what lets persons
    /// of state parts be served with one part's zones).
    pub fn same_zones_as(&self, other: &FeatureState) -> Result<()> {
        let same = other.default_zone == self.default_zone
            && other.zones.len() == self.zones.len()
            && (0..self.zones.len())
                .all(|i| other.zones.name(i as u16) == self.zones.name(i as u16));
        if !same {
            return Err(Error::InvalidConfig(
                "state parts with different time-zone tables cannot be merged (a zone \
                 spelled outside the time-zone database's names?)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Merge the states of disjoint sets of persons into one. Each part comes with the sort key
    /// of each of its persons, by slot (ascending within a part); the merged state holds every
    /// person in key order, so parts that a sharded run replayed apart merge into the state the
    /// unsharded run builds. Every part must have the same zone table and default zone (a
    /// sharded run interns every zone before seeding); the cutoff is the latest of theirs.
    pub fn merge_parts(parts: Vec<(Vec<u64>, FeatureState)>) -> Result<FeatureState> {
        let mut iter = parts.iter();
        let Some((_, first)) = iter.next() else {
            return Err(Error::InvalidConfig("no state parts to merge".into()));
        };
        for (keys, part) in &parts {
            first.same_zones_as(part)?;
            if keys.len() != part.persons.len() || !keys.is_sorted() {
                return Err(Error::InvalidConfig(format!(
                    "a state part has {} persons and {} sort keys, or unsorted keys",
                    part.persons.len(),
                    keys.len()
                )));
            }
        }
        let total: usize = parts.iter().map(|(_, p)| p.persons.len()).sum();
        let mut order: Vec<(u64, u32, u32)> = Vec::with_capacity(total);
        for (k, (keys, _)) in parts.iter().enumerate() {
            order.extend(
                keys.iter()
                    .enumerate()
                    .map(|(slot, &key)| (key, k as u32, slot as u32)),
            );
        }
        order.sort_unstable();
        if order.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Error::InvalidConfig(
                "two state parts hold persons with the same sort key (overlapping shards?)".into(),
            ));
        }
        let mut merged = FeatureState {
            zones: first.zones.clone(),
            default_zone: first.default_zone,
            person_ids: Vec::with_capacity(total),
            persons: Vec::with_capacity(total),
            cutoff: None,
            index: HashMap::new(),
        };
        let mut parts: Vec<FeatureState> = parts.into_iter().map(|(_, p)| p).collect();
        for (_, k, slot) in order {
            let part = &mut parts[k as usize];
            merged
                .person_ids
                .push(std::mem::take(&mut part.person_ids[slot as usize]));
            merged
                .persons
                .push(std::mem::take(&mut part.persons[slot as usize]));
        }
        merged.cutoff = parts.iter().filter_map(|p| p.cutoff).max();
        merged.rebuild_index();
        Ok(merged)
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

    #[test]
    fn parts_merge_in_key_order_and_mismatched_parts_are_refused() {
        let state = |ids: &[&str]| {
            let mut s = FeatureState::new("America/Sao_Paulo").unwrap_or_else(|e| panic!("{e}"));
            for id in ids {
                s.slot_or_insert(id);
            }
            s
        };
        let merged = FeatureState::merge_parts(vec![
            (vec![2, 5], state(&["b", "e"])),
            (vec![1, 3, 4], state(&["a", "c", "d"])),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = merged.person_ids.iter().map(|s| &**s).collect();
        assert_eq!(ids, ["a", "b", "c", "d", "e"]);
        assert_eq!(merged.slot("d"), Some(3));

        // The same key twice (overlapping shards), a key count that does not match, and parts
        // with different zone tables are refused.
        let overlap = vec![(vec![1], state(&["a"])), (vec![1], state(&["b"]))];
        assert!(FeatureState::merge_parts(overlap).is_err());
        assert!(FeatureState::merge_parts(vec![(vec![1, 2], state(&["a"]))]).is_err());
        let mut other = state(&["b"]);
        other
            .zones
            .intern("Asia/Tokyo")
            .unwrap_or_else(|e| panic!("{e}"));
        let zones = vec![(vec![1], state(&["a"])), (vec![2], other)];
        assert!(FeatureState::merge_parts(zones).is_err());
    }
}
