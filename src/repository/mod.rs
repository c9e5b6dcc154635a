//! Where the key ring lives: the storage trait and its built-in implementations.
//!
//! A store holds XML elements (keys and revocations), each under a *friendly name*
//! (`key-{id}`, `revocation-{id}`, …). Stores never overwrite: creating an element whose name
//! exists already reports [`StoreOutcome::AlreadyExists`]. That conditional write is what
//! lets many nodes race to create the same key and end with exactly one.

#[cfg(feature = "object-store")]
mod blob;
// The single-blob document format; built for the fuzz targets too.
#[cfg(any(feature = "object-store", fuzzing))]
pub(crate) mod blob_document;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod directory;
mod fs;
mod memory;
mod open;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;

use std::fmt::Debug;

use async_trait::async_trait;
use zeroize::Zeroizing;

pub use crate::elements::element_name;
#[cfg(feature = "object-store")]
pub use blob::{BlobLayout, BlobRepository};
pub use directory::{DirectoryRepository, RING_ID_FILE};
pub use memory::MemoryRepository;
pub use open::open;
#[cfg(feature = "postgres")]
pub use postgres::{DEFAULT_SCHEMA, DEFAULT_TABLE, PostgresRepository, PostgresRepositoryBuilder};
#[cfg(feature = "redis")]
pub use redis::{DEFAULT_LIST_KEY, Persistence, RedisRepository, RedisRepositoryBuilder};

use crate::error::{StoreError, StoreErrorKind};
use crate::xml::XmlElement;

/// One element as read from a store.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredElement {
    /// The friendly name, where the store keeps one (file name without `.xml`).
    pub name: Option<String>,
    /// The element's XML text. It may hold a master key, so it is wiped when dropped.
    pub xml: Zeroizing<String>,
}

impl StoredElement {
    /// An element read from a store.
    pub fn new(name: Option<String>, xml: String) -> Self {
        Self {
            name,
            xml: Zeroizing::new(xml),
        }
    }
}

impl Debug for StoredElement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredElement")
            .field("name", &self.name)
            .field("xml", &format_args!("[{} bytes]", self.xml.len()))
            .finish()
    }
}

/// The result of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// The element was written.
    Created,
    /// An element with that friendly name exists already; nothing was written.
    AlreadyExists,
}

/// A key-ring store. Implementations must be safe to share between tasks, processes and
/// machines: reads see only whole elements, and [`store_element`](Self::store_element) is
/// an atomic create-if-absent.
#[async_trait]
pub trait XmlRepository: Send + Sync + Debug {
    /// Reads every element.
    async fn get_all_elements(&self) -> Result<Vec<StoredElement>, StoreError>;

    /// Writes `element` under `friendly_name` (`[A-Za-z0-9_-]+`) unless an element with that
    /// name exists.
    async fn store_element(
        &self,
        element: &XmlElement,
        friendly_name: &str,
    ) -> Result<StoreOutcome, StoreError>;

    /// Deletes the named elements, in order, stopping at the first failure. Stores that
    /// cannot delete return an [`Unsupported`](StoreErrorKind::Unsupported) error.
    async fn delete_elements(&self, friendly_names: &[String]) -> Result<(), StoreError> {
        let _ = friendly_names;
        Err(StoreError::new(
            StoreErrorKind::Unsupported,
            self.describe(),
            "this store cannot delete elements",
        ))
    }

    /// A short description for logs and errors (`directory /var/keys`).
    fn describe(&self) -> String;

    /// Where the ring lives, named the same by every node configured for this store (no host
    /// names, no credentials): it goes into the ids of keys the rules call for, so two stores
    /// never derive the same id, while nodes sharing one store still agree on one. Nodes that
    /// see different scopes for one store stay correct but may each create a key when they
    /// decide at the same moment. Asked only when a key is about to be created. The default
    /// is [`describe`](Self::describe).
    async fn ring_scope(&self) -> String {
        self.describe()
    }

    /// The kind of store, a fixed word for metrics labels (`directory`, `redis`, …).
    fn kind(&self) -> &'static str {
        "custom"
    }
}

/// The text of an element a store without names (a Redis list) holds; invalid UTF-8 is
/// replaced so the key manager can report it.
#[cfg(any(feature = "redis", fuzzing))]
pub(crate) fn element_text(bytes: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    })
}

/// The name a store without names gives an element's text: the one its content gives
/// ([`element_name`]), if it parses.
#[cfg(any(feature = "redis", fuzzing))]
pub(crate) fn derived_name(text: &str) -> Option<String> {
    XmlElement::parse(text).ok().as_ref().and_then(element_name)
}

/// Checks a friendly name, with an error naming `store` when it is not acceptable.
pub fn check_friendly_name(store: &str, name: &str) -> Result<(), StoreError> {
    if is_valid_friendly_name(name) {
        Ok(())
    } else {
        Err(StoreError::new(
            StoreErrorKind::Other,
            store,
            format!("invalid element name {name:?}"),
        ))
    }
}

/// Whether a friendly name is acceptable as a file or object name.
pub fn is_valid_friendly_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
