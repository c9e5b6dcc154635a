#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod clock;
pub mod crypto;
mod error;
mod payload;
pub mod xml;
mod key_id;
mod random;
mod secret;

pub use clock::{Clock, ManualClock, SystemClock};
pub use crypto::{Algorithm, EncryptionAlgorithm, ValidationAlgorithm};
pub use error::{Error, Result, StoreError, StoreErrorKind};
pub use key_id::{KeyId, KeyIdParseError};
pub use random::{InsecureSequentialRandom, RandomSource, SystemRandom};
pub use secret::Secret;
