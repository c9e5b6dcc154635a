//! The store conformance suite on every backend in both layouts, through `new` and through
//! URLs, plus the errors a misconfigured store gives.

use std::sync::Arc;

use data_protection::repository::{BlobLayout, BlobRepository, XmlRepository, conformance};
use data_protection::{DataProtection, Error, StoreErrorKind};
use object_store::ObjectStoreExt;
use object_store::local::LocalFileSystem;

use super::{Backend, Fixture, azure_options, s3_options};
use crate::backends::unique;

async fn conforms(backend: Backend, layout: BlobLayout) {
    let fx = Fixture::new(backend, layout);
    conformance::run(Arc::new(fx.repo()), true).await;
    let fx = Fixture::new(backend, layout);
    conformance::run(Arc::new(fx.repo_from_url()), true).await;
}

#[tokio::test]
async fn s3_per_object_conforms() {
    conforms(Backend::S3, BlobLayout::PerObject).await;
}

#[tokio::test]
async fn s3_single_blob_conforms() {
    conforms(Backend::S3, BlobLayout::SingleBlob).await;
}

#[tokio::test]
async fn azure_per_object_conforms() {
    conforms(Backend::Azure, BlobLayout::PerObject).await;
}

#[tokio::test]
async fn azure_single_blob_conforms() {
    conforms(Backend::Azure, BlobLayout::SingleBlob).await;
}

#[tokio::test]
async fn local_per_object_conforms() {
    conforms(Backend::Local, BlobLayout::PerObject).await;
}

#[tokio::test]
async fn local_single_blob_conforms() {
    conforms(Backend::Local, BlobLayout::SingleBlob).await;
}

#[tokio::test]
async fn per_object_files_are_the_directory_layout() {
    let fx = Fixture::new(Backend::Local, BlobLayout::PerObject);
    let dp = DataProtection::builder()
        .persist_keys_to(fx.repo())
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    let id = dp.default_key().unwrap();
    let text = std::fs::read_to_string(fx.local_dir().join(format!("key-{id}.xml"))).unwrap();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<key id=\""));
    // ASP.NET Core's directory reader (here: this crate's) reads what the blob store wrote.
    let dir = DataProtection::builder()
        .persist_keys_to_directory(fx.local_dir())
        .disable_automatic_key_generation()
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    assert_eq!(dir.default_key(), Some(id));
}

#[tokio::test]
async fn descriptions_name_the_store_and_never_credentials() {
    let fx = Fixture::new(Backend::S3, BlobLayout::PerObject);
    let repo = fx.repo_from_url();
    assert_eq!(
        repo.describe(),
        format!("s3://keyring/{} (per-object)", fx.path)
    );
    assert!(!format!("{repo:?}").contains("testing"), "{repo:?}");
    let fx = Fixture::new(Backend::Azure, BlobLayout::SingleBlob);
    let repo = fx.repo_from_url();
    assert_eq!(
        repo.describe(),
        format!("az://keyring/{} (single blob)", fx.path)
    );
    assert_eq!(repo.layout(), BlobLayout::SingleBlob);
    assert!(!format!("{repo:?}").contains("Eby8"), "{repo:?}");
}

/// object_store cannot create buckets or containers: a missing one is a clear error, and
/// never "no keys" followed by a new key somewhere else.
#[tokio::test]
async fn a_missing_bucket_or_container_is_a_clear_error() {
    for (url, options) in [
        (format!("s3://{}/p", unique("nobucket")), s3_options()),
        (format!("az://{}/p", unique("nocontainer")), azure_options()),
        (
            format!("az://{}/k.xml?layout=single-blob", unique("nocontainer")),
            azure_options(),
        ),
    ] {
        let repo = BlobRepository::from_url_with_options(&url, options).unwrap();
        let err = DataProtection::builder()
            .persist_keys_to(repo)
            .background_refresh(false)
            .build()
            .await
            .unwrap_err();
        let Error::Store(e) = &err else {
            panic!("{url}: {err}")
        };
        assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{url}: {err}");
        assert!(err.to_string().contains("does not exist"), "{url}: {err}");
    }
}

#[tokio::test]
async fn a_local_object_store_cannot_hold_a_single_blob() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let repo = BlobRepository::new(fs.clone(), "keys.xml", BlobLayout::SingleBlob);
    let err = DataProtection::builder()
        .persist_keys_to(repo)
        .background_refresh(false)
        .build()
        .await
        .unwrap_err();
    let Error::Store(e) = &err else {
        panic!("{err}")
    };
    assert_eq!(e.kind(), StoreErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("layout=single-blob"), "{err}");
    assert!(
        fs.head(&"keys.xml".into()).await.is_err(),
        "nothing written"
    );
}

#[tokio::test]
async fn a_corrupt_single_blob_is_reported_and_never_overwritten() {
    for backend in super::BACKENDS {
        let fx = Fixture::new(backend, BlobLayout::SingleBlob);
        let (store, path) = fx.raw();
        store
            .put(&path, b"<keys>not a repository</keys>".to_vec().into())
            .await
            .unwrap();
        let err = DataProtection::builder()
            .persist_keys_to(fx.repo())
            .background_refresh(false)
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Store(e) if e.kind() == StoreErrorKind::Corrupt),
            "{backend:?}: {err}"
        );
        let left = store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(&left[..], b"<keys>not a repository</keys>", "{backend:?}");
    }
}
