//! `DataProtection::health()` through a key's life: healthy, successor due, store failing,
//! default key unreadable.

use std::sync::Arc;
use std::time::Duration;

use data_protection::repository::DirectoryRepository;
use data_protection::{Clock, DataProtection, HealthStatus, ManualClock, StoreErrorKind};
use time::macros::datetime;

const DAY: time::Duration = time::Duration::days(1);

#[tokio::test]
async fn health_follows_the_ring_through_rotation_and_store_failures() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let clock = Arc::new(ManualClock::new(datetime!(2026-01-01 0:00 UTC)));
    let dp = DataProtection::builder()
        .application_name("Health")
        .persist_keys_to(DirectoryRepository::new(&keys))
        .clock(clock.clone())
        .background_refresh(false)
        .build()
        .await
        .unwrap();

    let h = dp.health();
    assert_eq!(h.status, HealthStatus::Healthy, "{h:?}");
    let first = h.default_key.unwrap();
    assert_eq!(h.loaded_at, Some(datetime!(2026-01-01 0:00 UTC)));
    assert_eq!(h.ring_age, Some(Duration::ZERO));
    assert!(!h.default_is_fallback);
    assert_eq!(h.successor, None);
    // 90-day key; the successor is due 1 day (refresh) + 2 days (propagation) before expiry.
    assert_eq!(
        h.successor_needed_in,
        Some(Duration::from_secs(87 * 86_400))
    );

    clock.advance(DAY * 88);
    let h = dp.health();
    assert_eq!(h.successor_needed_in, Some(Duration::ZERO));
    assert_eq!(h.status, HealthStatus::Degraded, "successor overdue");
    assert_eq!(h.ring_age, Some(Duration::from_secs(88 * 86_400)));

    let outcome = dp.ensure_key().await.unwrap();
    let successor = outcome.created.unwrap();
    let h = dp.health();
    assert_eq!(h.status, HealthStatus::Healthy, "{h:?}");
    assert_eq!(h.default_key, Some(first));
    assert_eq!(h.successor, Some(successor));
    assert_eq!(h.successor_needed_in, None);

    // The store fails: the ring keeps serving, health says so and why.
    std::fs::rename(&keys, dir.path().join("moved")).unwrap();
    std::fs::write(&keys, b"not a directory").unwrap();
    assert!(dp.refresh().await.is_err());
    let h = dp.health();
    assert_eq!(h.status, HealthStatus::Degraded);
    assert_eq!(h.default_key, Some(first));
    let failure = h.last_refresh_error.expect("the failure is reported");
    assert_eq!(failure.store_error_kind, Some(StoreErrorKind::Unavailable));
    assert_eq!(failure.at, clock.now());
    assert!(dp.protector(["p"]).protect(b"x").is_ok());

    // It recovers.
    std::fs::remove_file(&keys).unwrap();
    std::fs::rename(dir.path().join("moved"), &keys).unwrap();
    dp.refresh().await.unwrap();
    assert_eq!(dp.health().status, HealthStatus::Healthy);
    assert_eq!(dp.health().last_refresh_error, None);
}

#[tokio::test]
async fn an_unreadable_default_key_is_unhealthy() {
    let dir = tempfile::tempdir().unwrap();
    // A key ASP.NET protected with DPAPI on Windows: old enough to be everyone's default.
    let id = "11111111-2222-3333-4444-555555555555";
    std::fs::write(
        dir.path().join(format!("key-{id}.xml")),
        format!(
            "<key id='{id}' version='1'><creationDate>2026-01-01T00:00:00Z</creationDate>\
             <activationDate>2026-01-01T00:00:00Z</activationDate>\
             <expirationDate>2026-04-01T00:00:00Z</expirationDate>\
             <descriptor deserializerType='Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer, Microsoft.AspNetCore.DataProtection'>\
             <descriptor><encryption algorithm='AES_256_CBC'/><validation algorithm='HMACSHA256'/>\
             <encryptedSecret decryptorType='Microsoft.AspNetCore.DataProtection.XmlEncryption.DpapiXmlDecryptor, Microsoft.AspNetCore.DataProtection' xmlns='http://schemas.asp.net/2015/03/dataProtection'>\
             <encryptedKey><value>AQAAANCM</value></encryptedKey></encryptedSecret></descriptor></descriptor></key>"
        ),
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-02-01 0:00 UTC)));
    let dp = DataProtection::builder()
        .persist_keys_to_directory(dir.path())
        .clock(clock)
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    let h = dp.health();
    assert_eq!(h.status, HealthStatus::Unhealthy, "{h:?}");
    assert_eq!(h.default_key, None);
    assert_eq!(h.unreadable_keys, [id.parse().unwrap()]);
    assert_eq!(dp.keys().len(), 1, "no key was created in its place");
}
