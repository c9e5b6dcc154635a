#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod clock;
mod crypto;
mod error;
mod key_id;
mod keyring;
mod maintenance;
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
mod time_limited;
pub mod xml;

pub use clock::{Clock, ManualClock, SystemClock};
pub use crypto::{Algorithm, EncryptionAlgorithm, ValidationAlgorithm};
pub use error::{Error, Result, StoreError, StoreErrorKind};
pub use key_id::{KeyId, KeyIdParseError};
pub use keyring::{EnsureOutcome, KeyInfo, KeyProblem, KeyStatus};
pub use maintenance::{KeyCheck, PruneReport, PrunedElement};
pub use protector::{Protector, Unprotected};
pub use provider::{DataProtection, DataProtectionBuilder};
pub use random::{InsecureSequentialRandom, RandomSource, SystemRandom};
pub use secret::Secret;
pub use time_limited::{PURPOSE as TIME_LIMITED_PURPOSE, TimeLimitedProtector};

/// Entry points for the fuzz targets in `fuzz/`. Not part of the API.
#[doc(hidden)]
pub mod __fuzz {
    /// Parses text as a key-ring element and classifies it, as a reload does.
    pub fn key_ring_element(text: &str) {
        if let Ok(element) = crate::xml::XmlElement::parse(text) {
            let _ = element.to_compact_string();
            let _ = crate::keyring::read_element(&element);
        }
    }

    /// Reads a request's `Cookie` header value as the session layer does: finds the session
    /// cookie and unescapes it.
    #[cfg(feature = "session")]
    pub fn session_cookie_header(value: &str) -> Option<String> {
        crate::session::cookie_value_for_fuzzing(value)
    }
}
