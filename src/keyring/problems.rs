//! What is wrong with a loaded ring, for logs, `problems()` and `dpkeys check`.

use crate::elements::{ElementError, KeyProblem};
use crate::key_id::KeyId;

/// Something in the store that the ring could not use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RingProblem {
    /// An element could not be read and was skipped.
    #[error("element {}: {error}; skipped", display_name(.name))]
    UnreadableElement {
        /// Its name in the store, where the store keeps names.
        name: Option<String>,
        /// Why it could not be read.
        error: ElementError,
    },
    /// An element that is neither a key nor a revocation was skipped (as ASP.NET does).
    #[error("element {}: unknown element <{local_name}>; skipped", display_name(.name))]
    UnknownElement {
        /// Its name in the store, where the store keeps names.
        name: Option<String>,
        /// Its local name.
        local_name: String,
    },
    /// A key's material cannot be used here (encrypted with a decryptor this node lacks, an
    /// unsupported descriptor, …). The key is listed as unreadable and never used.
    #[error("key {id} cannot be used: {problem}")]
    UnreadableKey {
        /// The key.
        id: KeyId,
        /// Why.
        problem: KeyProblem,
    },
    /// The key the rules pick as default cannot be used here. Nothing is protected and no
    /// key is created in its place (other nodes may well be using it): give this node what
    /// it needs to read the key, or rotate deliberately (`dpkeys rotate`).
    #[error(
        "the default key {id} cannot be used ({problem}): new payloads cannot be protected, \
         and no key is created in its place; give this node what it needs to read the key \
         (certificate, key-encryption key) or rotate deliberately (dpkeys rotate)"
    )]
    UnreadableDefaultKey {
        /// The key.
        id: KeyId,
        /// Why it cannot be used.
        problem: KeyProblem,
    },
}

fn display_name(name: &Option<String>) -> &str {
    name.as_deref().unwrap_or("(unnamed)")
}
