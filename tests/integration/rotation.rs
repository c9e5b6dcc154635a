//! Rotation over simulated months: every payload protected along the way keeps
//! unprotecting until its key is revoked; a store that fails never causes a new key.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use data_protection::repository::{MemoryRepository, StoreOutcome, StoredElement, XmlRepository};
use data_protection::xml::XmlElement;
use data_protection::{DataProtection, Error, KeyStatus, ManualClock, StoreError, StoreErrorKind};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

#[tokio::test]
async fn a_year_of_rotation_keeps_every_payload_readable() {
    let clock = Arc::new(ManualClock::new(START));
    let repo = Arc::new(MemoryRepository::new());
    let node = |generate: bool| {
        let b = DataProtection::builder()
            .application_name("MyApp")
            .persist_keys_to_shared(repo.clone())
            .clock(clock.clone())
            .background_refresh(false);
        if generate {
            b
        } else {
            b.disable_automatic_key_generation()
        }
    };
    let writer = node(true).build().await.unwrap();
    let reader = node(false).build().await.unwrap();
    let (pw, pr) = (writer.protector(["walk"]), reader.protector(["walk"]));
    let mut issued: Vec<(Vec<u8>, String)> = Vec::new();
    let mut defaults = Vec::new();
    let step = Duration::hours(6);
    let mut now = START;
    while now < START + Duration::days(365) {
        // Each node refreshes on its own schedule: the writer every 6 h, the reader daily.
        writer.ensure_key().await.unwrap();
        if (now - START).whole_hours() % 24 == 0 {
            reader.ensure_key().await.unwrap();
        }
        let keys = writer.keys();
        let default = keys
            .iter()
            .find(|k| k.is_default)
            .expect("always a default key");
        assert!(
            default.status == KeyStatus::Active,
            "default must be active at {now}"
        );
        assert!(default.expiration > now);
        if defaults.last() != Some(&default.id) {
            defaults.push(default.id);
        }
        let label = format!("{now}");
        issued.push((pw.protect(label.as_bytes()).unwrap(), label.clone()));
        issued.push((pr.protect(label.as_bytes()).unwrap(), label));
        // Everything issued so far still unprotects on both nodes.
        let (tok, text) = &issued[issued.len() / 2];
        assert_eq!(pr.unprotect(tok).unwrap(), text.as_bytes());
        assert_eq!(pw.unprotect(tok).unwrap(), text.as_bytes());
        now += step;
        clock.set(now);
    }
    for (tok, text) in &issued {
        assert_eq!(pw.unprotect(tok).unwrap(), text.as_bytes());
        assert_eq!(pr.unprotect(tok).unwrap(), text.as_bytes());
    }
    // 365 days with 90-day keys: the first key plus four successors, each created ahead.
    assert_eq!(defaults.len(), 5, "{defaults:?}");
    let keys = writer.keys();
    assert_eq!(keys.len(), 5, "no extra keys were created: {keys:?}");
    for pair in keys.windows(2) {
        assert_eq!(
            pair[1].activation, pair[0].expiration,
            "successor activates at expiry"
        );
        assert!(
            pair[1].created <= pair[1].activation - Duration::days(2),
            "created ahead"
        );
    }

    // Revoking one key breaks exactly its payloads.
    let victim = defaults[1];
    writer.revoke_key(victim, "test").await.unwrap();
    reader.refresh().await.unwrap();
    let (mut broken, mut fine) = (0, 0);
    for (tok, text) in &issued {
        match pr.unprotect(tok) {
            Ok(p) => {
                assert_eq!(p, text.as_bytes());
                fine += 1;
            }
            Err(Error::InvalidPayload) => broken += 1,
            Err(e) => panic!("{e}"),
        }
    }
    let by_victim = issued
        .iter()
        .filter(|(tok, _)| tok[4..20] == victim.to_guid_bytes())
        .count();
    assert_eq!(broken, by_victim);
    assert!(broken > 0 && fine > 0);
}

/// A store that can be made to fail.
#[derive(Debug)]
struct Flaky {
    inner: MemoryRepository,
    down: AtomicBool,
}

#[async_trait]
impl XmlRepository for Flaky {
    async fn get_all_elements(&self) -> Result<Vec<StoredElement>, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "flaky",
                "down",
            ));
        }
        self.inner.get_all_elements().await
    }
    async fn store_element(&self, e: &XmlElement, n: &str) -> Result<StoreOutcome, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "flaky",
                "down",
            ));
        }
        self.inner.store_element(e, n).await
    }
    fn describe(&self) -> String {
        "flaky".into()
    }
}

#[tokio::test]
async fn a_store_that_blinks_never_causes_a_new_key() {
    let clock = Arc::new(ManualClock::new(START));
    let repo = Arc::new(Flaky {
        inner: MemoryRepository::new(),
        down: AtomicBool::new(true),
    });
    let build = || {
        DataProtection::builder()
            .persist_keys_to_shared(repo.clone())
            .clock(clock.clone())
            .background_refresh(false)
            .build()
    };
    let err = build().await.unwrap_err();
    assert!(
        matches!(&err, Error::Store(e) if e.kind() == StoreErrorKind::Unavailable),
        "{err}"
    );
    repo.down.store(false, Ordering::SeqCst);
    let dp = build().await.unwrap();
    let p = dp.protector(["p"]);
    let token = p.protect(b"before").unwrap();
    let first = dp.default_key().unwrap();

    // Down for the whole time the successor is due and past the key's expiry.
    repo.down.store(true, Ordering::SeqCst);
    for _ in 0..100 {
        clock.advance(Duration::days(1));
        assert!(dp.ensure_key().await.is_err());
        assert_eq!(p.unprotect(&token).unwrap(), b"before");
        let t = p
            .protect(b"during")
            .expect("protect keeps working with the loaded ring");
        assert_eq!(p.unprotect(&t).unwrap(), b"during");
    }
    assert_eq!(
        repo.inner.get_all_elements().await.unwrap().len(),
        1,
        "no key created while down"
    );

    // Back: the node catches up by itself on its next refresh.
    repo.down.store(false, Ordering::SeqCst);
    let outcome = dp.ensure_key().await.unwrap();
    assert!(outcome.created.is_some());
    assert_ne!(dp.default_key(), Some(first));
    assert_eq!(p.unprotect(&token).unwrap(), b"before");
}

#[tokio::test]
async fn startup_waits_for_the_store_when_asked() {
    let repo = Arc::new(Flaky {
        inner: MemoryRepository::new(),
        down: AtomicBool::new(true),
    });
    let r2 = repo.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        r2.down.store(false, Ordering::SeqCst);
    });
    let dp = DataProtection::builder()
        .persist_keys_to_shared(repo)
        .startup_wait(std::time::Duration::from_secs(10))
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    assert!(dp.default_key().is_some());
}
