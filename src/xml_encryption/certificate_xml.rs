//! ASP.NET Core's certificate form: `CertificateXmlEncryptor` writes it,
//! `EncryptedXmlDecryptor` reads it.
//!
//! The `<masterKey>` element's XML is encrypted with a fresh AES-256-CBC session key
//! (`CipherValue` = IV ‖ ciphertext), and the session key with the certificate's RSA public
//! key under PKCS#1 v1.5 (what .NET writes; RSA-OAEP-MGF1P is read too). The certificate
//! itself travels in `X509Data`, which is how a reader finds its private key.
//!
//! RSA is aws-lc's (constant-time private-key operations). A reader never reveals *why* a
//! session key failed: an RSA padding failure, a wrong key and an altered ciphertext all end
//! as [`DecryptionError::Failed`], so the ring cannot serve as a padding oracle.

use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey,
    Pkcs1PublicEncryptingKey,
};
use zeroize::Zeroizing;

use super::certificate::{Certificate, subject_of, thumbprint};
use super::xmlenc::{self, IV_LEN, KeyTransport};
use super::{EncryptedXml, EncryptionError, XmlDecryptor, XmlEncryptor};
use crate::elements::DecryptionError;
use crate::random::RandomSource;
use crate::xml::XmlElement;

/// The decryptor type ASP.NET Core writes for the certificate form.
pub const CERTIFICATE_DECRYPTOR_TYPE: &str =
    "Microsoft.AspNetCore.DataProtection.XmlEncryption.EncryptedXmlDecryptor";
const ASSEMBLY: &str = ", Microsoft.AspNetCore.DataProtection, Version=8.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60";

/// Encrypts master keys to one certificate, as ASP.NET's `ProtectKeysWithCertificate`.
#[derive(Debug, Clone)]
pub struct CertificateXmlEncryptor {
    certificate: Certificate,
}

impl CertificateXmlEncryptor {
    /// Encrypts to `certificate` (its public key; the private key is not needed).
    pub fn new(certificate: Certificate) -> Self {
        Self { certificate }
    }
}

impl XmlEncryptor for CertificateXmlEncryptor {
    /// The session key and IV come from `random`. The RSA padding of the session key comes
    /// from aws-lc's own generator (it cannot be injected), so that one value differs
    /// between runs even under a deterministic source.
    fn encrypt(
        &self,
        plaintext: &XmlElement,
        random: &dyn RandomSource,
    ) -> Result<EncryptedXml, EncryptionError> {
        let mut session_key = Zeroizing::new([0u8; 32]);
        random.fill(&mut session_key[..]);
        let mut iv = [0u8; IV_LEN];
        random.fill(&mut iv);
        let xml = Zeroizing::new(plaintext.to_compact_string());
        let cipher_value = xmlenc::cbc_encrypt(&session_key, &iv, xml.as_bytes());
        let rsa = Pkcs1PublicEncryptingKey::new(self.certificate.public_key().clone())
            .map_err(|_| EncryptionError::new("the certificate's RSA key cannot encrypt"))?;
        let mut wrapped = vec![0u8; rsa.ciphertext_size()];
        let wrapped_len = rsa
            .encrypt(&session_key[..], &mut wrapped)
            .map_err(|_| EncryptionError::new("RSA encryption of the session key failed"))?
            .len();
        wrapped.truncate(wrapped_len);
        let element = xmlenc::build(self.certificate.der(), &wrapped, &cipher_value);
        Ok(EncryptedXml::new(
            element,
            format!("{CERTIFICATE_DECRYPTOR_TYPE}{ASSEMBLY}"),
        ))
    }
}

/// Decrypts the certificate form with whichever configured certificate (with private key)
/// matches the one in `X509Data` (ASP.NET's `EncryptedXmlDecryptor` with
/// `UnprotectKeysWithAnyCertificate`).
#[derive(Debug, Clone, Default)]
pub struct CertificateXmlDecryptor {
    certificates: Vec<Certificate>,
}

impl CertificateXmlDecryptor {
    /// Decrypts with any of `certificates` that carries its private key.
    pub fn new(certificates: impl IntoIterator<Item = Certificate>) -> Self {
        Self {
            certificates: certificates
                .into_iter()
                .filter(Certificate::has_private_key)
                .collect(),
        }
    }
}

impl XmlDecryptor for CertificateXmlDecryptor {
    fn decryptor_type(&self) -> &str {
        CERTIFICATE_DECRYPTOR_TYPE
    }

    fn decrypt(&self, encrypted: &XmlElement) -> Result<XmlElement, DecryptionError> {
        let data = xmlenc::parse(encrypted)?;
        let Some(first) = data.certificates.first() else {
            return Err(DecryptionError::Malformed(
                "the EncryptedKey names no certificate (X509Data/X509Certificate)".into(),
            ));
        };
        let Some((certificate, key)) = data.certificates.iter().find_map(|der| {
            self.certificates
                .iter()
                .find(|c| c.der() == der.as_slice())
                .and_then(|c| c.private_key().map(|k| (c, k)))
        }) else {
            return Err(DecryptionError::UnknownCertificate {
                thumbprint: thumbprint(first),
                subject: subject_of(first).unwrap_or_else(|| "unparsable certificate".into()),
            });
        };
        tracing::debug!(
            certificate = certificate.thumbprint(),
            "decrypting a key's session key"
        );
        let session_key = unwrap_session_key(key, data.transport, &data.encrypted_key)
            .filter(|k| k.len() == data.key_len)
            .ok_or(DecryptionError::Failed)?;
        let plaintext = xmlenc::cbc_decrypt(&session_key, &data.cipher_value)?;
        // Past the session key, every failure is the same one: see the module docs.
        let text = std::str::from_utf8(&plaintext).map_err(|_| DecryptionError::Failed)?;
        XmlElement::parse(text).map_err(|_| DecryptionError::Failed)
    }

    fn recipient(&self, encrypted: &XmlElement) -> Option<String> {
        let key = xmlenc::encrypted_key(encrypted).ok()?;
        let der = key
            .element_in(xmlenc::DSIG_NS, "KeyInfo")
            .map(xmlenc::certificates)?
            .into_iter()
            .next()?;
        let subject = subject_of(&der).unwrap_or_default();
        Some(format!("certificate {} ({subject})", thumbprint(&der)))
    }
}

/// RSA-decrypts the session key; `None` on any failure.
fn unwrap_session_key(
    key: &aws_lc_rs::rsa::PrivateDecryptingKey,
    transport: KeyTransport,
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; key.key_size_bytes()]);
    let len = match transport {
        KeyTransport::Pkcs1v15 => Pkcs1PrivateDecryptingKey::new(key.clone())
            .ok()?
            .decrypt(ciphertext, &mut out)
            .ok()?
            .len(),
        KeyTransport::OaepSha1 => OaepPrivateDecryptingKey::new(key.clone())
            .ok()?
            .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut out, None)
            .ok()?
            .len(),
    };
    out.truncate(len);
    Some(out)
}
