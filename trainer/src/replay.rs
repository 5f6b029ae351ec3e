//! Replaying an attempt log through the feature state in time order: each selected attempt's
//! features are read from the state *before* the attempt is applied, then the attempt is applied.
//! Carrier validations are events of the same history: each is applied when the replay reaches
//! its instant (before the features of an attempt at or after it). Training, `score` and
//! `evaluate` all go through here.

use std::sync::atomic::{AtomicU32, Ordering};

use contactscore_models::country_zones;
use contactscore_models::features::{Candidate, FeatureSchema, FeatureState};

use crate::ingest::{AttemptRow, Ingested};
use crate::progress::Progress;
use crate::threads::Threads;
use crate::{Result, TrainerError};

/// Load what the contacts and persons files say into `state` (zones, attributes, known contact
/// points with their `added_at`) and return the state slot of every ingested person.
///
/// Every time zone the replay can need is interned here, in a fixed order (every zone of the
/// time-zone database, then any other spelling the persons and contacts files give, then the
/// countries of all contact points), so zone ids do not depend on the order in which [`replay`]
/// visits attempts, nor (unless a file spells a zone outside the database's names) on which
/// persons were read.
pub fn seed_state(state: &mut FeatureState, data: &Ingested) -> Result<Vec<u32>> {
    // Every zone of the time-zone database first, in its own order, so that a zone's id does
    // not depend on which persons were read: shards of a sharded run get the ids the whole
    // log's run gives (the server interns the same table when it loads a version).
    state.zones.intern_all_known();
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
/// attempt (300k persons' state does not fit any cache). The same independence lets `threads`
/// threads replay disjoint ranges of persons at once ([`FeatureState::take_range`]); the rows
/// and the final state are the same for any thread count. `visit` is always called on the
/// caller's thread, in person order (by state slot); use the ordinal to place results.
#[allow(clippy::too_many_arguments)]
pub fn replay(
    state: &mut FeatureState,
    data: &Ingested,
    slots: &[u32],
    schema: &FeatureSchema,
    selection: &Selection,
    threads: Threads,
    mut visit: impl FnMut(usize, &AttemptRow, &[f32]),
    progress: &Progress,
) -> Result<()> {
    let bar = progress.bar("replay", data.attempts.len() as u64);
    let order = slot_major(data, slots, state.len());
    let validations = PersonValidations::new(data);
    let run = Run {
        data,
        slots,
        schema,
        selection,
        validations: &validations,
    };
    if threads.get() == 1 {
        for (c, chunk) in order.chunks(GATHER).enumerate() {
            run.replay(state, 0, chunk, &mut visit)?;
            bar.set_position((c * GATHER + chunk.len()) as u64);
        }
        validations.finish(state, data, slots)?;
        bar.finish();
        return Ok(());
    }
    // Enough blocks per thread that uneven persons even out, few enough that each block's rows
    // (held until its wave is visited) stay a small part of memory.
    let blocks = blocks(&order, data, slots, threads.get() * 16);
    let mut done = 0usize;
    for wave in blocks.chunks(threads.get()) {
        let parts: Vec<(Block, FeatureState)> = wave
            .iter()
            .map(|b| (b.clone(), state.take_range(b.slots.clone())))
            .collect();
        let results: Vec<Result<(Block, FeatureState, Rows)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|(block, mut part)| {
                    let run = &run;
                    let attempts = &order[block.attempts.clone()];
                    scope.spawn(move || {
                        let mut rows = Rows::default();
                        run.replay(&mut part, block.slots.start, attempts, &mut |k, row, f| {
                            rows.push(k, row, f);
                        })?;
                        Ok((block, part, rows))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(TrainerError::Internal("a replay thread panicked".into()))
                    })
                })
                .collect()
        });
        // Put every part back before reporting a failure, so the state stays whole.
        let mut first_err = None;
        let mut visits = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Ok((block, part, rows)) => {
                    state.put_back(block.slots.start, part)?;
                    done += block.attempts.len();
                    visits.push(rows);
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        for rows in &visits {
            rows.visit(&mut visit);
        }
        bar.set_position(done as u64);
    }
    validations.finish(state, data, slots)?;
    bar.finish();
    Ok(())
}

/// Each person's validations in time order, with how far the replay has applied them.
///
/// The cursors are atomics only so that replay threads can share this: each person is replayed
/// by one thread, so no cursor is ever touched by two (relaxed ordering is enough; the thread
/// scope's join orders the final pass after them).
struct PersonValidations {
    /// Indices into `data.validations`, grouped by person, each group in time order.
    order: Vec<u32>,
    /// Per person: the next position in `order` to apply, and the end of the person's group.
    next: Vec<AtomicU32>,
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
        let next = next.into_iter().map(AtomicU32::new).collect();
        Self { order, next, end }
    }

    /// Apply `person`'s validations up to and including instant `until` (`None`: all left) to
    /// `slot` of `state`.
    fn apply(
        &self,
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
        let mut next = self.next[p].load(Ordering::Relaxed);
        while next < self.end[p] {
            let v = &data.validations[self.order[next as usize] as usize];
            if until.is_some_and(|t| v.t > t) {
                break;
            }
            state.apply_validation(slot, &data.contacts[v.contact as usize], v.validation())?;
            next += 1;
        }
        self.next[p].store(next, Ordering::Relaxed);
        Ok(())
    }

    /// Apply every validation left (those after each person's last attempt, and the persons
    /// without attempts) to the whole `state`.
    fn finish(&self, state: &mut FeatureState, data: &Ingested, slots: &[u32]) -> Result<()> {
        for (person, &slot) in slots.iter().enumerate() {
            let person = u32::try_from(person).unwrap_or(u32::MAX);
            self.apply(state, data, slot, person, None)?;
        }
        Ok(())
    }
}

/// What every replay step reads.
struct Run<'a> {
    data: &'a Ingested,
    slots: &'a [u32],
    schema: &'a FeatureSchema,
    selection: &'a Selection,
    validations: &'a PersonValidations,
}

impl Run<'_> {
    /// Replay the attempts `order` (indices into the attempts, grouped by slot) through `state`,
    /// whose slot 0 is slot `offset` of the whole state.
    fn replay(
        &self,
        state: &mut FeatureState,
        offset: u32,
        order: &[u32],
        visit: &mut dyn FnMut(usize, &AttemptRow, &[f32]),
    ) -> Result<()> {
        let mut buf = Vec::with_capacity(self.schema.len());
        let mut batch = Vec::with_capacity(GATHER);
        for chunk in order.chunks(GATHER) {
            // Person-major order reads the time-sorted rows at random: fetch a chunk of them in
            // a tight loop, where the CPU overlaps the cache misses, before the dependent work.
            batch.clear();
            batch.extend(chunk.iter().map(|&i| {
                let i = i as usize;
                (self.data.attempts[i], self.selection.ordinal(i))
            }));
            for (row, ordinal) in &batch {
                let slot = self.slots[row.person as usize] - offset;
                self.validations
                    .apply(state, self.data, slot, row.person, Some(row.t))?;
                let contact = &self.data.contacts[row.contact as usize];
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
                    state.features(self.schema, Some(slot), &cand, &mut buf);
                    visit(ordinal, row, &buf);
                }
                state.apply(slot, contact, row.channel, row.t, row.outcome)?;
            }
        }
        Ok(())
    }
}

/// Rows one replay thread computed, kept until they are visited on the caller's thread.
#[derive(Default)]
struct Rows {
    /// (ordinal, attempt) per row.
    keys: Vec<(usize, AttemptRow)>,
    /// The rows' features, back to back.
    features: Vec<f32>,
    width: usize,
}

impl Rows {
    fn push(&mut self, ordinal: usize, row: &AttemptRow, features: &[f32]) {
        self.width = features.len();
        self.keys.push((ordinal, *row));
        self.features.extend_from_slice(features);
    }

    fn visit(&self, visit: &mut impl FnMut(usize, &AttemptRow, &[f32])) {
        let rows = self.features.chunks_exact(self.width.max(1));
        for ((ordinal, row), features) in self.keys.iter().zip(rows) {
            visit(*ordinal, row, features);
        }
    }
}

/// A contiguous run of the slot-major order: its attempts and the slots they belong to.
#[derive(Debug, Clone)]
struct Block {
    attempts: std::ops::Range<usize>,
    slots: std::ops::Range<u32>,
}

/// Cut the slot-major `order` into about `n` blocks of similar attempt counts, each ending at a
/// slot boundary so that no person is split.
fn blocks(order: &[u32], data: &Ingested, slots: &[u32], n: usize) -> Vec<Block> {
    let slot_of = |i: usize| slots[data.attempts[order[i] as usize].person as usize];
    let target = order.len().div_ceil(n.max(1)).max(1);
    let mut out = Vec::with_capacity(n + 1);
    let mut begin = 0usize;
    while begin < order.len() {
        let mut end = (begin + target).min(order.len());
        // Extend to the end of the last person's attempts.
        while end < order.len() && slot_of(end) == slot_of(end - 1) {
            end += 1;
        }
        out.push(Block {
            attempts: begin..end,
            slots: slot_of(begin)..slot_of(end - 1) + 1,
        });
        begin = end;
    }
    out
}

/// Rows fetched per gather step of [`replay`] (≈ 160 KiB of rows: stays in L2).
const GATHER: usize = 4096;

/// Attempt indices grouped by state slot (in slot order), each slot's in time order: a stable
/// counting sort of the time-sorted attempts by slot.
fn slot_major(data: &Ingested, slots: &[u32], n_slots: usize) -> Vec<u32> {
    let mut start = vec![0u32; n_slots + 1];
    for row in &data.attempts {
        start[slots[row.person as usize] as usize + 1] += 1;
    }
    for p in 1..start.len() {
        start[p] += start[p - 1];
    }
    let mut order = vec![0u32; data.attempts.len()];
    for (i, row) in data.attempts.iter().enumerate() {
        let next = &mut start[slots[row.person as usize] as usize];
        order[*next as usize] = u32::try_from(i).unwrap_or(u32::MAX);
        *next += 1;
    }
    order
}

/// A deterministic pseudo-random number in [0, 1) from an attempt id and a seed (FNV-1a, then a
/// SplitMix64 finaliser), used for reproducible row subsampling.
pub fn unit_hash(id: &str, seed: u64) -> f64 {
    (crate::shard::seeded_hash(id.as_bytes(), seed) >> 11) as f64 / (1u64 << 53) as f64
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
