//! Protected cookies over real HTTP: round trip, attributes, purpose binding, tampering,
//! foreign applications, server-side expiry, rotation, revocation, unknown keys, chunking.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::routing::{get, post};
use cookie::Cookie;
use data_protection::cookies::{ProtectedCookieLayer, ProtectedCookies};
use data_protection::{DataProtection, ManualClock};
use time::OffsetDateTime;

use crate::{Client, ring, serve};

async fn read(jar: ProtectedCookies, UrlPath(name): UrlPath<String>) -> String {
    jar.get_value(&name)
        .await
        .unwrap_or_else(|| "<absent>".to_owned())
}

async fn write(jar: ProtectedCookies, UrlPath(name): UrlPath<String>, body: String) -> String {
    jar.add(Cookie::new(name, body)).unwrap();
    "ok".to_owned()
}

async fn write_for(
    jar: ProtectedCookies,
    UrlPath((name, secs)): UrlPath<(String, u64)>,
    body: String,
) -> &'static str {
    jar.add_with_lifetime(Cookie::new(name, body), Duration::from_secs(secs))
        .unwrap();
    "ok"
}

async fn remove(jar: ProtectedCookies, UrlPath(name): UrlPath<String>) -> &'static str {
    jar.remove(Cookie::from(name));
    "ok"
}

fn app(layer: ProtectedCookieLayer) -> Router {
    Router::new()
        .route("/get/{name}", get(read))
        .route("/set/{name}", post(write))
        .route("/set-for/{name}/{secs}", post(write_for))
        .route("/remove/{name}", post(remove))
        .layer(layer)
}

async fn node(dir: &std::path::Path, app_name: &str) -> DataProtection {
    ring(dir, app_name).build().await.unwrap()
}

#[tokio::test]
async fn values_round_trip_encrypted_with_default_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let dp = node(dir.path(), "CookieTests").await;
    let addr = serve(app(ProtectedCookieLayer::new(&dp))).await;
    let c = Client::new(addr);
    assert_eq!(c.get("/get/prefs").await.body, "<absent>");
    let r = c.post("/set/prefs", "dark mode; lang=fr").await;
    assert_eq!(r.set_cookies.len(), 1, "{:?}", r.set_cookies);
    let set = &r.set_cookies[0];
    assert!(set.starts_with("prefs=CfDJ8"), "{set}");
    assert!(!set.contains("dark"), "the value is encrypted: {set}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attr), "{attr} missing: {set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP gets no Secure: {set}");
    assert_eq!(c.get("/get/prefs").await.body, "dark mode; lang=fr");
    // Removal: the browser is told to drop it.
    let r = c.post("/remove/prefs", "").await;
    assert!(
        r.set_cookies[0].contains("Max-Age=0"),
        "{:?}",
        r.set_cookies
    );
    assert_eq!(c.cookie("prefs"), None);
    assert_eq!(c.get("/get/prefs").await.body, "<absent>");
}

#[tokio::test]
async fn moved_tampered_and_foreign_cookies_read_as_absent() {
    let dir = tempfile::tempdir().unwrap();
    let dp = node(dir.path(), "CookieTests").await;
    let addr = serve(app(ProtectedCookieLayer::new(&dp))).await;
    let c = Client::new(addr);
    c.post("/set/a", "secret-a").await;
    let value = c.cookie("a").unwrap();
    // The same value under another name: the purpose chain includes the name.
    c.set_cookie("b", &value);
    assert_eq!(c.get("/get/b").await.body, "<absent>");
    // One character changed.
    let mut tampered = value.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    c.set_cookie("a", std::str::from_utf8(&tampered).unwrap());
    assert_eq!(c.get("/get/a").await.body, "<absent>");
    c.set_cookie("a", "not base64 !!");
    assert_eq!(c.get("/get/a").await.body, "<absent>");
    c.set_cookie("a", "chunks-2");
    assert_eq!(c.get("/get/a").await.body, "<absent>", "chunks missing");
    c.set_cookie("a", &value);
    assert_eq!(c.get("/get/a").await.body, "secret-a");
    // Another application on the same key ring cannot read it.
    let other = node(dir.path(), "OtherApp").await;
    let other_addr = serve(app(ProtectedCookieLayer::new(&other))).await;
    let o = Client::new(other_addr);
    o.set_cookie("a", &value);
    assert_eq!(o.get("/get/a").await.body, "<absent>");
}

#[tokio::test]
async fn server_side_expiry_is_enforced_whatever_the_browser_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let dp = ring(dir.path(), "CookieTests")
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    let layer = ProtectedCookieLayer::builder(&dp)
        .default_lifetime(Duration::from_secs(3600))
        .build();
    let addr = serve(app(layer)).await;
    let c = Client::new(addr);
    c.post("/set-for/short/60", "v1").await;
    c.post("/set/long", "v2").await;
    let set = c.post("/set-for/x/60", "v").await.set_cookies;
    assert!(
        !set[0].contains("Max-Age") && !set[0].contains("Expires"),
        "the browser cookie stays a session cookie: {set:?}"
    );
    assert_eq!(c.get("/get/short").await.body, "v1");
    clock.advance(time::Duration::seconds(61));
    assert_eq!(c.get("/get/short").await.body, "<absent>", "expired");
    assert_eq!(c.get("/get/long").await.body, "v2", "default lifetime 1 h");
    clock.advance(time::Duration::seconds(3600));
    assert_eq!(c.get("/get/long").await.body, "<absent>");
}

#[tokio::test]
async fn the_layer_clock_also_decides_when_a_cookie_expires() {
    // The provider runs on the system clock; only the layer has an injected one.
    let dir = tempfile::tempdir().unwrap();
    let dp = node(dir.path(), "CookieTests").await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let layer = ProtectedCookieLayer::builder(&dp)
        .clock(clock.clone())
        .build();
    let addr = serve(app(layer)).await;
    let c = Client::new(addr);
    c.post("/set-for/short/60", "v1").await;
    assert_eq!(c.get("/get/short").await.body, "v1");
    clock.advance(time::Duration::seconds(61));
    assert_eq!(
        c.get("/get/short").await.body,
        "<absent>",
        "expired by the clock it was written with"
    );
}

#[tokio::test]
async fn rotation_revocation_and_keys_made_by_another_node() {
    let dir = tempfile::tempdir().unwrap();
    let dp = node(dir.path(), "CookieTests").await;
    let addr = serve(app(ProtectedCookieLayer::new(&dp))).await;
    let c = Client::new(addr);
    c.post("/set/a", "before").await;
    let old_key = dp.default_key().unwrap();
    let now = OffsetDateTime::now_utc();
    let new_key = dp
        .create_key(
            now - time::Duration::minutes(1),
            now + time::Duration::days(90),
        )
        .await
        .unwrap();
    dp.refresh().await.unwrap();
    assert_eq!(dp.default_key(), Some(new_key));
    assert_eq!(c.get("/get/a").await.body, "before", "old key still reads");
    c.post("/set/b", "after").await;
    // Another node on the same directory makes a key this node has not loaded (activated
    // earliest among fresh keys, so it becomes that node's default) and writes a cookie with
    // it: the first node reloads its ring and reads it.
    let other = node(dir.path(), "CookieTests").await;
    let later = OffsetDateTime::now_utc();
    let third = other
        .create_key(
            later - time::Duration::minutes(10),
            later + time::Duration::days(90),
        )
        .await
        .unwrap();
    other.refresh().await.unwrap();
    assert_eq!(other.default_key(), Some(third));
    let other_addr = serve(app(ProtectedCookieLayer::new(&other))).await;
    let o = Client::new(other_addr);
    o.post("/set/c", "from the other node").await;
    c.set_cookie("c", &o.cookie("c").unwrap());
    assert!(!dp.keys().iter().any(|k| k.id == third), "not loaded yet");
    assert_eq!(c.get("/get/c").await.body, "from the other node");
    // Revoking the old key makes its cookie absent; the others still read.
    dp.revoke_key(old_key, "test").await.unwrap();
    dp.refresh().await.unwrap();
    assert_eq!(c.get("/get/a").await.body, "<absent>");
    assert_eq!(c.get("/get/b").await.body, "after");
}

#[tokio::test]
async fn large_values_are_chunked_and_stale_chunks_removed() {
    let dir = tempfile::tempdir().unwrap();
    let dp = node(dir.path(), "CookieTests").await;
    let addr = serve(app(ProtectedCookieLayer::new(&dp))).await;
    let c = Client::new(addr);
    let big: String = (0..10_240)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let r = c.post("/set/big", big.clone()).await;
    assert_eq!(
        r.set_cookies.len(),
        5,
        "base + 4 chunks: {:?}",
        r.set_cookies.len()
    );
    assert!(
        r.set_cookies[0].starts_with("big=chunks-4;"),
        "{}",
        r.set_cookies[0]
    );
    for (i, s) in r.set_cookies.iter().enumerate() {
        assert!(s.len() <= 4050, "chunk {i} is {} chars", s.len());
        assert!(
            s.contains("HttpOnly"),
            "every chunk has the attributes: {s}"
        );
    }
    assert_eq!(c.names(), ["big", "bigC1", "bigC2", "bigC3", "bigC4"]);
    assert_eq!(c.get("/get/big").await.body, big);
    // Rewritten small: every old chunk is deleted.
    let r = c.post("/set/big", "small").await;
    assert_eq!(r.set_cookies.len(), 5, "{:?}", r.set_cookies);
    assert_eq!(c.names(), ["big"]);
    assert_eq!(c.get("/get/big").await.body, "small");
    // Big again then removed: every chunk goes.
    c.post("/set/big", big.clone()).await;
    assert_eq!(c.names().len(), 5);
    c.post("/remove/big", "").await;
    assert!(c.names().is_empty(), "{:?}", c.names());
}
