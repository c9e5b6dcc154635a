//! The key-ring element model: `<key>` and `<revocation>` elements as ASP.NET Core writes
//! them, their descriptors, and the friendly names stores keep them under.
//!
//! This is a format layer: it reads and builds XML and knows nothing of stores, of the ring's
//! rules or of the ciphers (a key's material is handed up as an algorithm and a secret).

mod decryption_error;
mod descriptor;
mod key;
mod revocation;

pub use decryption_error::DecryptionError;
pub use descriptor::KeyProblem;
pub(crate) use descriptor::{NULL_DECRYPTOR, REQUIRES_ENCRYPTION, type_name};
pub(crate) use key::{KeyElement, key_element};
pub(crate) use revocation::{Revocation, revocation_element};

use crate::key_id::{KeyId, KeyIdParseError};
use crate::xml::{XmlElement, XmlError};

/// Why a stored element could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ElementError {
    /// The text is not well-formed XML.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// A `<key>` without an `id` attribute.
    #[error("<key> without an id attribute")]
    KeyWithoutId,
    /// A `<key>` or `<revocation>` whose key id is not a GUID.
    #[error("invalid key id: {0}")]
    BadKeyId(#[source] KeyIdParseError),
    /// A date of a key is missing, malformed, or outside .NET's range (years 1 to 9999 in
    /// UTC).
    #[error("key {id}: missing or invalid <{field}>")]
    BadKeyDate {
        /// The key.
        id: KeyId,
        /// The element holding the date (`creationDate`, …).
        field: &'static str,
    },
    /// A `<revocation>` that names no key.
    #[error("revocation without <key id>")]
    RevocationWithoutKey,
    /// A mass revocation (`<key id="*">`) whose date is missing, malformed or out of range.
    #[error("revocation of all keys without a valid <revocationDate>")]
    BadRevocationDate,
    /// An element stored as a revocation that holds something else.
    #[error("stored as a revocation but is not a <revocation>")]
    NotARevocation,
}

impl ElementError {
    /// The key the element is about, when that much could be read.
    pub fn key_id(&self) -> Option<KeyId> {
        match self {
            Self::BadKeyDate { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// What a stored element turned out to be.
pub(crate) enum Element {
    Key(KeyElement),
    Revocation(Revocation),
    /// Some other element (ASP.NET skips these too).
    Unknown {
        local_name: String,
    },
}

/// Classifies a parsed element.
pub(crate) fn read(element: &XmlElement) -> Result<Element, ElementError> {
    match element.local_name() {
        "key" => key::read(element).map(Element::Key),
        "revocation" => revocation::read(element).map(Element::Revocation),
        other => Ok(Element::Unknown {
            local_name: other.to_owned(),
        }),
    }
}

/// Whether unparsable text looks like a revocation: its first element's local name is
/// `revocation`. Used to fail closed when a store keeps no names.
pub(crate) fn looks_like_revocation(text: &str) -> bool {
    let mut rest = text.trim_start_matches('\u{feff}');
    // Skip the declaration, comments and processing instructions before the root.
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("<?").and_then(|r| r.split_once("?>")) {
            rest = after.1;
        } else if let Some(after) = rest.strip_prefix("<!--").and_then(|r| r.split_once("-->")) {
            rest = after.1;
        } else {
            break;
        }
    }
    let Some(name) = rest.strip_prefix('<') else {
        return text.contains("revocation");
    };
    let name: String = name
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '>' | '/'))
        .collect();
    name.rsplit(':').next() == Some("revocation")
}

/// The friendly name of an element, read from its content: `key-{id}` for a key,
/// `revocation-{id}` for the revocation of one key, `revocation-{yyyyMMddTHHmmssFFFFFFFZ}` for
/// a revocation of every key created before a date, `None` for anything else.
///
/// Stores that keep no names (a Redis list, a single blob) use it to make their
/// create-if-absent write and to find elements to delete: the names the key manager writes
/// under are exactly these.
pub fn element_name(element: &XmlElement) -> Option<String> {
    match element.local_name() {
        "key" => {
            let id: KeyId = element.attribute("id")?.parse().ok()?;
            Some(key::friendly_name(id))
        }
        "revocation" => revocation::read(element).ok().map(|r| r.friendly_name()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocations_are_recognised_without_parsing() {
        assert!(looks_like_revocation("<revocation version='1'><broken"));
        assert!(looks_like_revocation(
            "\u{feff}<?xml version='1.0'?>\n<!-- c --><p:revocation xmlns:p='x'>"
        ));
        assert!(!looks_like_revocation("<key id='x'><broken"));
        assert!(looks_like_revocation("garbage revocation garbage"));
        assert!(!looks_like_revocation("garbage"));
    }
}
