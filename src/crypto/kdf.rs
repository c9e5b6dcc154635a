//! NIST SP800-108 key derivation in counter mode with HMAC-SHA512 as the PRF.
//!
//! For block `i` (from 1): `HMAC-SHA512(kdk, u32be(i) || label || 0x00 || context_header ||
//! context || u32be(output bits))`; the blocks are concatenated and truncated.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha512;

const BLOCK_LEN: usize = 64;

/// A key-derivation key with its HMAC-SHA512 state already keyed, so each derivation costs
/// only the message compressions.
#[derive(Clone)]
pub(crate) struct Kdf {
    prf: Hmac<Sha512>,
}

impl Kdf {
    pub(crate) fn new(kdk: &[u8]) -> Self {
        let prf = <Hmac<Sha512> as KeyInit>::new_from_slice(kdk)
            .expect("HMAC accepts keys of any length");
        Self { prf }
    }

    /// Fills `out` with key material. `label` is given in parts to avoid copying the AAD.
    pub(crate) fn derive(
        &self,
        label: &[&[u8]],
        context_header: &[u8],
        context: &[u8],
        out: &mut [u8],
    ) {
        let bits = u32::try_from(out.len() * 8).expect("derived keys are small");
        for (i, chunk) in out.chunks_mut(BLOCK_LEN).enumerate() {
            let mut prf = self.prf.clone();
            let counter = u32::try_from(i + 1).expect("derived keys are small");
            prf.update(&counter.to_be_bytes());
            for part in label {
                prf.update(part);
            }
            prf.update(&[0]);
            prf.update(context_header);
            prf.update(context);
            prf.update(&bits.to_be_bytes());
            let block = prf.finalize().into_bytes();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
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
