//! A key-encryption key: AES-256-GCM of the master key element under a named 256-bit key,
//! for clusters where only this crate reads the ring. ASP.NET Core nodes cannot read this
//! form without a custom `IXmlDecryptor`.
//!
//! ```xml
//! <encryptedSecret decryptorType="DataProtectionRs.XmlEncryption.KekXmlDecryptor, data-protection" xmlns="http://schemas.asp.net/2015/03/dataProtection">
//!   <encryptedKey xmlns="">
//!     <!-- This key is encrypted with a key-encryption key (AES-256-GCM). -->
//!     <kek id="kek-1f0c…" algorithm="AES_256_GCM" />
//!     <nonce>{base64, 12 bytes}</nonce>
//!     <value>{base64: ciphertext of the masterKey XML, then the 16-byte tag}</value>
//!   </encryptedKey>
//! </encryptedSecret>
//! ```
//!
//! The associated data is `data-protection/kek/v1:` followed by the KEK id, so a value
//! cannot be moved under another id.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{EncryptedXml, EncryptionError, XmlDecryptor, XmlEncryptor};
use crate::elements::DecryptionError;
use crate::random::RandomSource;
use crate::secret::Secret;
use crate::xml::XmlElement;

/// The decryptor type name of the key-encryption-key form (written with `, data-protection`
/// as its "assembly").
pub const KEK_DECRYPTOR_TYPE: &str = "DataProtectionRs.XmlEncryption.KekXmlDecryptor";
const ALGORITHM: &str = "AES_256_GCM";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const AAD_PREFIX: &[u8] = b"data-protection/kek/v1:";
const COMMENT: &str = " This key is encrypted with a key-encryption key (AES-256-GCM). ";

/// A 256-bit key-encryption key with an id. The id is written next to every master key it
/// encrypts, so a ring can hold keys under several KEKs while they rotate: write with the
/// newest, read with any.
#[derive(Clone)]
pub struct Kek {
    id: String,
    key: Secret,
}

/// A key-encryption key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KekError {
    /// The key is not 32 bytes.
    #[error("a key-encryption key must be 32 bytes, got {0}")]
    BadLength(usize),
    /// The text is not base64 (nor 32 raw bytes).
    #[error("the key-encryption key is not base64 of 32 bytes")]
    NotBase64,
    /// The id is empty, too long, or not printable ASCII.
    #[error("a key-encryption key id must be 1 to 128 printable ASCII characters")]
    BadId,
    /// The file could not be read.
    #[error("cannot read the key-encryption key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The environment variable is not set (or not Unicode).
    #[error("the environment variable {0} holding the key-encryption key is not set")]
    EnvNotSet(String),
}

impl Kek {
    /// A KEK from 32 bytes, with an explicit id (printable ASCII, at most 128 characters).
    ///
    /// # Errors
    /// The key is not 32 bytes or the id is not acceptable.
    pub fn new(id: impl Into<String>, key: &[u8]) -> Result<Self, KekError> {
        let id = id.into();
        let valid = (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(KekError::BadId);
        }
        if key.len() != KEY_LEN {
            return Err(KekError::BadLength(key.len()));
        }
        Ok(Self {
            id,
            key: Secret::from_slice(key),
        })
    }

    /// A KEK from 32 bytes, its id derived from the key (`kek-` and 16 hex digits of a
    /// SHA-256 over a fixed label and the key: one-way, and stable across nodes).
    ///
    /// # Errors
    /// The key is not 32 bytes.
    pub fn from_bytes(key: &[u8]) -> Result<Self, KekError> {
        if key.len() != KEY_LEN {
            return Err(KekError::BadLength(key.len()));
        }
        let digest = Sha256::new()
            .chain_update(b"data-protection kek id v1\0")
            .chain_update(key)
            .finalize();
        let id: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self::new(format!("kek-{id}"), key)
    }

    /// A KEK from base64 text (whitespace ignored) of 32 bytes, id derived as in
    /// [`from_bytes`](Self::from_bytes).
    ///
    /// # Errors
    /// Not base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, KekError> {
        let mut compact = Zeroizing::new(text.to_owned());
        compact.retain(|c| !c.is_ascii_whitespace());
        let bytes = Zeroizing::new(
            STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| KekError::NotBase64)?,
        );
        Self::from_bytes(&bytes)
    }

    /// A KEK from a file holding either the 32 raw bytes or their base64 text; id derived as
    /// in [`from_bytes`](Self::from_bytes).
    ///
    /// # Errors
    /// The file cannot be read or holds neither form.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, KekError> {
        let path = path.as_ref();
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| KekError::Io {
            path: path.to_owned(),
            source,
        })?);
        if bytes.len() == KEY_LEN {
            return Self::from_bytes(&bytes);
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| KekError::NotBase64)?;
        Self::from_base64(text)
    }

    /// A KEK from an environment variable holding its base64 text; id derived as in
    /// [`from_bytes`](Self::from_bytes).
    ///
    /// # Errors
    /// The variable is not set or is not base64 of 32 bytes.
    pub fn from_env(var: &str) -> Result<Self, KekError> {
        let value =
            Zeroizing::new(std::env::var(var).map_err(|_| KekError::EnvNotSet(var.to_owned()))?);
        Self::from_base64(&value)
    }

    /// The same key under another id.
    ///
    /// # Errors
    /// The id is not acceptable.
    pub fn with_id(self, id: impl Into<String>) -> Result<Self, KekError> {
        Self::new(id, self.key.expose_secret())
    }

    /// The id written next to the keys it encrypts.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The cipher (`None` cannot happen: the length is checked at construction).
    fn cipher(&self) -> Option<Aes256Gcm> {
        Aes256Gcm::new_from_slice(self.key.expose_secret()).ok()
    }

    fn aad(&self) -> Vec<u8> {
        [AAD_PREFIX, self.id.as_bytes()].concat()
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kek")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Writes master keys encrypted under one [`Kek`].
#[derive(Debug, Clone)]
pub struct KekXmlEncryptor {
    kek: Arc<Kek>,
}

impl KekXmlEncryptor {
    /// Encrypts under `kek`.
    pub fn new(kek: Kek) -> Self {
        Self { kek: Arc::new(kek) }
    }
}

impl XmlEncryptor for KekXmlEncryptor {
    fn encrypt(
        &self,
        plaintext: &XmlElement,
        random: &dyn RandomSource,
    ) -> Result<EncryptedXml, EncryptionError> {
        let mut buf = Zeroizing::new(plaintext.to_compact_string().into_bytes());
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce);
        let tag = self
            .kek
            .cipher()
            .ok_or_else(|| EncryptionError::new("invalid key-encryption key"))?
            .encrypt_inout_detached((&nonce).into(), &self.kek.aad(), (&mut buf[..]).into())
            .map_err(|_| EncryptionError::new("AES-GCM refused the message"))?;
        let mut value = buf.to_vec();
        value.extend_from_slice(&tag);
        let element = XmlElement::new("encryptedKey")
            .comment(COMMENT)
            .child(
                XmlElement::new("kek")
                    .attr("id", self.kek.id.clone())
                    .attr("algorithm", ALGORITHM),
            )
            .child(XmlElement::new("nonce").text(STANDARD.encode(nonce)))
            .child(XmlElement::new("value").text(STANDARD.encode(value)));
        Ok(EncryptedXml::new(
            element,
            format!("{KEK_DECRYPTOR_TYPE}, data-protection"),
        ))
    }
}

/// Reads master keys encrypted under any of several [`Kek`]s, chosen by the id in the
/// element.
#[derive(Debug, Clone, Default)]
pub struct KekXmlDecryptor {
    keks: Vec<Arc<Kek>>,
}

impl KekXmlDecryptor {
    /// Decrypts with any of `keks`.
    pub fn new(keks: impl IntoIterator<Item = Kek>) -> Self {
        Self {
            keks: keks.into_iter().map(Arc::new).collect(),
        }
    }

    /// Adds a KEK (ids already present are kept as they are).
    pub(crate) fn push(&mut self, kek: Kek) {
        if !self.keks.iter().any(|k| k.id == kek.id) {
            self.keks.push(Arc::new(kek));
        }
    }
}

/// The id and algorithm of a KEK-encrypted element.
fn kek_of(encrypted: &XmlElement) -> Result<(&str, &str), DecryptionError> {
    if encrypted.local_name() != "encryptedKey" || encrypted.namespace().is_some() {
        return Err(DecryptionError::Malformed(format!(
            "expected <encryptedKey>, found <{}>",
            encrypted.local_name()
        )));
    }
    let kek = encrypted
        .element("kek")
        .ok_or_else(|| DecryptionError::Malformed("no <kek>".into()))?;
    let id = kek
        .attribute("id")
        .ok_or_else(|| DecryptionError::Malformed("no <kek id>".into()))?;
    Ok((id, kek.attribute("algorithm").unwrap_or("")))
}

fn base64_child(encrypted: &XmlElement, name: &str) -> Result<Vec<u8>, DecryptionError> {
    let mut text = encrypted
        .element(name)
        .map(XmlElement::text_content)
        .ok_or_else(|| DecryptionError::Malformed(format!("no <{name}>")))?;
    text.retain(|c| !c.is_ascii_whitespace());
    STANDARD
        .decode(text.as_bytes())
        .map_err(|_| DecryptionError::Malformed(format!("<{name}> is not base64")))
}

impl XmlDecryptor for KekXmlDecryptor {
    fn decryptor_type(&self) -> &str {
        KEK_DECRYPTOR_TYPE
    }

    fn decrypt(&self, encrypted: &XmlElement) -> Result<XmlElement, DecryptionError> {
        let (id, algorithm) = kek_of(encrypted)?;
        if algorithm != ALGORITHM {
            return Err(DecryptionError::UnsupportedAlgorithm(algorithm.to_owned()));
        }
        let kek = self
            .keks
            .iter()
            .find(|k| bool::from(k.id.as_bytes().ct_eq(id.as_bytes())))
            .ok_or_else(|| DecryptionError::UnknownKek { id: id.to_owned() })?;
        let nonce = base64_child(encrypted, "nonce")?;
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| DecryptionError::Malformed("the nonce is not 12 bytes".into()))?;
        let value = base64_child(encrypted, "value")?;
        let Some(split) = value.len().checked_sub(TAG_LEN) else {
            return Err(DecryptionError::Malformed("<value> is too short".into()));
        };
        let (ciphertext, tag) = value.split_at(split);
        let tag: [u8; TAG_LEN] = tag
            .try_into()
            .map_err(|_| DecryptionError::Malformed("<value> is too short".into()))?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        kek.cipher()
            .ok_or(DecryptionError::Failed)?
            .decrypt_inout_detached(
                (&nonce).into(),
                &kek.aad(),
                (&mut buf[..]).into(),
                (&tag).into(),
            )
            .map_err(|_| DecryptionError::Failed)?;
        let text = std::str::from_utf8(&buf)
            .map_err(|_| DecryptionError::Malformed("the plaintext is not UTF-8".into()))?;
        XmlElement::parse(text)
            .map_err(|_| DecryptionError::Malformed("the plaintext is not an XML element".into()))
    }

    fn recipient(&self, encrypted: &XmlElement) -> Option<String> {
        kek_of(encrypted).ok().map(|(id, _)| format!("kek {id}"))
    }
}
