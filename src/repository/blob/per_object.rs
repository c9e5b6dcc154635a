//! One object per element under a prefix: `{prefix}/{friendly name}.xml`, written
//! create-if-absent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use zeroize::{Zeroize, Zeroizing};

use super::errors::{Op, store_error};
use crate::error::{StoreError, StoreErrorKind};
use crate::repository::{StoreOutcome, StoredElement};
use crate::xml::XmlElement;

/// Objects fetched at once by default when many are new (the first load of a large ring).
const DEFAULT_READ_CONCURRENCY: usize = 16;

pub(super) struct PerObject {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// At most this many GETs in flight (at least 1).
    read_concurrency: usize,
    /// What the last read fetched, by object path: a refresh fetches only what changed.
    /// Replaced only when a read succeeds, so a failed refresh keeps it.
    cache: Mutex<HashMap<Path, Arc<Cached>>>,
}

/// An object's content as read, with the listing entry it was read for.
struct Cached {
    version: Version,
    xml: Zeroizing<String>,
}

/// What identifies one version of an object in a listing.
#[derive(Clone, PartialEq, Eq)]
struct Version {
    e_tag: Option<String>,
    version: Option<String>,
    size: u64,
    last_modified: i64,
}

impl Version {
    fn of(meta: &ObjectMeta) -> Self {
        Self {
            e_tag: meta.e_tag.clone(),
            version: meta.version.clone(),
            size: meta.size,
            last_modified: meta.last_modified.timestamp_micros(),
        }
    }
}

impl PerObject {
    pub(super) fn new(store: Arc<dyn ObjectStore>, prefix: Path) -> Self {
        Self {
            store,
            prefix,
            read_concurrency: DEFAULT_READ_CONCURRENCY,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Sets how many GETs may be in flight at once (1 fetches one object after another).
    pub(super) fn set_read_concurrency(&mut self, n: usize) {
        self.read_concurrency = n.max(1);
    }

    fn object(&self, name: &str) -> Path {
        self.prefix.clone().join(format!("{name}.xml"))
    }

    /// Lists the prefix, fetches what is new or changed, and reuses the rest.
    pub(super) async fn read_all(&self, store: &str) -> Result<Vec<StoredElement>, StoreError> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let listing = self
            .store
            .list_with_delimiter(prefix)
            .await
            .map_err(|e| store_error(store, Op::List, self.prefix.as_ref(), e))?;
        let objects: Vec<ObjectMeta> = listing
            .objects
            .into_iter()
            .filter(|m| m.location.filename().is_some_and(|f| f.ends_with(".xml")))
            .collect();

        let mut known = HashMap::with_capacity(objects.len());
        let mut wanted = Vec::new();
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for meta in &objects {
                let version = Version::of(meta);
                match cache.get(&meta.location) {
                    Some(c) if c.version == version => {
                        known.insert(meta.location.clone(), c.clone());
                    }
                    _ => wanted.push((meta.location.clone(), version)),
                }
            }
        }
        let fetched = self.fetch_all(store, wanted).await?;
        known.extend(fetched);

        let elements = objects
            .iter()
            .filter_map(|meta| {
                let cached = known.get(&meta.location)?;
                let name = meta.location.filename()?.strip_suffix(".xml")?.to_owned();
                Some(StoredElement {
                    name: Some(name),
                    xml: cached.xml.clone(),
                })
            })
            .collect();
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = known;
        Ok(elements)
    }

    /// Fetches objects, at most `read_concurrency` at a time. An object deleted since the
    /// listing is skipped.
    async fn fetch_all(
        &self,
        store: &str,
        wanted: Vec<(Path, Version)>,
    ) -> Result<HashMap<Path, Arc<Cached>>, StoreError> {
        let limit = Arc::new(Semaphore::new(self.read_concurrency));
        let mut tasks = JoinSet::new();
        for (location, version) in wanted {
            let (client, limit) = (self.store.clone(), limit.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let got = fetch(&*client, &location).await;
                (location, version, got)
            });
        }
        let mut out = HashMap::new();
        // Dropping `tasks` (an error, or the caller's timeout) aborts the rest.
        while let Some(joined) = tasks.join_next().await {
            let (location, version, got) =
                joined.map_err(|e| StoreError::new(StoreErrorKind::Other, store, e.to_string()))?;
            match got {
                Ok(Some(xml)) => {
                    out.insert(location, Arc::new(Cached { version, xml }));
                }
                Ok(None) => {}
                Err(e) => return Err(store_error(store, Op::Read, location.as_ref(), e)),
            }
        }
        Ok(out)
    }

    /// Writes the element's file form with a create-only precondition.
    pub(super) async fn create(
        &self,
        store: &str,
        element: &XmlElement,
        name: &str,
    ) -> Result<StoreOutcome, StoreError> {
        let location = self.object(name);
        let body = Bytes::from(element.to_document_string().into_bytes());
        let options = PutOptions::from(PutMode::Create);
        let result = self
            .store
            .put_opts(&location, PutPayload::from_bytes(body.clone()), options)
            .await;
        wipe(body);
        match result {
            Ok(_) => Ok(StoreOutcome::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(StoreOutcome::AlreadyExists),
            Err(e) => Err(store_error(store, Op::Write, location.as_ref(), e)),
        }
    }

    /// Deletes the named objects in order; an absent object is not an error.
    pub(super) async fn delete(&self, store: &str, names: &[String]) -> Result<(), StoreError> {
        for name in names {
            let location = self.object(name);
            match self.store.delete(&location).await {
                Ok(()) => {}
                Err(e @ object_store::Error::NotFound { .. })
                    if super::errors::is_container_missing(&e) =>
                {
                    return Err(store_error(store, Op::Delete, location.as_ref(), e));
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(store_error(store, Op::Delete, location.as_ref(), e)),
            }
            self.cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&location);
        }
        Ok(())
    }
}

/// An object's text; `None` when it disappeared since the listing. Text that is not UTF-8
/// is kept (lossily) so the key manager reports that key as unreadable.
async fn fetch(
    store: &dyn ObjectStore,
    location: &Path,
) -> object_store::Result<Option<Zeroizing<String>>> {
    let got = match store.get(location).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let bytes = got.bytes().await?;
    let text = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
    wipe(bytes);
    Ok(Some(text))
}

/// Best-effort wipe of a buffer that held key XML: possible when no other handle remains.
pub(super) fn wipe(bytes: Bytes) {
    if let Ok(mut owned) = bytes.try_into_mut() {
        owned.as_mut().zeroize();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures_util::stream::BoxStream;
    use object_store::memory::InMemory;
    use object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, PutMultipartOptions,
        PutResult,
    };

    use super::*;

    /// An in-memory store that counts the GETs in flight (each takes a few milliseconds).
    #[derive(Debug)]
    struct Counting {
        inner: InMemory,
        in_flight: AtomicUsize,
        most: AtomicUsize,
        gets: AtomicUsize,
    }

    impl fmt::Display for Counting {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("counting in-memory store")
        }
    }

    use std::fmt;

    #[async_trait::async_trait]
    impl ObjectStore for Counting {
        async fn put_opts(
            &self,
            location: &Path,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            self.inner.put_opts(location, payload, opts).await
        }

        async fn put_multipart_opts(
            &self,
            location: &Path,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(location, opts).await
        }

        async fn get_opts(
            &self,
            location: &Path,
            options: GetOptions,
        ) -> object_store::Result<GetResult> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            self.gets.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(3)).await;
            let got = self.inner.get_opts(location, options).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            got
        }

        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<Path>>,
        ) -> BoxStream<'static, object_store::Result<Path>> {
            self.inner.delete_stream(locations)
        }

        fn list(
            &self,
            prefix: Option<&Path>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.inner.list(prefix)
        }

        async fn list_with_delimiter(
            &self,
            prefix: Option<&Path>,
        ) -> object_store::Result<ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }

        async fn copy_opts(
            &self,
            from: &Path,
            to: &Path,
            options: CopyOptions,
        ) -> object_store::Result<()> {
            self.inner.copy_opts(from, to, options).await
        }
    }

    async fn ring(n: usize) -> Arc<Counting> {
        let store = Arc::new(Counting {
            inner: InMemory::new(),
            in_flight: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            gets: AtomicUsize::new(0),
        });
        for i in 0..n {
            let path = Path::from(format!("ring/key-{i}.xml"));
            store
                .put(&path, PutPayload::from(format!("<key n=\"{i}\"/>")))
                .await
                .unwrap();
        }
        store
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_at_most_the_configured_number_at_once() {
        for (limit, objects) in [(1, 12), (4, 40), (DEFAULT_READ_CONCURRENCY, 60)] {
            let store = ring(objects).await;
            let mut repo = PerObject::new(store.clone(), Path::from("ring"));
            repo.set_read_concurrency(limit);
            let read = repo.read_all("test").await.unwrap();
            assert_eq!(read.len(), objects);
            let mut texts: Vec<String> = read.iter().map(|e| e.xml.to_string()).collect();
            texts.sort();
            texts.dedup();
            assert_eq!(texts.len(), objects, "every object once");
            assert_eq!(store.gets.load(Ordering::SeqCst), objects);
            let most = store.most.load(Ordering::SeqCst);
            assert!(most <= limit, "{most} GETs at once with a limit of {limit}");
            if limit > 1 {
                assert!(most > 1, "limit {limit}: the GETs never overlapped");
            }
            // A refresh with nothing changed fetches nothing.
            repo.read_all("test").await.unwrap();
            assert_eq!(store.gets.load(Ordering::SeqCst), objects);
        }
        // 0 means 1, not a store that never reads.
        let store = ring(3).await;
        let mut repo = PerObject::new(store.clone(), Path::from("ring"));
        repo.set_read_concurrency(0);
        assert_eq!(repo.read_all("test").await.unwrap().len(), 3);
        assert_eq!(store.most.load(Ordering::SeqCst), 1);
    }
}
