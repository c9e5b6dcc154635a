//! Context headers: a per-algorithm constant mixed into every key derivation, so that a
//! master key used with one algorithm yields unrelated subkeys for another.

use std::sync::OnceLock;

use aes_gcm::{AeadInOut, KeyInit};
use zeroize::Zeroizing;

use super::kdf::Kdf;
use super::{cbc, gcm};
use crate::algorithm::{Algorithm, EncryptionAlgorithm, ValidationAlgorithm};

/// KDF identifier (SP800-108 CTR HMAC-SHA512) and mode bytes.
const KDF_SP800_108_HMACSHA512: u8 = 0;
const MODE_CBC_HMAC: u8 = 0;
const MODE_GCM: u8 = 1;

/// The context header of `algorithm`, computed on first use.
pub(crate) fn context_header(algorithm: Algorithm) -> &'static [u8] {
    static CACHE: [OnceLock<Vec<u8>>; 12] = [const { OnceLock::new() }; 12];
    let enc = EncryptionAlgorithm::ALL
        .iter()
        .position(|e| *e == algorithm.encryption())
        .unwrap_or(0);
    let mac = usize::from(algorithm.validation() == Some(ValidationAlgorithm::HmacSha512));
    CACHE[enc * 2 + mac].get_or_init(|| compute(algorithm))
}

fn compute(algorithm: Algorithm) -> Vec<u8> {
    let key_len = algorithm.encryption().key_len();
    let kdf = Kdf::new(&[]);
    let mut header = vec![KDF_SP800_108_HMACSHA512];
    match algorithm.validation() {
        Some(mac) => {
            let mac_len = mac.digest_len();
            header.push(MODE_CBC_HMAC);
            for n in [key_len, cbc::BLOCK_LEN, mac_len, mac_len] {
                header.extend_from_slice(&u32::try_from(n).unwrap_or(0).to_be_bytes());
            }
            let mut keys = Zeroizing::new(vec![0u8; key_len + mac_len]);
            kdf.derive(&[], &[], &[], &mut keys);
            let (enc_key, mac_key) = keys.split_at(key_len);
            header.extend_from_slice(&cbc::encrypt_empty_zero_iv(algorithm.encryption(), enc_key));
            header.extend_from_slice(&cbc::mac(mac, mac_key, &[]));
        }
        None => {
            header.push(MODE_GCM);
            for n in [key_len, gcm::NONCE_LEN, cbc::BLOCK_LEN, gcm::TAG_LEN] {
                header.extend_from_slice(&u32::try_from(n).unwrap_or(0).to_be_bytes());
            }
            let mut key = Zeroizing::new(vec![0u8; key_len]);
            kdf.derive(&[], &[], &[], &mut key);
            header.extend_from_slice(&empty_gcm_tag(algorithm.encryption(), &key));
        }
    }
    header
}

fn empty_gcm_tag(encryption: EncryptionAlgorithm, key: &[u8]) -> Vec<u8> {
    let nonce = [0u8; gcm::NONCE_LEN];
    macro_rules! tag {
        ($ty:ty) => {
            <$ty>::new_from_slice(key)
                .expect("key length matches the algorithm")
                .encrypt_inout_detached((&nonce).into(), &[], (&mut [][..]).into())
                .expect("an empty message encrypts")
                .to_vec()
        };
    }
    match encryption.key_len() {
        16 => tag!(aes_gcm::Aes128Gcm),
        24 => tag!(gcm::Aes192Gcm),
        _ => tag!(aes_gcm::Aes256Gcm),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers: the three CBC+HMACSHA256 and three GCM headers are ASP.NET's own
    /// constants (docs and source); the HMACSHA512 ones come from the derived vectors.
    #[test]
    fn all_nine_headers() {
        use EncryptionAlgorithm::*;
        use ValidationAlgorithm::*;
        let cases = [
            (
                Aes128Cbc,
                HmacSha256,
                "0000000000100000001000000020000000204d199260677dcd65eee55e807b9695128602e399bed6f9779a66796276ff025688001bdb49cc4a7f8f7a192bcd48f4e7",
            ),
            (
                Aes192Cbc,
                HmacSha256,
                "000000000018000000100000002000000020f474b1872b3b53e4721de19c0841db6fd4791184b996092ee1202f36e8608fa8fbd98abdff5402f264b1d7211536220c",
            ),
            (
                Aes256Cbc,
                HmacSha256,
                "000000000020000000100000002000000020ea10387ac9273b7fd5321177776f1530f946d3c71d60dd7b287366d81cb03fe5e5a701fa16f1554f1581fddd576ce844",
            ),
            (
                Aes128Cbc,
                HmacSha512,
                "0000000000100000001000000040000000409ab81ced848b6863d00ae7123a29c0187652c7419c28e39900570ad167d80698fc0807982bb1b2c198229631fcbbaec7f0aff234b37ac7e4df163da0219581299cc00a62952ddab6e08e5187564fa678",
            ),
            (
                Aes192Cbc,
                HmacSha512,
                "000000000018000000100000004000000040efe457e327fede5c0e0c0c3cbb0868c36e8a6d2b27a0c59ff71e3f411ba769106307ef61e1221ab6dd608e52d4c147850a433c2975a9c7585c9cf109529c401df351b09db4e97b4c03478f23d2f95262",
            ),
            (
                Aes256Cbc,
                HmacSha512,
                "000000000020000000100000004000000040376e17e169255362126076f9d90392039348c1b5a269a82f77bdbb68a38939e4b9c5c51277112840ae4ba315212c956a4d1f4bd74b0cdf5057b0e2d4ae5a014f5cf059f15ae95e484742e70707dd17d9",
            ),
            (
                Aes128Gcm,
                HmacSha256,
                "0001000000100000000c0000001000000010957c50ff692e388b9ad5c7689e4b9e2b",
            ),
            (
                Aes192Gcm,
                HmacSha256,
                "0001000000180000000c00000010000000100daa013a950ada2b798f5ff272fad363",
            ),
            (
                Aes256Gcm,
                HmacSha256,
                "0001000000200000000c0000001000000010e7dcce66df855a323a6bb7bd7a59be45",
            ),
        ];
        for (e, v, expected) in cases {
            let alg = Algorithm::new(e, v);
            assert_eq!(hex::encode(context_header(alg)), expected, "{alg}");
        }
    }
}
