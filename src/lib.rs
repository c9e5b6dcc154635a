#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod clock;
mod crypto;
mod error;
mod payload;
mod protector;
mod provider;
mod time_limited;
pub mod xml;
mod key_id;
mod keyring;
pub mod repository;
mod random;
mod secret;

pub use clock::{Clock, ManualClock, SystemClock};
pub use crypto::{Algorithm, EncryptionAlgorithm, ValidationAlgorithm};
pub use error::{Error, Result, StoreError, StoreErrorKind};
pub use key_id::{KeyId, KeyIdParseError};
pub use keyring::{EnsureOutcome, KeyInfo, KeyProblem, KeyStatus};
pub use random::{InsecureSequentialRandom, RandomSource, SystemRandom};
pub use protector::{Protector, Unprotected};
pub use provider::{DataProtection, DataProtectionBuilder};
pub use secret::Secret;
pub use time_limited::{PURPOSE as TIME_LIMITED_PURPOSE, TimeLimitedProtector};
