//! Replaying an attempt log through the feature state in time order: each selected attempt's
//! features are read from the state *before* the attempt is applied, then the attempt is applied.
//! Training, `score` and `evaluate` all go through here.

use contactscore_models::features::{Candidate, FeatureSchema, FeatureState};

use crate::Result;
use crate::ingest::{AttemptRow, Ingested};
use crate::progress::Progress;

/// Load what the contacts and persons files say into `state` (zones, attributes, known contact
/// points with their `added_at`) and return the state slot of every ingested person.
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
    Ok(slots)
}

/// Replay every attempt of `data` (already sorted by time) through `state`. For each attempt for
/// which `select` returns true, `visit` receives its index, the row and its point-in-time
/// features. Every attempt is applied afterwards, selected or not.
pub fn replay(
    state: &mut FeatureState,
    data: &Ingested,
    slots: &[u32],
    schema: &FeatureSchema,
    mut select: impl FnMut(usize, &AttemptRow) -> bool,
    mut visit: impl FnMut(usize, &AttemptRow, &[f32]),
    progress: &Progress,
) -> Result<()> {
    let bar = progress.bar("replay", data.attempts.len() as u64);
    let mut buf = Vec::with_capacity(schema.len());
    for (i, row) in data.attempts.iter().enumerate() {
        let slot = slots[row.person as usize];
        let contact = &data.contacts[row.contact as usize];
        if select(i, row) {
            buf.clear();
            let cand = Candidate {
                contact: &contact.key,
                kind: contact.kind,
                zone: None,
                channel: row.channel,
                t: row.t,
            };
            state.features(schema, Some(slot), &cand, &mut buf);
            visit(i, row, &buf);
        }
        state.apply(slot, contact, row.channel, row.t, row.outcome)?;
        if i % 65_536 == 0 {
            bar.set_position(i as u64);
        }
    }
    bar.finish();
    Ok(())
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
