//! What every generator of the simulated world shares: the run's [`WorldParams`] and a uniform
//! [`pick`]; kept apart from `world` so that `contacts` and `lookups` do not import it back.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A uniformly chosen element of a non-empty slice.
pub(crate) fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

/// Everything the world generator needs to know about the run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorldParams {
    /// Run seed (also salts the phone numbers).
    pub seed: u64,
    /// Length of the run in days.
    pub days: u32,
    /// Unix second of the dialer's midnight on day 0.
    pub day0: i64,
}
