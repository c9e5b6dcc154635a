//! The key-encryption-key form.

use data_protection::xml_encryption::{Kek, KekError};
use data_protection::{DecryptionError, KeyProblem, KeyStatus};

use super::*;

fn kek(byte: u8) -> Kek {
    Kek::from_bytes(&[byte; 32]).unwrap()
}

#[tokio::test]
async fn master_keys_are_written_encrypted_and_read_back() {
    let repo = memory();
    let writer = node(&repo)
        .protect_keys_with_kek(kek(1))
        .build()
        .await
        .unwrap();
    let token = writer.protector(["p"]).protect_str("hello").unwrap();
    let xml = only_key_xml(&repo).await;
    assert!(
        xml.contains(
            "decryptorType=\"DataProtectionRs.XmlEncryption.KekXmlDecryptor, data-protection\""
        ),
        "{xml}"
    );
    assert!(
        xml.contains(&format!(
            "<kek id=\"{}\" algorithm=\"AES_256_GCM\" />",
            kek(1).id()
        )),
        "{xml}"
    );
    assert!(!xml.contains("masterKey"), "no plaintext master key: {xml}");
    assert!(
        !xml.contains("unencrypted form"),
        "the warning comment is inside the ciphertext"
    );

    let reader = node(&repo)
        .unprotect_keys_with_keks([kek(1)])
        .disable_automatic_key_generation()
        .build()
        .await
        .unwrap();
    assert_eq!(
        reader.protector(["p"]).unprotect_str(&token).unwrap(),
        "hello"
    );
    let info = &reader.keys()[0];
    assert_eq!(info.status, KeyStatus::Active);
    assert_eq!(
        info.encrypted_to.as_deref(),
        Some(format!("kek {}", kek(1).id()).as_str())
    );
}

#[tokio::test]
async fn rotation_writes_with_the_primary_and_reads_with_any() {
    let repo = memory();
    let old = node(&repo)
        .protect_keys_with_kek(kek(1))
        .build()
        .await
        .unwrap();
    let old_token = old.protector(["p"]).protect_str("old").unwrap();
    let new = node(&repo)
        .protect_keys_with_kek(kek(2))
        .unprotect_keys_with_keks([kek(1)])
        .build()
        .await
        .unwrap();
    let first = new.default_key().unwrap();
    new.create_key(
        time::OffsetDateTime::now_utc(),
        time::OffsetDateTime::now_utc() + time::Duration::days(90),
    )
    .await
    .unwrap();
    let keys = new.keys();
    assert_eq!(keys.len(), 2);
    for k in &keys {
        let expected = if k.id == first { kek(1) } else { kek(2) };
        assert_eq!(k.encrypted_to, Some(format!("kek {}", expected.id())));
        assert!(k.problem.is_none());
    }
    assert_eq!(
        new.protector(["p"]).unprotect_str(&old_token).unwrap(),
        "old"
    );
    // A node with only the new KEK reads only the new key.
    let partial = node(&repo)
        .protect_keys_with_kek(kek(2))
        .build()
        .await
        .unwrap();
    let unreadable: Vec<_> = partial
        .keys()
        .into_iter()
        .filter(|k| k.status == KeyStatus::Unreadable)
        .collect();
    assert_eq!(unreadable.len(), 1);
    assert_eq!(unreadable[0].id, first);
    assert!(matches!(
        &unreadable[0].problem,
        Some(KeyProblem::Undecryptable { error: DecryptionError::UnknownKek { id }, .. }) if id == kek(1).id()
    ));
}

#[tokio::test]
async fn a_node_without_the_kek_sees_the_key_unreadable_and_creates_none() {
    let repo = memory();
    node(&repo)
        .protect_keys_with_kek(kek(1))
        .build()
        .await
        .unwrap();
    for builder in [node(&repo), node(&repo).protect_keys_with_kek(kek(9))] {
        let dp = builder.build().await.unwrap();
        assert!(matches!(
            key_problem(&dp),
            KeyProblem::Undecryptable {
                error: DecryptionError::UnknownKek { .. },
                ..
            }
        ));
        assert_blocked(&dp, &repo, 1).await;
    }
}

/// Edits the KEK element of the only key, then checks the reader reports `expected`.
async fn damaged(edit: impl Fn(&str) -> String, expected: impl Fn(&DecryptionError) -> bool) {
    let repo = memory();
    node(&repo)
        .protect_keys_with_kek(kek(1))
        .build()
        .await
        .unwrap();
    let xml = only_key_xml(&repo).await;
    let bad = edit(&xml);
    assert_ne!(bad, xml);
    // Another id than the healthy key's (both stores derive the same first id).
    let id = between(&xml, "<key id=\"", "\"").to_owned();
    let bad = bad.replace(&id, "4a7b1c2d-0000-4000-8000-000000000001");
    // The damaged key next to a sound one, which keeps working.
    let other = memory();
    let healthy = node(&other)
        .protect_keys_with_kek(kek(1))
        .build()
        .await
        .unwrap();
    let token = healthy.protector(["p"]).protect_str("fine").unwrap();
    let element = data_protection::xml::XmlElement::parse(&bad).unwrap();
    other.store_element(&element, "key-damaged").await.unwrap();
    let dp = node(&other)
        .unprotect_keys_with_keks([kek(1)])
        .disable_automatic_key_generation()
        .build()
        .await
        .unwrap();
    let problems: Vec<_> = dp.keys().into_iter().filter_map(|k| k.problem).collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    match &problems[0] {
        KeyProblem::Undecryptable { error, .. } => assert!(expected(error), "{error:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(dp.protector(["p"]).unprotect_str(&token).unwrap(), "fine");
}

fn between<'a>(xml: &'a str, start: &str, end: &str) -> &'a str {
    let from = xml.find(start).unwrap() + start.len();
    let to = from + xml[from..].find(end).unwrap();
    &xml[from..to]
}

#[tokio::test]
async fn tampered_truncated_and_odd_elements_are_typed_errors() {
    // A flipped ciphertext byte.
    damaged(
        |xml| {
            let value = between(xml, "<value>", "</value>");
            let mut chars: Vec<char> = value.chars().collect();
            chars[4] = if chars[4] == 'A' { 'B' } else { 'A' };
            xml.replace(value, &chars.into_iter().collect::<String>())
        },
        |e| *e == DecryptionError::Failed,
    )
    .await;
    // Truncated base64.
    damaged(
        |xml| {
            let value = between(xml, "<value>", "</value>");
            xml.replace(value, &value[..value.len() - 3])
        },
        |e| matches!(e, DecryptionError::Malformed(_)),
    )
    .await;
    // The value moved under another KEK id is refused even with that KEK present.
    damaged(
        |xml| xml.replace(kek(1).id(), "kek-other"),
        |e| matches!(e, DecryptionError::UnknownKek { id } if id == "kek-other"),
    )
    .await;
    damaged(
        |xml| xml.replace("AES_256_GCM", "AES_128_CCM"),
        |e| matches!(e, DecryptionError::UnsupportedAlgorithm(_)),
    )
    .await;
    damaged(
        |xml| {
            let nonce = between(xml, "<nonce>", "</nonce>");
            xml.replace(nonce, "AAAA")
        },
        |e| matches!(e, DecryptionError::Malformed(_)),
    )
    .await;
}

#[test]
fn keks_load_from_bytes_base64_files_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw.kek");
    std::fs::write(&raw, [7u8; 32]).unwrap();
    let text = dir.path().join("text.kek");
    std::fs::write(
        &text,
        format!(
            "  {}\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32])
        ),
    )
    .unwrap();
    let id = Kek::from_bytes(&[7u8; 32]).unwrap().id().to_owned();
    assert!(id.starts_with("kek-") && id.len() == 20, "{id}");
    assert_eq!(Kek::from_file(&raw).unwrap().id(), id);
    assert_eq!(Kek::from_file(&text).unwrap().id(), id);
    assert_ne!(Kek::from_bytes(&[8u8; 32]).unwrap().id(), id);
    assert_eq!(Kek::new("prod-2026", &[7u8; 32]).unwrap().id(), "prod-2026");
    assert!(matches!(
        Kek::from_bytes(&[7u8; 31]),
        Err(KekError::BadLength(31))
    ));
    assert!(matches!(
        Kek::from_base64("not base64!"),
        Err(KekError::NotBase64)
    ));
    assert!(matches!(Kek::new("", &[7u8; 32]), Err(KekError::BadId)));
    assert!(matches!(
        Kek::new("has space", &[7u8; 32]),
        Err(KekError::BadId)
    ));
    assert!(matches!(
        Kek::from_file(dir.path().join("missing")),
        Err(KekError::Io { .. })
    ));
    assert!(matches!(
        Kek::from_env("DP_TEST_KEK_THAT_IS_NOT_SET"),
        Err(KekError::EnvNotSet(_))
    ));
    // The key never prints.
    let debug = format!("{:?}", Kek::from_bytes(&[7u8; 32]).unwrap());
    assert!(!debug.contains("7, 7") && debug.contains(&id), "{debug}");
}
