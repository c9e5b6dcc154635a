//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use data_protection::repository::{MemoryRepository, XmlRepository};
use data_protection::xml::XmlElement;
use data_protection::{DataProtection, DataProtectionBuilder, ManualClock};
use time::OffsetDateTime;

/// `keyring-formats/golden` in the repository.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("keyring-formats/golden")
}

/// A memory store holding the given XML documents, named as their file stems.
pub async fn memory_with(docs: &[(&str, String)]) -> Arc<dyn XmlRepository> {
    let repo: Arc<dyn XmlRepository> = Arc::new(MemoryRepository::new());
    for (name, xml) in docs {
        let element = XmlElement::parse(xml).unwrap_or_else(|e| panic!("{name}: {e}"));
        repo.store_element(&element, name).await.expect("store");
    }
    repo
}

/// A builder with a manual clock, no background task and no key generation.
pub fn read_only(repo: Arc<dyn XmlRepository>, clock: Arc<ManualClock>) -> DataProtectionBuilder {
    DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to_shared(repo)
        .clock(clock)
        .background_refresh(false)
        .disable_automatic_key_generation()
}

pub fn clock_at(t: OffsetDateTime) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(t))
}

/// For child-process nodes: publishes this node's payload in `out` (written, then renamed, so
/// readers never see half a file), then unprotects every other node's as soon as it appears.
pub async fn exchange_tokens(p: &data_protection::Protector, out: &Path, id: usize, nodes: usize) {
    let token = p.protect(format!("node {id}").as_bytes()).unwrap();
    let tmp = out.join(format!(".token-{id}"));
    std::fs::write(&tmp, &token).unwrap();
    std::fs::rename(&tmp, out.join(format!("token-{id}"))).unwrap();
    for other in 0..nodes {
        let path = out.join(format!("token-{other}"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !path.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "node {other} never wrote"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let theirs = std::fs::read(&path).unwrap();
        let plain = p
            .unprotect_async(&theirs)
            .await
            .expect("another node's payload");
        assert_eq!(plain, format!("node {other}").as_bytes());
    }
}
