//! Master keys encrypted at rest: the seam ASP.NET Core calls `IXmlEncryptor` /
//! `IXmlDecryptor`, and its built-in forms.
//!
//! When a key is written, every element marked `requiresEncryption="true"` (in the Data
//! Protection namespace; in practice the `<masterKey>`) is handed to the configured
//! [`XmlEncryptor`] and replaced by
//! `<encryptedSecret decryptorType="…" xmlns="http://schemas.asp.net/2015/03/dataProtection">`
//! around what it returns. When a key is read, every `<encryptedSecret>` is handed to the
//! [`XmlDecryptor`] registered for its `decryptorType`. A key whose secret cannot be
//! decrypted is listed as unreadable and never used; it is never a reason to create a key.
//!
//! Built in:
//! - a key-encryption key ([`Kek`]: AES-256-GCM, for Rust-only clusters);
//! - X.509 certificates (feature `certificates`; [`Certificate`]), byte-compatible with
//!   ASP.NET Core's `ProtectKeysWithCertificate` (W3C XML Encryption, AES-256-CBC content,
//!   RSA PKCS#1 v1.5 key transport; RSA-OAEP read too).
//!
//! Formats: `keyring-formats/encrypted-secret.md`.
//!
//! Layer: below the key ring (which applies it), above the element formats and ciphers.

#[cfg(feature = "certificates")]
mod certificate;
#[cfg(feature = "certificates")]
mod certificate_xml;
mod error;
mod kek;
mod protection;
#[cfg(feature = "certificates")]
mod xmlenc;

#[cfg(feature = "certificates")]
pub use certificate::{Certificate, CertificateError};
#[cfg(feature = "certificates")]
pub use certificate_xml::{
    CERTIFICATE_DECRYPTOR_TYPE, CertificateXmlDecryptor, CertificateXmlEncryptor,
};
pub use error::EncryptionError;
pub use kek::{KEK_DECRYPTOR_TYPE, Kek, KekError, KekXmlDecryptor, KekXmlEncryptor};
pub(crate) use protection::{Decrypted, KeyProtection};

pub use crate::elements::DecryptionError;
use crate::random::RandomSource;
use crate::xml::XmlElement;

/// Encrypts the secret parts of key elements before they are stored (ASP.NET's
/// `IXmlEncryptor`). Object safe; one instance serves every key.
pub trait XmlEncryptor: Send + Sync + std::fmt::Debug {
    /// Encrypts `plaintext` (an element marked `requiresEncryption`, usually
    /// `<masterKey>`). Randomness (IVs, session keys) comes from `random`, so output is
    /// deterministic under a deterministic source.
    ///
    /// # Errors
    /// The encryption failed (a KMS that cannot be reached, say); the key is not written.
    fn encrypt(
        &self,
        plaintext: &XmlElement,
        random: &dyn RandomSource,
    ) -> Result<EncryptedXml, EncryptionError>;
}

/// What an [`XmlEncryptor`] produced: the element to store and the decryptor type that
/// reads it back.
#[derive(Debug)]
#[non_exhaustive]
pub struct EncryptedXml {
    /// The encrypted element (stored inside `<encryptedSecret>`).
    pub element: XmlElement,
    /// The assembly-qualified name written to `decryptorType` (only the part before the
    /// first comma selects the decryptor when reading).
    pub decryptor_type: String,
}

impl EncryptedXml {
    /// An encrypted element and the decryptor type that reads it.
    pub fn new(element: XmlElement, decryptor_type: impl Into<String>) -> Self {
        Self {
            element,
            decryptor_type: decryptor_type.into(),
        }
    }
}

/// Decrypts `<encryptedSecret>` contents of one `decryptorType` (ASP.NET's
/// `IXmlDecryptor`). Object safe; one instance serves every key.
pub trait XmlDecryptor: Send + Sync + std::fmt::Debug {
    /// The type name this decryptor handles, without assembly qualification (for example
    /// `Microsoft.AspNetCore.DataProtection.XmlEncryption.EncryptedXmlDecryptor`).
    fn decryptor_type(&self) -> &str;

    /// Decrypts the single child of an `<encryptedSecret>`, returning the plaintext
    /// element (usually `<masterKey>`).
    ///
    /// # Errors
    /// Why it cannot be decrypted; the key becomes unreadable.
    fn decrypt(&self, encrypted: &XmlElement) -> Result<XmlElement, DecryptionError>;

    /// What the element is encrypted to (a certificate's thumbprint and subject, a key id),
    /// for listings. Must not decrypt anything.
    fn recipient(&self, encrypted: &XmlElement) -> Option<String> {
        let _ = encrypted;
        None
    }
}
