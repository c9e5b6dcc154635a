//! AES-CBC + HMAC: `key_modifier(16) || iv(16) || AES-CBC-PKCS7(ciphertext) || HMAC(iv || ciphertext)`.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha512};
use zeroize::Zeroizing;

use super::DecryptError;
use crate::algorithm::{EncryptionAlgorithm, ValidationAlgorithm};

pub(super) const BLOCK_LEN: usize = 16;

/// The length of `iv || ciphertext || tag` for a plaintext of `len` bytes (PKCS#7 always
/// adds 1 to 16 bytes).
pub(super) fn payload_len(len: usize, validation: ValidationAlgorithm) -> usize {
    BLOCK_LEN + padded_len(len) + validation.digest_len()
}

fn padded_len(len: usize) -> usize {
    (len / BLOCK_LEN + 1) * BLOCK_LEN
}

/// Encrypts `plaintext` straight into `body` (`ciphertext || tag`, exactly
/// `payload_len - BLOCK_LEN` long) with the subkeys `derive` fills; the tag covers
/// `iv || ciphertext`.
pub(super) fn encrypt(
    encryption: EncryptionAlgorithm,
    validation: ValidationAlgorithm,
    derive: impl Fn(&mut [u8]),
    iv: &[u8; BLOCK_LEN],
    plaintext: &[u8],
    body: &mut [u8],
) {
    let key_len = encryption.key_len();
    let mac_len = validation.digest_len();
    let mut keys = Zeroizing::new([0u8; 32 + 64]);
    let keys = &mut keys[..key_len + mac_len];
    derive(keys);
    let (enc_key, mac_key) = keys.split_at(key_len);

    let (ciphertext, tag_out) = body.split_at_mut(padded_len(plaintext.len()));
    ciphertext[..plaintext.len()].copy_from_slice(plaintext);
    cbc_encrypt(key_len, enc_key, iv, ciphertext, plaintext.len());
    mac_parts_into(validation, mac_key, &[iv, ciphertext], tag_out);
}

pub(super) fn decrypt(
    encryption: EncryptionAlgorithm,
    validation: ValidationAlgorithm,
    derive: impl Fn(&mut [u8]),
    payload: &[u8],
) -> Result<Vec<u8>, DecryptError> {
    let key_len = encryption.key_len();
    let mac_len = validation.digest_len();
    if payload.len() < BLOCK_LEN + BLOCK_LEN + mac_len {
        return Err(DecryptError::TooShort);
    }
    let (authenticated, tag) = payload.split_at(payload.len() - mac_len);
    let (iv, ciphertext) = authenticated.split_at(BLOCK_LEN);
    if ciphertext.len() % BLOCK_LEN != 0 {
        return Err(DecryptError::BadLength);
    }
    let mut keys = Zeroizing::new([0u8; 32 + 64]);
    let keys = &mut keys[..key_len + mac_len];
    derive(keys);
    let (enc_key, mac_key) = keys.split_at(key_len);
    verify(validation, mac_key, authenticated, tag)?;
    let mut buf = ciphertext.to_vec();
    let len = cbc_decrypt(key_len, enc_key, iv, &mut buf)?;
    buf.truncate(len);
    Ok(buf)
}

/// HMAC of `message` with the validation algorithm.
pub(super) fn mac(validation: ValidationAlgorithm, key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut tag = vec![0u8; validation.digest_len()];
    mac_parts_into(validation, key, &[message], &mut tag);
    tag
}

/// HMAC of the concatenated `parts` into `out`, which is the tag's length.
fn mac_parts_into(validation: ValidationAlgorithm, key: &[u8], parts: &[&[u8]], out: &mut [u8]) {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]], out: &mut [u8]) {
        let mut m = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
        for part in parts {
            m.update(part);
        }
        out.copy_from_slice(&m.finalize().into_bytes());
    }
    match validation {
        ValidationAlgorithm::HmacSha256 => run::<Hmac<Sha256>>(key, parts, out),
        ValidationAlgorithm::HmacSha512 => run::<Hmac<Sha512>>(key, parts, out),
    }
}

/// Checks the tag in constant time.
fn verify(
    validation: ValidationAlgorithm,
    key: &[u8],
    message: &[u8],
    tag: &[u8],
) -> Result<(), DecryptError> {
    fn check<M: Mac + KeyInit>(key: &[u8], message: &[u8], tag: &[u8]) -> bool {
        let mut m = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
        m.update(message);
        m.verify_slice(tag).is_ok()
    }
    let ok = match validation {
        ValidationAlgorithm::HmacSha256 => check::<Hmac<Sha256>>(key, message, tag),
        ValidationAlgorithm::HmacSha512 => check::<Hmac<Sha512>>(key, message, tag),
    };
    ok.then_some(()).ok_or(DecryptError::BadTag)
}

/// AES-CBC of the empty message with a zero IV: one block of padding (for context headers).
pub(super) fn encrypt_empty_zero_iv(encryption: EncryptionAlgorithm, key: &[u8]) -> Vec<u8> {
    let mut block = [0u8; BLOCK_LEN];
    cbc_encrypt(encryption.key_len(), key, &[0u8; BLOCK_LEN], &mut block, 0);
    block.to_vec()
}

fn cbc_encrypt(key_len: usize, key: &[u8], iv: &[u8], buf: &mut [u8], msg_len: usize) {
    macro_rules! run {
        ($aes:ty) => {
            cbc::Encryptor::<$aes>::new_from_slices(key, iv)
                .expect("key and IV lengths match the algorithm")
                .encrypt_padded::<Pkcs7>(buf, msg_len)
                .map(|_| ())
                .expect("the buffer has room for the padding")
        };
    }
    match key_len {
        16 => run!(aes::Aes128),
        24 => run!(aes::Aes192),
        _ => run!(aes::Aes256),
    }
}

fn cbc_decrypt(
    key_len: usize,
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Result<usize, DecryptError> {
    macro_rules! run {
        ($aes:ty) => {
            cbc::Decryptor::<$aes>::new_from_slices(key, iv)
                .expect("key and IV lengths match the algorithm")
                .decrypt_padded::<Pkcs7>(buf)
                .map(|p| p.len())
        };
    }
    let result = match key_len {
        16 => run!(aes::Aes128),
        24 => run!(aes::Aes192),
        _ => run!(aes::Aes256),
    };
    result.map_err(|_| DecryptError::BadPadding)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::super::test_support::known_key_encrypt;
    use crate::algorithm::Algorithm;

    /// ManagedAuthenticatedEncryptorTests.Encrypt_KnownKey (shared/vectors/upstream).
    #[test]
    fn aspnet_known_answer() {
        let out = known_key_encrypt(Algorithm::AES_256_CBC_HMACSHA256, &[2, 3, 4], &[6, 5, 4, 3]);
        assert_eq!(
            STANDARD.encode(out),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+36j4yWJOjBgOJxmYDYwhLnYqFxw+9mNh/cudyPrWmJmw4d/dmGaLJLLut2udiAAA="
        );
    }
}
