//! An in-process store: keys live as long as the process.

use std::sync::Mutex;

use async_trait::async_trait;

use super::{StoreOutcome, StoredElement, XmlRepository, check_friendly_name};
use crate::error::StoreError;
use crate::xml::XmlElement;

/// Keeps elements in memory. Nothing survives a restart: for tests, and for single-process
/// apps whose payloads need not outlive the process.
#[derive(Debug)]
pub struct MemoryRepository {
    elements: Mutex<Vec<(String, String)>>,
    /// Tells this store's ring apart from every other memory store's.
    scope: String,
}

impl Default for MemoryRepository {
    fn default() -> Self {
        Self {
            elements: Mutex::default(),
            scope: format!("memory {}", uuid::Uuid::new_v4()),
        }
    }
}

impl MemoryRepository {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl XmlRepository for MemoryRepository {
    async fn get_all_elements(&self) -> Result<Vec<StoredElement>, StoreError> {
        let elements = self.elements.lock().unwrap_or_else(|e| e.into_inner());
        Ok(elements
            .iter()
            .map(|(name, xml)| StoredElement::new(Some(name.clone()), xml.clone()))
            .collect())
    }

    async fn store_element(
        &self,
        element: &XmlElement,
        friendly_name: &str,
    ) -> Result<StoreOutcome, StoreError> {
        check_friendly_name(&self.describe(), friendly_name)?;
        let mut elements = self.elements.lock().unwrap_or_else(|e| e.into_inner());
        if elements.iter().any(|(n, _)| n == friendly_name) {
            return Ok(StoreOutcome::AlreadyExists);
        }
        elements.push((friendly_name.to_owned(), element.to_compact_string()));
        Ok(StoreOutcome::Created)
    }

    async fn delete_elements(&self, friendly_names: &[String]) -> Result<(), StoreError> {
        let mut elements = self.elements.lock().unwrap_or_else(|e| e.into_inner());
        elements.retain(|(n, _)| !friendly_names.contains(n));
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory"
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }

    async fn ring_scope(&self) -> String {
        self.scope.clone()
    }
}

impl Drop for MemoryRepository {
    fn drop(&mut self) {
        let elements = self.elements.get_mut().unwrap_or_else(|e| e.into_inner());
        for (_, xml) in elements.iter_mut() {
            zeroize::Zeroize::zeroize(xml);
        }
    }
}
