//! Key ids are unique: rings of different applications or stores never derive the same id,
//! a ring never reuses an id it had, and nodes deciding together on one store still agree on
//! one key.

use std::sync::Arc;

use data_protection::{DataProtection, KeyId, ManualClock};
use time::macros::datetime;

fn node(
    dir: &std::path::Path,
    app: Option<&str>,
    clock: &Arc<ManualClock>,
) -> data_protection::DataProtectionBuilder {
    let b = DataProtection::builder()
        .persist_keys_to_directory(dir)
        .clock(clock.clone())
        .background_refresh(false);
    match app {
        Some(name) => b.application_name(name),
        None => b,
    }
}

async fn first_key(dir: &std::path::Path, app: Option<&str>, clock: &Arc<ManualClock>) -> KeyId {
    let dp = node(dir, app, clock).build().await.unwrap();
    let keys = dp.keys();
    assert_eq!(keys.len(), 1);
    keys[0].id
}

#[tokio::test]
async fn two_applications_in_two_empty_directories_get_different_first_keys() {
    // The same instant for all: only the application and the store can tell them apart.
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-03 10:15 UTC)));
    let root = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for (i, app) in [None, None, Some("Shop"), Some("Shop"), Some("Blog")]
        .into_iter()
        .enumerate()
    {
        let dir = root.path().join(format!("app{i}"));
        ids.push(first_key(&dir, app, &clock).await);
    }
    let mut unique = ids.clone();
    unique.sort_by_key(|id| id.to_string());
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    // And two applications in one directory (names differ, store is the same).
    let shared = root.path().join("shared");
    let a = node(&shared, Some("A"), &clock).build().await.unwrap();
    let b_id = {
        let other = tempfile::tempdir().unwrap();
        first_key(other.path(), Some("B"), &clock).await
    };
    assert_ne!(a.default_key().unwrap(), b_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_deciding_together_on_one_store_agree_on_one_key() {
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-03 10:15 UTC)));
    let dir = tempfile::tempdir().unwrap();
    let start = Arc::new(tokio::sync::Barrier::new(8));
    let mut nodes = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let builder = node(dir.path(), Some("Shop"), &clock);
        let start = start.clone();
        nodes.spawn(async move {
            start.wait().await;
            builder.build().await.unwrap().default_key().unwrap()
        });
    }
    let defaults = nodes.join_all().await;
    assert!(defaults.iter().all(|d| *d == defaults[0]), "{defaults:?}");
    let keys = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("xml".as_ref()))
        .count();
    assert_eq!(keys, 1, "one key file");
}

#[tokio::test]
async fn a_ring_never_reuses_an_id_it_once_had() {
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-03 10:15 UTC)));
    let dir = tempfile::tempdir().unwrap();
    let dp = node(dir.path(), Some("Shop"), &clock)
        .build()
        .await
        .unwrap();
    let first = dp.default_key().unwrap();

    // Every element deleted by hand within the hour: the node that saw the key does not
    // derive its id again.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    clock.advance(time::Duration::minutes(5));
    let outcome = dp.ensure_key().await.unwrap();
    let second = outcome.created.expect("a key for the empty ring");
    assert_ne!(second, first, "the id the ring had is not reused");

    // Every key pruned after it expired, then a node that never saw them starts on the
    // emptied store: still a new id.
    clock.advance(time::Duration::days(400));
    dp.ensure_key().await.unwrap();
    let report = dp.prune(std::time::Duration::ZERO, false).await.unwrap();
    assert!(!report.keys.is_empty(), "{report:?}");
    let left: Vec<KeyId> = dp.keys().iter().map(|k| k.id).collect();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let fresh = first_key(dir.path(), Some("Shop"), &clock).await;
    assert!(
        fresh != first && fresh != second && !left.contains(&fresh),
        "{fresh} is new: {first} {second} {left:?}"
    );
}
