//! Replaying an attempt log through the feature state in time order: each selected attempt's
//! features are read from the state *before* the attempt is applied, then the attempt is applied.
//! Carrier validations are events of the same history: each is applied when the replay reaches
//! its instant (before the features of an attempt at or after it). Training, `score` and
//! `evaluate` all go through here.

use contactscore_models::country_zones;
use contactscore_models::features::{Candidate, FeatureSchema, FeatureState};

use crate::Result;
use crate::ingest::{AttemptRow, Ingested};
use crate::progress::Progress;

/// Load what the contacts and persons files say into `state` (zones, attributes, known contact
/// points with their `added_at`) and return the state slot of every ingested person.
///
/// Every time zone the replay can need is interned here, in a fixed order (persons file, contacts
/// file, then the countries of all contact points), so zone ids do not depend on the order in
/// which [`replay`] visits attempts.
pub fn seed_state(state: &mut FeatureState, data: &Ingested) -> Result<Vec<u32>> {
    let slots: Vec<u32> = (0..data.persons.len())
        .map(|i| state.slot_or_insert(data.persons.name(i as u32)))
        .collect();
    for p in &data.person_rows {
        state.set_person_info(
            slots[p.person as usize],
            p.timezone.as_deref(),
            p.attrs.clone(),
        )?;
    }
    for k in &data.known_contacts {
        state.register_contact(
            slots[k.person as usize],
            &data.contacts[k.contact as usize],
            &k.channels,
            k.timezone.as_deref(),
            k.added_at,
        )?;
    }
    for c in &data.contacts {
        if let Some(zone) = country_zones::zone_for_region(&c.region) {
            state.zones.intern(zone)?;
        }
    }
    Ok(slots)
}

/// Which attempts get their features computed, and where each goes: the attempts selected, in
/// time order, numbered 0, 1, 2, … (their *ordinal*). Fixing the numbering before the replay lets
/// [`replay`] visit attempts in any order while consumers still fill their tables in time order.
#[derive(Debug, Clone)]
pub struct Selection {
    /// `before[i]` = number of selected attempts with index < `i`; `n + 1` entries.
    before: Vec<u32>,
}

impl Selection {
    /// Select the attempts of `data` (sorted by time) for which `select` returns true; `select`
    /// sees every attempt once, in time order.
    pub fn new(data: &Ingested, mut select: impl FnMut(usize, &AttemptRow) -> bool) -> Self {
        let mut before = Vec::with_capacity(data.attempts.len() + 1);
        let mut count = 0u32;
        before.push(0);
        for (i, row) in data.attempts.iter().enumerate() {
            count += u32::from(select(i, row));
            before.push(count);
        }
        Self { before }
    }

    /// Every attempt of `data`.
    pub fn all(data: &Ingested) -> Self {
        Self::new(data, |_, _| true)
    }

    /// Number of selected attempts.
    pub fn len(&self) -> usize {
        self.before.last().map_or(0, |&c| c as usize)
    }

    /// Whether nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of selected attempts among the first `i` (the ordinal the next selected one gets).
    pub fn before(&self, i: usize) -> usize {
        self.before
            .get(i)
            .or(self.before.last())
            .map_or(0, |&c| c as usize)
    }

    /// The ordinal of attempt `i`, if it is selected.
    fn ordinal(&self, i: usize) -> Option<usize> {
        match (self.before.get(i), self.before.get(i + 1)) {
            (Some(&a), Some(&b)) if b > a => Some(a as usize),
            _ => None,
        }
    }
}

/// Replay every attempt of `data` (already sorted by time) through `state`. For each selected
/// attempt, `visit` receives its ordinal (see [`Selection`]), the row and its point-in-time
/// features, read before the attempt is applied. Every attempt is applied, selected or not.
/// Each validation of a person is applied before the person's first attempt at or after its
/// instant; those after the person's last attempt are applied at the end, so the final state
/// holds every one.
///
/// Persons are replayed one after another, each through all of their own attempts in time order,
/// rather than all attempts in global time order. The state of one person never depends on
/// another's attempts, so every feature is identical either way, but person by person the
/// person's state stays in the CPU cache instead of being fetched from memory on nearly every
/// attempt (300k persons' state does not fit any cache). `visit` is therefore called in person
/// order; use the ordinal to place results.
pub fn replay(
    state: &mut FeatureState,
    data: &Ingested,
    slots: &[u32],
    schema: &FeatureSchema,
    selection: &Selection,
    mut visit: impl FnMut(usize, &AttemptRow, &[f32]),
    progress: &Progress,
) -> Result<()> {
    let bar = progress.bar("replay", data.attempts.len() as u64);
    let mut buf = Vec::with_capacity(schema.len());
    let mut batch = Vec::with_capacity(GATHER);
    let order = person_major(data);
    let mut validations = PersonValidations::new(data);
    for (c, chunk) in order.chunks(GATHER).enumerate() {
        // Person-major order reads the time-sorted rows at random: fetch a chunk of them in a
        // tight loop, where the CPU overlaps the cache misses, before the dependent work.
        batch.clear();
        batch.extend(chunk.iter().map(|&i| {
            let i = i as usize;
            (data.attempts[i], selection.ordinal(i))
        }));
        for (row, ordinal) in &batch {
            let slot = slots[row.person as usize];
            validations.apply(state, data, slot, row.person, Some(row.t))?;
            let contact = &data.contacts[row.contact as usize];
            if let Some(ordinal) = *ordinal {
                buf.clear();
                let cand = Candidate {
                    contact: &contact.key,
                    kind: contact.kind,
                    number: contact.number,
                    zone: None,
                    channel: row.channel,
                    t: row.t,
                };
                state.features(schema, Some(slot), &cand, &mut buf);
                visit(ordinal, row, &buf);
            }
            state.apply(slot, contact, row.channel, row.t, row.outcome)?;
        }
        bar.set_position((c * GATHER + chunk.len()) as u64);
    }
    for (person, &slot) in slots.iter().enumerate() {
        let person = u32::try_from(person).unwrap_or(u32::MAX);
        validations.apply(state, data, slot, person, None)?;
    }
    bar.finish();
    Ok(())
}

/// Each person's validations in time order, with how far the replay has applied them.
struct PersonValidations {
    /// Indices into `data.validations`, grouped by person, each group in time order.
    order: Vec<u32>,
    /// Per person: the next position in `order` to apply, and the end of the person's group.
    next: Vec<u32>,
    end: Vec<u32>,
}

impl PersonValidations {
    /// A stable counting sort of the (time-sorted) validations by person; nothing to hold when
    /// there are none.
    fn new(data: &Ingested) -> Self {
        if data.validations.is_empty() {
            return Self {
                order: Vec::new(),
                next: Vec::new(),
                end: Vec::new(),
            };
        }
        let n = data.persons.len();
        let mut end = vec![0u32; n];
        for v in &data.validations {
            end[v.person as usize] += 1;
        }
        let mut next = vec![0u32; n];
        let mut total = 0u32;
        for p in 0..n {
            next[p] = total;
            total += end[p];
            end[p] = total;
        }
        let mut fill = next.clone();
        let mut order = vec![0u32; data.validations.len()];
        for (i, v) in data.validations.iter().enumerate() {
            let at = &mut fill[v.person as usize];
            order[*at as usize] = u32::try_from(i).unwrap_or(u32::MAX);
            *at += 1;
        }
        Self { order, next, end }
    }

    /// Apply `person`'s validations up to and including instant `until` (`None`: all left).
    fn apply(
        &mut self,
        state: &mut FeatureState,
        data: &Ingested,
        slot: u32,
        person: u32,
        until: Option<i64>,
    ) -> Result<()> {
        if self.order.is_empty() {
            return Ok(());
        }
        let p = person as usize;
        while self.next[p] < self.end[p] {
            let v = &data.validations[self.order[self.next[p] as usize] as usize];
            if until.is_some_and(|t| v.t > t) {
                break;
            }
            state.apply_validation(slot, &data.contacts[v.contact as usize], v.validation())?;
            self.next[p] += 1;
        }
        Ok(())
    }
}

/// Rows fetched per gather step of [`replay`] (≈ 160 KiB of rows: stays in L2).
const GATHER: usize = 4096;

/// Attempt indices grouped by person (in order of person index), each person's in time order: a
/// stable counting sort of the time-sorted attempts by person.
fn person_major(data: &Ingested) -> Vec<u32> {
    let mut start = vec![0u32; data.persons.len() + 1];
    for row in &data.attempts {
        start[row.person as usize + 1] += 1;
    }
    for p in 1..start.len() {
        start[p] += start[p - 1];
    }
    let mut order = vec![0u32; data.attempts.len()];
    for (i, row) in data.attempts.iter().enumerate() {
        let next = &mut start[row.person as usize];
        order[*next as usize] = u32::try_from(i).unwrap_or(u32::MAX);
        *next += 1;
    }
    order
}

/// A deterministic pseudo-random number in [0, 1) from an attempt id and a seed (FNV-1a, then a
/// SplitMix64 finaliser), used for reproducible row subsampling.
pub fn unit_hash(id: &str, seed: u64) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::unit_hash;

    #[test]
    fn unit_hash_is_uniform_enough_and_stable() {
        let n = 20_000;
        let mean = (0..n).map(|i| unit_hash(&format!("A{i}"), 7)).sum::<f64>() / f64::from(n);
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        assert_eq!(unit_hash("A1", 7), unit_hash("A1", 7));
        assert_ne!(unit_hash("A1", 7), unit_hash("A1", 8));
    }
}
