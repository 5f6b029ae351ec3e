//! How many threads a command may use (`--threads`), checked once into a type that cannot be
//! zero. Every parallel step of the trainer gives the same result for any count (tests compare
//! the artifacts byte for byte), so the count only changes how long a run takes.

use std::num::NonZeroUsize;

/// A thread count of at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threads(NonZeroUsize);

impl Threads {
    /// One thread: everything runs on the caller's.
    pub const ONE: Threads = Threads(NonZeroUsize::MIN);

    /// Every core the process may use (`std::thread::available_parallelism`, else one).
    pub fn all() -> Self {
        Self(std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }

    /// `n` threads; 0 means [`Threads::all`].
    pub fn new(n: usize) -> Self {
        NonZeroUsize::new(n).map_or_else(Self::all, Self)
    }

    /// The count.
    pub fn get(self) -> usize {
        self.0.get()
    }
}

impl Default for Threads {
    fn default() -> Self {
        Self::all()
    }
}

impl std::fmt::Display for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
