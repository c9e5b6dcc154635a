//! The blob store (`BlobRepository`) on real servers: moto (S3), Azurite (Azure Blob) and a
//! local directory, in both layouts; reads and deletes on fake-gcs-server (GCS, `gcs.rs`).

mod compat;
mod conformance;
mod cross_node;
mod faults;
mod gcs;
mod races;
mod servers;

use std::sync::Arc;
use std::time::Duration;

use data_protection::repository::{BlobLayout, BlobRepository};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::local::LocalFileSystem;
use object_store::{ObjectStore, RetryConfig};

use crate::backends::{env, unique};

/// Where a test's key ring lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    S3,
    Azure,
    Local,
}

pub const BACKENDS: [Backend; 3] = [Backend::S3, Backend::Azure, Backend::Local];
pub const LAYOUTS: [BlobLayout; 2] = [BlobLayout::PerObject, BlobLayout::SingleBlob];

/// Retries that give up fast, as the runbook advises for tests.
pub fn fast_retry() -> RetryConfig {
    RetryConfig {
        max_retries: 2,
        retry_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

/// A new client for the shared moto server (runbook §3).
pub fn s3_store() -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(env("S3_ENDPOINT"))
            .with_allow_http(true)
            .with_region(env("S3_REGION"))
            .with_bucket_name(env("S3_BUCKET"))
            .with_access_key_id("testing")
            .with_secret_access_key("testing")
            .with_retry(fast_retry())
            .build()
            .expect("S3 client"),
    )
}

/// A new client for the shared Azurite server (runbook §2, explicit endpoint).
pub fn azure_store() -> Arc<dyn ObjectStore> {
    Arc::new(
        MicrosoftAzureBuilder::new()
            .with_account(env("AZURITE_ACCOUNT"))
            .with_access_key(env("AZURITE_ACCESS_KEY"))
            .with_endpoint(env("AZURITE_BLOB_ENDPOINT"))
            .with_allow_http(true)
            .with_container_name(env("AZURITE_CONTAINER"))
            .with_retry(fast_retry())
            .build()
            .expect("Azure client"),
    )
}

/// `from_url_with_options` settings for the shared moto server.
pub fn s3_options() -> Vec<(&'static str, String)> {
    vec![
        ("aws_endpoint", env("S3_ENDPOINT")),
        ("aws_allow_http", "true".into()),
        ("aws_region", env("S3_REGION")),
        ("aws_access_key_id", "testing".into()),
        ("aws_secret_access_key", "testing".into()),
    ]
}

/// `from_url_with_options` settings for the shared Azurite server.
pub fn azure_options() -> Vec<(&'static str, String)> {
    azure_options_at(&env("AZURITE_BLOB_ENDPOINT"))
}

pub fn azure_options_at(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("azure_storage_account_name", env("AZURITE_ACCOUNT")),
        ("azure_storage_account_key", env("AZURITE_ACCESS_KEY")),
        ("azure_storage_endpoint", endpoint.to_owned()),
        ("azure_allow_http", "true".into()),
    ]
}

/// A fresh, empty key ring on one backend in one layout. Every [`repo`](Self::repo) call
/// makes a new client, as a separate node would.
pub struct Fixture {
    pub backend: Backend,
    pub layout: BlobLayout,
    /// The prefix (per object) or blob path (single blob) inside the bucket or container.
    pub path: String,
    dir: Option<tempfile::TempDir>,
}

impl Fixture {
    pub fn new(backend: Backend, layout: BlobLayout) -> Self {
        let name = unique(&format!("{backend:?}-{layout:?}").to_lowercase());
        let (path, dir) = match backend {
            Backend::Local => (String::new(), Some(tempfile::tempdir().expect("temp dir"))),
            _ => (name, None),
        };
        let path = match layout {
            BlobLayout::SingleBlob if backend != Backend::Local => format!("{path}/keys.xml"),
            _ => path,
        };
        Self {
            backend,
            layout,
            path,
            dir,
        }
    }

    /// A new node's view of the store. Local single blobs use the `file://` URL (an OS file
    /// lock stands in for the ETag); local per-object stores use `LocalFileSystem`.
    pub fn repo(&self) -> BlobRepository {
        match (self.backend, self.layout) {
            (Backend::S3, _) => BlobRepository::new(s3_store(), &self.path, self.layout),
            (Backend::Azure, _) => BlobRepository::new(azure_store(), &self.path, self.layout),
            (Backend::Local, BlobLayout::PerObject) => {
                let dir = self.local_dir();
                let fs = LocalFileSystem::new_with_prefix(dir).expect("local store");
                BlobRepository::new(Arc::new(fs), "", self.layout)
            }
            (Backend::Local, BlobLayout::SingleBlob) => {
                BlobRepository::from_url(&self.url()).expect("file URL")
            }
        }
    }

    /// The same store through `from_url_with_options`.
    pub fn repo_from_url(&self) -> BlobRepository {
        let options = match self.backend {
            Backend::S3 => s3_options(),
            Backend::Azure => azure_options(),
            Backend::Local => Vec::new(),
        };
        BlobRepository::from_url_with_options(&self.url(), options).expect("store URL")
    }

    /// The store's URL.
    pub fn url(&self) -> String {
        let layout = match self.layout {
            BlobLayout::PerObject => "per-object",
            BlobLayout::SingleBlob => "single-blob",
        };
        match self.backend {
            Backend::S3 => format!("s3://{}/{}?layout={layout}", env("S3_BUCKET"), self.path),
            Backend::Azure => format!(
                "az://{}/{}?layout={layout}",
                env("AZURITE_CONTAINER"),
                self.path
            ),
            Backend::Local => format!("file://{}?layout={layout}", self.local_dir().display()),
        }
    }

    /// The local directory (local backend only).
    pub fn local_dir(&self) -> &std::path::Path {
        self.dir.as_ref().expect("a local fixture").path()
    }

    /// The object store and the blob's path, to read or plant raw content (not local).
    pub fn raw(&self) -> (Arc<dyn ObjectStore>, object_store::path::Path) {
        let store = match self.backend {
            Backend::S3 => s3_store(),
            Backend::Azure => azure_store(),
            Backend::Local => {
                Arc::new(LocalFileSystem::new_with_prefix(self.local_dir()).expect("local"))
            }
        };
        let path = match (self.backend, self.layout) {
            (Backend::Local, BlobLayout::SingleBlob) => "keys.xml".to_owned(),
            _ => self.path.clone(),
        };
        (store, object_store::path::Path::from(path))
    }
}
