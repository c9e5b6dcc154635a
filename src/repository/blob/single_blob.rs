//! ASP.NET Core's single-blob layout over an object store: conditional GET for reads,
//! read-modify-write with `If-Match` for writes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, PutMode, PutOptions, PutPayload, UpdateVersion};
use rand::RngExt;
use zeroize::Zeroizing;

use super::errors::{Op, is_container_missing, store_error};
use super::per_object::wipe;
use crate::error::{StoreError, StoreErrorKind};
use crate::repository::blob_document::Document;
use crate::repository::{StoreOutcome, StoredElement};
use crate::xml::XmlElement;

/// Attempts of one write before giving up on a store that keeps changing under it
/// (ASP.NET Core makes 5).
const WRITE_ATTEMPTS: u32 = 24;

pub(super) struct SingleBlob {
    store: Arc<dyn ObjectStore>,
    path: Path,
    /// The blob as last read, for conditional GETs.
    cache: Mutex<Option<Arc<Snapshot>>>,
}

/// One version of the blob.
struct Snapshot {
    e_tag: Option<String>,
    version: Option<String>,
    text: Zeroizing<String>,
    elements: Vec<StoredElement>,
}

impl SingleBlob {
    pub(super) fn new(store: Arc<dyn ObjectStore>, path: Path) -> Self {
        Self {
            store,
            path,
            cache: Mutex::new(None),
        }
    }

    pub(super) async fn read_all(&self, store: &str) -> Result<Vec<StoredElement>, StoreError> {
        Ok(self
            .current(store)
            .await?
            .map(|s| s.elements.clone())
            .unwrap_or_default())
    }

    /// Appends `element` unless an element of that name is in the blob; retries when another
    /// writer got in between.
    pub(super) async fn append(
        &self,
        store: &str,
        element: &XmlElement,
        name: &str,
    ) -> Result<StoreOutcome, StoreError> {
        self.refuse_local_store(store)?;
        self.modify(store, |doc| doc.append(store, element, name))
            .await
    }

    /// Removes the named elements (absent ones are fine) in one conditional write.
    pub(super) async fn delete(&self, store: &str, names: &[String]) -> Result<(), StoreError> {
        self.refuse_local_store(store)?;
        self.modify(store, |doc| {
            Ok(if doc.remove(names) {
                StoreOutcome::Created
            } else {
                StoreOutcome::AlreadyExists
            })
        })
        .await
        .map(|_| ())
    }

    /// Read, change, conditional write, again on conflict. `change` returns `Created` when it
    /// changed the document (then it is written) and `AlreadyExists` when there is nothing
    /// to write.
    async fn modify(
        &self,
        store: &str,
        mut change: impl FnMut(&mut Document) -> Result<StoreOutcome, StoreError>,
    ) -> Result<StoreOutcome, StoreError> {
        for attempt in 1..=WRITE_ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let current = self.current(store).await?;
            let mut doc = match &current {
                Some(s) => Document::parse(store, self.path.as_ref(), s.text.as_bytes())?,
                None => Document::empty(),
            };
            if change(&mut doc)? == StoreOutcome::AlreadyExists {
                return Ok(StoreOutcome::AlreadyExists);
            }
            let mode = match &current {
                None => PutMode::Create,
                Some(s) if s.e_tag.is_none() && s.version.is_none() => {
                    return Err(self.unsupported(store, "it returns no ETag"));
                }
                Some(s) => PutMode::Update(UpdateVersion {
                    e_tag: s.e_tag.clone(),
                    version: s.version.clone(),
                }),
            };
            let text = doc.to_text();
            let body = Bytes::from(text.as_bytes().to_vec());
            let result = self
                .store
                .put_opts(
                    &self.path,
                    PutPayload::from_bytes(body.clone()),
                    PutOptions::from(mode),
                )
                .await;
            wipe(body);
            match result {
                Ok(put) => {
                    let elements = doc.elements();
                    self.remember(Some(Arc::new(Snapshot {
                        e_tag: put.e_tag,
                        version: put.version,
                        text,
                        elements,
                    })));
                    return Ok(StoreOutcome::Created);
                }
                Err(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. },
                ) => {
                    tracing::debug!(
                        store,
                        attempt,
                        "the key ring blob changed while writing; retrying"
                    );
                }
                Err(object_store::Error::NotImplemented { .. }) => {
                    return Err(self.unsupported(store, "it cannot do conditional updates"));
                }
                Err(e) => return Err(store_error(store, Op::Write, self.path.as_ref(), e)),
            }
        }
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            store,
            format!(
                "{} kept changing: gave up after {WRITE_ATTEMPTS} conflicting writes",
                self.path
            ),
        ))
    }

    /// The blob now: a conditional GET that reuses the cached copy when unchanged.
    async fn current(&self, store: &str) -> Result<Option<Arc<Snapshot>>, StoreError> {
        let cached = self.cache.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let options =
            GetOptions::new().with_if_none_match(cached.as_ref().and_then(|c| c.e_tag.clone()));
        let got = match self.store.get_opts(&self.path, options).await {
            Ok(got) => got,
            Err(object_store::Error::NotModified { .. }) if cached.is_some() => return Ok(cached),
            Err(e @ object_store::Error::NotFound { .. }) if is_container_missing(&e) => {
                return Err(store_error(store, Op::Read, self.path.as_ref(), e));
            }
            Err(object_store::Error::NotFound { .. }) => {
                self.remember(None);
                return Ok(None);
            }
            Err(e) => return Err(store_error(store, Op::Read, self.path.as_ref(), e)),
        };
        let (e_tag, version) = (got.meta.e_tag.clone(), got.meta.version.clone());
        let bytes = got
            .bytes()
            .await
            .map_err(|e| store_error(store, Op::Read, self.path.as_ref(), e))?;
        let doc = Document::parse(store, self.path.as_ref(), &bytes);
        let text = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
        wipe(bytes);
        let doc = doc?;
        let snapshot = Arc::new(Snapshot {
            e_tag,
            version,
            elements: doc.elements(),
            text,
        });
        self.remember(Some(snapshot.clone()));
        Ok(Some(snapshot))
    }

    fn remember(&self, snapshot: Option<Arc<Snapshot>>) {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = snapshot;
    }

    /// `LocalFileSystem` cannot do conditional updates; say so before the first write
    /// rather than after the second.
    fn refuse_local_store(&self, store: &str) -> Result<(), StoreError> {
        if self.store.to_string().starts_with("LocalFileSystem") {
            return Err(
                self.unsupported(store, "a local file system cannot do conditional updates")
            );
        }
        Ok(())
    }

    fn unsupported(&self, store: &str, why: &str) -> StoreError {
        StoreError::new(
            StoreErrorKind::Unsupported,
            store,
            format!(
                "the single-blob layout needs compare-and-swap (PutMode::Update) to append \
                 without losing concurrent writes, and this object store cannot provide it: \
                 {why}. Use the per-object layout, or for a local directory a \
                 file:///PATH?layout=single-blob URL (an OS file lock serializes writers)"
            ),
        )
    }
}

/// Randomized delay before attempt `n` (2, 3, …) so that racing writers spread out.
pub(super) fn backoff(attempt: u32) -> Duration {
    let base_ms = 20u64 << (attempt - 2).min(5);
    let ms = rand::rng().random_range(base_ms..base_ms * 2);
    Duration::from_millis(ms)
}
