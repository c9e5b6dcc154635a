//! The derived session vectors in ../shared/vectors: the cookie unprotects to its session
//! key and the blob decodes to its three entries.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use data_protection::session::SessionData;
use data_protection::{DataProtection, ManualClock};

use crate::support::vectors;

/// `key=value` lines of a derived vector file (of one `[section]`, or of the whole file).
fn fields(file: &str, section: Option<&str>) -> Vec<(String, String)> {
    vectors::fields(&vectors::derived(file), section)
}

fn get(fields: &[(String, String)], key: &str) -> String {
    vectors::field(fields, key).to_owned()
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub struct BlobVector {
    pub blob: Vec<u8>,
    pub id_bytes: [u8; 16],
    pub session_id: String,
    pub session_key: String,
    pub redis_key: String,
    pub absexp: String,
    pub sldexp: String,
    pub ttl: i64,
}

pub fn blob_vector() -> BlobVector {
    let f = fields("session_blob.txt", None);
    let blob = hex::decode(get(&f, "blob_hex")).unwrap();
    assert_eq!(
        blob,
        hex::decode(get(&f, "redis_hash_field_data_hex")).unwrap()
    );
    let redis_key = get(&f, "redis_key");
    BlobVector {
        blob,
        id_bytes: hex::decode(get(&f, "session_id_bytes_hex"))
            .unwrap()
            .try_into()
            .unwrap(),
        session_id: get(&f, "session_id_string_dotnet"),
        session_key: redis_key.strip_prefix("app:").unwrap().to_owned(),
        redis_key,
        absexp: get(&f, "redis_hash_field_absexp"),
        sldexp: get(&f, "redis_hash_field_sldexp"),
        ttl: get(&f, "redis_ttl_seconds").parse().unwrap(),
    }
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub struct CookieVector {
    pub session_key: String,
    /// URL-escaped, as in the Set-Cookie header.
    pub cookie_value: String,
    pub base64_trimmed: String,
}

pub fn cookie_vector() -> CookieVector {
    let f = fields("protect_vectors.txt", Some("session_cookie_cbc"));
    let header = get(&f, "set_cookie_header_value");
    let cookie_value = header
        .strip_prefix(".AspNetCore.Session=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    CookieVector {
        session_key: get(&f, "plaintext_utf8"),
        cookie_value,
        base64_trimmed: get(&f, "cookie_value_base64_trimmed"),
    }
}

/// A key directory holding the derived CBC key the cookie vector was protected with.
pub fn vector_key_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let name = vectors::DERIVED_CBC_KEY_FILE;
    std::fs::copy(vectors::derived(name), dir.path().join(name)).unwrap();
    dir
}

#[test]
fn the_session_blob_decodes_to_its_three_entries() {
    let v = blob_vector();
    let data = SessionData::decode(&v.blob).unwrap();
    assert_eq!(data.id_bytes(), v.id_bytes);
    assert_eq!(data.id(), v.session_id, ".NET Guid order");
    let entries: Vec<_> = data.entries().collect();
    assert_eq!(
        entries,
        vec![
            ("name", &b"value"[..]),
            ("count", &[0, 0, 0, 42][..]),
            ("ünï", &[][..]),
        ]
    );
    assert_eq!(data.encode().unwrap(), v.blob, "re-encodes byte for byte");
}

#[tokio::test]
async fn the_session_cookie_unprotects_to_its_session_key() {
    let v = cookie_vector();
    assert_eq!(
        v.cookie_value.replace("%2F", "/").replace("%2B", "+"),
        v.base64_trimmed,
        "the header value is the trimmed base64, URL-escaped"
    );
    let keys = vector_key_dir();
    let dp = DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to_directory(keys.path())
        .clock(Arc::new(ManualClock::new(
            time::macros::datetime!(2024-02-01 0:00 UTC),
        )))
        .disable_automatic_key_generation()
        .background_refresh(false)
        .build()
        .await
        .unwrap();
    let protected = STANDARD_NO_PAD.decode(&v.base64_trimmed).unwrap();
    let key = dp
        .protector([data_protection::session::PURPOSE])
        .unprotect(&protected)
        .unwrap();
    assert_eq!(String::from_utf8(key).unwrap(), v.session_key);
}
