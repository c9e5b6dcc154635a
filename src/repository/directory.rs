//! A directory of XML files, laid out exactly as ASP.NET Core's file-system repository does,
//! so .NET and Rust nodes can share one key directory (local disk, NFS, SMB).

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;

use super::fs::{blocking, create_private_dir, sync_dir, write_new_file};
use super::{StoreOutcome, StoredElement, XmlRepository, check_friendly_name};
use crate::error::StoreError;
use crate::xml::XmlElement;

/// How long a writer waits for another writer's claim on the same name (fallback path).
const CLAIM_WAIT: Duration = Duration::from_secs(10);
/// A claim older than this was left by a writer that died; it is broken.
const STALE_CLAIM: Duration = Duration::from_secs(30);
/// The file that names the ring (a random UUID), so that nodes reaching the directory through
/// different paths agree on its [scope](XmlRepository::ring_scope). Not `*.xml`: ASP.NET's
/// repository and this one read only those.
pub const RING_ID_FILE: &str = "data-protection.ring-id";

/// Stores each element as `{friendly name}.xml` in one directory.
///
/// New files are written to a temporary `{uuid}.tmp` (mode 0600 on Unix), flushed to disk,
/// then hard-linked to their final name, which fails if that name exists: the create is
/// atomic and never overwrites, also over NFS. Where hard links are not supported (some SMB
/// mounts, FAT), the writer first claims the name by creating `{name}.xml.claim` exclusively,
/// then renames the complete temporary file to the final name: readers still see a whole file
/// or none, and of racing writers exactly one creates. Every `*.xml` file in the directory is
/// read; other files are ignored.
///
/// Before the first key it creates, the store names the ring in [`RING_ID_FILE`] (created
/// once, by whichever node comes first): nodes that mount the directory at different paths
/// then derive the same id for a key the rules call for, and only one is created. Where that
/// file cannot be read or written (a read-only mount), the ring is named by its absolute path.
#[derive(Debug, Clone)]
pub struct DirectoryRepository {
    dir: PathBuf,
    hard_links: bool,
    /// The ring's scope once read from [`RING_ID_FILE`], shared by clones.
    scope: Arc<OnceLock<String>>,
}

impl DirectoryRepository {
    /// A store in `dir`, created (mode 0700) on first write if missing.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            hard_links: true,
            scope: Arc::default(),
        }
    }

    /// Never tries hard links: always the claim-and-rename path (for tests of that path).
    #[doc(hidden)]
    pub fn without_hard_links(mut self) -> Self {
        self.hard_links = false;
        self
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn io_error(&self, context: impl std::fmt::Display, err: io::Error) -> StoreError {
        StoreError::from_io(self.describe(), context, err)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Self) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        blocking(self, &self.describe(), f).await
    }

    fn read_all(&self) -> Result<Vec<StoredElement>, StoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io_error("listing the directory", e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.io_error("listing the directory", e))?;
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".xml"))
            else {
                continue;
            };
            // Follow symlinks: Kubernetes mounts Secrets and ConfigMaps as links.
            let meta = match fs::metadata(&path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.io_error(format!("reading {}", path.display()), e)),
            };
            if !meta.is_file() {
                continue;
            }
            let bytes = match fs::read(&path) {
                Ok(bytes) => bytes,
                // Deleted between listing and reading (pruned by another node).
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.io_error(format!("reading {}", path.display()), e)),
            };
            let xml = String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            out.push(StoredElement::new(Some(name.to_owned()), xml));
        }
        Ok(out)
    }

    /// The ring's id from [`RING_ID_FILE`], creating the file (atomically, never
    /// overwriting) when the directory has none yet.
    fn ring_id(&self) -> io::Result<String> {
        let path = self.dir.join(RING_ID_FILE);
        if let Some(id) = read_ring_id(&path)? {
            return Ok(id);
        }
        create_private_dir(&self.dir)?;
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        let tmp = self.dir.join(format!("{}.tmp", uuid::Uuid::new_v4()));
        write_new_file(&tmp, id.as_bytes())?;
        let linked = if self.hard_links {
            fs::hard_link(&tmp, &path)
        } else {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        };
        let _ = fs::remove_file(&tmp);
        let created = match linked {
            Err(e) if links_unsupported(&e) => write_new_file(&path, id.as_bytes()),
            other => other,
        };
        match created {
            Ok(()) => {
                sync_dir(&self.dir);
                Ok(id)
            }
            // Another node named the ring first.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_ring_id(&path)?
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "ring id file vanished")),
            Err(e) => Err(e),
        }
    }

    fn create(&self, name: &str, contents: &[u8]) -> Result<StoreOutcome, StoreError> {
        create_private_dir(&self.dir).map_err(|e| self.io_error("creating the directory", e))?;
        let final_path = self.dir.join(format!("{name}.xml"));
        let tmp_path = self.dir.join(format!("{}.tmp", uuid::Uuid::new_v4()));
        let written = write_new_file(&tmp_path, contents)
            .map_err(|e| self.io_error(format!("writing {}", tmp_path.display()), e));
        let linked = if self.hard_links {
            fs::hard_link(&tmp_path, &final_path)
        } else {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        };
        let outcome = written.and_then(|()| match linked {
            Ok(()) => Ok(StoreOutcome::Created),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(StoreOutcome::AlreadyExists),
            Err(e) if links_unsupported(&e) => self.create_by_claim(name, &tmp_path, &final_path),
            Err(e) => Err(self.io_error(format!("linking {}", final_path.display()), e)),
        });
        let _ = fs::remove_file(&tmp_path);
        if outcome.is_ok() {
            sync_dir(&self.dir);
        }
        outcome
    }

    /// Without hard links: claim the name exclusively, then rename the complete temporary
    /// file into place. Only the claim's holder renames, after checking the name is free, so
    /// nothing is overwritten and readers never see a partial file.
    fn create_by_claim(
        &self,
        name: &str,
        tmp_path: &Path,
        final_path: &Path,
    ) -> Result<StoreOutcome, StoreError> {
        let claim = self.dir.join(format!("{name}.xml.claim"));
        let deadline = Instant::now() + CLAIM_WAIT;
        loop {
            match write_new_file(&claim, b"") {
                Ok(()) => {
                    let outcome = if final_path.exists() {
                        Ok(StoreOutcome::AlreadyExists)
                    } else {
                        fs::rename(tmp_path, final_path)
                            .map(|()| StoreOutcome::Created)
                            .map_err(|e| {
                                self.io_error(format!("renaming to {}", final_path.display()), e)
                            })
                    };
                    let _ = fs::remove_file(&claim);
                    return outcome;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if final_path.exists() {
                        return Ok(StoreOutcome::AlreadyExists);
                    }
                    if is_stale(&claim) {
                        tracing::warn!(claim = %claim.display(), "breaking a stale claim left by a writer that stopped");
                        let _ = fs::remove_file(&claim);
                        continue;
                    }
                    if Instant::now() >= deadline {
                        return Err(self.io_error(
                            format!("waiting for another writer's claim {}", claim.display()),
                            io::Error::from(io::ErrorKind::TimedOut),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => {
                    return Err(self.io_error(format!("claiming {}", claim.display()), e));
                }
            }
        }
    }

    fn delete(&self, names: &[String]) -> Result<(), StoreError> {
        for name in names {
            check_friendly_name(&self.describe(), name)?;
            let path = self.dir.join(format!("{name}.xml"));
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.io_error(format!("deleting {}", path.display()), e)),
            }
        }
        sync_dir(&self.dir);
        Ok(())
    }
}

#[async_trait]
impl XmlRepository for DirectoryRepository {
    async fn get_all_elements(&self) -> Result<Vec<StoredElement>, StoreError> {
        self.blocking(Self::read_all).await
    }

    async fn store_element(
        &self,
        element: &XmlElement,
        friendly_name: &str,
    ) -> Result<StoreOutcome, StoreError> {
        check_friendly_name(&self.describe(), friendly_name)?;
        let contents = zeroize::Zeroizing::new(element.to_document_string());
        let name = friendly_name.to_owned();
        self.blocking(move |this| this.create(&name, contents.as_bytes()))
            .await
    }

    async fn delete_elements(&self, friendly_names: &[String]) -> Result<(), StoreError> {
        let names = friendly_names.to_vec();
        self.blocking(move |this| this.delete(&names)).await
    }

    fn kind(&self) -> &'static str {
        "directory"
    }

    fn describe(&self) -> String {
        format!("directory {}", self.dir.display())
    }

    async fn ring_scope(&self) -> String {
        if let Some(scope) = self.scope.get() {
            return scope.clone();
        }
        let why = match self.blocking(|this| Ok(this.ring_id())).await {
            Ok(Ok(id)) => {
                return self
                    .scope
                    .get_or_init(|| format!("directory ring {id}"))
                    .clone();
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        tracing::debug!(store = %self.describe(), "no ring id file ({why}); the ring is named by its path");
        let dir = std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone());
        format!("directory {}", dir.display())
    }
}

/// The id in a ring id file: `None` when there is none; an error when it cannot be read or
/// holds something else than a UUID.
fn read_ring_id(path: &Path) -> io::Result<Option<String>> {
    match fs::metadata(path) {
        // Not a FIFO or a device: opening one could block or never end.
        Ok(meta) if !meta.is_file() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the ring id file is not a regular file",
            ));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut text = String::new();
    match fs::File::open(path) {
        Ok(f) => f.take(64).read_to_string(&mut text)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let id = uuid::Uuid::parse_str(text.trim()).map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidData, "the ring id file holds no UUID")
    })?;
    Ok(Some(id.hyphenated().to_string()))
}

fn links_unsupported(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Unsupported
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::CrossesDevices
    ) || matches!(e.raw_os_error(), Some(95 | 1)) // EOPNOTSUPP, EPERM
}

/// Whether a claim file is older than [`STALE_CLAIM`].
fn is_stale(claim: &Path) -> bool {
    fs::metadata(claim)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > STALE_CLAIM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_ring_id_file_is_made_once_and_names_the_ring_for_every_path() {
        for hard_links in [true, false] {
            let root = tempfile::tempdir().unwrap();
            let dir = root.path().join("keys"); // created by the first call
            let repo = DirectoryRepository::new(&dir);
            let repo = if hard_links {
                repo
            } else {
                repo.without_hard_links()
            };
            let scope = repo.ring_scope().await;
            assert!(scope.starts_with("directory ring "), "{scope}");
            let on_disk = fs::read_to_string(dir.join(RING_ID_FILE)).unwrap();
            assert_eq!(scope, format!("directory ring {on_disk}"));
            assert_eq!(repo.clone().ring_scope().await, scope, "clones share it");
            // Another node, another spelling of the path: the same ring.
            let other = DirectoryRepository::new(root.path().join("keys/../keys"));
            assert_eq!(other.ring_scope().await, scope);
            let names: Vec<_> = fs::read_dir(&dir).unwrap().collect();
            assert_eq!(names.len(), 1, "no temporary file left");
            assert!(repo.read_all().unwrap().is_empty(), "not an element");
        }
    }

    #[tokio::test]
    async fn a_damaged_ring_id_file_is_left_alone_and_the_path_names_the_ring() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(RING_ID_FILE), "not a uuid").unwrap();
        let repo = DirectoryRepository::new(dir.path());
        let scope = repo.ring_scope().await;
        let path = std::path::absolute(dir.path()).unwrap();
        assert_eq!(scope, format!("directory {}", path.display()));
        assert_eq!(
            fs::read_to_string(dir.path().join(RING_ID_FILE)).unwrap(),
            "not a uuid"
        );
        // Something that is not a regular file (here a directory; a FIFO would block) is
        // not opened.
        let odd = tempfile::tempdir().unwrap();
        fs::create_dir(odd.path().join(RING_ID_FILE)).unwrap();
        let scope = DirectoryRepository::new(odd.path()).ring_scope().await;
        assert!(!scope.starts_with("directory ring "), "{scope}");
    }
}
