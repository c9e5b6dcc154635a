//! Sixteen nodes, each with its own client, start together on an empty store, then all
//! decide at once that a successor is due: each time exactly one key is created and every
//! node uses it.
//!
//! To make the decisions truly simultaneous, each node's first write of a phase waits at a
//! barrier until all sixteen have read the ring and decided to write; then they all send
//! their conditional writes at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use data_protection::repository::{
    BlobLayout, BlobRepository, StoreOutcome, StoredElement, XmlRepository,
};
use data_protection::xml::XmlElement;
use data_protection::{DataProtection, ManualClock, StoreError};
use time::Duration;
use time::macros::datetime;
use tokio::sync::Barrier;

use super::{Backend, Fixture};

const NODES: usize = 16;
const ROUNDS: usize = 10;

/// A node's store: the real blob store, whose first write after [`arm`](Self::arm) waits
/// until every node is about to write.
#[derive(Debug)]
struct Gated {
    inner: BlobRepository,
    barrier: Arc<Barrier>,
    armed: AtomicBool,
}

impl Gated {
    fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl XmlRepository for Gated {
    async fn get_all_elements(&self) -> Result<Vec<StoredElement>, StoreError> {
        self.inner.get_all_elements().await
    }

    async fn store_element(
        &self,
        element: &XmlElement,
        name: &str,
    ) -> Result<StoreOutcome, StoreError> {
        if self.armed.swap(false, Ordering::SeqCst) {
            let all = tokio::time::timeout(std::time::Duration::from_secs(20), self.barrier.wait());
            all.await.expect("every node decides to write the same key");
        }
        self.inner.store_element(element, name).await
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

async fn node(store: Arc<Gated>, clock: &Arc<ManualClock>) -> DataProtection {
    DataProtection::builder()
        .application_name("race")
        .persist_keys_to_shared(store)
        .clock(clock.clone())
        .store_timeout(std::time::Duration::from_secs(30))
        .background_refresh(false)
        .build()
        .await
        .expect("node start")
}

async fn keys_in_store(fx: &Fixture) -> usize {
    fx.repo()
        .get_all_elements()
        .await
        .expect("read the store")
        .iter()
        .filter(|e| e.xml.contains("<key "))
        .count()
}

/// One round: an empty store, 16 nodes at once, then a successor due on all at once.
async fn round(backend: Backend, layout: BlobLayout) -> (usize, usize) {
    let fx = Arc::new(Fixture::new(backend, layout));
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-01 0:00 UTC)));

    let barrier = Arc::new(Barrier::new(NODES));
    let stores: Vec<_> = (0..NODES)
        .map(|_| {
            Arc::new(Gated {
                inner: fx.repo(),
                barrier: barrier.clone(),
                armed: AtomicBool::new(true),
            })
        })
        .collect();
    let starts: Vec<_> = stores
        .iter()
        .map(|store| {
            let (store, clock) = (store.clone(), clock.clone());
            tokio::spawn(async move { node(store, &clock).await })
        })
        .collect();
    let mut nodes = Vec::new();
    for s in starts {
        nodes.push(s.await.expect("node task"));
    }
    let first = nodes[0].default_key().expect("a default key");
    for n in &nodes {
        assert_eq!(n.default_key(), Some(first), "every node uses the one key");
        assert_eq!(n.keys().len(), 1);
    }
    let keys_after_start = keys_in_store(&fx).await;
    assert_eq!(
        keys_after_start, 1,
        "{backend:?} {layout:?}: one key on an empty store"
    );
    let token = nodes[3].protector(["p"]).protect(b"race").unwrap();
    for n in &nodes {
        assert_eq!(n.protector(["p"]).unprotect(&token).unwrap(), b"race");
    }

    // Two days before the key expires, every node sees that a successor is due.
    let expiry = nodes[0].keys()[0].expiration;
    clock.set(expiry - Duration::days(2));
    stores.iter().for_each(|s| s.arm());
    let ensures: Vec<_> = nodes
        .iter()
        .map(|n| {
            let n = n.clone();
            tokio::spawn(async move { n.ensure_key().await.expect("ensure_key") })
        })
        .collect();
    let (mut created, mut adopted) = (Vec::new(), Vec::new());
    for e in ensures {
        let outcome = e.await.expect("ensure task");
        created.extend(outcome.created);
        adopted.extend(outcome.adopted);
    }
    assert_eq!(
        created.len(),
        1,
        "{backend:?} {layout:?}: exactly one successor created"
    );
    assert_eq!(adopted.len(), NODES - 1, "the other nodes adopt it");
    assert!(adopted.iter().all(|id| *id == created[0]));
    let keys_after_successor = keys_in_store(&fx).await;
    assert_eq!(keys_after_successor, 2);
    clock.set(expiry + Duration::minutes(1));
    for n in &nodes {
        assert_eq!(n.keys().len(), 2);
        assert_eq!(
            n.default_key(),
            Some(created[0]),
            "every node moves to the successor"
        );
    }
    (keys_after_start, keys_after_successor)
}

async fn rounds(backend: Backend, layout: BlobLayout) {
    let started = std::time::Instant::now();
    for r in 0..ROUNDS {
        let (start, successor) = round(backend, layout).await;
        println!(
            "{backend:?} {layout:?} round {r}: {NODES} nodes on an empty store -> {start} key; \
             {NODES} nodes with a successor due -> {successor} keys (1 created, {} adopted)",
            NODES - 1
        );
    }
    println!(
        "{backend:?} {layout:?}: {ROUNDS} rounds, {} node starts, in {:?}",
        ROUNDS * NODES,
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_per_object_race() {
    rounds(Backend::S3, BlobLayout::PerObject).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_single_blob_race() {
    rounds(Backend::S3, BlobLayout::SingleBlob).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn azure_per_object_race() {
    rounds(Backend::Azure, BlobLayout::PerObject).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn azure_single_blob_race() {
    rounds(Backend::Azure, BlobLayout::SingleBlob).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_per_object_race() {
    rounds(Backend::Local, BlobLayout::PerObject).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_single_blob_race() {
    rounds(Backend::Local, BlobLayout::SingleBlob).await;
}
