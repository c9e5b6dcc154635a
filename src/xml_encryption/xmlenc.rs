//! The W3C XML Encryption subset ASP.NET Core's certificate form uses: an `<EncryptedData>`
//! of `Type` Element, content under AES-CBC (`CipherValue` = IV ‖ ciphertext), its session
//! key in an `<EncryptedKey>` (RSA) inside `<KeyInfo>`, that key's certificate in
//! `<X509Data>`.

use aes::cipher::block_padding::{NoPadding, Pkcs7};
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::elements::DecryptionError;
use crate::xml::XmlElement;

pub(super) const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
pub(super) const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
pub(super) const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
const AES192_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes192-cbc";
const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
pub(super) const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
pub(super) const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
pub(super) const IV_LEN: usize = 16;

/// RSA key transport of the session key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyTransport {
    Pkcs1v15,
    /// RSA-OAEP with SHA-1 and MGF1-SHA-1, no label.
    OaepSha1,
}

/// The parts of an `<EncryptedData>` a decryptor needs.
pub(super) struct EncryptedData {
    /// Session key length in bytes (16, 24 or 32).
    pub(super) key_len: usize,
    pub(super) transport: KeyTransport,
    /// The certificates in the `EncryptedKey`'s `X509Data` (DER).
    pub(super) certificates: Vec<Vec<u8>>,
    pub(super) encrypted_key: Vec<u8>,
    /// IV ‖ ciphertext.
    pub(super) cipher_value: Vec<u8>,
}

fn malformed(what: impl Into<String>) -> DecryptionError {
    DecryptionError::Malformed(what.into())
}

fn child<'a>(e: &'a XmlElement, ns: &str, local: &str) -> Result<&'a XmlElement, DecryptionError> {
    e.element_in(ns, local)
        .ok_or_else(|| malformed(format!("no <{local}> in <{}>", e.local_name())))
}

fn algorithm(e: &XmlElement) -> Result<&XmlElement, DecryptionError> {
    child(e, XENC_NS, "EncryptionMethod")
}

fn base64(text: &str, what: &str) -> Result<Vec<u8>, DecryptionError> {
    let mut compact = Zeroizing::new(text.to_owned());
    compact.retain(|c| !c.is_ascii_whitespace());
    STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| malformed(format!("{what} is not base64")))
}

fn cipher_value(e: &XmlElement) -> Result<Vec<u8>, DecryptionError> {
    let data = child(e, XENC_NS, "CipherData")?;
    let value = child(data, XENC_NS, "CipherValue")?;
    base64(&value.text_content(), "CipherValue")
}

/// The certificates (DER) in a `<KeyInfo>`'s `<X509Data>` elements.
pub(super) fn certificates(key_info: &XmlElement) -> Vec<Vec<u8>> {
    key_info
        .elements()
        .filter(|e| e.local_name() == "X509Data" && e.namespace() == Some(DSIG_NS))
        .flat_map(|d| d.elements())
        .filter(|e| e.local_name() == "X509Certificate" && e.namespace() == Some(DSIG_NS))
        .filter_map(|c| base64(&c.text_content(), "X509Certificate").ok())
        .collect()
}

/// The `<EncryptedKey>` of an `<EncryptedData>` (in its `<KeyInfo>`).
pub(super) fn encrypted_key(data: &XmlElement) -> Result<&XmlElement, DecryptionError> {
    if data.local_name() != "EncryptedData" || data.namespace() != Some(XENC_NS) {
        return Err(malformed(format!(
            "expected xmlenc <EncryptedData>, found <{}>",
            data.local_name()
        )));
    }
    let key_info = child(data, DSIG_NS, "KeyInfo")?;
    child(key_info, XENC_NS, "EncryptedKey")
}

/// Reads an `<EncryptedData>`.
pub(super) fn parse(data: &XmlElement) -> Result<EncryptedData, DecryptionError> {
    let key = encrypted_key(data)?;
    if let Some(t) = data.attribute("Type").filter(|t| *t != TYPE_ELEMENT) {
        return Err(DecryptionError::UnsupportedAlgorithm(format!("Type {t}")));
    }
    let content = algorithm(data)?.attribute("Algorithm").unwrap_or("");
    let key_len = match content {
        AES256_CBC => 32,
        AES192_CBC => 24,
        AES128_CBC => 16,
        other => return Err(DecryptionError::UnsupportedAlgorithm(other.to_owned())),
    };
    let method = algorithm(key)?;
    let transport = match method.attribute("Algorithm").unwrap_or("") {
        RSA_1_5 => KeyTransport::Pkcs1v15,
        RSA_OAEP_MGF1P => {
            let digest = method
                .element_in(DSIG_NS, "DigestMethod")
                .and_then(|d| d.attribute("Algorithm"))
                .unwrap_or(SHA1);
            if digest != SHA1 {
                return Err(DecryptionError::UnsupportedAlgorithm(format!(
                    "rsa-oaep-mgf1p with {digest}"
                )));
            }
            let label = method
                .element_in(XENC_NS, "OAEPparams")
                .map(|p| p.text_content())
                .unwrap_or_default();
            if !label.trim().is_empty() {
                return Err(DecryptionError::UnsupportedAlgorithm(
                    "rsa-oaep-mgf1p with OAEPparams".into(),
                ));
            }
            KeyTransport::OaepSha1
        }
        other => return Err(DecryptionError::UnsupportedAlgorithm(other.to_owned())),
    };
    let certificates = key
        .element_in(DSIG_NS, "KeyInfo")
        .map(certificates)
        .unwrap_or_default();
    Ok(EncryptedData {
        key_len,
        transport,
        certificates,
        encrypted_key: cipher_value(key)?,
        cipher_value: cipher_value(data)?,
    })
}

/// Builds the `<EncryptedData>` exactly as .NET's `EncryptedXml.Encrypt(element,
/// certificate)` lays it out.
pub(super) fn build(
    certificate_der: &[u8],
    encrypted_key: &[u8],
    cipher_value: &[u8],
) -> XmlElement {
    let cipher_data = |bytes: &[u8]| {
        XmlElement::new_in_inherited(XENC_NS, "CipherData").child(
            XmlElement::new_in_inherited(XENC_NS, "CipherValue").text(STANDARD.encode(bytes)),
        )
    };
    let method = |alg: &str| {
        XmlElement::new_in_inherited(XENC_NS, "EncryptionMethod").attr("Algorithm", alg)
    };
    let key_info = XmlElement::new_in(DSIG_NS, "KeyInfo").child(
        XmlElement::new_in_inherited(DSIG_NS, "X509Data").child(
            XmlElement::new_in_inherited(DSIG_NS, "X509Certificate")
                .text(STANDARD.encode(certificate_der)),
        ),
    );
    let key = XmlElement::new_in(XENC_NS, "EncryptedKey")
        .child(method(RSA_1_5))
        .child(key_info)
        .child(cipher_data(encrypted_key));
    let mut data =
        XmlElement::new_in_inherited(XENC_NS, "EncryptedData").attr("Type", TYPE_ELEMENT);
    data = data.attr("xmlns", XENC_NS);
    data.child(method(AES256_CBC))
        .child(XmlElement::new_in(DSIG_NS, "KeyInfo").child(key))
        .child(cipher_data(cipher_value))
}

/// AES-CBC with PKCS#7 padding (a valid XML Encryption padding), IV prepended.
pub(super) fn cbc_encrypt(key: &[u8; 32], iv: &[u8; IV_LEN], plaintext: &[u8]) -> Vec<u8> {
    let padded = (plaintext.len() / IV_LEN + 1) * IV_LEN;
    let mut out = Vec::with_capacity(IV_LEN + padded);
    out.extend_from_slice(iv);
    out.extend_from_slice(plaintext);
    out.resize(IV_LEN + padded, 0);
    let encryptor = cbc::Encryptor::<aes::Aes256>::new(key.into(), iv.into());
    // The buffer has room for a full block of padding, so this cannot fail.
    if encryptor
        .encrypt_padded::<Pkcs7>(&mut out[IV_LEN..], plaintext.len())
        .is_err()
    {
        out.truncate(IV_LEN);
    }
    out
}

/// Decrypts IV ‖ ciphertext. The padding rule is XML Encryption's: the last byte gives the
/// padding length (1 to 16), the other padding bytes are arbitrary (ISO 10126, as .NET
/// writes by default, and PKCS#7 both pass).
pub(super) fn cbc_decrypt(key: &[u8], value: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptionError> {
    let (iv, ciphertext) = value
        .split_at_checked(IV_LEN)
        .ok_or(DecryptionError::Failed)?;
    if ciphertext.is_empty() || ciphertext.len() % IV_LEN != 0 {
        return Err(DecryptionError::Failed);
    }
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    macro_rules! run {
        ($aes:ty) => {
            cbc::Decryptor::<$aes>::new_from_slices(key, iv)
                .map_err(|_| DecryptionError::Failed)?
                .decrypt_padded::<NoPadding>(&mut buf[..])
                .map(|p| p.len())
        };
    }
    let len = match key.len() {
        16 => run!(aes::Aes128),
        24 => run!(aes::Aes192),
        32 => run!(aes::Aes256),
        _ => return Err(DecryptionError::Failed),
    }
    .map_err(|_| DecryptionError::Failed)?;
    let pad = usize::from(
        *buf.get(len.wrapping_sub(1))
            .ok_or(DecryptionError::Failed)?,
    );
    if pad == 0 || pad > IV_LEN || pad > len {
        return Err(DecryptionError::Failed);
    }
    buf.truncate(len - pad);
    Ok(buf)
}
