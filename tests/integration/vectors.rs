//! The known-answer data in ../shared/vectors: derived end-to-end payloads are unprotected
//! with the derived key files and reproduced byte for byte with injected randomness.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use data_protection::TIME_LIMITED_PURPOSE;
use data_protection::testing::InsecureSequentialRandom;
use time::macros::datetime;

use crate::common::*;
use crate::support::vectors::{field, section, vectors_dir};

const CBC_KEY: &str = "key-0f8fad5b-d9cb-469f-a165-70867728950e";

fn cbc_key_xml() -> String {
    std::fs::read_to_string(vectors_dir().join("derived").join(format!("{CBC_KEY}.xml"))).unwrap()
}

/// The GCM vector was made with the CBC key's id and master key but AES-256-GCM: the same
/// key file with the GCM descriptor.
fn gcm_key_with_cbc_id() -> String {
    let gcm = std::fs::read_to_string(
        vectors_dir().join("derived/key-5c1f5e2a-3b4d-4e6f-8a9b-0c1d2e3f4a5b.gcm.xml"),
    )
    .unwrap();
    gcm.replace(
        "5c1f5e2a-3b4d-4e6f-8a9b-0c1d2e3f4a5b",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
    )
}

async fn provider(key_xml: String, sequential: bool) -> data_protection::DataProtection {
    let repo = memory_with(&[(CBC_KEY, key_xml)]).await;
    let mut b = read_only(repo, clock_at(datetime!(2024-02-01 0:00 UTC)));
    if sequential {
        b = b.random(Arc::new(InsecureSequentialRandom::new()));
    }
    b.build().await.unwrap()
}

fn check_vector(section_name: &str, key_xml: fn() -> String, purposes: &[&str]) {
    let file = vectors_dir().join("derived/protect_vectors.txt");
    let v = section(&file, section_name);
    let expected = hex::decode(field(&v, "protected_hex")).unwrap();
    let plaintext = field(&v, "plaintext_utf8").to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dp = provider(key_xml(), false).await;
        let p = dp.protector(purposes.iter().copied());
        assert_eq!(
            p.unprotect(&expected).unwrap(),
            plaintext.as_bytes(),
            "{section_name}: unprotect"
        );
        let dp = provider(key_xml(), true).await;
        let p = dp.protector(purposes.iter().copied());
        assert_eq!(
            p.protect(plaintext.as_bytes()).unwrap(),
            expected,
            "{section_name}: protect"
        );
    });
}

#[test]
fn string_protect_cbc() {
    check_vector("string_protect_cbc", cbc_key_xml, &["my purpose"]);
    let v = section(
        &vectors_dir().join("derived/protect_vectors.txt"),
        "string_protect_cbc",
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dp = provider(cbc_key_xml(), false).await;
        let p = dp.protector(["my purpose"]);
        assert_eq!(
            p.unprotect_str(field(&v, "protected_base64url")).unwrap(),
            "Hello, world!"
        );
        let dp = provider(cbc_key_xml(), true).await;
        assert_eq!(
            dp.protector(["my purpose"])
                .protect_str("Hello, world!")
                .unwrap(),
            field(&v, "protected_base64url")
        );
    });
}

#[test]
fn string_protect_gcm() {
    check_vector("string_protect_gcm", gcm_key_with_cbc_id, &["my purpose"]);
}

#[test]
fn session_cookie_cbc() {
    check_vector("session_cookie_cbc", cbc_key_xml, &["SessionMiddleware"]);
    let v = section(
        &vectors_dir().join("derived/protect_vectors.txt"),
        "session_cookie_cbc",
    );
    let bytes = hex::decode(field(&v, "protected_hex")).unwrap();
    assert_eq!(
        STANDARD_NO_PAD.encode(&bytes),
        field(&v, "cookie_value_base64_trimmed")
    );
}

#[test]
fn time_limited_payload_header() {
    // The expiration header ASP.NET writes: u64be ticks, inside a payload for purposes
    // [..., TimeLimitedDataProtector.v1].
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dp = provider(cbc_key_xml(), false).await;
        let tl = dp.protector(["p"]).time_limited();
        let token = tl
            .protect(&[1, 2, 3, 4, 5], datetime!(2030-01-01 0:00 UTC))
            .unwrap();
        let inner = dp
            .protector(["p", TIME_LIMITED_PURPOSE])
            .unprotect(&token)
            .unwrap();
        let expected_2030 = hex::decode("08e2c4d7c27cc000").unwrap();
        assert_eq!(
            &inner[..8],
            expected_2030.as_slice(),
            "2030-01-01 in .NET ticks"
        );
        assert_eq!(&inner[8..], &[1, 2, 3, 4, 5]);
        // The vector's own example: expiration 2000-01-01, long past: authentic but expired.
        let example = hex::decode("08c1220247e440000102030405").unwrap();
        let old = dp
            .protector(["p", TIME_LIMITED_PURPOSE])
            .protect(&example)
            .unwrap();
        match tl.unprotect(&old) {
            Err(data_protection::Error::PayloadExpired(at)) => {
                assert_eq!(at, datetime!(2000-01-01 0:00 UTC));
            }
            other => panic!("expected PayloadExpired, got {other:?}"),
        }
        let _ = URL_SAFE_NO_PAD;
    });
}
