//! The per-key authenticated encryptors (CBC+HMAC and GCM) and the KDF that feeds them.
//!
//! Every payload gets a fresh 16-byte key modifier; the subkeys are derived from the key's
//! master key with SP800-108 using the AAD (magic, key id and purpose chain) as the label,
//! the algorithm's context header, and the key modifier as context.

mod cbc;
mod context_header;
mod gcm;
pub(crate) mod kdf;

pub(crate) use context_header::context_header;

use crate::algorithm::Algorithm;
use crate::random::RandomSource;
use crate::secret::Secret;
use kdf::Kdf;

/// Length of the random key modifier at the start of every encryptor payload.
pub(crate) const KEY_MODIFIER_LEN: usize = 16;

/// Why decryption failed. Only ever logged, never shown to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecryptError {
    TooShort,
    BadLength,
    BadTag,
    BadPadding,
}

/// A key's encryptor: its algorithm and its pre-keyed KDF, built once per key.
#[derive(Clone)]
pub(crate) struct Encryptor {
    algorithm: Algorithm,
    kdf: Kdf,
    context_header: &'static [u8],
}

impl Encryptor {
    pub(crate) fn new(algorithm: Algorithm, master_key: &Secret) -> Self {
        Self {
            algorithm,
            kdf: Kdf::new(master_key.expose_secret()),
            context_header: context_header(algorithm),
        }
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Whether both encryptors use the same algorithm and master key (compared by their
    /// output on a fixed input, in constant time).
    pub(crate) fn same_key_as(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        if self.algorithm != other.algorithm {
            return false;
        }
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        self.kdf.derive(&[b"same-key-check"], &[], &[], &mut a);
        other.kdf.derive(&[b"same-key-check"], &[], &[], &mut b);
        a.ct_eq(&b).into()
    }

    /// The length of the encryptor payload for a plaintext of `len` bytes.
    pub(crate) fn payload_len(&self, len: usize) -> usize {
        KEY_MODIFIER_LEN
            + match self.algorithm.validation() {
                Some(mac) => cbc::payload_len(len, mac),
                None => gcm::payload_len(len),
            }
    }

    /// Appends the encryptor payload for `plaintext` to `out`.
    pub(crate) fn encrypt(
        &self,
        aad: &[&[u8]],
        plaintext: &[u8],
        random: &dyn RandomSource,
        out: &mut Vec<u8>,
    ) {
        let at = out.len();
        out.resize(at + self.payload_len(plaintext.len()), 0);
        self.encrypt_into(aad, plaintext, random, &mut out[at..]);
    }

    /// Writes the encryptor payload for `plaintext` into `out`, which is exactly
    /// [`payload_len`](Self::payload_len) long: the key modifier and the IV or nonce are
    /// drawn straight into it, the ciphertext and tag written after them, no copy between.
    pub(crate) fn encrypt_into(
        &self,
        aad: &[&[u8]],
        plaintext: &[u8],
        random: &dyn RandomSource,
        out: &mut [u8],
    ) {
        debug_assert_eq!(out.len(), self.payload_len(plaintext.len()));
        let iv_len = match self.algorithm.validation() {
            Some(_) => cbc::BLOCK_LEN,
            None => gcm::NONCE_LEN,
        };
        // One draw for the key modifier and the IV or nonce that follows it.
        let (fresh, body) = out.split_at_mut(KEY_MODIFIER_LEN + iv_len);
        random.fill(fresh);
        let (key_modifier, iv) = fresh.split_at(KEY_MODIFIER_LEN);
        let derive = |keys: &mut [u8]| {
            self.kdf
                .derive(aad, self.context_header, key_modifier, keys);
        };
        match self.algorithm.validation() {
            Some(mac) => cbc::encrypt(
                self.algorithm.encryption(),
                mac,
                derive,
                iv.try_into().expect("the IV is one block"),
                plaintext,
                body,
            ),
            None => gcm::encrypt(
                self.algorithm.encryption(),
                derive,
                iv.try_into().expect("the nonce is 12 bytes"),
                plaintext,
                body,
            ),
        }
    }

    /// Authenticates and decrypts an encryptor payload.
    pub(crate) fn decrypt(&self, aad: &[&[u8]], payload: &[u8]) -> Result<Vec<u8>, DecryptError> {
        let (key_modifier, rest) = payload
            .split_at_checked(KEY_MODIFIER_LEN)
            .ok_or(DecryptError::TooShort)?;
        let derive = |out: &mut [u8]| {
            self.kdf.derive(aad, self.context_header, key_modifier, out);
        };
        match self.algorithm.validation() {
            Some(mac) => cbc::decrypt(self.algorithm.encryption(), mac, derive, rest),
            None => gcm::decrypt(self.algorithm.encryption(), derive, rest),
        }
    }
}

/// Test helpers shared by the encryptor modules.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::testing::InsecureSequentialRandom;

    /// Encrypts with the "master key" KDK and the sequential generator, as ASP.NET's tests do.
    pub(crate) fn known_key_encrypt(algorithm: Algorithm, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let enc = Encryptor::new(algorithm, &Secret::from_slice(b"master key"));
        let mut out = Vec::new();
        enc.encrypt(
            &[aad],
            plaintext,
            &InsecureSequentialRandom::new(),
            &mut out,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_for_all_nine() {
        let random = crate::random::SystemRandom;
        let key = Secret::random(64, &random);
        for alg in Algorithm::all() {
            let enc = Encryptor::new(alg, &key);
            for len in [0usize, 1, 15, 16, 17, 36, 1024] {
                let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let mut out = Vec::new();
                enc.encrypt(&[b"aad"], &plaintext, &random, &mut out);
                assert_eq!(enc.decrypt(&[b"aad"], &out).unwrap(), plaintext, "{alg}");
                assert!(enc.decrypt(&[b"aaX"], &out).is_err(), "{alg} wrong aad");
                for bit in [0, out.len() * 8 / 2, out.len() * 8 - 1] {
                    let mut bad = out.clone();
                    bad[bit / 8] ^= 1 << (bit % 8);
                    assert!(enc.decrypt(&[b"aad"], &bad).is_err(), "{alg} bit {bit}");
                }
                for cut in [0, 1, 16, out.len() - 1] {
                    assert!(
                        enc.decrypt(&[b"aad"], &out[..cut]).is_err(),
                        "{alg} cut {cut}"
                    );
                }
            }
        }
        assert_eq!(Algorithm::all().count(), 9);
    }
}
