//! Compact string tables: [`StrArena`] (append-only, id → string) and [`Interner`] (string ↔ id),
//! both storing every string once in one contiguous buffer, plus the hashing helpers ingest uses.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};

use xxhash_rust::xxh3::xxh3_128_with_seed;

/// Append-only table of strings addressed by a dense `u32` id, stored in one buffer.
#[derive(Debug, Clone, Default)]
pub struct StrArena {
    buf: String,
    ends: Vec<u64>,
}

impl StrArena {
    /// An empty arena.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append `s` and return its id.
    ///
    /// # Panics
    /// If more than `u32::MAX` strings are stored.
    pub fn push(&mut self, s: &str) -> u32 {
        let id = u32::try_from(self.ends.len()).expect("more than u32::MAX strings");
        self.buf.push_str(s);
        self.ends.push(self.buf.len() as u64);
        id
    }

    /// The string with id `id`.
    ///
    /// # Panics
    /// If `id` was not returned by [`StrArena::push`] on this arena.
    pub fn get(&self, id: u32) -> &str {
        let i = id as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.buf[start..self.ends[i] as usize]
    }

    /// How many strings are stored.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the arena is empty.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Iterate over the strings in id order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.ends.len() as u32).map(|id| self.get(id))
    }
}

/// Hasher for keys that already are well-mixed hashes: passes a `u64` through unchanged.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys that are not a single u64; fold the bytes in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// `BuildHasher` for maps keyed by precomputed hashes.
pub(crate) type PassThroughBuild = BuildHasherDefault<PassThrough>;

/// Bidirectional string ↔ dense `u32` id table. Each string is stored once (in a [`StrArena`]);
/// the lookup map holds only the string's 128-bit fingerprint and its id, so a lookup touches one
/// hash-table slot and never the string bytes. Two distinct strings would have to share a 128-bit
/// XXH3 fingerprint to be confused (probability ~n²/2¹²⁹: ~10⁻²⁵ for 10M strings).
#[derive(Debug, Clone, Default)]
pub struct Interner {
    names: StrArena,
    ids: HashMap<Fp, u32, PassThroughBuild>,
    fingerprint: Fingerprinter,
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `s`, if it was interned.
    pub fn id(&self, s: &str) -> Option<u32> {
        self.ids
            .get(&self.fingerprint.fingerprint(s.as_bytes()))
            .copied()
    }

    /// The id of `s`, interning it first if needed.
    ///
    /// # Panics
    /// If more than `u32::MAX` strings are interned.
    pub fn get_or_intern(&mut self, s: &str) -> u32 {
        let fp = self.fingerprint.fingerprint(s.as_bytes());
        match self.ids.entry(fp) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(slot) => *slot.insert(self.names.push(s)),
        }
    }

    /// The string with id `id`.
    ///
    /// # Panics
    /// If `id` was not returned by this interner.
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id)
    }

    /// How many distinct strings are interned.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether nothing is interned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Iterate over the strings in id order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.names.iter()
    }
}

/// A 128-bit fingerprint; hashed by its first half only (it is already uniformly random).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fp(pub(crate) [u64; 2]);

impl Hash for Fp {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0[0]);
    }
}

/// 128-bit fingerprint of a byte string: XXH3-128 with a per-table random seed (so, like the
/// keyed SipHashes it replaces, fingerprints differ between runs; ids never depend on them). A
/// seen-set of 10M ids costs 16 bytes per id instead of the id itself.
#[derive(Debug, Clone)]
pub(crate) struct Fingerprinter {
    seed: u64,
}

impl Default for Fingerprinter {
    fn default() -> Self {
        Self {
            seed: RandomState::new().hash_one(0x5eed_u64),
        }
    }
}

impl Fingerprinter {
    /// The fingerprint of `bytes`.
    #[inline]
    pub(crate) fn fingerprint(&self, bytes: &[u8]) -> Fp {
        Self::split(xxh3_128_with_seed(bytes, self.seed))
    }

    /// The fingerprint of `bytes` in the key space `tag` (distinct tags give independent
    /// fingerprints, so equal bytes under different tags do not collide).
    #[inline]
    pub(crate) fn fingerprint_tagged(&self, tag: u64, bytes: &[u8]) -> Fp {
        let seed = self.seed ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Self::split(xxh3_128_with_seed(bytes, seed))
    }

    fn split(h: u128) -> Fp {
        Fp([h as u64, (h >> 64) as u64])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interner_round_trips() {
        let mut i = Interner::new();
        let a = i.get_or_intern("alice");
        let b = i.get_or_intern("bob");
        assert_eq!(i.get_or_intern("alice"), a);
        assert_ne!(a, b);
        assert_eq!(i.name(b), "bob");
        assert_eq!(i.id("bob"), Some(b));
        assert_eq!(i.id("carol"), None);
        assert_eq!(i.len(), 2);
        assert_eq!(i.iter().collect::<Vec<_>>(), ["alice", "bob"]);
        assert_eq!(i.get_or_intern(""), 2);
        assert_eq!(i.name(2), "");
    }

    #[test]
    fn arena_keeps_order() {
        let mut s = StrArena::new();
        assert!(s.is_empty());
        let x = s.push("x1");
        let y = s.push("");
        let z = s.push("zz");
        assert_eq!((s.get(x), s.get(y), s.get(z)), ("x1", "", "zz"));
    }
}
