//! The memory store: the conformance suite, capacity and expiry by the injected clock.

use std::sync::Arc;
use std::time::Duration;

use data_protection::session::store::conformance;
use data_protection::session::{
    Expected, MemorySessionStore, SessionData, SessionEntry, SessionStore,
};
use time::OffsetDateTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_conformance_suite() {
    conformance::run(Arc::new(MemorySessionStore::new()), "memory").await;
}

fn entry(sliding_secs: u64) -> SessionEntry {
    SessionEntry::new(
        SessionData::new([0; 16]).encode().unwrap(),
        None,
        Some(Duration::from_secs(sliding_secs)),
    )
}

#[tokio::test]
async fn a_full_store_evicts_expired_entries_then_the_closest_to_expiry() {
    let store = MemorySessionStore::with_capacity(3);
    let t0 = OffsetDateTime::now_utc();
    for (key, secs) in [("a", 10), ("b", 1000), ("c", 100)] {
        store
            .save(key, &entry(secs), Expected::Absent, t0)
            .await
            .unwrap();
    }
    store
        .save("d", &entry(1000), Expected::Absent, t0)
        .await
        .unwrap();
    assert_eq!(store.len(), 3, "bounded");
    assert!(
        store.load("a", t0).await.unwrap().is_none(),
        "a expired soonest: evicted"
    );
    let later = t0 + time::Duration::seconds(200);
    store
        .save("e", &entry(1000), Expected::Absent, later)
        .await
        .unwrap();
    assert!(
        store.load("c", later).await.unwrap().is_none(),
        "c had expired"
    );
    for key in ["b", "d", "e"] {
        assert!(
            store.load(key, later).await.unwrap().is_some(),
            "{key} kept"
        );
    }
}

#[tokio::test]
async fn the_user_index_expires_by_the_injected_clock() {
    let store = MemorySessionStore::new();
    let t0 = OffsetDateTime::now_utc() + time::Duration::days(400); // far from the system clock
    let ttl = Duration::from_secs(60);
    assert_eq!(
        store
            .swap_user_session("alice", "s1", ttl, t0)
            .await
            .unwrap(),
        None
    );
    let soon = t0 + time::Duration::seconds(30);
    assert_eq!(
        store
            .swap_user_session("alice", "s2", ttl, soon)
            .await
            .unwrap()
            .as_deref(),
        Some("s1"),
        "within the TTL the previous session is returned"
    );
    let later = soon + time::Duration::seconds(61);
    assert_eq!(
        store
            .swap_user_session("alice", "s3", ttl, later)
            .await
            .unwrap(),
        None,
        "an expired record replaces nothing"
    );
}
