//! Golden files in keyring-formats/golden: decoded (and used) forever.

use data_protection::xml::XmlElement;
use data_protection::{Error, KeyProblem, KeyStatus};
use time::macros::datetime;

use crate::common::*;
use crate::support::vectors::{field, section, vectors_dir};

fn golden(name: &str) -> String {
    std::fs::read_to_string(golden_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Loads one golden key into a ring and unprotects the payload section made with it.
async fn unprotect_golden(key_file: &str, payload_section: &str) {
    let repo = memory_with(&[("key-golden", golden(key_file))]).await;
    let dp = read_only(repo, clock_at(datetime!(2024-02-01 0:00 UTC)))
        .build()
        .await
        .unwrap();
    let keys = dp.keys();
    assert_eq!(keys.len(), 1, "{key_file}");
    assert_eq!(
        keys[0].status,
        KeyStatus::Active,
        "{key_file}: {:?}",
        keys[0].problem
    );
    let v = section(&golden_dir().join("payloads.txt"), payload_section);
    let token = field(&v, "protected_base64url");
    let purposes: Vec<String> = serde_json_lite(field(&v, "purposes_json"));
    assert_eq!(purposes[0], "MyApp");
    let p = dp.protector(purposes[1..].iter().cloned());
    assert_eq!(
        p.unprotect_str(token).unwrap(),
        field(&v, "plaintext_utf8"),
        "{key_file}"
    );
}

/// Parses a JSON array of plain strings (no escapes in these files).
fn serde_json_lite(text: &str) -> Vec<String> {
    text.trim_matches(|c| c == '[' || c == ']')
        .split("\",\"")
        .map(|s| s.trim_matches('"').to_owned())
        .collect()
}

#[tokio::test]
async fn every_readable_key_form_unprotects_its_payload() {
    for (file, section) in [
        ("key-cbc.xml", "string_protect_cbc"),
        ("key-cbc-bom.xml", "string_protect_cbc"),
        ("key-cbc-reordered.xml", "string_protect_cbc"),
        ("key-null-encrypted.xml", "string_protect_cbc"),
        ("key-gcm.xml", "string_protect_gcm_keyfile"),
        (
            "key-managed-aes256-hmacsha256.xml",
            "string_protect_managed",
        ),
        ("key-cngcbc.xml", "string_protect_cngcbc"),
        ("key-cnggcm.xml", "string_protect_cnggcm"),
    ] {
        unprotect_golden(file, section).await;
    }
}

#[tokio::test]
async fn dpapi_key_is_reported_and_never_used_while_others_work() {
    let repo = memory_with(&[
        (
            "key-aaaaaaaa-0b0b-1c1c-2d2d-333333333333",
            golden("key-dpapi.xml"),
        ),
        (
            "key-0f8fad5b-d9cb-469f-a165-70867728950e",
            golden("key-cbc.xml"),
        ),
    ])
    .await;
    let dp = read_only(repo, clock_at(datetime!(2024-02-01 0:00 UTC)))
        .build()
        .await
        .unwrap();
    let keys = dp.keys();
    let dpapi = keys
        .iter()
        .find(|k| k.id.to_string().starts_with("aaaaaaaa"))
        .unwrap();
    assert_eq!(dpapi.status, KeyStatus::Unreadable);
    assert!(
        matches!(&dpapi.problem, Some(KeyProblem::EncryptedSecret(t)) if t.contains("Dpapi")),
        "{:?}",
        dpapi.problem
    );
    assert!(!dpapi.is_default);
    let v = section(&golden_dir().join("payloads.txt"), "string_protect_cbc");
    assert_eq!(
        dp.protector(["my purpose"])
            .unprotect_str(field(&v, "protected_base64url"))
            .unwrap(),
        "Hello, world!"
    );
}

#[tokio::test]
async fn time_limited_golden_payloads() {
    let repo = memory_with(&[("key-cbc", golden("key-cbc.xml"))]).await;
    let dp = read_only(repo, clock_at(datetime!(2024-02-01 0:00 UTC)))
        .build()
        .await
        .unwrap();
    let tl = dp.protector(["my purpose"]).time_limited();
    let v = section(
        &golden_dir().join("payloads.txt"),
        "time_limited_cbc_maxvalue",
    );
    let (text, expires) = tl.unprotect_str(field(&v, "protected_base64url")).unwrap();
    assert_eq!(text, "Hello, world!");
    assert_eq!(expires, datetime!(9999-12-31 23:59:59.9999999 UTC));
    let v = section(
        &golden_dir().join("payloads.txt"),
        "time_limited_cbc_expired",
    );
    assert!(matches!(
        tl.unprotect_str(field(&v, "protected_base64url")),
        Err(Error::PayloadExpired(_))
    ));
}

#[tokio::test]
async fn revocation_files_and_store_layouts_parse() {
    for file in [
        "revocation-single.xml",
        "revocation-all.xml",
        "azure-single-blob.xml",
    ] {
        XmlElement::parse(&golden(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    // One element per line, as a Redis list holds them.
    let lines = golden("ring-redis-list.txt");
    let docs: Vec<(&str, String)> = lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| (["e0", "e1", "e2", "e3"][i], l.to_owned()))
        .collect();
    assert_eq!(docs.len(), 3);
    let dp = read_only(
        memory_with(&docs).await,
        clock_at(datetime!(2024-02-01 0:00 UTC)),
    )
    .build()
    .await
    .unwrap();
    let keys = dp.keys();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter()
            .all(|k| k.status == KeyStatus::Active && !k.revoked),
        "{keys:?}"
    );
}

/// XmlKeyManagerTests.GetAllKeys_UnderstandsRevocations: mass revocations (newest wins,
/// strictly-before) and single revocations.
#[tokio::test]
async fn upstream_revocation_semantics() {
    let root = XmlElement::parse(
        &std::fs::read_to_string(vectors_dir().join("upstream/xml/xmlkeymanager-revocations.xml"))
            .unwrap(),
    )
    .unwrap();
    // Split the <root> into its children, as a store would hold them.
    let text = root.to_compact_string();
    let inner = text
        .trim_start_matches("<root>")
        .trim_end_matches("</root>");
    let mut docs = Vec::new();
    for (i, part) in inner
        .split_inclusive("</key>")
        .flat_map(|p| p.split_inclusive("</revocation>"))
        .enumerate()
    {
        docs.push((["a", "b", "c", "d", "e", "f", "g"][i], part.to_owned()));
    }
    assert_eq!(docs.len(), 7);
    let dp = read_only(
        memory_with(&docs).await,
        clock_at(datetime!(2024-01-01 0:00 UTC)),
    )
    .build()
    .await
    .unwrap();
    let expected =
        std::fs::read_to_string(vectors_dir().join("upstream/xml_key_manager.txt")).unwrap();
    let keys = dp.keys();
    let mut checked = 0;
    for line in expected
        .lines()
        .filter(|l| l.ends_with("=revoked") || l.ends_with("=not_revoked"))
    {
        let (id, state) = line.split_once('=').unwrap();
        let key = keys.iter().find(|k| k.id.to_string() == id).unwrap();
        assert_eq!(key.revoked, state == "revoked", "{id}");
        // The test keys carry a placeholder descriptor: listed, but unusable.
        assert_eq!(key.status, KeyStatus::Unreadable);
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[tokio::test]
async fn one_key_written_four_ways_is_one_key() {
    let docs: Vec<(&str, String)> = [
        "key-cbc.xml",
        "key-cbc-bom.xml",
        "key-cbc-reordered.xml",
        "key-null-encrypted.xml",
    ]
    .iter()
    .enumerate()
    .map(|(i, f)| (["a", "b", "c", "d"][i], golden(f)))
    .collect();
    let dp = read_only(
        memory_with(&docs).await,
        clock_at(datetime!(2024-02-01 0:00 UTC)),
    )
    .build()
    .await
    .unwrap();
    let keys = dp.keys();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].status, KeyStatus::Active);
    assert!(dp.problems().is_empty(), "{:?}", dp.problems());
}

#[tokio::test]
async fn docs_mass_revocation_revokes_the_2015_key_only() {
    let repo = memory_with(&[
        ("key-dpapi", golden("key-dpapi.xml")),
        ("key-cbc", golden("key-cbc.xml")),
        ("revocation-all", golden("revocation-all.xml")),
        ("revocation-single", golden("revocation-single.xml")),
    ])
    .await;
    let dp = read_only(repo, clock_at(datetime!(2024-02-01 0:00 UTC)))
        .build()
        .await
        .unwrap();
    for k in dp.keys() {
        assert_eq!(
            k.revoked,
            k.id.to_string().starts_with("aaaaaaaa"),
            "{}",
            k.id
        );
    }
    assert!(dp.default_key().is_some());
}
