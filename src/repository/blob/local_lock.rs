//! The single-blob layout in a local or shared directory. `LocalFileSystem` has no
//! compare-and-swap, so writers take an exclusive OS lock on `{blob}.lock` (`flock`; the
//! kernel drops it when the process dies, so a crashed node leaves nothing behind), then
//! read, change, write a temporary file and rename it over the blob. Readers never lock:
//! the rename replaces the blob atomically.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::single_blob::backoff;
use crate::error::{StoreError, StoreErrorKind};
use crate::repository::blob_document::Document;
use crate::repository::fs::{self as store_fs, create_private_dir, sync_dir, write_new_file};
use crate::repository::{StoreOutcome, StoredElement};
use crate::xml::XmlElement;

/// How long a writer waits for another writer's lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub(super) struct LockedFile {
    blob: PathBuf,
    lock: PathBuf,
    description: Arc<str>,
    cache: Arc<Mutex<Option<Arc<Snapshot>>>>,
}

/// One version of the blob, identified by its file's metadata.
struct Snapshot {
    stamp: Stamp,
    elements: Vec<StoredElement>,
}

/// Device, inode, size and modification time: a rename always changes the inode.
#[derive(Clone, PartialEq, Eq)]
struct Stamp(u64, u64, u64, i128);

impl Stamp {
    fn of(meta: &fs::Metadata) -> Self {
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        Self(dev, ino, meta.len(), modified)
    }
}

impl LockedFile {
    /// The blob at `blob`; `description` names the store in errors.
    pub(super) fn new(blob: PathBuf, description: &str) -> Self {
        let mut lock = blob.clone().into_os_string();
        lock.push(".lock");
        Self {
            blob,
            lock: lock.into(),
            description: description.into(),
            cache: Arc::new(Mutex::new(None)),
        }
    }

    pub(super) async fn read_all(&self, store: &str) -> Result<Vec<StoredElement>, StoreError> {
        let store = store.to_owned();
        self.blocking(move |this| {
            Ok(this
                .current(&store)?
                .map(|s| s.elements.clone())
                .unwrap_or_default())
        })
        .await
    }

    pub(super) async fn append(
        &self,
        store: &str,
        element: &XmlElement,
        name: &str,
    ) -> Result<StoreOutcome, StoreError> {
        let (element, name) = (element.clone(), name.to_owned());
        self.locked(store, move |store, doc| doc.append(store, &element, &name))
            .await
    }

    pub(super) async fn delete(&self, store: &str, names: &[String]) -> Result<(), StoreError> {
        let names = names.to_vec();
        self.locked(store, move |_, doc| {
            Ok(if doc.remove(&names) {
                StoreOutcome::Created
            } else {
                StoreOutcome::AlreadyExists
            })
        })
        .await
        .map(|_| ())
    }

    /// Under the lock: read, `change`, and write when it returns `Created`.
    async fn locked(
        &self,
        store: &str,
        change: impl FnOnce(&str, &mut Document) -> Result<StoreOutcome, StoreError> + Send + 'static,
    ) -> Result<StoreOutcome, StoreError> {
        let lock = self.acquire(store).await?;
        let store = store.to_owned();
        self.blocking(move |this| {
            let mut doc = this.load(&store)?.unwrap_or_else(Document::empty);
            let outcome = change(&store, &mut doc)?;
            if outcome == StoreOutcome::Created {
                this.replace(&doc)?;
            }
            drop(lock);
            Ok(outcome)
        })
        .await
    }

    /// Takes the writers' lock, waiting with jittered pauses (never blocking a thread) up to
    /// [`LOCK_WAIT`].
    async fn acquire(&self, store: &str) -> Result<File, StoreError> {
        let start = Instant::now();
        for attempt in 2u32.. {
            let got = self.blocking(|this| this.try_lock()).await?;
            if let Some(file) = got {
                return Ok(file);
            }
            if start.elapsed() > LOCK_WAIT {
                break;
            }
            tokio::time::sleep(backoff(attempt.min(5))).await;
        }
        Err(StoreError::new(
            StoreErrorKind::Timeout,
            store,
            format!(
                "{} stayed locked by another writer for {LOCK_WAIT:?}",
                self.lock.display()
            ),
        ))
    }

    fn try_lock(&self) -> Result<Option<File>, StoreError> {
        if let Some(dir) = self.blob.parent() {
            create_private_dir(dir).map_err(|e| self.io_error("creating the directory", e))?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&self.lock)
            .map_err(|e| self.io_error(format!("opening {}", self.lock.display()), e))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => {
                Err(self.io_error(format!("locking {}", self.lock.display()), e))
            }
        }
    }

    /// The blob now, from the cache when its file is unchanged.
    fn current(&self, store: &str) -> Result<Option<Arc<Snapshot>>, StoreError> {
        let mut file = match File::open(&self.blob) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
                return Ok(None);
            }
            Err(e) => return Err(self.io_error(format!("opening {}", self.blob.display()), e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| self.io_error(format!("reading {}", self.blob.display()), e))?;
        let stamp = Stamp::of(&meta);
        if let Some(cached) = &*self.cache.lock().unwrap_or_else(|e| e.into_inner())
            && cached.stamp == stamp
        {
            return Ok(Some(cached.clone()));
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
        file.read_to_end(&mut bytes)
            .map_err(|e| self.io_error(format!("reading {}", self.blob.display()), e))?;
        let doc = Document::parse(store, &self.blob.display().to_string(), &bytes)?;
        let snapshot = Arc::new(Snapshot {
            stamp,
            elements: doc.elements(),
        });
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some(snapshot.clone());
        Ok(Some(snapshot))
    }

    /// The blob's document, `None` when there is no blob.
    fn load(&self, store: &str) -> Result<Option<Document>, StoreError> {
        let bytes = match fs::read(&self.blob) {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io_error(format!("reading {}", self.blob.display()), e)),
        };
        Document::parse(store, &self.blob.display().to_string(), &bytes).map(Some)
    }

    /// Writes a private temporary file, flushes it, and renames it over the blob.
    fn replace(&self, doc: &Document) -> Result<(), StoreError> {
        let dir = self.blob.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
        let text = doc.to_text();
        let written =
            write_new_file(&tmp, text.as_bytes()).and_then(|()| fs::rename(&tmp, &self.blob));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(self.io_error(format!("writing {}", self.blob.display()), e));
        }
        sync_dir(dir);
        Ok(())
    }

    fn io_error(&self, context: impl std::fmt::Display, err: io::Error) -> StoreError {
        StoreError::from_io(&self.description, context, err)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Self) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        store_fs::blocking(self, &self.description, f).await
    }
}
