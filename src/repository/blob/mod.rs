//! The key ring in blob storage (S3, Azure Blob, Google Cloud Storage, a local directory)
//! through [`object_store`], in two layouts:
//!
//! - [`BlobLayout::PerObject`]: one object per element, `{prefix}/{friendly name}.xml`, in the
//!   directory store's file form. Writes are create-if-absent (`If-None-Match: *`), so nodes
//!   racing to create the same key end with exactly one and never overwrite each other.
//! - [`BlobLayout::SingleBlob`]: ASP.NET Core's Azure Blob layout, one `<repository>` document
//!   holding every element. Writes read the document with its ETag, append, and upload with
//!   `If-Match` (compare-and-swap), retrying on conflict; on a local directory an OS file
//!   lock takes the place of the ETag.
//!
//! Refreshes are cheap: what was read is cached (wiped when dropped), a per-object refresh
//! lists the prefix and fetches only new or changed objects, and a single-blob refresh is a
//! conditional GET that usually answers "not modified".

mod errors;
mod local_lock;
mod per_object;
mod single_blob;
mod url;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use object_store::ObjectStore;
use object_store::path::Path;

use super::{DirectoryRepository, StoreOutcome, StoredElement, XmlRepository};
use crate::error::StoreError;
use crate::xml::XmlElement;

/// How the elements are laid out in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlobLayout {
    /// One object per element, `{prefix}/{friendly name}.xml` (this crate's layout; the same
    /// names and content as ASP.NET Core's key directory). Needs only create-if-absent.
    #[default]
    PerObject,
    /// One XML document `<repository>…</repository>` holding every element: ASP.NET Core's
    /// Azure Blob repository (`PersistKeysToAzureBlobStorage`). Needs compare-and-swap.
    SingleBlob,
}

impl BlobLayout {
    fn label(self) -> &'static str {
        match self {
            Self::PerObject => "per-object",
            Self::SingleBlob => "single blob",
        }
    }
}

/// A key store in blob storage through [`object_store`]: S3 and compatible servers, Azure
/// Blob Storage, Google Cloud Storage, or a local directory.
///
/// Build it from a URL ([`from_url`](Self::from_url)) or from a ready store
/// ([`new`](Self::new)). Nothing is contacted until the first read.
///
/// ```no_run
/// # async fn run() -> data_protection::Result<()> {
/// use data_protection::DataProtection;
/// use data_protection::repository::BlobRepository;
///
/// // Credentials and endpoint from AWS_* environment variables.
/// let store = BlobRepository::from_url("s3://my-bucket/dataprotection")?;
/// let dp = DataProtection::builder()
///     .application_name("MyApp")
///     .persist_keys_to(store)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
pub struct BlobRepository {
    backend: Backend,
    description: String,
}

enum Backend {
    PerObject(per_object::PerObject),
    SingleBlob(single_blob::SingleBlob),
    LockedFile(local_lock::LockedFile),
    Directory(DirectoryRepository),
}

impl BlobRepository {
    /// A store over `store`. `path` is the prefix the objects live under
    /// ([`PerObject`](BlobLayout::PerObject); may be empty) or the path of the blob
    /// ([`SingleBlob`](BlobLayout::SingleBlob), for example `keys/keys.xml`; empty means
    /// `keys.xml`).
    ///
    /// The single-blob layout needs conditional updates (`PutMode::Update`); stores without
    /// them (`LocalFileSystem`) refuse writes with an
    /// [`Unsupported`](crate::error::StoreErrorKind::Unsupported) error: use a `file://` URL with
    /// [`from_url`](Self::from_url) for a local single blob.
    pub fn new(store: Arc<dyn ObjectStore>, path: &str, layout: BlobLayout) -> Self {
        let description = format!("{store} {path:?} ({})", layout.label());
        Self::with_store(store, path, layout, description)
    }

    fn with_store(
        store: Arc<dyn ObjectStore>,
        path: &str,
        layout: BlobLayout,
        description: String,
    ) -> Self {
        let path = Path::from(path);
        let backend = match layout {
            BlobLayout::PerObject => Backend::PerObject(per_object::PerObject::new(store, path)),
            BlobLayout::SingleBlob => {
                let path = if path.as_ref().is_empty() {
                    Path::from(url::DEFAULT_BLOB_NAME)
                } else {
                    path
                };
                Backend::SingleBlob(single_blob::SingleBlob::new(store, path))
            }
        };
        Self {
            backend,
            description,
        }
    }

    /// A store named by a URL, with credentials and endpoints from the environment:
    ///
    /// | URL | store | environment |
    /// |---|---|---|
    /// | `s3://BUCKET/PREFIX` (or `s3a://`) | S3 or an S3-compatible server | `AWS_*` (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, …) |
    /// | `az://CONTAINER/PREFIX` (or `azure://`, `abfs[s]://CONTAINER@ACCOUNT.dfs.core.windows.net/PREFIX`) | Azure Blob Storage | `AZURE_*` (`AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_TOKEN`, `AZURE_STORAGE_ENDPOINT`, `AZURE_ALLOW_HTTP`, `AZURE_STORAGE_USE_EMULATOR`, …) |
    /// | `gs://BUCKET/PREFIX` | Google Cloud Storage | `GOOGLE_*` (`GOOGLE_SERVICE_ACCOUNT`, `GOOGLE_SERVICE_ACCOUNT_KEY`, …) |
    /// | `file:///ABSOLUTE/PATH` | a local or shared directory | none |
    ///
    /// The query picks the layout: `?layout=per-object` (the default) or
    /// `?layout=single-blob`. With the single blob the path names the blob; a path that does
    /// not end in `.xml` is a folder and the blob is `{path}/keys.xml`.
    ///
    /// A `file://` URL with the per-object layout is a [`DirectoryRepository`] (the same
    /// layout, with private file permissions); with the single blob, writers serialize on an
    /// OS file lock (`{blob}.lock`) and replace the blob by an atomic rename.
    ///
    /// Nothing is contacted here.
    ///
    /// # Errors
    /// [`Error::Config`](crate::error::Error::Config) for a malformed URL, an unknown scheme or
    /// layout, or settings the store's client refuses (an Azure URL without an account name,
    /// for instance).
    pub fn from_url(url: &str) -> Result<Self, crate::error::Error> {
        Self::from_url_with_options(url, std::iter::empty::<(&str, String)>())
    }

    /// Like [`from_url`](Self::from_url), with explicit `object_store` settings that take
    /// precedence over the environment: `aws_endpoint`, `aws_allow_http`,
    /// `aws_access_key_id`, `azure_storage_account_name`, `azure_storage_account_key`,
    /// `azure_storage_endpoint`, `azure_allow_http`, `google_service_account`, `timeout`,
    /// `connect_timeout`, …
    ///
    /// # Errors
    /// As [`from_url`](Self::from_url), and for a setting the store does not know.
    pub fn from_url_with_options(
        url: &str,
        options: impl IntoIterator<Item = (impl AsRef<str>, impl Into<String>)>,
    ) -> Result<Self, crate::error::Error> {
        let options: Vec<(String, String)> = options
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.into()))
            .collect();
        let target = url::parse(url, &options)?;
        let description = format!("{} ({})", target.display, target.layout.label());
        Ok(match target.location {
            url::Location::Cloud { store, path } => {
                Self::with_store(store, &path, target.layout, description)
            }
            url::Location::Directory(dir) => Self {
                backend: Backend::Directory(DirectoryRepository::new(dir)),
                description,
            },
            url::Location::LockedFile(file) => Self {
                backend: Backend::LockedFile(local_lock::LockedFile::new(file, &description)),
                description,
            },
        })
    }

    /// How many objects a per-object read fetches at once when many are new or changed (the
    /// first load of a large ring): at most `n` GETs in flight, `1` for one after another.
    /// The default is 16. Other layouts and `file://` stores ignore it.
    #[must_use]
    pub fn with_read_concurrency(mut self, n: usize) -> Self {
        if let Backend::PerObject(b) = &mut self.backend {
            b.set_read_concurrency(n);
        }
        self
    }

    /// The layout in use.
    pub fn layout(&self) -> BlobLayout {
        match self.backend {
            Backend::PerObject(_) | Backend::Directory(_) => BlobLayout::PerObject,
            Backend::SingleBlob(_) | Backend::LockedFile(_) => BlobLayout::SingleBlob,
        }
    }
}

#[async_trait]
impl XmlRepository for BlobRepository {
    async fn get_all_elements(&self) -> Result<Vec<StoredElement>, StoreError> {
        let store = self.describe();
        match &self.backend {
            Backend::PerObject(b) => b.read_all(&store).await,
            Backend::SingleBlob(b) => b.read_all(&store).await,
            Backend::LockedFile(b) => b.read_all(&store).await,
            Backend::Directory(d) => d.get_all_elements().await,
        }
    }

    async fn store_element(
        &self,
        element: &XmlElement,
        friendly_name: &str,
    ) -> Result<StoreOutcome, StoreError> {
        let store = self.describe();
        super::check_friendly_name(&store, friendly_name)?;
        match &self.backend {
            Backend::PerObject(b) => b.create(&store, element, friendly_name).await,
            Backend::SingleBlob(b) => b.append(&store, element, friendly_name).await,
            Backend::LockedFile(b) => b.append(&store, element, friendly_name).await,
            Backend::Directory(d) => d.store_element(element, friendly_name).await,
        }
    }

    async fn delete_elements(&self, friendly_names: &[String]) -> Result<(), StoreError> {
        let store = self.describe();
        for name in friendly_names {
            super::check_friendly_name(&store, name)?;
        }
        match &self.backend {
            Backend::PerObject(b) => b.delete(&store, friendly_names).await,
            Backend::SingleBlob(b) => b.delete(&store, friendly_names).await,
            Backend::LockedFile(b) => b.delete(&store, friendly_names).await,
            Backend::Directory(d) => d.delete_elements(friendly_names).await,
        }
    }

    fn kind(&self) -> &'static str {
        "blob"
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

impl fmt::Debug for BlobRepository {
    /// Only the description: a client's settings may hold credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BlobRepository")
            .field(&self.description)
            .finish()
    }
}
