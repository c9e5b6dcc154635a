//! The encryptor and decryptors of one key manager, applied to whole key elements.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{EncryptionError, XmlDecryptor, XmlEncryptor};
use crate::elements::{KeyProblem, NULL_DECRYPTOR, REQUIRES_ENCRYPTION, type_name};
use crate::random::RandomSource;
use crate::xml::{DP_NAMESPACE, XmlElement};

/// Whether this process already warned about a key written without encryption.
static WARNED_UNENCRYPTED: AtomicBool = AtomicBool::new(false);

/// How keys are encrypted when written and decrypted when read.
#[derive(Clone, Default)]
pub(crate) struct KeyProtection {
    encryptor: Option<Arc<dyn XmlEncryptor>>,
    decryptors: Vec<Arc<dyn XmlDecryptor>>,
    /// Writing unencrypted keys was chosen deliberately: no warning.
    allow_unencrypted: bool,
}

impl std::fmt::Debug for KeyProtection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyProtection")
            .field("encryptor", &self.encryptor)
            .field("decryptors", &self.decryptors)
            .field("allow_unencrypted", &self.allow_unencrypted)
            .finish()
    }
}

/// What reading a key's encrypted parts gave.
#[derive(Debug, Default)]
pub(crate) struct Decrypted {
    /// What the secret is encrypted to, when it is encrypted (for listings).
    pub(crate) encrypted_to: Option<String>,
    /// Why a secret could not be decrypted.
    pub(crate) problem: Option<KeyProblem>,
}

impl KeyProtection {
    pub(crate) fn new(
        encryptor: Option<Arc<dyn XmlEncryptor>>,
        decryptors: Vec<Arc<dyn XmlDecryptor>>,
        allow_unencrypted: bool,
    ) -> Self {
        Self {
            encryptor,
            decryptors,
            allow_unencrypted,
        }
    }

    /// Replaces every element marked `requiresEncryption="true"` by its `<encryptedSecret>`.
    /// Without an encryptor, warns once per process (unless that was opted out of).
    pub(crate) fn encrypt_in_place(
        &self,
        key: &mut XmlElement,
        random: &dyn RandomSource,
    ) -> Result<(), EncryptionError> {
        let Some(encryptor) = &self.encryptor else {
            if !self.allow_unencrypted && !WARNED_UNENCRYPTED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    key = key.attribute("id").unwrap_or("?"),
                    "no key encryptor configured: master keys are stored unencrypted. Configure \
                     one on the builder (protect_keys_with_certificate, protect_keys_with_kek, \
                     protect_keys_with) or in dpkeys (--certificate, --kek-file); call \
                     allow_unencrypted_keys() to silence this warning. Logged once per process."
                );
            }
            return Ok(());
        };
        key.try_map_elements(&mut |e| {
            let marked = e
                .attribute_ns(DP_NAMESPACE, REQUIRES_ENCRYPTION)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            if !marked {
                return Ok(None);
            }
            let encrypted = encryptor.encrypt(e, random)?;
            Ok(Some(wrap(encrypted.element, &encrypted.decryptor_type)))
        })
    }

    /// Replaces every `<encryptedSecret>` a configured decryptor handles by its plaintext.
    /// Forms no decryptor handles (the null decryptor, DPAPI, …) are left for the
    /// descriptor reader, which reads or reports them.
    pub(crate) fn decrypt_in_place(&self, key: &mut XmlElement) -> Decrypted {
        let mut out = Decrypted::default();
        let result = key.try_map_elements(&mut |e| {
            if e.local_name() != "encryptedSecret" || e.namespace() != Some(DP_NAMESPACE) {
                return Ok(None);
            }
            let decryptor_type = type_name(e.attribute("decryptorType").unwrap_or(""));
            if decryptor_type == NULL_DECRYPTOR {
                return Ok(None);
            }
            let Some(decryptor) = self
                .decryptors
                .iter()
                .find(|d| d.decryptor_type() == decryptor_type)
            else {
                let short = decryptor_type.rsplit('.').next().unwrap_or("");
                out.encrypted_to.get_or_insert_with(|| short.to_owned());
                return Ok(None);
            };
            let undecryptable = |error| KeyProblem::Undecryptable {
                decryptor: decryptor_type.clone(),
                error,
            };
            let mut children = e.elements();
            let (Some(encrypted), None) = (children.next(), children.next()) else {
                return Err(undecryptable(crate::elements::DecryptionError::Malformed(
                    "<encryptedSecret> must hold exactly one element".into(),
                )));
            };
            if let Some(recipient) = decryptor.recipient(encrypted) {
                out.encrypted_to.get_or_insert(recipient);
            }
            match decryptor.decrypt(encrypted) {
                Ok(plain) => Ok(Some(plain)),
                Err(error) => {
                    tracing::debug!(%decryptor_type, "a key's secret could not be decrypted: {error}");
                    Err(undecryptable(error))
                }
            }
        });
        out.problem = result.err();
        out
    }
}

/// `<encryptedSecret decryptorType="…" xmlns="DP">{element}</encryptedSecret>`, as ASP.NET
/// writes it.
fn wrap(mut element: XmlElement, decryptor_type: &str) -> XmlElement {
    // An element in no namespace must undeclare the wrapper's default namespace.
    let declares_default = element
        .attributes
        .iter()
        .any(|a| a.name.prefix.is_none() && a.name.local == "xmlns");
    if element.namespace().is_none() && !declares_default {
        element = element.attr("xmlns", "");
    }
    let mut wrapper = XmlElement::new("encryptedSecret").attr("decryptorType", decryptor_type);
    wrapper.name.namespace = Some(DP_NAMESPACE.to_owned());
    wrapper.attr("xmlns", DP_NAMESPACE).child(element)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::Algorithm;
    use crate::key_id::KeyId;
    use crate::secret::Secret;
    use crate::testing::InsecureSequentialRandom;
    use crate::xml_encryption::{Kek, KekXmlDecryptor, KekXmlEncryptor};

    fn key() -> XmlElement {
        let t = time::macros::datetime!(2024-01-01 0:00 UTC);
        let id: KeyId = "0f8fad5b-d9cb-469f-a165-70867728950e".parse().unwrap();
        let master = Secret::from_slice(&[7; 64]);
        crate::elements::key_element(id, t, t, t, Algorithm::default(), &master).0
    }

    fn kek_protection() -> KeyProtection {
        let kek = Kek::new("k1", &[1; 32]).unwrap();
        KeyProtection::new(
            Some(Arc::new(KekXmlEncryptor::new(kek.clone()))),
            vec![Arc::new(KekXmlDecryptor::new([kek]))],
            false,
        )
    }

    #[test]
    fn the_writer_is_deterministic_under_an_injected_source_and_round_trips() {
        let p = kek_protection();
        let encrypt = || {
            let mut k = key();
            p.encrypt_in_place(&mut k, &InsecureSequentialRandom::new())
                .unwrap();
            k.to_compact_string()
        };
        let once = encrypt();
        assert_eq!(once, encrypt());
        assert!(!once.contains("masterKey"), "{once}");
        assert!(once.contains("<encryptedKey xmlns=\"\">"), "{once}");
        let mut parsed = XmlElement::parse(&once).unwrap();
        let decrypted = p.decrypt_in_place(&mut parsed);
        assert!(decrypted.problem.is_none(), "{:?}", decrypted.problem);
        assert_eq!(decrypted.encrypted_to.as_deref(), Some("kek k1"));
        assert_eq!(parsed.to_compact_string(), key().to_compact_string());
    }

    #[test]
    fn forms_without_a_decryptor_are_left_for_the_descriptor_reader() {
        let mut k = key();
        kek_protection()
            .encrypt_in_place(&mut k, &InsecureSequentialRandom::new())
            .unwrap();
        let text = k.to_compact_string();
        let mut parsed = XmlElement::parse(&text).unwrap();
        let decrypted = KeyProtection::default().decrypt_in_place(&mut parsed);
        assert!(decrypted.problem.is_none());
        assert_eq!(decrypted.encrypted_to.as_deref(), Some("KekXmlDecryptor"));
        assert_eq!(parsed.to_compact_string(), text, "left as it was");
    }
}
