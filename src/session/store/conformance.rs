//! A conformance suite for [`SessionStore`] implementations.
//!
//! Both built-in stores run it, and so can yours: call [`run`] from an async test
//! (multi-threaded runtime) with a store whose keys no other test uses. It panics with a
//! message naming the rule that was broken. It sleeps about 1.5 s to watch entries expire.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::{Expected, SaveOutcome, SessionEntry, SessionStore};
use crate::session::SessionData;

fn entry(data: &SessionData, sliding: Duration) -> SessionEntry {
    SessionEntry {
        data: data.encode().expect("encodable"),
        absolute_expiration: None,
        sliding_expiration: Some(sliding),
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Runs every check against `store`. `prefix` is prepended to every session key and user
/// name the suite uses, so runs never collide.
pub async fn run(store: Arc<dyn SessionStore>, prefix: &str) {
    let name = store.describe();
    let key = format!("{prefix}-a");
    let idle = Duration::from_secs(600);
    assert_eq!(
        store.load(&key, now()).await.expect("load"),
        None,
        "{name}: a missing key loads as None"
    );

    let mut first = SessionData::new([1; 16]);
    first.set("name", b"value".to_vec());
    let first = entry(&first, idle);
    assert_eq!(
        store
            .save(&key, &first, Expected::Absent, now())
            .await
            .expect("save"),
        SaveOutcome::Saved,
        "{name}: saving an absent key with Expected::Absent succeeds"
    );
    assert_eq!(
        store.load(&key, now()).await.expect("load").as_ref(),
        Some(&first),
        "{name}: data and expirations round-trip exactly"
    );

    let mut second = SessionData::new([1; 16]);
    second.set("name", b"other".to_vec());
    let second = entry(&second, idle);
    match store.save(&key, &second, Expected::Absent, now()).await {
        Ok(SaveOutcome::Conflict(Some(current))) => {
            assert_eq!(current, first, "{name}: a conflict reports what is stored")
        }
        other => panic!("{name}: Expected::Absent on an existing key must conflict: {other:?}"),
    }
    match store
        .save(&key, &second, Expected::Data(b"stale"), now())
        .await
    {
        Ok(SaveOutcome::Conflict(Some(current))) => assert_eq!(current, first),
        other => panic!("{name}: Expected::Data with other bytes must conflict: {other:?}"),
    }
    assert_eq!(
        store
            .save(&key, &second, Expected::Data(&first.data), now())
            .await
            .expect("save"),
        SaveOutcome::Saved,
        "{name}: Expected::Data with the stored bytes succeeds"
    );
    assert_eq!(
        store.load(&key, now()).await.expect("load"),
        Some(second.clone())
    );

    store.refresh(&key, now()).await.expect("refresh");
    let missing = format!("{prefix}-missing");
    store
        .refresh(&missing, now())
        .await
        .expect("refreshing a missing key is no error");
    assert_eq!(
        store.load(&missing, now()).await.expect("load"),
        None,
        "{name}: refresh never creates an entry"
    );

    store.remove(&key).await.expect("remove");
    store
        .remove(&key)
        .await
        .expect("removing a missing key is no error");
    assert_eq!(
        store.load(&key, now()).await.expect("load"),
        None,
        "{name}: removed"
    );
    match store
        .save(&key, &second, Expected::Data(&second.data), now())
        .await
    {
        Ok(SaveOutcome::Conflict(None)) => {}
        other => {
            panic!("{name}: Expected::Data on a removed key must conflict with None: {other:?}")
        }
    }

    large_sessions(&store, &format!("{prefix}-large")).await;
    racing_writers_lose_nothing(&store, &format!("{prefix}-race")).await;
    user_index(&store, prefix).await;
    expiry(&store, prefix).await;
}

/// Compare-and-swap of sessions of several KiB (stores may compare digests): a one-byte
/// difference must still conflict.
async fn large_sessions(store: &Arc<dyn SessionStore>, key: &str) {
    let name = store.describe();
    let mut data = SessionData::new([5; 16]);
    data.set("big", vec![7; 8192]);
    let big = entry(&data, Duration::from_secs(600));
    store
        .save(key, &big, Expected::Absent, now())
        .await
        .expect("save");
    let mut almost = big.data.clone();
    *almost.last_mut().expect("non-empty") ^= 1;
    data.set("big", vec![8; 8192]);
    let next = entry(&data, Duration::from_secs(600));
    match store.save(key, &next, Expected::Data(&almost), now()).await {
        Ok(SaveOutcome::Conflict(Some(current))) => assert_eq!(current, big),
        other => panic!("{name}: a large session differing in one byte must conflict: {other:?}"),
    }
    assert_eq!(
        store
            .save(key, &next, Expected::Data(&big.data), now())
            .await
            .expect("save"),
        SaveOutcome::Saved,
        "{name}: a large session's compare-and-swap succeeds on equal data"
    );
    assert_eq!(store.load(key, now()).await.expect("load"), Some(next));
    store.remove(key).await.expect("remove");
}

/// 16 tasks each add their own entry with a compare-and-swap loop; all 16 must be there.
async fn racing_writers_lose_nothing(store: &Arc<dyn SessionStore>, key: &str) {
    let name = store.describe();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            let key = key.to_owned();
            tokio::spawn(async move {
                let mut current = store.load(&key, now()).await.expect("load");
                loop {
                    let mut data = match &current {
                        Some(e) => SessionData::decode(&e.data).expect("decodable"),
                        None => SessionData::new([2; 16]),
                    };
                    data.set(&format!("k{i}"), vec![i]);
                    let next = entry(&data, Duration::from_secs(600));
                    let expected = match &current {
                        Some(e) => Expected::Data(&e.data),
                        None => Expected::Absent,
                    };
                    match store
                        .save(&key, &next, expected, now())
                        .await
                        .expect("save")
                    {
                        SaveOutcome::Saved => break,
                        SaveOutcome::Conflict(c) => current = c,
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer task");
    }
    let stored = store
        .load(key, now())
        .await
        .expect("load")
        .expect("present");
    let data = SessionData::decode(&stored.data).expect("decodable");
    assert_eq!(
        data.len(),
        16,
        "{name}: concurrent compare-and-swap writers lost updates"
    );
    store.remove(key).await.expect("remove");
}

async fn user_index(store: &Arc<dyn SessionStore>, prefix: &str) {
    let name = store.describe();
    let user = format!("{prefix}-user ü");
    let ttl = Duration::from_secs(60);
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        store
            .swap_user_session(&user, "s1", ttl, now)
            .await
            .expect("swap"),
        None,
        "{name}: a user's first session replaces nothing"
    );
    assert_eq!(
        store
            .swap_user_session(&user, "s2", ttl, now)
            .await
            .expect("swap")
            .as_deref(),
        Some("s1"),
        "{name}: the swap returns the previous session"
    );
    let other = format!("{prefix}-other");
    assert_eq!(
        store
            .swap_user_session(&other, "s3", ttl, now)
            .await
            .expect("swap"),
        None
    );
    assert_eq!(
        store
            .swap_user_session(&user, "s4", ttl, now)
            .await
            .expect("swap")
            .as_deref(),
        Some("s2"),
        "{name}: users are independent"
    );
}

async fn expiry(store: &Arc<dyn SessionStore>, prefix: &str) {
    let name = store.describe();
    let data = SessionData::new([3; 16]).encode().expect("encodable");
    let sliding = format!("{prefix}-sliding");
    let absolute = format!("{prefix}-absolute");
    let forever = format!("{prefix}-forever");
    let deferred = format!("{prefix}-deferred");
    // Margins of 300-400 ms on every step, so a loaded machine does not fail it.
    let short = SessionEntry {
        data: data.clone(),
        absolute_expiration: None,
        sliding_expiration: Some(Duration::from_millis(1200)),
    };
    let capped = SessionEntry {
        data: data.clone(),
        absolute_expiration: Some(now() + Duration::from_millis(1200)),
        sliding_expiration: Some(Duration::from_secs(600)),
    };
    for (k, e) in [
        (&sliding, &short),
        (&absolute, &capped),
        (&deferred, &short),
    ] {
        store
            .save(k, e, Expected::Absent, now())
            .await
            .expect("save");
    }
    let long = entry(&SessionData::new([4; 16]), Duration::from_secs(600));
    store
        .save(&forever, &long, Expected::Absent, now())
        .await
        .expect("save");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        store.load(&sliding, now()).await.expect("load").is_some(),
        "{name}: alive within its sliding expiration"
    );
    // The layer's path: a load that may leave the refresh to the caller, then the refresh.
    let (loaded, refreshed) = store
        .load_deferring_refresh(&deferred, now())
        .await
        .expect("load_deferring_refresh");
    let loaded = loaded.unwrap_or_else(|| panic!("{name}: a deferred load finds the entry"));
    assert_eq!(
        loaded.data, short.data,
        "{name}: a deferred load gives the data as saved"
    );
    if !refreshed {
        store
            .refresh_loaded(&deferred, &loaded, now())
            .await
            .expect("refresh_loaded");
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        store.load(&sliding, now()).await.expect("load").is_some(),
        "{name}: a load restarts the sliding expiration"
    );
    assert!(
        store.load(&deferred, now()).await.expect("load").is_some(),
        "{name}: refresh_loaded after a deferred load restarts the sliding expiration"
    );
    assert_eq!(
        store
            .load_deferring_refresh(&absolute, now())
            .await
            .expect("load_deferring_refresh")
            .0,
        None,
        "{name}: a deferred load does not give an entry past its absolute expiration"
    );
    assert_eq!(
        store.load(&absolute, now()).await.expect("load"),
        None,
        "{name}: gone after its absolute expiration, however recently used"
    );
    tokio::time::sleep(Duration::from_millis(1400)).await;
    assert_eq!(
        store.load(&sliding, now()).await.expect("load"),
        None,
        "{name}: gone after its sliding expiration without use"
    );
    assert!(store.load(&forever, now()).await.expect("load").is_some());
    store.remove(&forever).await.expect("remove");
}
