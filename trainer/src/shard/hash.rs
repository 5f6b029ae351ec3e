//! Which shard a person belongs to: a fixed hash of the person id's bytes modulo the shard count.
//! The hash is FNV-1a (64-bit) followed by the SplitMix64 finaliser, so it is the same on every
//! machine, in every run and in every language (`examples/spark/` computes it in Python); std's
//! randomised `HashMap` hasher must never be used for this.

/// A person's shard: `person_hash(id) % of`.
pub fn person_shard(person_id: &[u8], of: u32) -> u32 {
    (person_hash(person_id) % u64::from(of.max(1))) as u32
}

/// FNV-1a 64 of `bytes`, then the SplitMix64 finaliser (spreads FNV's low bits, which a modulo
/// by a small shard count would otherwise read).
pub fn person_hash(bytes: &[u8]) -> u64 {
    seeded_hash(bytes, 0)
}

/// [`person_hash`] with FNV's offset basis xor-ed with `seed` (`seed` 0 is `person_hash`);
/// also the replay's reproducible row subsampling (`replay::unit_hash`).
pub fn seeded_hash(bytes: &[u8], seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// One shard of `of`: the persons whose [`person_shard`] is `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardFilter {
    /// This shard, `0..of`.
    pub index: u32,
    /// The number of shards (at least 1).
    pub of: u32,
}

impl ShardFilter {
    /// Shard `index` of `of`; `None` when `index` is not below `of`.
    pub fn new(index: u32, of: u32) -> Option<Self> {
        (index < of).then_some(Self { index, of })
    }

    /// Whether the person id `person_id` (its bytes as the input holds them, trimmed) is in this
    /// shard.
    pub fn owns(&self, person_id: &[u8]) -> bool {
        self.of <= 1 || person_shard(person_id, self.of) == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fixed_and_spreads_persons_evenly() {
        // Pinned values: the Spark example computes the same in Python.
        assert_eq!(person_hash(b""), 0xf52a_15e9_a9b5_e89b);
        assert_eq!(person_hash(b"P000001"), 0x709e_24b0_0698_8af2);
        assert_eq!(person_shard(b"person-42", 7), 0);
        assert_eq!(person_shard(b"P000001", 1), 0);
        let mut counts = [0u32; 4];
        for i in 0..40_000 {
            counts[person_shard(format!("P{i:06}").as_bytes(), 4) as usize] += 1;
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
        assert!(ShardFilter::new(4, 4).is_none());
        let all = ShardFilter::new(0, 1).expect("one shard");
        assert!(all.owns(b"anyone"));
    }
}
