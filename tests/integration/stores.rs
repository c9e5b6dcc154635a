//! The store conformance suite on the built-in stores, and the directory layout.

use std::sync::Arc;

use data_protection::repository::{DirectoryRepository, MemoryRepository, conformance};
use data_protection::{DataProtection, Error, KeyStatus, RingProblem};

#[tokio::test]
async fn memory_store_conforms() {
    conformance::run(Arc::new(MemoryRepository::new()), true).await;
}

#[tokio::test]
async fn directory_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run(
        Arc::new(DirectoryRepository::new(dir.path().join("keys"))),
        true,
    )
    .await;
}

#[tokio::test]
async fn directory_layout_matches_aspnet() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("nested/keys");
    let dp = DataProtection::builder()
        .persist_keys_to_directory(&keys)
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    let id = dp.default_key().unwrap();
    let file = keys.join(format!("key-{id}.xml"));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<key id=\""));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    let mut names: Vec<_> = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "no temporary files left behind: {names:?}");
    assert_eq!(
        names[0],
        data_protection::repository::RING_ID_FILE,
        "{names:?}"
    );
    assert!(
        names[1].starts_with("key-") && names[1].ends_with(".xml"),
        "{names:?}"
    );

    dp.revoke_key(id, "rotating").await.unwrap();
    assert!(keys.join(format!("revocation-{id}.xml")).exists());
}

#[tokio::test]
async fn bad_files_are_reported_but_never_stop_the_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let dp = DataProtection::builder()
        .persist_keys_to_directory(dir.path())
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    let p = dp.protector(["p"]);
    let token = p.protect(b"still fine").unwrap();
    std::fs::write(
        dir.path().join("key-garbage.xml"),
        b"\xff\xfe not xml at all",
    )
    .unwrap();
    std::fs::write(dir.path().join("key-11111111-2222-3333-4444-555555555555.xml"),
        "<key id='11111111-2222-3333-4444-555555555555' version='1'><creationDate>2024-01-01T00:00:00Z</creationDate><activationDate>2024-01-01T00:00:00Z</activationDate><expirationDate>2099-01-01T00:00:00Z</expirationDate><descriptor deserializerType='Some.Other.Deserializer, X'><descriptor/></descriptor></key>").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
    std::fs::write(dir.path().join("0a0b.tmp"), b"<half").unwrap();
    dp.refresh().await.unwrap();
    assert_eq!(p.unprotect(&token).unwrap(), b"still fine");
    let problems = dp.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.to_string().contains("key-garbage")),
        "{problems:?}"
    );
    let odd = dp
        .keys()
        .into_iter()
        .find(|k| k.id.to_string().starts_with("11111111"))
        .unwrap();
    assert_eq!(odd.status, KeyStatus::Unreadable);
    // Older than the propagation window, it is the key every node picks as default. This node
    // cannot read it: fail closed, no protect, no replacement key (that would fork the ring),
    // and the problem is reported; the other keys still unprotect.
    assert!(odd.is_default);
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, RingProblem::UnreadableDefaultKey { id, .. } if *id == odd.id)),
        "{problems:?}"
    );
    assert!(matches!(
        p.protect(b"new"),
        Err(Error::DefaultKeyUnreadable { id, .. }) if id == odd.id
    ));
    let outcome = dp.ensure_key().await.unwrap();
    assert_eq!(outcome.created, None);
    assert_eq!(outcome.blocked_by_unreadable, Some(odd.id));
    assert_eq!(dp.keys().len(), 2, "no key was created");

    // A revocation that cannot be read makes the new ring untrustworthy: refresh fails and
    // the ring already loaded stays in use.
    std::fs::write(
        dir.path().join("revocation-broken.xml"),
        "<revocation><key id='not-a-guid'/></revocation>",
    )
    .unwrap();
    assert!(matches!(
        dp.refresh().await,
        Err(Error::InvalidKeyRing { .. })
    ));
    assert_eq!(p.unprotect(&token).unwrap(), b"still fine");
}

#[tokio::test]
async fn an_unreadable_directory_is_an_error_not_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let err = DataProtection::builder()
        .persist_keys_to_directory(&not_a_dir)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err}");
    assert_eq!(std::fs::read(&not_a_dir).unwrap(), b"x");
}

/// Kubernetes mounts a Secret or ConfigMap as symlinks into a hidden `..data` directory.
#[cfg(unix)]
#[tokio::test]
async fn symlinked_key_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    let writer = DataProtection::builder()
        .persist_keys_to_directory(&real)
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    let token = writer.protector(["p"]).protect(b"mounted").unwrap();
    let mounted = dir.path().join("mounted");
    std::fs::create_dir(&mounted).unwrap();
    std::os::unix::fs::symlink(&real, mounted.join("..data")).unwrap();
    for entry in std::fs::read_dir(&real).unwrap() {
        let name = entry.unwrap().file_name();
        std::os::unix::fs::symlink(
            std::path::Path::new("..data").join(&name),
            mounted.join(&name),
        )
        .unwrap();
    }
    let reader = DataProtection::builder()
        .persist_keys_to_directory(&mounted)
        .disable_automatic_key_generation()
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    assert_eq!(reader.keys().len(), 1);
    assert_eq!(
        reader.protector(["p"]).unprotect(&token).unwrap(),
        b"mounted"
    );
}
