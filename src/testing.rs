//! Deterministic stand-ins for tests (feature `insecure-test-utils`). **Never use these in
//! production:** they make every key and every payload predictable.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::random::RandomSource;

/// **Not random.** Returns the bytes 00, 01, 02, … continuing across calls, like the
/// generator in ASP.NET Core's own tests. Only for reproducing known-answer vectors.
#[derive(Debug, Default)]
pub struct InsecureSequentialRandom {
    next: AtomicU8,
}

impl InsecureSequentialRandom {
    /// Starts at byte 00.
    pub fn new() -> Self {
        Self::default()
    }
}

impl RandomSource for InsecureSequentialRandom {
    fn fill(&self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next.fetch_add(1, Ordering::Relaxed);
        }
    }
}
