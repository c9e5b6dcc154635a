//! The list holds what ASP.NET Core's Redis repository holds, element by element, and keys
//! a .NET node pushed are read and used; a payload protected on one node is read on
//! another that loaded its ring earlier.

use std::sync::Arc;

use data_protection::repository::{XmlRepository, element_name};
use data_protection::xml::XmlElement;
use data_protection::{DataProtection, KeyStatus, ManualClock, StoreErrorKind};
use time::OffsetDateTime;
use time::macros::datetime;

use super::{delete, lrange, node, raw, repo, url};
use crate::backends::unique;
use crate::common::{clock_at, golden_dir, read_only};
use crate::support::vectors::{field, section, vectors_dir};

fn golden_lines() -> Vec<String> {
    std::fs::read_to_string(golden_dir().join("ring-redis-list.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Replaces what differs between two keys (id, dates, master key) with placeholders.
fn shape(xml: &str) -> String {
    let mut out = xml.to_owned();
    for (open, close) in [
        ("id=\"", "\""),
        ("<creationDate>", "<"),
        ("<activationDate>", "<"),
        ("<expirationDate>", "<"),
        ("<value>", "<"),
    ] {
        if let Some(start) = out.find(open).map(|i| i + open.len())
            && let Some(len) = out[start..].find(close)
        {
            out.replace_range(start..start + len, "…");
        }
    }
    out
}

#[tokio::test]
async fn elements_are_stored_as_aspnet_stores_them() {
    let list = unique("dp-compat-golden");
    let repo = repo(&list);
    let golden = golden_lines();
    assert_eq!(golden.len(), 3);
    for line in &golden {
        let element = XmlElement::parse(line).unwrap();
        let name = element_name(&element).expect("golden elements have names");
        repo.store_element(&element, &name).await.unwrap();
    }
    assert_eq!(
        lrange(&list).await,
        golden,
        "byte for byte what .NET pushes"
    );
    let names: Vec<_> = repo
        .get_all_elements()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name.unwrap())
        .collect();
    assert_eq!(names[0], "key-0f8fad5b-d9cb-469f-a165-70867728950e");
    assert_eq!(names[1], "key-5c1f5e2a-3b4d-4e6f-8a9b-0c1d2e3f4a5b");
    assert!(names[2].starts_with("revocation-2024"), "{}", names[2]);

    // Upstream and derived key files, in the single-line form .NET pushes.
    let files = [
        vectors_dir().join("derived/key-0f8fad5b-d9cb-469f-a165-70867728950e.xml"),
        vectors_dir().join("upstream/xml/docs-key-dpapi.xml"),
        vectors_dir().join("upstream/xml/docs-revocation-single.xml"),
        vectors_dir().join("upstream/xml/docs-revocation-all.xml"),
        vectors_dir().join("upstream/xml/xmlkeymanager-revokeall-expected.xml"),
    ];
    let other = unique("dp-compat-files");
    let repo = super::repo(&other);
    let mut expected = Vec::new();
    for file in &files {
        let element = XmlElement::parse(&std::fs::read_to_string(file).unwrap()).unwrap();
        let name = element_name(&element).unwrap();
        repo.store_element(&element, &name).await.unwrap();
        expected.push(element.to_compact_string());
    }
    let stored = lrange(&other).await;
    assert_eq!(stored, expected);
    assert!(
        stored
            .iter()
            .all(|s| !s.contains('\n') && !s.starts_with("<?xml"))
    );
    // The derived key file, written compactly, is the golden list's first line.
    assert_eq!(stored[0], golden[0]);

    // A key this crate creates has .NET's shape (CBC + HMACSHA256, like the golden key).
    let fresh = unique("dp-compat-new");
    let dp = node(super::repo(&fresh), clock_at(OffsetDateTime::now_utc())).await;
    let id = dp.default_key().unwrap();
    dp.revoke_key(id, "compat check").await.unwrap();
    let items = lrange(&fresh).await;
    assert_eq!(items.len(), 3, "key, revocation, replacement: {items:?}");
    assert_eq!(shape(&items[0]), shape(&golden[0]));
    assert!(items[1].starts_with("<revocation version=\"1\"><revocationDate>"));
    assert!(items[1].contains(&format!("<key id=\"{id}\" />")));
    for item in &items {
        assert_eq!(&XmlElement::parse(item).unwrap().to_compact_string(), item);
    }
    for list in [&list, &other, &fresh] {
        delete(list).await;
    }
}

#[tokio::test]
async fn keys_pushed_by_hand_are_read_and_used() {
    let list = unique("dp-compat-vector");
    let file = vectors_dir().join("derived/key-0f8fad5b-d9cb-469f-a165-70867728950e.xml");
    let compact = XmlElement::parse(&std::fs::read_to_string(file).unwrap())
        .unwrap()
        .to_compact_string();
    // Exactly what StackExchange.Redis sends for PersistKeysToStackExchangeRedis.
    let _: i64 = redis::cmd("RPUSH")
        .arg(&list)
        .arg(&compact)
        .query_async(&mut raw(&url()).await)
        .await
        .unwrap();
    let dp = read_only(
        Arc::new(repo(&list)),
        clock_at(datetime!(2024-02-01 0:00 UTC)),
    )
    .build()
    .await
    .unwrap();
    let keys = dp.keys();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].status, KeyStatus::Active);
    let v = section(
        &vectors_dir().join("derived/protect_vectors.txt"),
        "string_protect_cbc",
    );
    assert_eq!(
        dp.protector(["my purpose"])
            .unprotect_str(field(&v, "protected_base64url"))
            .unwrap(),
        "Hello, world!"
    );
    delete(&list).await;
}

#[tokio::test]
async fn a_key_created_after_loading_is_found_on_unprotect() {
    let list = unique("dp-compat-cross");
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    // B loads an empty ring and may not create keys.
    let b = DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to(repo(&list))
        .clock(clock.clone())
        .background_refresh(false)
        .disable_automatic_key_generation()
        .build()
        .await
        .unwrap();
    assert!(b.keys().is_empty());
    let a = node(repo(&list), clock.clone()).await;
    let token = a.protector(["x"]).protect(b"from A").unwrap();
    assert_eq!(
        b.protector(["x"]).unprotect_async(&token).await.unwrap(),
        b"from A"
    );
    // A rotates after B loaded: B finds the new key too.
    a.revoke_key(a.default_key().unwrap(), "rotate")
        .await
        .unwrap();
    let again = a.protector(["x"]).protect(b"again").unwrap();
    assert_eq!(
        b.protector(["x"]).unprotect_async(&again).await.unwrap(),
        b"again"
    );
    delete(&list).await;
}

#[tokio::test]
async fn names_must_match_the_element() {
    let list = unique("dp-compat-names");
    let repo = repo(&list);
    let element = XmlElement::parse(&golden_lines()[0]).unwrap();
    let err = repo.store_element(&element, "key-other").await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Other);
    assert!(err.to_string().contains("key-0f8fad5b"), "{err}");
    assert!(lrange(&list).await.is_empty());
}
