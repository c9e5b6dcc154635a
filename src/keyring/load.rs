//! Turning stored elements into what the ring is built from, failing closed on revocations,
//! and caching the result per distinct XML text.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::key::LoadedKey;
use super::problems::RingProblem;
use crate::elements::{self, Element, ElementError, Revocation};
use crate::error::Error;
use crate::repository::StoredElement;
use crate::xml::XmlElement;
use crate::xml_encryption::{Decrypted, KeyProtection};

/// One stored element, read.
pub(crate) enum Loaded {
    Key(Arc<LoadedKey>),
    Revocation(Revocation),
    /// Skipped (an unreadable key element, an unknown element), and reported.
    Skipped(RingProblem),
}

impl Loaded {
    /// The friendly name the element is written under, when it is a key or a revocation.
    pub(crate) fn friendly_name(&self) -> Option<String> {
        match self {
            Loaded::Key(k) => Some(format!("key-{}", k.id)),
            Loaded::Revocation(r) => Some(r.friendly_name()),
            Loaded::Skipped(_) => None,
        }
    }
}

/// Reads one stored element. A key that cannot be read is skipped and reported; anything that
/// is or looks like a revocation and cannot be read fails the load (ASP.NET fails the whole
/// load too): skipping it could leave a revoked, perhaps compromised, key in use.
///
/// A key's encrypted secret is decrypted here, once per distinct element (see
/// [`LoadCache`]); a secret that cannot be decrypted makes the key unreadable, never absent.
pub(crate) fn load_element(
    stored: &StoredElement,
    protection: &KeyProtection,
) -> Result<Loaded, Error> {
    let name = stored.name.as_deref();
    let is_revocation = match name {
        Some(name) => name.starts_with("revocation"),
        None => elements::looks_like_revocation(&stored.xml),
    };
    let mut decrypted = Decrypted::default();
    let read = XmlElement::parse(&stored.xml)
        .map_err(ElementError::from)
        .and_then(|mut e| {
            if e.local_name() == "key" {
                decrypted = protection.decrypt_in_place(&mut e);
            }
            elements::read(&e)
        });
    match read {
        Ok(Element::Revocation(r)) => Ok(Loaded::Revocation(r)),
        Err(error) if is_revocation => Err(Error::InvalidKeyRing {
            element: name.unwrap_or("(unnamed revocation)").to_owned(),
            source: error,
        }),
        Ok(Element::Key(_) | Element::Unknown { .. }) if is_revocation => {
            Err(Error::InvalidKeyRing {
                element: name.unwrap_or("(unnamed revocation)").to_owned(),
                source: ElementError::NotARevocation,
            })
        }
        Ok(Element::Key(mut k)) => {
            if let Some(problem) = decrypted.problem {
                k.material = Err(problem);
            }
            Ok(Loaded::Key(Arc::new(LoadedKey::new(
                k,
                decrypted.encrypted_to,
            ))))
        }
        Ok(Element::Unknown { local_name }) => Ok(Loaded::Skipped(RingProblem::UnknownElement {
            name: name.map(str::to_owned),
            local_name,
        })),
        Err(error) => Ok(Loaded::Skipped(RingProblem::UnreadableElement {
            name: name.map(str::to_owned),
            error,
        })),
    }
}

/// Loaded elements by the SHA-256 of their XML, so a reload re-parses (and re-derives keys
/// for) only what changed.
#[derive(Default)]
pub(crate) struct LoadCache {
    by_digest: Mutex<HashMap<[u8; 32], Arc<Loaded>>>,
}

impl LoadCache {
    /// Loads every element, reusing earlier results for unchanged XML. The cache then holds
    /// exactly these elements.
    pub(crate) fn load_all(
        &self,
        stored: &[StoredElement],
        protection: &KeyProtection,
    ) -> Result<Vec<Arc<Loaded>>, Error> {
        let mut cache = self.by_digest.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = HashMap::with_capacity(stored.len());
        let mut out = Vec::with_capacity(stored.len());
        for s in stored {
            let digest: [u8; 32] = Sha256::digest(s.xml.as_bytes()).into();
            let loaded = match cache.get(&digest) {
                Some(e) => e.clone(),
                None => Arc::new(load_element(s, protection)?),
            };
            next.insert(digest, loaded.clone());
            out.push(loaded);
        }
        *cache = next;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(name: Option<&str>, xml: &str) -> StoredElement {
        StoredElement::new(name.map(str::to_owned), xml.to_owned())
    }

    #[test]
    fn an_unreadable_revocation_fails_the_load_in_every_store_layout() {
        let broken = "<revocation version='1'><revocationDate>2025-01-01T00:00:00Z</revocationDate><key id='not-a-guid'/></revocation>";
        let torn = "<revocation version='1'><revocationDate>2025-01-";
        for (name, xml) in [
            (Some("revocation-x"), broken),
            (None, broken),
            (Some("revocation-x"), torn),
            (None, torn),
            (Some("revocation-x"), "<key id='x'/>"),
        ] {
            assert!(
                matches!(
                    load_element(&stored(name, xml), &KeyProtection::default()),
                    Err(Error::InvalidKeyRing { .. })
                ),
                "{name:?} {xml}"
            );
        }
    }

    #[test]
    fn an_unreadable_key_is_skipped_and_reported() {
        for name in [Some("key-x"), None] {
            let loaded = load_element(
                &stored(name, "<key id='x'><torn"),
                &KeyProtection::default(),
            )
            .unwrap();
            assert!(matches!(
                loaded,
                Loaded::Skipped(RingProblem::UnreadableElement { .. })
            ));
        }
        let unknown = load_element(&stored(None, "<other/>"), &KeyProtection::default()).unwrap();
        assert!(matches!(
            unknown,
            Loaded::Skipped(RingProblem::UnknownElement { .. })
        ));
    }
}
