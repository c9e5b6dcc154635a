//! Master keys encrypted at rest: KEK and certificate forms, rotation, nodes lacking the
//! secret, damaged elements, an independent XML Encryption implementation, every store.

mod certificate;
mod golden;
mod kek;
mod stores;
#[cfg(feature = "certificates")]
mod xmlsec;

use std::path::PathBuf;
use std::sync::Arc;

use data_protection::repository::{MemoryRepository, StoredElement, XmlRepository};
use data_protection::{DataProtection, DataProtectionBuilder, KeyProblem, RingProblem};

/// The committed test certificates (see `tests/fixtures/certs/README.md`).
pub fn cert_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/certs")
        .join(name)
}

/// A builder on `repo` with no background task.
pub fn node(repo: &Arc<dyn XmlRepository>) -> DataProtectionBuilder {
    DataProtection::builder()
        .application_name("EncryptedApp")
        .persist_keys_to_shared(repo.clone())
        .background_refresh(false)
}

pub fn memory() -> Arc<dyn XmlRepository> {
    Arc::new(MemoryRepository::new())
}

pub async fn stored(repo: &Arc<dyn XmlRepository>) -> Vec<StoredElement> {
    repo.get_all_elements().await.expect("store read")
}

/// The one stored key element's text.
pub async fn only_key_xml(repo: &Arc<dyn XmlRepository>) -> String {
    let all = stored(repo).await;
    assert_eq!(all.len(), 1, "exactly one element in the store");
    all[0].xml.to_string()
}

/// The problem of the only key of `dp`.
pub fn key_problem(dp: &DataProtection) -> KeyProblem {
    let keys = dp.keys();
    assert_eq!(keys.len(), 1, "{keys:?}");
    keys[0].problem.clone().expect("the key is unreadable")
}

/// A node that cannot read the default key: no key created, nothing protected, the
/// problem reported.
pub async fn assert_blocked(dp: &DataProtection, repo: &Arc<dyn XmlRepository>, before: usize) {
    assert!(dp.default_key().is_none());
    assert!(
        dp.problems()
            .iter()
            .any(|p| matches!(p, RingProblem::UnreadableDefaultKey { .. })),
        "{:?}",
        dp.problems()
    );
    let outcome = dp.ensure_key().await.expect("ensure");
    assert!(outcome.created.is_none(), "{outcome:?}");
    assert!(outcome.blocked_by_unreadable.is_some(), "{outcome:?}");
    assert_eq!(stored(repo).await.len(), before, "no key was created");
    assert!(matches!(
        dp.protector(["p"]).protect(b"x"),
        Err(data_protection::Error::DefaultKeyUnreadable { .. })
    ));
}
