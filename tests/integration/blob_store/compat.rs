//! ASP.NET Core's Azure Blob document: a blob written in the .NET form is read and used,
//! and what the single-blob layout writes is that same form.

use std::sync::Arc;

use data_protection::repository::{BlobLayout, XmlRepository};
use data_protection::xml::XmlElement;
use data_protection::{DataProtection, KeyStatus};
use object_store::ObjectStoreExt;
use time::macros::datetime;

use super::{BACKENDS, Fixture};
use crate::common::{clock_at, golden_dir, read_only};
use crate::support::vectors::{field, section, vectors_dir};

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>";

fn golden_blob() -> Vec<u8> {
    std::fs::read(golden_dir().join("azure-single-blob.xml")).unwrap()
}

/// A blob assembled as .NET writes it, from the derived key file of the shared vectors.
fn assembled_blob() -> Vec<u8> {
    let key = std::fs::read_to_string(
        vectors_dir().join("derived/key-0f8fad5b-d9cb-469f-a165-70867728950e.xml"),
    )
    .unwrap();
    let compact = XmlElement::parse(&key).unwrap().to_compact_string();
    format!("{DECLARATION}<repository>{compact}</repository>").into_bytes()
}

/// Plants `blob` in a fresh single-blob store and unprotects the vectors' CBC string.
async fn reads_and_uses(fx: &Fixture, blob: Vec<u8>, keys: usize) {
    let (store, path) = fx.raw();
    store.put(&path, blob.into()).await.unwrap();
    let repo: Arc<dyn XmlRepository> = Arc::new(fx.repo());
    let dp = read_only(repo, clock_at(datetime!(2024-02-01 0:00 UTC)))
        .build()
        .await
        .unwrap();
    let listed = dp.keys();
    assert_eq!(listed.len(), keys, "{:?}", fx.backend);
    assert!(
        listed.iter().all(|k| k.status == KeyStatus::Active),
        "{listed:?}"
    );
    let v = section(
        &vectors_dir().join("derived/protect_vectors.txt"),
        "string_protect_cbc",
    );
    let token = field(&v, "protected_base64url");
    assert_eq!(
        dp.protector(["my purpose"]).unprotect_str(token).unwrap(),
        "Hello, world!",
        "{:?}",
        fx.backend
    );
}

#[tokio::test]
async fn the_golden_dotnet_blob_is_read_and_used() {
    for backend in BACKENDS {
        let fx = Fixture::new(backend, BlobLayout::SingleBlob);
        reads_and_uses(&fx, golden_blob(), 2).await;
    }
}

#[tokio::test]
async fn a_blob_assembled_from_the_vector_key_is_read_and_used() {
    for backend in BACKENDS {
        let fx = Fixture::new(backend, BlobLayout::SingleBlob);
        reads_and_uses(&fx, assembled_blob(), 1).await;
    }
}

#[tokio::test]
async fn writes_keep_the_dotnet_document_form() {
    for backend in BACKENDS {
        let fx = Fixture::new(backend, BlobLayout::SingleBlob);
        let dp = DataProtection::builder()
            .persist_keys_to(fx.repo())
            .background_refresh(false)
            .build()
            .await
            .unwrap();
        let id = dp.default_key().unwrap();
        let (store, path) = fx.raw();
        let text = String::from_utf8(
            store
                .get(&path)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        assert!(
            text.starts_with(&format!("{DECLARATION}<repository><key id=\"{id}\"")),
            "{backend:?}: {}",
            &text[..80]
        );
        assert!(
            !text.contains('\n') && text.ends_with("</repository>"),
            "one line"
        );
        let root = XmlElement::parse(&text).unwrap();
        assert_eq!(root.local_name(), "repository");

        // Appending to the .NET blob keeps its elements byte for byte.
        let fx = Fixture::new(backend, BlobLayout::SingleBlob);
        let (store, path) = fx.raw();
        store.put(&path, golden_blob().into()).await.unwrap();
        let dp = DataProtection::builder()
            .persist_keys_to(fx.repo())
            .clock(clock_at(datetime!(2024-02-01 0:00 UTC)))
            .background_refresh(false)
            .build()
            .await
            .unwrap();
        let gcm = "5c1f5e2a-3b4d-4e6f-8a9b-0c1d2e3f4a5b".parse().unwrap();
        dp.revoke_key(gcm, "test").await.unwrap();
        let after = store.get(&path).await.unwrap().bytes().await.unwrap();
        let golden = golden_blob();
        let kept = &golden[..golden.len() - "</repository>".len()];
        assert!(
            after.starts_with(kept),
            "{backend:?}: the .NET elements are untouched"
        );
        let tail = String::from_utf8(after[kept.len()..].to_vec()).unwrap();
        assert!(
            tail.starts_with("<revocation version=\"1\">"),
            "{backend:?}: {tail}"
        );
        assert!(tail.ends_with("</repository>"));
    }
}
