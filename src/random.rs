//! Injectable randomness.

use std::fmt::Debug;

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
