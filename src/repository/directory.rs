//! A directory of XML files, laid out exactly as ASP.NET Core's file-system repository does,
//! so .NET and Rust nodes can share one key directory (local disk, NFS, SMB).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{StoreOutcome, StoredElement, XmlRepository, check_friendly_name};
use crate::error::{StoreError, StoreErrorKind};
use crate::xml::XmlElement;

/// Stores each element as `{friendly name}.xml` in one directory.
///
/// New files are written to a temporary `{uuid}.tmp` (mode 0600 on Unix), flushed to disk,
/// then hard-linked to their final name, which fails if that name exists: the create is
/// atomic and never overwrites, also over NFS. Where hard links are not supported (some SMB
/// mounts), the final file is created exclusively (`O_EXCL`) instead. Every `*.xml` file in
/// the directory is read; other files are ignored.
#[derive(Debug, Clone)]
pub struct DirectoryRepository {
    dir: PathBuf,
}

impl DirectoryRepository {
    /// A store in `dir`, created (mode 0700) on first write if missing.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
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
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(|e| StoreError::new(StoreErrorKind::Other, self.describe(), e))?
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

    fn create(&self, name: &str, contents: &[u8]) -> Result<StoreOutcome, StoreError> {
        create_private_dir(&self.dir).map_err(|e| self.io_error("creating the directory", e))?;
        let final_path = self.dir.join(format!("{name}.xml"));
        let tmp_path = self.dir.join(format!("{}.tmp", uuid::Uuid::new_v4()));
        let written = write_new_file(&tmp_path, contents)
            .map_err(|e| self.io_error(format!("writing {}", tmp_path.display()), e));
        let outcome = written.and_then(|()| match fs::hard_link(&tmp_path, &final_path) {
            Ok(()) => Ok(StoreOutcome::Created),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(StoreOutcome::AlreadyExists),
            Err(e) if links_unsupported(&e) => match write_new_file(&final_path, contents) {
                Ok(()) => Ok(StoreOutcome::Created),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    Ok(StoreOutcome::AlreadyExists)
                }
                Err(e) => Err(self.io_error(format!("writing {}", final_path.display()), e)),
            },
            Err(e) => Err(self.io_error(format!("linking {}", final_path.display()), e)),
        });
        let _ = fs::remove_file(&tmp_path);
        if outcome.is_ok() {
            sync_dir(&self.dir);
        }
        outcome
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

    fn describe(&self) -> String {
        format!("directory {}", self.dir.display())
    }
}

fn links_unsupported(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Unsupported
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::CrossesDevices
    ) || matches!(e.raw_os_error(), Some(95 | 1)) // EOPNOTSUPP, EPERM
}

/// Creates `path` exclusively (mode 0600 on Unix), writes and flushes it.
pub(super) fn write_new_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let result = file.write_all(contents).and_then(|()| file.sync_all());
    if result.is_err() {
        drop(file);
        let _ = fs::remove_file(path);
    }
    result
}

pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes a new or removed directory entry durable; best effort (not every filesystem allows
/// opening a directory).
pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
