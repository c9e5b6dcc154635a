//! Injectable randomness.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU8, Ordering};

use rand::Rng;

/// A source of cryptographically secure random bytes (key material, key modifiers, IVs).
pub trait RandomSource: Send + Sync + Debug {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]);
}

/// The default source: a per-thread user-space CSPRNG (ChaCha) seeded and periodically
/// reseeded from the operating system. Much cheaper per call than a system call.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRandom;

impl RandomSource for SystemRandom {
    fn fill(&self, dest: &mut [u8]) {
        rand::rng().fill_bytes(dest);
    }
}

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
