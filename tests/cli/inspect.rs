//! `dpkeys inspect`: tokens made by ASP.NET Core (the shared vectors) and by this crate,
//! session cookies as browsers send them, truncated and foreign input, and the key's status
//! in a real directory ring.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::harness::{derived_key_file, derived_vector, dpkeys, dpkeys_stdin};

/// A directory holding the derived vectors' key (id 0f8fad5b-…).
fn vector_ring() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let key = derived_key_file();
    std::fs::copy(&key, dir.path().join(key.file_name().unwrap())).unwrap();
    dir
}

fn url(dir: &Path) -> String {
    dir.to_str().unwrap().to_owned()
}

const VECTOR_KEY: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

/// `inspect --json` with these leading arguments, expecting `code`.
fn inspect_json(args: &[&str], token: &str, code: i32) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--json", "inspect", token]);
    dpkeys(&all).expect(code).json()
}

#[test]
fn aspnet_cbc_token_without_and_with_the_ring() {
    let token = derived_vector("string_protect_cbc", "protected_base64url");
    // No store: the envelope alone.
    let j = inspect_json(&[], &token, 0);
    assert_eq!(j["encoding"], "base64url", "{j}");
    assert_eq!(j["header"]["status"], "valid");
    assert_eq!(j["key_id"], VECTOR_KEY);
    assert_eq!(j["key"], Value::Null);
    assert_eq!(j["decoded_bytes"], 100);
    assert_eq!(j["truncated"], false);
    assert_eq!(j["expiry"]["readable"], false);
    // "Hello, world!" is 13 bytes: one CBC block (0-15) or 36 GCM bytes; never HMACSHA512.
    let fits: Vec<(String, bool)> = j["layouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["layout"].as_str().unwrap().to_owned(), l["fits"] == true))
        .collect();
    assert_eq!(
        fits,
        [
            ("AES-CBC+HMACSHA256".to_owned(), true),
            ("AES-CBC+HMACSHA512".to_owned(), false),
            ("AES-GCM".to_owned(), true)
        ]
    );
    assert_eq!(j["layouts"][0]["plaintext_min"], 0);
    assert_eq!(j["layouts"][0]["plaintext_max"], 15);

    // With the ring: the key is there, expired (it still unprotects), and the size fits it.
    let ring = vector_ring();
    let store = url(ring.path());
    let j = inspect_json(&["--store", &store], &token, 0);
    assert_eq!(j["key"]["in_ring"], true, "{j}");
    assert_eq!(j["key"]["status"], "expired");
    assert_eq!(j["key"]["algorithm"], "AES_256_CBC+HMACSHA256");
    assert_eq!(j["key"]["size_fits_algorithm"], true);
    assert_eq!(j["problems"], serde_json::json!([]));

    // With the purposes it unprotects; it is not time-limited.
    let with = ["--store", &store, "--app-name", "MyApp"];
    let mut args = with.to_vec();
    args.extend(["--json", "inspect", "--purpose", "my purpose", &token]);
    let j = dpkeys(&args).expect(0).json();
    assert_eq!(j["unprotect"]["ok"], true, "{j}");
    assert_eq!(j["expiry"]["time_limited"], false);
    // With the wrong purpose it does not, and says so (exit 1).
    let mut args = with.to_vec();
    args.extend(["--json", "inspect", "--purpose", "other", &token]);
    let j = dpkeys(&args).expect(1).json();
    assert_eq!(j["unprotect"]["ok"], false, "{j}");
    assert!(
        j["problems"][0].as_str().unwrap().contains("purposes"),
        "{j}"
    );

    // Human output names the key, its status and the layouts.
    let human = dpkeys(&["--store", &store, "inspect", &token])
        .expect(0)
        .stdout;
    for part in [
        VECTOR_KEY,
        "expired",
        "AES-GCM",
        "fits the key's AES_256_CBC",
    ] {
        assert!(human.contains(part), "{part:?} missing:\n{human}");
    }
}

#[test]
fn aspnet_gcm_token_does_not_fit_a_cbc_key_of_the_same_id() {
    // The derived GCM vector uses the same key id as the CBC key file: its size (13-byte
    // plaintext, 57 bytes after the header) cannot be CBC, which inspect points out.
    let token = derived_vector("string_protect_gcm", "protected_base64url");
    let j = inspect_json(&[], &token, 0);
    assert_eq!(j["encryptor_payload_bytes"], 57, "{j}");
    assert_eq!(j["layouts"][2]["fits"], true);
    assert_eq!(j["layouts"][2]["plaintext_min"], 13);
    assert_eq!(j["layouts"][0]["fits"], false);
    let ring = vector_ring();
    let j = inspect_json(&["--store", &url(ring.path())], &token, 1);
    assert_eq!(j["key"]["size_fits_algorithm"], false, "{j}");
    assert!(
        j["problems"][0]
            .as_str()
            .unwrap()
            .contains("does not fit its key's algorithm"),
        "{j}"
    );
}

#[test]
fn aspnet_session_cookie_as_header_stdin_and_file() {
    let set_cookie = derived_vector("session_cookie_cbc", "set_cookie_header_value");
    let ring = vector_ring();
    let store = url(ring.path());
    let check = |j: &Value| {
        assert_eq!(j["encoding"], "base64", "{j}");
        assert_eq!(j["url_escaped"], true);
        assert_eq!(j["cookie_name"], ".AspNetCore.Session");
        assert_eq!(j["key_id"], VECTOR_KEY);
        // 36-byte session key: 132 bytes in all with AES-256-CBC+HMACSHA256.
        assert_eq!(j["decoded_bytes"], 132);
        assert_eq!(j["key"]["size_fits_algorithm"], true);
        assert_eq!(j["layouts"][0]["plaintext_min"], 32);
        assert_eq!(j["layouts"][0]["plaintext_max"], 47);
    };
    // A Set-Cookie header with attributes, as an argument.
    check(&inspect_json(&["--store", &store], &set_cookie, 0));
    // The same on stdin, with a trailing newline.
    let run = dpkeys_stdin(
        &["--store", &store, "--json", "inspect"],
        format!("{set_cookie}\n").as_bytes(),
    );
    check(&run.expect(0).json());
    // From a file, as the bare escaped value.
    let value = set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    let file = ring.path().join("cookie.txt");
    std::fs::write(&file, value).unwrap();
    let run = dpkeys(&[
        "--store",
        &store,
        "--json",
        "inspect",
        "--input-file",
        file.to_str().unwrap(),
    ]);
    let j = run.expect(0).json();
    assert_eq!(j["cookie_name"], Value::Null, "{j}");
    assert_eq!(j["url_escaped"], true);
    assert_eq!(j["key_id"], VECTOR_KEY);
    // The unescaped, trimmed form (what CookieProtection decodes) reads the same.
    let trimmed = derived_vector("session_cookie_cbc", "cookie_value_base64_trimmed");
    let j = inspect_json(&[], &trimmed, 0);
    assert_eq!(
        (j["encoding"].as_str(), j["url_escaped"].as_bool()),
        (Some("base64"), Some(false))
    );
    // The session purposes unprotect it.
    let j = inspect_json(&["--store", &store, "--app-name", "MyApp"], &trimmed, 0);
    assert_eq!(j["unprotect"], Value::Null, "no --purpose given: {j}");
    let run = dpkeys(&[
        "--store",
        &store,
        "--app-name",
        "MyApp",
        "--json",
        "inspect",
        "--purpose",
        "SessionMiddleware",
        value,
    ]);
    assert_eq!(run.expect(0).json()["unprotect"]["ok"], true);
}

#[test]
fn truncated_tokens_say_so() {
    let token = derived_vector("string_protect_cbc", "protected_base64url");
    let ring = vector_ring();
    let store = url(ring.path());
    // Inside the header.
    let j = inspect_json(&[], &token[..20], 1);
    assert_eq!(j["header"]["status"], "truncated", "{j}");
    assert_eq!(j["truncated"], true);
    assert_eq!(j["key_id"], Value::Null);
    // A length no base64 text has (133 = 4·33 + 1).
    let j = inspect_json(&[], &token[..token.len() - 1], 1);
    assert_eq!(j["truncated"], true, "{j}");
    assert!(
        j["truncation"].as_str().unwrap().contains("text was cut"),
        "{j}"
    );
    // Shorter than any algorithm's smallest payload.
    let j = inspect_json(&["--store", &store], &token[..60], 1);
    assert_eq!(j["truncated"], true, "{j}");
    assert_eq!(j["key"]["status"], "expired");
    // Cut at a multiple of 4 characters (99 bytes): still a possible GCM size, so only the
    // ring's CBC key shows that bytes are missing.
    let cut = &token[..132];
    let j = inspect_json(&[], cut, 0);
    assert_eq!(j["truncated"], false, "{j}");
    let j = inspect_json(&["--store", &store], cut, 1);
    assert_eq!(j["key"]["size_fits_algorithm"], false, "{j}");
    // Every prefix is reported without a crash, with exit 0 or 1.
    for n in 0..token.len() {
        let run = dpkeys(&["--json", "inspect", &token[..n]]);
        assert!(run.code == 0 || run.code == 1, "{n}: {}", run.stderr);
        run.json();
    }
}

#[test]
fn tokens_made_by_this_crate_and_the_key_status() {
    let dir = tempfile::tempdir().unwrap();
    let store = url(dir.path());
    dpkeys(&["--store", &store, "rotate", "--activate-now"]).expect(0);
    let key = crate::harness::key_ids(&store).remove(0);
    let app = ["--store", store.as_str(), "--app-name", "Inspect"];
    let protect = |extra: &[&str]| -> String {
        let mut args = app.to_vec();
        args.extend(["protect", "--purpose", "p"]);
        args.extend(extra);
        dpkeys_stdin(&args, b"a secret value")
            .expect(0)
            .stdout
            .trim()
            .to_owned()
    };
    let plain = protect(&[]);
    let limited = protect(&["--time-limit", "1h"]);
    let j = inspect_json(&["--store", &store], &plain, 0);
    assert_eq!(j["key_id"], key.as_str(), "{j}");
    assert_eq!(j["key"]["status"], "active");
    assert_eq!(j["key"]["default"], true);
    // New keys are AES-256-CBC+HMACSHA256: 14 bytes of plaintext is one block.
    assert_eq!(j["key"]["size_fits_algorithm"], true);
    // The time-limited one: expiry unreadable without purposes, read with them.
    let j = inspect_json(&["--store", &store], &limited, 0);
    assert_eq!(j["expiry"]["readable"], false, "{j}");
    let mut args = app.to_vec();
    args.extend(["--json", "inspect", "--purpose", "p", &limited]);
    let j = dpkeys(&args).expect(0).json();
    assert_eq!(j["expiry"]["time_limited"], true, "{j}");
    let expires = j["expiry"]["expires"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires.contains('T'), "{expires}");

    // As a session cookie: standard base64, URL-escaped.
    let bytes = URL_SAFE_NO_PAD.decode(&plain).unwrap();
    let cookie = STANDARD_NO_PAD
        .encode(&bytes)
        .replace('+', "%2B")
        .replace('/', "%2F");
    let j = inspect_json(
        &["--store", &store],
        &format!(".AspNetCore.Session={cookie}"),
        0,
    );
    assert_eq!(j["key_id"], key.as_str(), "{j}");

    // Revoked: exit 1 and the reason.
    dpkeys(&["--store", &store, "revoke", &key]).expect(0);
    let j = inspect_json(&["--store", &store], &plain, 1);
    assert_eq!(j["key"]["status"], "revoked", "{j}");
    assert!(
        j["problems"][0].as_str().unwrap().contains("revoked"),
        "{j}"
    );

    // Another ring: missing.
    let other = vector_ring();
    let j = inspect_json(&["--store", &url(other.path())], &plain, 1);
    assert_eq!(j["key"]["status"], "missing", "{j}");
    assert_eq!(j["key"]["in_ring"], false);
}

#[test]
fn foreign_input_and_usage_errors() {
    // Not base64 (a JWT has dots), and base64 that is not a payload.
    let j = inspect_json(&[], "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", 1);
    assert_eq!(j["encoding"], "invalid", "{j}");
    let j = inspect_json(
        &[],
        &URL_SAFE_NO_PAD.encode(b"hello world, not a payload"),
        1,
    );
    assert_eq!(j["header"]["status"], "not_data_protection", "{j}");
    assert_eq!(j["header"]["found"], "68656c6c");
    let human = dpkeys(&["inspect", "%%%"]).expect(1).stdout;
    assert!(human.contains("not base64"), "{human}");
    // --purpose needs a ring, and then an application name.
    dpkeys(&["inspect", "--purpose", "p", "CfDJ8"]).expect(2);
    let ring = vector_ring();
    let run = dpkeys(&[
        "--store",
        &url(ring.path()),
        "inspect",
        "--purpose",
        "p",
        "CfDJ8",
    ]);
    assert!(run.expect(2).stderr.contains("--app-name"));
}
