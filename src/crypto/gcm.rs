//! AES-GCM: `key_modifier(16) || nonce(12) || ciphertext || tag(16)`. The AAD only enters
//! through the key derivation; GCM itself is given no associated data, as in ASP.NET Core.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{AeadInOut, AesGcm, KeyInit};
use zeroize::Zeroizing;

use super::DecryptError;
use crate::algorithm::EncryptionAlgorithm;

pub(super) const NONCE_LEN: usize = 12;
pub(super) const TAG_LEN: usize = 16;

/// AES-192-GCM (aes-gcm names only the 128 and 256 variants).
pub(super) type Aes192Gcm = AesGcm<aes::Aes192, U12>;

/// The length of `nonce || ciphertext || tag` for a plaintext of `len` bytes.
pub(super) fn payload_len(len: usize) -> usize {
    NONCE_LEN + len + TAG_LEN
}

/// Encrypts `plaintext` straight into `body` (`ciphertext || tag`, exactly
/// `plaintext.len() + TAG_LEN` long), with the subkey `derive` fills.
pub(super) fn encrypt(
    encryption: EncryptionAlgorithm,
    derive: impl Fn(&mut [u8]),
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    body: &mut [u8],
) {
    let mut key = Zeroizing::new([0u8; 32]);
    let key = &mut key[..encryption.key_len()];
    derive(key);
    let (ciphertext, tag_out) = body.split_at_mut(plaintext.len());
    let buffer = InOutBuf::new(plaintext, ciphertext).expect("the body is sized for the plaintext");
    macro_rules! seal {
        ($ty:ty) => {
            <$ty>::new_from_slice(key)
                .expect("key length matches the algorithm")
                .encrypt_inout_detached(nonce.into(), &[], buffer)
                .expect("message within GCM limits")
        };
    }
    let tag = match key.len() {
        16 => seal!(aes_gcm::Aes128Gcm),
        24 => seal!(Aes192Gcm),
        _ => seal!(aes_gcm::Aes256Gcm),
    };
    tag_out.copy_from_slice(&tag);
}

pub(super) fn decrypt(
    encryption: EncryptionAlgorithm,
    derive: impl Fn(&mut [u8]),
    payload: &[u8],
) -> Result<Vec<u8>, DecryptError> {
    if payload.len() < NONCE_LEN + TAG_LEN {
        return Err(DecryptError::TooShort);
    }
    let (nonce, rest) = payload.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| DecryptError::TooShort)?;
    let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| DecryptError::TooShort)?;
    let mut key = Zeroizing::new([0u8; 32]);
    let key = &mut key[..encryption.key_len()];
    derive(key);
    // Decrypted straight from the payload into the result (only once the tag checks out).
    let mut buf = crate::payload::zeroed(ciphertext.len());
    let buffer = InOutBuf::new(ciphertext, &mut buf).map_err(|_| DecryptError::BadLength)?;
    macro_rules! open {
        ($ty:ty) => {
            <$ty>::new_from_slice(key)
                .expect("key length matches the algorithm")
                .decrypt_inout_detached(nonce.into(), &[], buffer, tag.into())
        };
    }
    let result = match key.len() {
        16 => open!(aes_gcm::Aes128Gcm),
        24 => open!(Aes192Gcm),
        _ => open!(aes_gcm::Aes256Gcm),
    };
    result.map_err(|_| DecryptError::BadTag)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::super::test_support::known_key_encrypt;
    use crate::algorithm::{Algorithm, EncryptionAlgorithm, ValidationAlgorithm};

    /// Cng/GcmAuthenticatedEncryptorTests.Encrypt_KnownKey (AES-128), without the test's
    /// 3-byte pre-buffer and 4-byte post-buffer.
    #[test]
    fn aspnet_known_answer() {
        let alg = Algorithm::new(
            EncryptionAlgorithm::Aes128Gcm,
            ValidationAlgorithm::HmacSha256,
        );
        let out = known_key_encrypt(alg, &[2, 3, 4], &[6, 5, 4, 3]);
        let expected = STANDARD
            .decode("AAAAAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaG0O2kY0NZtmh2UQtXY5B2jlgnOgAAAAA")
            .unwrap();
        assert_eq!(out, expected[3..expected.len() - 4]);
    }
}
