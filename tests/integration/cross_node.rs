//! Two nodes sharing a directory: a payload protected with a key that another node created
//! after this node loaded its ring is read at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use data_protection::repository::{
    DirectoryRepository, StoreOutcome, StoredElement, XmlRepository,
};
use data_protection::xml::XmlElement;
use data_protection::{DataProtection, StoreError};

async fn node(dir: &std::path::Path, generate: bool) -> DataProtection {
    let b = DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to_directory(dir);
    let b = if generate {
        b
    } else {
        b.disable_automatic_key_generation()
    };
    b.build().await.unwrap()
}

#[tokio::test]
async fn unknown_key_ids_trigger_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    // B and C load an empty ring and may not create keys.
    let b = node(dir.path(), false).await;
    let c = node(dir.path(), false).await;
    assert!(b.keys().is_empty());

    let a = node(dir.path(), true).await;
    let token = a.protector(["x"]).protect(b"hello").unwrap();

    // Async unprotect waits for the reload.
    assert_eq!(
        b.protector(["x"]).unprotect_async(&token).await.unwrap(),
        b"hello"
    );

    // Sync unprotect fails once, asks the background task to reload, then succeeds.
    let pc = c.protector(["x"]);
    assert!(pc.unprotect(&token).is_err());
    let start = Instant::now();
    while pc.unprotect(&token).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "background reload did not happen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A creates a new default (by revoking the old one) after B loaded its ring.
    let old = a.default_key().unwrap();
    a.revoke_key(old, "rotate now").await.unwrap();
    let new_token = a.protector(["x"]).protect(b"again").unwrap();
    assert_ne!(new_token[4..20], old.to_guid_bytes());
    assert_eq!(
        b.protector(["x"])
            .unprotect_async(&new_token)
            .await
            .unwrap(),
        b"again"
    );
    // and B now sees the revocation too.
    assert!(b.protector(["x"]).unprotect(&token).is_err());
}

/// A directory store that counts its full reads (ring loads).
#[derive(Debug)]
struct Counting {
    inner: DirectoryRepository,
    reads: AtomicUsize,
}

#[async_trait]
impl XmlRepository for Counting {
    async fn get_all_elements(&self) -> Result<Vec<StoredElement>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_all_elements().await
    }
    async fn store_element(&self, e: &XmlElement, n: &str) -> Result<StoreOutcome, StoreError> {
        self.inner.store_element(e, n).await
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// 50 payloads naming 50 different unknown key ids at once cost one reload (two at most,
/// if the background task joins in), not 50: they share it, and reloads for unknown ids are
/// at least the configured interval apart.
#[tokio::test]
async fn unknown_ids_are_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Arc::new(Counting {
        inner: DirectoryRepository::new(dir.path()),
        reads: AtomicUsize::new(0),
    });
    let a = DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to_shared(repo.clone())
        .build()
        .await
        .unwrap();
    let p = a.protector(["x"]);
    let genuine = p.protect(b"x").unwrap();
    let before = repo.reads.load(Ordering::SeqCst);
    let mut handles = Vec::new();
    for i in 0..50u8 {
        let mut forged = genuine.clone();
        forged[4] ^= i + 1; // a key id that differs from the real one
        let p = p.clone();
        handles.push(tokio::spawn(
            async move { p.unprotect_async(&forged).await },
        ));
    }
    for h in handles {
        assert!(
            h.await.unwrap().is_err(),
            "a payload under an unknown key id"
        );
    }
    let reloads = repo.reads.load(Ordering::SeqCst) - before;
    assert!(
        (1..=2).contains(&reloads),
        "{reloads} reloads for 50 unknown ids"
    );
    assert_eq!(p.unprotect(&genuine).unwrap(), b"x");
}
