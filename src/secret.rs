//! The one type that holds key material.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Secret bytes (a master key or a derived key).
///
/// The bytes are wiped from memory when the value is dropped, they never appear in `Debug`
/// output, and equality is decided in constant time.
pub struct Secret(Box<[u8]>);

impl Secret {
    /// Takes ownership of `bytes` as secret material.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes.into_boxed_slice())
    }

    /// Copies `bytes` into a new secret. The caller remains responsible for its own copy.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.to_vec().into_boxed_slice())
    }

    /// Fills a new secret of `len` bytes from `random`.
    pub fn random(len: usize, random: &dyn crate::random::RandomSource) -> Self {
        let mut bytes = vec![0u8; len].into_boxed_slice();
        random.fill(&mut bytes);
        Self(bytes)
    }

    /// The secret bytes. Every caller of this function handles key material: keep the
    /// borrow short and never log or persist it unencrypted.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Clone for Secret {
    fn clone(&self) -> Self {
        Self::from_slice(&self.0)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Secret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_bytes() {
        let secret = Secret::new(vec![0x41; 64]);
        assert_eq!(format!("{secret:?}"), "Secret([REDACTED])");
        assert_eq!(format!("{secret:#?}"), "Secret([REDACTED])");
    }

    #[test]
    fn equality_compares_content() {
        assert_eq!(Secret::from_slice(b"abc"), Secret::from_slice(b"abc"));
        assert_ne!(Secret::from_slice(b"abc"), Secret::from_slice(b"abd"));
        assert_ne!(Secret::from_slice(b"abc"), Secret::from_slice(b"abcd"));
    }
}
