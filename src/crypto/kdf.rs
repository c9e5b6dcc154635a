//! NIST SP800-108 key derivation in counter mode with HMAC-SHA512 as the PRF.
//!
//! For block `i` (from 1): `HMAC-SHA512(kdk, u32be(i) || label || 0x00 || context_header ||
//! context || u32be(output bits))`; the blocks are concatenated and truncated.

use sha2::block_api::compress512;
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// SHA-512's block and digest lengths.
const BLOCK_LEN: usize = 128;
const DIGEST_LEN: usize = 64;

/// SHA-512's initial state (FIPS 180-4, 5.3.5).
const SHA512_IV: [u64; 8] = [
    0x6a09_e667_f3bc_c908,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
    0x510e_527f_ade6_82d1,
    0x9b05_688c_2b3e_6c1f,
    0x1f83_d9ab_fb41_bd6b,
    0x5be0_cd19_137e_2179,
];

/// A key-derivation key as HMAC-SHA512's two keyed states (the key XORed with ipad and with
/// opad, each compressed once), so a derivation costs only its message compressions: one
/// or two for the inner hash (the label and contexts of a payload fit in one or two
/// blocks), one for the outer hash. Wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Kdf {
    inner: [u64; 8],
    outer: [u64; 8],
}

impl Kdf {
    pub(crate) fn new(kdk: &[u8]) -> Self {
        // RFC 2104: a key longer than the block is hashed first; then zero-padded.
        let mut key = [0u8; BLOCK_LEN];
        if kdk.len() > BLOCK_LEN {
            let mut digest = Sha512::digest(kdk);
            key[..DIGEST_LEN].copy_from_slice(&digest);
            digest.zeroize();
        } else {
            key[..kdk.len()].copy_from_slice(kdk);
        }
        let keyed = |pad: u8, key: &[u8; BLOCK_LEN]| {
            let mut block = [0u8; BLOCK_LEN];
            for (b, k) in block.iter_mut().zip(key) {
                *b = k ^ pad;
            }
            let mut state = SHA512_IV;
            compress512(&mut state, std::slice::from_ref(&block));
            block.zeroize();
            state
        };
        let kdf = Self {
            inner: keyed(0x36, &key),
            outer: keyed(0x5c, &key),
        };
        key.zeroize();
        kdf
    }

    /// Fills `out` with key material. `label` is given in parts to avoid copying the AAD.
    pub(crate) fn derive(
        &self,
        label: &[&[u8]],
        context_header: &[u8],
        context: &[u8],
        out: &mut [u8],
    ) {
        let bits = u32::try_from(out.len() * 8).unwrap_or(u32::MAX);
        for (i, chunk) in out.chunks_mut(DIGEST_LEN).enumerate() {
            let counter = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let parts = Parts {
                counter,
                label,
                context_header,
                context,
                bits,
            };
            let mut inner_digest = self.inner_digest(&parts);
            // The outer hash is one block: the inner digest and the padding.
            let mut block = [0u8; BLOCK_LEN];
            for (bytes, word) in block.chunks_exact_mut(8).zip(inner_digest) {
                bytes.copy_from_slice(&word.to_be_bytes());
            }
            inner_digest.zeroize();
            block[DIGEST_LEN] = 0x80;
            let outer_bits = ((BLOCK_LEN + DIGEST_LEN) * 8) as u128;
            block[BLOCK_LEN - 16..].copy_from_slice(&outer_bits.to_be_bytes());
            let mut state = self.outer;
            compress512(&mut state, std::slice::from_ref(&block));
            block[..DIGEST_LEN].zeroize();
            // Whole words as fixed-size stores (no memcpy call per word); a partial last
            // word only when the length is not a multiple of 8.
            let whole = chunk.len() / 8;
            let mut words = chunk.chunks_exact_mut(8);
            for (bytes, word) in (&mut words).zip(state) {
                bytes.copy_from_slice(&word.to_be_bytes());
            }
            let tail = words.into_remainder();
            if !tail.is_empty() {
                let word = state[whole];
                tail.copy_from_slice(&word.to_be_bytes()[..tail.len()]);
            }
            state.zeroize();
        }
    }
}

/// The inner message of one SP800-108 block, in its parts.
struct Parts<'a> {
    counter: u32,
    label: &'a [&'a [u8]],
    context_header: &'a [u8],
    context: &'a [u8],
    bits: u32,
}

impl Parts<'_> {
    fn len(&self) -> usize {
        let label: usize = self.label.iter().map(|p| p.len()).sum();
        4 + label + 1 + self.context_header.len() + self.context.len() + 4
    }

    /// Feeds the parts, in order, to `put`.
    fn each(&self, mut put: impl FnMut(&[u8])) {
        put(&self.counter.to_be_bytes());
        for part in self.label {
            put(part);
        }
        put(&[0]);
        put(self.context_header);
        put(self.context);
        put(&self.bits.to_be_bytes());
    }
}

impl Kdf {
    /// The inner hash of HMAC: the keyed inner state over the message. A message that fits
    /// in two blocks with its padding (every payload's does: its label is the AAD) is laid
    /// out once in a stack buffer and compressed in one call; a longer one is streamed.
    fn inner_digest(&self, parts: &Parts<'_>) -> [u64; 8] {
        let len = parts.len();
        // The padding: 0x80, zeros, the 128-bit length.
        if len + 1 + 16 > 2 * BLOCK_LEN {
            let mut stream = Stream::keyed(self.inner);
            parts.each(|p| stream.update(p));
            return stream.finish();
        }
        let mut blocks = [[0u8; BLOCK_LEN]; 2];
        let buf = blocks.as_flattened_mut();
        let mut at = 0;
        parts.each(|p| {
            buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        });
        buf[at] = 0x80;
        let used = (len + 1 + 16).div_ceil(BLOCK_LEN);
        let bits = ((BLOCK_LEN + len) as u128) * 8;
        buf[used * BLOCK_LEN - 16..used * BLOCK_LEN].copy_from_slice(&bits.to_be_bytes());
        let mut state = self.inner;
        compress512(&mut state, &blocks[..used]);
        state
    }
}

/// SHA-512 over a state that has already absorbed one key block, fed in parts through one
/// stack block. The block holds only the (public) message; the state is returned by
/// [`finish`](Self::finish), for the caller to wipe.
struct Stream {
    state: [u64; 8],
    block: [u8; BLOCK_LEN],
    filled: usize,
    /// Bytes absorbed so far, the key block included.
    total: u128,
}

impl Stream {
    fn keyed(state: [u64; 8]) -> Self {
        Self {
            state,
            block: [0; BLOCK_LEN],
            filled: 0,
            total: BLOCK_LEN as u128,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u128;
        while !data.is_empty() {
            let take = (BLOCK_LEN - self.filled).min(data.len());
            let (head, rest) = data.split_at(take);
            self.block[self.filled..self.filled + take].copy_from_slice(head);
            self.filled += take;
            data = rest;
            if self.filled == BLOCK_LEN {
                compress512(&mut self.state, std::slice::from_ref(&self.block));
                self.filled = 0;
            }
        }
    }

    /// The final state (the digest as big-endian words) after the padding: 0x80, zeros,
    /// the length in bits as a 128-bit big-endian number.
    fn finish(mut self) -> [u64; 8] {
        let bits = self.total.wrapping_mul(8);
        self.block[self.filled] = 0x80;
        self.block[self.filled + 1..].fill(0);
        if self.filled + 1 > BLOCK_LEN - 16 {
            compress512(&mut self.state, std::slice::from_ref(&self.block));
            self.block.fill(0);
        }
        self.block[BLOCK_LEN - 16..].copy_from_slice(&bits.to_be_bytes());
        compress512(&mut self.state, std::slice::from_ref(&self.block));
        self.state
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    fn derive(kdk: &[u8], len: usize) -> String {
        let mut out = vec![0u8; len];
        Kdf::new(kdk).derive(&[b"label"], b"contextHeader", b"context", &mut out);
        STANDARD.encode(out)
    }

    // Known answers from ASP.NET Core's SP800_108 tests (shared/vectors/upstream).
    #[test]
    fn normal_key() {
        assert_eq!(
            derive(b"kdk", 63),
            "V47WmHzPSkdC2vkLAomIjCzZlDOAetll3yJLcSvon7LJFjJpEN+KnSNp+gIpeydKMsENkflbrIZ/3s6GkEaH"
        );
        assert_eq!(
            derive(b"kdk", 64),
            "mVaFM4deXLl610CmnCteNzxgbM/VkmKznAlPauHcDBn0le06uOjAKLHx0LfoU2/Ttq9nd78Y6Nk6wArmdwJgJg=="
        );
        assert_eq!(
            derive(b"kdk", 65),
            "GaHPeqdUxriFpjRtkYQYWr5/iqneD/+hPhVJQt4rXblxSpB1UUqGqL00DMU/FJkX0iMCfqUjQXtXyfks+p++Ev4="
        );
    }

    #[test]
    fn long_key() {
        let kdk: Vec<u8> = (0..50_000u32).map(|i| (i & 0xff) as u8).collect();
        assert_eq!(
            derive(&kdk, 63),
            "rt2hM6kkQ8hAXmkHx0TU4o3Q+S7fie6b3S1LAq107k++P9v8uSYA2G+WX3pJf9ZkpYrTKD7WUIoLkgA1R9lk"
        );
        assert_eq!(
            derive(&kdk, 64),
            "RKiXmHSrWq5gkiRSyNZWNJrMR0jDyYHJMt9odOayRAE5wLSX2caINpQmfzTH7voJQi3tbn5MmD//dcspghfBiw=="
        );
        assert_eq!(
            derive(&kdk, 65),
            "KedXO0zAIZ3AfnPqY1NnXxpC3HDHIxefG4bwD3g6nWYEc5+q7pjbam71Yqj0zgHMNC9Z7BX3wS1/tajFocRWZUk="
        );
    }

    /// The same bytes as the `hmac` crate's HMAC-SHA512 over the SP800-108 input, for
    /// label lengths around every block boundary and keys around the block length.
    #[test]
    fn matches_a_reference_hmac() {
        use hmac::{Hmac, KeyInit, Mac};
        for key_len in [0usize, 1, 64, 127, 128, 129, 300] {
            let kdk: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
            let kdf = Kdf::new(&kdk);
            for label_len in (0..300)
                .step_by(7)
                .chain([107, 108, 111, 112, 235, 236, 240])
            {
                let label: Vec<u8> = (0..label_len).map(|i| i as u8).collect();
                for out_len in [16usize, 32, 64, 96] {
                    let mut ours = vec![0u8; out_len];
                    kdf.derive(
                        &[&label[..label_len / 2], &label[label_len / 2..]],
                        b"hdr",
                        b"ctx",
                        &mut ours,
                    );
                    let mut expected = Vec::new();
                    for i in 1..=out_len.div_ceil(64) as u32 {
                        let mut m = <Hmac<Sha512> as KeyInit>::new_from_slice(&kdk).unwrap();
                        m.update(&i.to_be_bytes());
                        m.update(&label);
                        m.update(&[0]);
                        m.update(b"hdr");
                        m.update(b"ctx");
                        m.update(&((out_len * 8) as u32).to_be_bytes());
                        expected.extend_from_slice(&m.finalize().into_bytes());
                    }
                    expected.truncate(out_len);
                    assert_eq!(
                        ours, expected,
                        "key {key_len} label {label_len} out {out_len}"
                    );
                }
            }
        }
    }

    #[test]
    fn empty_everything() {
        for (len, expected) in [
            (
                64,
                "fHGMWaDLmoncLsEKuKbZo8T+73paNohDeb5O7BSxbC8Gus8d/mUpa/9w2ss65OHlmFw1VZhIXzr5swMYVRndRw==",
            ),
            (
                96,
                "iXd0KuWopclbxtWf9dO8fnerBqLJvndOUs74pTcj7Ck8Ctsvz4QttXkCY1DPd4aDbOE/CCU8/bIQtzoU1Xu3ZQ1pV0qEZmzFll+Vpf+q7av7AGEqwh56a+NPt6gxC5CP",
            ),
        ] {
            let mut out = vec![0u8; len];
            Kdf::new(b"").derive(&[], b"", b"", &mut out);
            assert_eq!(STANDARD.encode(out), expected);
        }
    }
}
