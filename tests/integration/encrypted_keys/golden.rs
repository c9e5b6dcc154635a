//! The encrypted golden files in keyring-formats/golden: decoded (and used) forever.

use data_protection::xml_encryption::Kek;
use data_protection::{DecryptionError, KeyProblem, KeyStatus};
use time::macros::datetime;

use crate::common::{clock_at, golden_dir, memory_with, read_only};
use crate::support::vectors::{field, section};

fn golden(name: &str) -> String {
    std::fs::read_to_string(golden_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The golden KEK: bytes 0x80 to 0x9f, id `golden-kek-1`.
fn golden_kek() -> Kek {
    let bytes: Vec<u8> = (0x80u8..0xa0).collect();
    Kek::new("golden-kek-1", &bytes).unwrap()
}

async fn check(
    file: &str,
    with: impl Fn(data_protection::DataProtectionBuilder) -> data_protection::DataProtectionBuilder,
    without_secret: impl Fn(&DecryptionError) -> bool,
) {
    let repo = memory_with(&[("key-0f8fad5b-d9cb-469f-a165-70867728950e", golden(file))]).await;
    let clock = clock_at(datetime!(2024-02-01 0:00 UTC));
    let dp = with(read_only(repo.clone(), clock.clone()))
        .build()
        .await
        .unwrap();
    let keys = dp.keys();
    assert_eq!(
        keys[0].status,
        KeyStatus::Active,
        "{file}: {:?}",
        keys[0].problem
    );
    let v = section(&golden_dir().join("payloads.txt"), "string_protect_cbc");
    assert_eq!(
        dp.protector(["my purpose"])
            .unprotect_str(field(&v, "protected_base64url"))
            .unwrap(),
        field(&v, "plaintext_utf8"),
        "{file}"
    );
    let blind = read_only(repo, clock).build().await.unwrap();
    let keys = blind.keys();
    assert_eq!(keys[0].status, KeyStatus::Unreadable, "{file}");
    assert!(
        matches!(&keys[0].problem, Some(KeyProblem::Undecryptable { error, .. }) if without_secret(error)),
        "{file}: {:?}",
        keys[0].problem
    );
}

#[tokio::test]
async fn kek_golden_key() {
    check(
        "key-kek.xml",
        |b| b.unprotect_keys_with_keks([golden_kek()]),
        |e| matches!(e, DecryptionError::UnknownKek { id } if id == "golden-kek-1"),
    )
    .await;
}

#[cfg(feature = "certificates")]
#[tokio::test]
async fn certificate_golden_key() {
    let thumbprint = super::certificate::openssl_thumbprint(1);
    check(
        "key-certificate.xml",
        |b| b.unprotect_keys_with_any_certificate([super::certificate::cert(1)]),
        |e| matches!(e, DecryptionError::UnknownCertificate { thumbprint: t, .. } if *t == thumbprint),
    )
    .await;
}
