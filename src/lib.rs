#![doc = include_str!("../README.md")]

// Layers, bottom up; a module imports only from layers below its own (and from its
// defining module, never through these re-exports):
//   primitives: secret, key_id, clock, random, error
//   formats:    algorithm, xml, elements, payload, cookie_formats
//   crypto:     crypto
//   (metrics: a leaf every layer may call)
//   stores:     repository (+ redis_client)
//   key ring:   keyring
//   provider:   provider, protector
//   web:        session, cookies
mod algorithm;
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
pub mod xml;

pub use algorithm::{Algorithm, EncryptionAlgorithm, ValidationAlgorithm};
pub use clock::{Clock, ManualClock, SystemClock};
pub use elements::{ElementError, KeyProblem};
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
            let _ = crate::keyring::load::load_element(&stored);
        }
    }

    /// Reads a request's `Cookie` header value as the session layer does: finds the session
    /// cookie and unescapes it.
    #[cfg(feature = "session")]
    pub fn session_cookie_header(value: &str) -> Option<String> {
        crate::session::cookie_value_for_fuzzing(value)
    }
}
