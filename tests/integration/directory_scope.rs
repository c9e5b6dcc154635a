//! Nodes that reach one key directory through different paths (another mount point, a
//! symbolic link) still agree on the key the rules call for: the directory names its ring in
//! a file of its own, so they derive one key id and exactly one create wins.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use data_protection::repository::{
    DirectoryRepository, MemoryRepository, StoreOutcome, StoredElement, XmlRepository,
};
use data_protection::xml::XmlElement;
use data_protection::{DataProtection, Error, ManualClock, StoreError, StoreErrorKind};
use time::macros::datetime;
use tokio::sync::Barrier;

/// A node's store: the real directory, whose first write waits until every node is about to
/// write, so all of them decided on the same empty ring.
#[derive(Debug)]
struct Together {
    inner: DirectoryRepository,
    barrier: Arc<Barrier>,
    waited: AtomicBool,
}

#[async_trait]
impl XmlRepository for Together {
    async fn get_all_elements(&self) -> Result<Vec<StoredElement>, StoreError> {
        self.inner.get_all_elements().await
    }

    async fn store_element(&self, e: &XmlElement, name: &str) -> Result<StoreOutcome, StoreError> {
        if !self.waited.swap(true, Ordering::SeqCst) {
            let all = tokio::time::timeout(std::time::Duration::from_secs(20), self.barrier.wait());
            all.await.expect("both nodes decide to create a key");
        }
        self.inner.store_element(e, name).await
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn ring_scope(&self) -> String {
        self.inner.ring_scope().await
    }
}

fn xml_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with(".xml")
        })
        .count()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_paths_to_one_directory_create_one_key() {
    let root = tempfile::tempdir().unwrap();
    let keys = root.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let other = root.path().join("mounted-elsewhere");
    std::os::unix::fs::symlink(&keys, &other).unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-06-01 12:00 UTC)));
    let barrier = Arc::new(Barrier::new(2));
    let node = |path: std::path::PathBuf| {
        let store = Together {
            inner: DirectoryRepository::new(path),
            barrier: barrier.clone(),
            waited: AtomicBool::new(false),
        };
        DataProtection::builder()
            .application_name("TwoPaths")
            .persist_keys_to(store)
            .clock(clock.clone())
            .background_refresh(false)
            .build()
    };
    let (a, b) = tokio::join!(node(keys.clone()), node(other.clone()));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(xml_files(&keys), 1, "one key, whichever path created it");
    assert_eq!(a.default_key(), b.default_key());
    let token = a.protector(["p"]).protect(b"x").unwrap();
    assert_eq!(b.protector(["p"]).unprotect(&token).unwrap(), b"x");
    // Both paths name the same ring; another directory is another ring.
    let (via_a, via_b) = (
        DirectoryRepository::new(&keys),
        DirectoryRepository::new(&other),
    );
    assert_eq!(via_a.ring_scope().await, via_b.ring_scope().await);
    let elsewhere = DirectoryRepository::new(root.path().join("other-ring"));
    assert_ne!(via_a.ring_scope().await, elsewhere.ring_scope().await);
}

/// A store that answers reads and writes but never names its ring (a hung mount).
#[derive(Debug)]
struct HangingScope(MemoryRepository);

#[async_trait]
impl XmlRepository for HangingScope {
    async fn get_all_elements(&self) -> Result<Vec<StoredElement>, StoreError> {
        self.0.get_all_elements().await
    }

    async fn store_element(&self, e: &XmlElement, name: &str) -> Result<StoreOutcome, StoreError> {
        self.0.store_element(e, name).await
    }

    fn describe(&self) -> String {
        "hanging scope".into()
    }

    async fn ring_scope(&self) -> String {
        std::future::pending().await
    }
}

/// Naming the ring is a store call like the others: within the store timeout, and no key is
/// created without it.
#[tokio::test]
async fn a_store_that_hangs_while_naming_its_ring_times_out_and_creates_no_key() {
    let repo = Arc::new(HangingScope(MemoryRepository::new()));
    let built = DataProtection::builder()
        .persist_keys_to_shared(repo.clone())
        .store_timeout(std::time::Duration::from_millis(200))
        .background_refresh(false)
        .build()
        .await;
    let err = built.expect_err("no key ring without a key");
    assert!(
        matches!(&err, Error::Store(e) if e.kind() == StoreErrorKind::Timeout),
        "{err:?}"
    );
    assert!(repo.get_all_elements().await.unwrap().is_empty(), "no key");
}
