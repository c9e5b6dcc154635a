//! Two nodes sharing a directory: a payload protected with a key that another node created
//! after this node loaded its ring is read at once.

use std::time::{Duration, Instant};

use data_protection::DataProtection;

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

#[tokio::test]
async fn unknown_ids_are_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), true).await;
    let p = a.protector(["x"]);
    let mut forged = p.protect(b"x").unwrap();
    let start = Instant::now();
    let mut handles = Vec::new();
    for i in 0..50u8 {
        forged[4] = i;
        let (p, f) = (p.clone(), forged.clone());
        handles.push(tokio::spawn(async move { p.unprotect_async(&f).await }));
    }
    for h in handles {
        assert!(h.await.unwrap().is_err());
    }
    // 50 concurrent unknown ids share reloads spaced by the 1 s interval: well under 50 s.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}
