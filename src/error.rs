//! Errors.

use std::fmt;

use time::OffsetDateTime;

use crate::elements::{ElementError, KeyProblem};
use crate::key_id::KeyId;

/// Everything that can go wrong, apart from the reasons an unprotect failed: those are one
/// deliberately opaque variant, [`Error::InvalidPayload`], with the detail in `tracing` at
/// debug level.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The payload could not be unprotected: malformed, tampered with, protected for another
    /// purpose or application, or with a key this ring does not have or has revoked.
    #[error("the payload could not be unprotected")]
    InvalidPayload,
    /// A time-limited payload was authentic but its lifetime is over.
    #[error("the payload expired at {0}")]
    PayloadExpired(OffsetDateTime),
    /// The key ring has no key that may protect, and none may be created (automatic
    /// generation is off, or the store cannot be written).
    #[error(
        "the key ring has no usable default key and automatic key generation is disabled; create one (dpkeys rotate) or enable generation"
    )]
    NoDefaultKey,
    /// The key the rules pick as default cannot be read by this node (encrypted to a
    /// certificate it lacks, an unsupported descriptor, …). Nothing is protected and no key
    /// is created in its place, since other nodes may be using it; payloads of other keys
    /// still unprotect.
    #[error(
        "the default key {id} cannot be used here ({problem}); give this node what it needs \
         to read it (certificate, key-encryption key) or rotate deliberately (dpkeys rotate)"
    )]
    DefaultKeyUnreadable {
        /// The key.
        id: KeyId,
        /// Why this node cannot use it.
        problem: KeyProblem,
    },
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An element of the key ring could not be read, in a way that makes the whole ring
    /// untrustworthy: a revocation that does not parse could leave a revoked key in use. The
    /// ring loaded before stays in use and no key is created.
    #[error("the key ring is invalid: element {element}: {source}")]
    InvalidKeyRing {
        /// The element's name in the store (or a description where the store keeps none).
        element: String,
        /// Why it could not be read.
        #[source]
        source: ElementError,
    },
    /// A new key could not be encrypted (see [`XmlEncryptor`]); it was not written.
    ///
    /// [`XmlEncryptor`]: crate::xml_encryption::XmlEncryptor
    #[error(transparent)]
    KeyEncryption(#[from] crate::xml_encryption::EncryptionError),
    /// The operation names a key the ring does not hold.
    #[error("the key {0} is not in the key ring")]
    UnknownKey(KeyId),
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// What kind of store failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be reached (connection refused, DNS, I/O error).
    Unavailable,
    /// The store did not answer within the configured timeout.
    Timeout,
    /// The store refused (permissions, authentication).
    Denied,
    /// The store does not support the operation (deleting, for example).
    Unsupported,
    /// The store holds data that cannot be read.
    Corrupt,
    /// Anything else.
    Other,
}

/// A key store failed.
#[derive(Debug, thiserror::Error)]
#[error("{store}: {kind_text}: {message}", kind_text = kind_text(self.kind))]
pub struct StoreError {
    kind: StoreErrorKind,
    store: String,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreErrorKind {
    /// A fixed lowercase word (`unavailable`, `timeout`, …), for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Denied => "denied",
            Self::Unsupported => "unsupported",
            Self::Corrupt => "corrupt",
            Self::Other => "other",
        }
    }
}

fn kind_text(kind: StoreErrorKind) -> &'static str {
    match kind {
        StoreErrorKind::Unavailable => "unavailable",
        StoreErrorKind::Timeout => "timed out",
        StoreErrorKind::Denied => "access denied",
        StoreErrorKind::Unsupported => "unsupported",
        StoreErrorKind::Corrupt => "unreadable data",
        StoreErrorKind::Other => "failed",
    }
}

impl StoreError {
    /// A store error. `store` names the store (for example `directory /var/keys`).
    pub fn new(kind: StoreErrorKind, store: impl fmt::Display, message: impl fmt::Display) -> Self {
        Self {
            kind,
            store: store.to_string(),
            message: message.to_string(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// Maps an I/O error to a store error.
    pub fn from_io(
        store: impl fmt::Display,
        context: impl fmt::Display,
        err: std::io::Error,
    ) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::PermissionDenied => StoreErrorKind::Denied,
            std::io::ErrorKind::TimedOut => StoreErrorKind::Timeout,
            std::io::ErrorKind::Unsupported => StoreErrorKind::Unsupported,
            std::io::ErrorKind::InvalidData => StoreErrorKind::Corrupt,
            _ => StoreErrorKind::Unavailable,
        };
        Self::new(kind, store, format!("{context}: {err}")).with_source(err)
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
