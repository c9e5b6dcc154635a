//! Both encrypted forms through every kind of store, against the real servers
//! `scripts/backends.sh` starts.

use data_protection::repository::{DirectoryRepository, MemoryRepository};
use data_protection::xml_encryption::Kek;
use data_protection::{DecryptionError, KeyProblem, KeyStatus};

use super::*;

/// One way of protecting keys: what a writer and a reader configure.
#[derive(Clone, Copy, Debug)]
enum Protection {
    Kek,
    #[cfg(feature = "certificates")]
    Certificate,
}

const PROTECTIONS: &[Protection] = &[
    Protection::Kek,
    #[cfg(feature = "certificates")]
    Protection::Certificate,
];

impl Protection {
    fn writer(self, b: DataProtectionBuilder) -> DataProtectionBuilder {
        match self {
            Self::Kek => b.protect_keys_with_kek(Kek::from_bytes(&[3; 32]).unwrap()),
            #[cfg(feature = "certificates")]
            Self::Certificate => b.protect_keys_with_certificate(super::certificate::cert(1)),
        }
    }

    fn reader(self, b: DataProtectionBuilder) -> DataProtectionBuilder {
        match self {
            Self::Kek => b.unprotect_keys_with_keks([Kek::from_bytes(&[3; 32]).unwrap()]),
            #[cfg(feature = "certificates")]
            Self::Certificate => {
                b.unprotect_keys_with_any_certificate([super::certificate::cert(1)])
            }
        }
    }

    fn lacks_it(self, error: &DecryptionError) -> bool {
        match self {
            Self::Kek => matches!(error, DecryptionError::UnknownKek { .. }),
            #[cfg(feature = "certificates")]
            Self::Certificate => matches!(error, DecryptionError::UnknownCertificate { .. }),
        }
    }
}

/// Writer, reader with the secret, reader without it, on `open` (each call a new client).
async fn round_trip(store: &str, open: impl Fn() -> Arc<dyn XmlRepository>) {
    for &protection in PROTECTIONS {
        let what = format!("{store} / {protection:?}");
        let repo = open();
        let writer = protection.writer(node(&repo)).build().await.unwrap();
        let token = writer.protector(["p"]).protect_str(&what).unwrap();
        let now = time::OffsetDateTime::now_utc();
        writer
            .create_key(now, now + time::Duration::days(90))
            .await
            .unwrap();
        let texts = stored(&repo).await;
        assert_eq!(texts.len(), 2, "{what}");
        for t in &texts {
            assert!(
                !t.xml.contains("masterKey"),
                "{what}: plaintext master key stored"
            );
            assert!(t.xml.contains("encryptedSecret"), "{what}");
        }

        let repo = open();
        let reader = protection
            .reader(node(&repo))
            .disable_automatic_key_generation()
            .build()
            .await
            .unwrap();
        assert_eq!(reader.protector(["p"]).unprotect_str(&token).unwrap(), what);
        assert!(
            reader
                .keys()
                .iter()
                .all(|k| k.status != KeyStatus::Unreadable && k.encrypted_to.is_some()),
            "{what}"
        );

        let repo = open();
        let blind = node(&repo).build().await.unwrap();
        let keys = blind.keys();
        assert_eq!(keys.len(), 2, "{what}: the keys are listed, not absent");
        for k in &keys {
            assert_eq!(k.status, KeyStatus::Unreadable, "{what}");
            assert!(
                matches!(&k.problem, Some(KeyProblem::Undecryptable { error, .. }) if protection.lacks_it(error)),
                "{what}: {:?}",
                k.problem
            );
        }
        assert_blocked(&blind, &repo, 2).await;
        assert!(
            blind.protector(["p"]).unprotect_str(&token).is_err(),
            "{what}"
        );
        // Clean up for the next protection (same store location).
        let names: Vec<String> = keys.iter().map(|k| format!("key-{}", k.id)).collect();
        repo.delete_elements(&names).await.unwrap();
    }
}

#[tokio::test]
async fn memory_store() {
    let shared: Arc<dyn XmlRepository> = Arc::new(MemoryRepository::new());
    round_trip("memory", || shared.clone()).await;
}

#[tokio::test]
async fn directory_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    round_trip("directory", || Arc::new(DirectoryRepository::new(&path))).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_store() {
    let list = crate::backends::unique("encrypted-keys");
    round_trip("redis", || Arc::new(crate::redis_store::repo(&list))).await;
    crate::redis_store::delete(&list).await;
}

#[cfg(feature = "object-store")]
#[tokio::test]
async fn blob_stores() {
    use crate::blob_store::{Backend, Fixture};
    use data_protection::repository::BlobLayout;
    for (backend, layout) in [
        (Backend::S3, BlobLayout::PerObject),
        (Backend::Azure, BlobLayout::SingleBlob),
        (Backend::S3, BlobLayout::SingleBlob),
        (Backend::Local, BlobLayout::PerObject),
    ] {
        let fixture = Fixture::new(backend, layout);
        round_trip(&format!("{backend:?} {layout:?}"), || {
            Arc::new(fixture.repo())
        })
        .await;
    }
}
