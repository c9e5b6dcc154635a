#![doc = include_str!("../README.md")]

// Layers, bottom up; a module imports only from layers below its own (and from its
// defining module, never through these re-exports):
//   primitives: secret, key_id, clock, random, error
//   formats:    algorithm, xml, elements, payload, token, cookie_formats
//   crypto:     crypto, xml_encryption (keys encrypted at rest)
//   (metrics: a leaf every layer may call)
//   stores:     repository (+ redis_client)
//   key ring:   keyring
//   provider:   provider, protector
//   web:        session, cookies
mod algorithm;
mod base64url;
mod clock;
pub mod cookie_formats;
#[cfg(feature = "cookies")]
pub mod cookies;
mod crypto;
mod elements;
mod error;
mod key_id;
mod keyring;
mod metrics;
mod payload;
#[cfg(feature = "postgres")]
mod postgres_client;
mod protector;
mod provider;
mod random;
#[cfg(feature = "redis")]
mod redis_client;
pub mod repository;
mod secret;
#[cfg(feature = "session")]
pub mod session;
#[cfg(any(test, feature = "insecure-test-utils"))]
pub mod testing;
pub mod token;
pub mod xml;
pub mod xml_encryption;

pub use algorithm::{Algorithm, EncryptionAlgorithm, ValidationAlgorithm};
pub use clock::{Clock, ManualClock, SystemClock};
pub use elements::{DecryptionError, ElementError, KeyProblem};
pub use error::{Error, Result, StoreError, StoreErrorKind};
pub use key_id::{KeyId, KeyIdParseError};
pub use keyring::{EnsureOutcome, KeyInfo, KeyStatus, RefreshFailure, RingProblem};
pub use protector::{Protector, TIME_LIMITED_PURPOSE, TimeLimitedProtector, Unprotected};
pub use provider::{
    DataProtection, DataProtectionBuilder, Health, HealthStatus, KeyCheck, PruneReport,
    PrunedElement,
};
pub use random::{RandomSource, SystemRandom};
pub use secret::Secret;

/// Entry points for the fuzz targets in `fuzz/`. Not part of the API.
#[doc(hidden)]
pub mod __fuzz {
    /// Parses text as a stored key-ring element and loads it, as a reload does (named and
    /// unnamed).
    pub fn key_ring_element(text: &str) {
        if let Ok(element) = crate::xml::XmlElement::parse(text) {
            let _ = element.to_compact_string();
            let _ = crate::elements::element_name(&element);
        }
        for name in [
            None,
            Some("revocation-x".to_owned()),
            Some("key-x".to_owned()),
        ] {
            let stored = crate::repository::StoredElement::new(name, text.to_owned());
            let _ = crate::keyring::load::load_element(&stored, &Default::default());
        }
    }

    /// Parses text as a stored key element and loads it with these decryptors, as a node
    /// configured with them does (the encrypted forms: KEK, certificate, custom).
    pub fn encrypted_key_element(
        text: &str,
        decryptors: &[std::sync::Arc<dyn crate::xml_encryption::XmlDecryptor>],
    ) {
        let protection = crate::xml_encryption::KeyProtection::new(None, decryptors.to_vec(), true);
        for name in [None, Some("key-x".to_owned())] {
            let stored = crate::repository::StoredElement::new(name, text.to_owned());
            let _ = crate::keyring::load::load_element(&stored, &protection);
        }
    }

    /// Reads a request's `Cookie` header value as the session layer does: finds the session
    /// cookie and unescapes it.
    #[cfg(feature = "session")]
    pub fn session_cookie_header(value: &str) -> Option<String> {
        crate::session::cookie_value_for_fuzzing(value)
    }

    /// Names arbitrary bytes as a store without names does (a Redis list element): a derived
    /// name is always one the stores accept.
    #[cfg(any(feature = "redis", fuzzing))]
    pub fn nameless_element(bytes: &[u8]) {
        let text = crate::repository::element_text(bytes);
        if let Some(name) = crate::repository::derived_name(&text) {
            assert!(
                crate::repository::is_valid_friendly_name(&name),
                "derived name {name:?} is not a valid friendly name"
            );
        }
    }

    /// Reads bytes as a single-blob document: the document it writes back reads as the same
    /// elements, each element can be appended to an empty document under its derived name,
    /// and removing it by that name removes it.
    #[cfg(any(feature = "object-store", fuzzing))]
    pub fn single_blob_document(bytes: &[u8]) {
        use crate::repository::StoreOutcome;
        use crate::repository::blob_document::Document;
        let Ok(doc) = Document::parse("fuzz", "blob", bytes) else {
            return;
        };
        let elements = doc.elements();
        let text = doc.to_text();
        let again = Document::parse("fuzz", "blob", text.as_bytes())
            .unwrap_or_else(|e| panic!("a written document reads back: {e}"));
        assert!(again.elements() == elements, "elements survive a write");
        for stored in &elements {
            let (Some(name), Ok(element)) =
                (&stored.name, crate::xml::XmlElement::parse(&stored.xml))
            else {
                continue;
            };
            let mut fresh = Document::empty();
            let appended = fresh.append("fuzz", &element, name);
            assert!(
                matches!(appended, Ok(StoreOutcome::Created)),
                "an element goes in under its derived name"
            );
            assert!(
                fresh.remove(std::slice::from_ref(name)),
                "and comes out by it"
            );
        }
    }

    /// A session cookie as the layer reads it: an arbitrary value never panics, and a cookie
    /// the layer writes for `key` reads back as `key` when it has a session key's shape.
    #[cfg(feature = "session")]
    pub async fn session_cookie(protector: &crate::Protector, key: &str, value: &str) {
        let _ = crate::session::cookie::unprotect_key(protector, value).await;
        if let Ok(cookie) = crate::session::cookie::protect_key(protector, key) {
            let back = crate::session::cookie::unprotect_key(protector, &cookie).await;
            let shaped =
                key.chars().count() == crate::session::SESSION_KEY_LEN && !key.trim().is_empty();
            match back {
                Ok(k) => assert!(shaped && k == key, "the cookie gives back its key"),
                Err(_) => assert!(!shaped, "a well-formed key's cookie reads back"),
            }
        }
    }
}
