//! A key as the ring holds it: its dates and its encryptor, built once when the element is
//! parsed and shared by every ring until the element changes.

use std::sync::Arc;

use time::OffsetDateTime;

use super::policy::KeyFacts;
use crate::crypto::Encryptor;
use crate::elements::{KeyElement, KeyProblem};
use crate::key_id::KeyId;

/// A parsed key. Immutable.
pub(crate) struct LoadedKey {
    pub(crate) id: KeyId,
    pub(crate) created: OffsetDateTime,
    pub(crate) activation: OffsetDateTime,
    pub(crate) expiration: OffsetDateTime,
    pub(crate) encryptor: Result<Arc<Encryptor>, KeyProblem>,
    /// What the stored secret is encrypted to (certificate, KEK id), if it is encrypted.
    pub(crate) encrypted_to: Option<String>,
}

impl LoadedKey {
    /// Derives the key's encryptor; the master key is dropped (and wiped) afterwards.
    pub(crate) fn new(element: KeyElement, encrypted_to: Option<String>) -> Self {
        Self {
            encrypted_to,
            id: element.id,
            created: element.created,
            activation: element.activation,
            expiration: element.expiration,
            encryptor: element
                .material
                .map(|m| Arc::new(Encryptor::new(m.algorithm, &m.master_key))),
        }
    }

    /// The same key, unusable for `problem`.
    pub(crate) fn unusable(&self, problem: KeyProblem) -> Self {
        Self {
            encryptor: Err(problem),
            encrypted_to: self.encrypted_to.clone(),
            ..*self
        }
    }

    /// Whether both carry the same dates and key material.
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        self.created == other.created
            && self.activation == other.activation
            && self.expiration == other.expiration
            && match (&self.encryptor, &other.encryptor) {
                (Ok(x), Ok(y)) => x.same_key_as(y),
                (Err(x), Err(y)) => x == y,
                _ => false,
            }
    }
}

/// A key in one ring: the parsed key and whether this ring revokes it.
#[derive(Clone)]
pub(crate) struct RingKey {
    pub(crate) key: Arc<LoadedKey>,
    pub(crate) revoked: bool,
}

impl RingKey {
    pub(crate) fn encryptor(&self) -> Option<&Encryptor> {
        self.key.encryptor.as_ref().ok().map(|e| &**e)
    }

    pub(crate) fn facts(&self) -> KeyFacts<KeyId> {
        KeyFacts {
            id: self.key.id,
            created: self.key.created,
            activation: self.key.activation,
            expiration: self.key.expiration,
            revoked: self.revoked,
            usable: self.key.encryptor.is_ok(),
        }
    }
}
