//! Real HTTP against the test application with the memory store: cookies, headers,
//! expiry, bad cookies, rotation, renew, destroy, consent, errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use data_protection::session::{
    MemorySessionStore, SameSite, SecurePolicy, SessionLayer, SessionLayerBuilder, SessionStore,
};
use data_protection::{DataProtection, ManualClock};
use time::OffsetDateTime;

use crate::app::{Browser, ring, router, serve, set_cookies};

async fn setup(dir: &std::path::Path) -> (DataProtection, Arc<MemorySessionStore>) {
    let dp = ring(dir, "SessionTests").build().await.unwrap();
    (dp, Arc::new(MemorySessionStore::new()))
}

fn layer(dp: &DataProtection, store: &Arc<MemorySessionStore>) -> SessionLayerBuilder {
    SessionLayerBuilder::with_shared_store(dp, store.clone())
}

#[tokio::test]
async fn no_cookie_until_the_session_holds_data_then_aspnet_attributes_and_headers() {
    let dir = tempfile::tempdir().unwrap();
    let (dp, store) = setup(dir.path()).await;
    let addr = serve(router(layer(&dp, &store).build().unwrap())).await;
    let b = Browser::new(addr);

    for path in ["/noop", "/get/x", "/keys"] {
        let r = b.get(path).await;
        assert_eq!(r.status(), 200);
        assert!(set_cookies(&r).is_empty(), "{path} must not set a cookie");
        assert!(r.headers().get("cache-control").is_none());
    }
    assert!(store.is_empty(), "reading an empty session stores nothing");

    let r = b.post("/set/name/alice").await;
    let cookies = set_cookies(&r);
    assert_eq!(cookies.len(), 1);
    let (value, attributes) = cookies[0]
        .strip_prefix(".AspNetCore.Session=")
        .unwrap()
        .split_once(';')
        .unwrap();
    assert_eq!(attributes, " path=/; samesite=lax; httponly");
    assert_eq!(r.headers()["cache-control"], "no-cache,no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
    assert_eq!(r.headers()["expires"], "-1");
    // Standard base64 without padding, URL-escaped; it unprotects to the stored key.
    assert!(!value.contains(['+', '/', '=']), "{value}");
    let b64 = value.replace("%2B", "+").replace("%2F", "/");
    let protected = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&b64)
        .unwrap();
    let key = dp
        .protector(["SessionMiddleware"])
        .unprotect(&protected)
        .unwrap();
    let key = String::from_utf8(key).unwrap();
    assert_eq!(key.len(), 36);
    assert!(uuid::Uuid::parse_str(&key).is_ok());
    let now = OffsetDateTime::now_utc();
    assert!(
        store.load(&key, now).await.unwrap().is_some(),
        "stored under the cookie's key"
    );

    // The browser keeps the cookie; no second Set-Cookie for an existing session.
    let r = b.post("/set/name/bob").await;
    assert!(set_cookies(&r).is_empty());
    assert_eq!(b.text("/get/name").await, "bob");
}

#[tokio::test]
async fn cookie_options_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let (dp, store) = setup(dir.path()).await;
    let l = layer(&dp, &store)
        .cookie_name("sid")
        .cookie_path("/app")
        .cookie_domain("example.test")
        .secure(SecurePolicy::Always)
        .same_site(SameSite::Strict)
        .http_only(false)
        .build()
        .unwrap();
    let addr = serve(router(l)).await;
    let r = Browser::new(addr).post("/set/a/1").await;
    let c = &set_cookies(&r)[0];
    assert!(c.starts_with("sid="), "{c}");
    assert!(
        c.ends_with("; domain=example.test; path=/app; secure; samesite=strict"),
        "{c}"
    );
}

#[tokio::test]
async fn counter_helpers_json_keys_remove_clear_and_a_stable_id() {
    let dir = tempfile::tempdir().unwrap();
    let (dp, store) = setup(dir.path()).await;
    let addr = serve(router(layer(&dp, &store).build().unwrap())).await;
    let (b1, b2) = (Browser::new(addr), Browser::new(addr));
    for n in 1..=3 {
        assert_eq!(b1.text("/counter").await, n.to_string());
    }
    assert_eq!(
        b2.text("/counter").await,
        "1",
        "browsers have separate sessions"
    );
    let id = b1.text("/id").await;
    assert_eq!(id.len(), 36);
    assert_eq!(
        b1.text("/id").await,
        id,
        "the id is stored with the session"
    );
    assert_ne!(b2.text("/id").await, id);

    b1.ok("/json").await;
    b1.ok("/json").await;
    assert_eq!(b1.text("/keys").await, "counter,cart");
    let r = b1.post("/json").await;
    assert_eq!(r.text().await.unwrap(), "item0,item1,item2");
    b1.ok("/remove/counter").await;
    assert_eq!(b1.text("/keys").await, "cart");
    b1.ok("/clear").await;
    assert_eq!(b1.text("/keys").await, "");
    assert_eq!(b1.text("/id").await, id, "clear keeps the id");
}

#[tokio::test]
async fn idle_timeout_slides_and_absolute_lifetime_caps() {
    let dir = tempfile::tempdir().unwrap();
    let (dp, store) = setup(dir.path()).await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let minutes = |m: i64| time::Duration::minutes(m);
    let l = layer(&dp, &store).clock(clock.clone()).build().unwrap();
    let addr = serve(router(l)).await;
    let b = Browser::new(addr);
    assert_eq!(b.text("/counter").await, "1");
    let first = b.session_cookie().unwrap();
    for n in 2..=4 {
        clock.advance(minutes(19));
        assert_eq!(
            b.text("/counter").await,
            n.to_string(),
            "19 idle minutes are fine"
        );
    }
    clock.advance(minutes(19));
    assert_eq!(b.text("/noop").await, "noop");
    clock.advance(minutes(19));
    assert_eq!(
        b.text("/counter").await,
        "5",
        "a request that does not read still refreshes"
    );
    clock.advance(minutes(21));
    assert_eq!(
        b.text("/counter").await,
        "1",
        "21 idle minutes end the session"
    );
    assert_ne!(
        b.session_cookie().unwrap(),
        first,
        "a new key replaces the expired one"
    );

    let l = layer(&dp, &store)
        .clock(clock.clone())
        .absolute_lifetime(Duration::from_secs(3600))
        .build()
        .unwrap();
    let addr = serve(router(l)).await;
    let b = Browser::new(addr);
    assert_eq!(b.text("/counter").await, "1");
    for n in 2..=4 {
        clock.advance(minutes(15));
        assert_eq!(b.text("/counter").await, n.to_string());
    }
    clock.advance(minutes(16));
    assert_eq!(
        b.text("/counter").await,
        "1",
        "the absolute lifetime ends an active session"
    );
}

#[tokio::test]
async fn every_kind_of_bad_cookie_starts_a_new_session_silently() {
    let dir = tempfile::tempdir().unwrap();
    let (dp, store) = setup(dir.path()).await;
    let l = layer(&dp, &store).build().unwrap();
    let addr = serve(router(l.clone())).await;
    let b = Browser::new(addr);
    assert_eq!(b.text("/counter").await, "1");
    let good = b.session_cookie().unwrap();

    let other_app = ring(dir.path(), "AnotherApp").build().await.unwrap();
    let foreign = {
        let l2 = SessionLayer::new(&other_app, MemorySessionStore::new());
        let b2 = Browser::new(serve(router(l2)).await);
        b2.text("/counter").await;
        b2.session_cookie().unwrap()
    };
    let not_a_key = {
        let p = dp
            .protector(["SessionMiddleware"])
            .protect(b"too short")
            .unwrap();
        base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(p)
            .replace('+', "%2B")
            .replace('/', "%2F")
    };
    // The reason each is rejected for, as the debug log gives it (None: any reason).
    let cases = [
        ("garbage", "not-a-cookie!".to_owned(), Some("Encoding")),
        ("truncated", good[..good.len() - 10].to_owned(), None),
        ("bad escape", format!("%zz{good}"), Some("Encoding")),
        ("one bit flipped", flip_last_char(&good), None),
        ("another application's", foreign, Some("Unprotect")),
        ("a 9-character key", not_a_key, Some("KeyShape")),
        ("empty", String::new(), None),
    ];
    for (what, value, reason) in cases {
        let log_from = crate::logs::start();
        let before = l.stats().rejected_cookies;
        b.set_session_cookie(&value);
        let r = b.get("/counter").await;
        assert_eq!(r.status(), 200, "{what}");
        assert_eq!(r.text().await.unwrap(), "1", "{what}: a new, empty session");
        assert_ne!(
            b.session_cookie().unwrap(),
            value,
            "{what}: a new cookie was sent"
        );
        if !value.is_empty() {
            assert_eq!(l.stats().rejected_cookies, before + 1, "{what}: counted");
            let logged: Vec<String> = crate::logs::since(log_from)
                .into_iter()
                .filter(|e| e.contains("session cookie rejected"))
                .collect();
            assert!(
                logged
                    .iter()
                    .any(|e| reason.is_none_or(|r| e.contains(&format!("reason={r}")))),
                "{what}: the debug log gives the reason {reason:?}: {logged:?}"
            );
            assert!(
                logged.iter().all(|e| !e.contains(&value)),
                "{what}: the cookie itself is not logged"
            );
        }
    }

    // The good cookie still works; then its key is revoked and it no longer does.
    b.set_session_cookie(&good);
    assert_eq!(b.text("/counter").await, "2");
    let old_key = dp.default_key().unwrap();
    dp.revoke_key(old_key, "test").await.unwrap();
    assert_ne!(
        dp.default_key(),
        Some(old_key),
        "a replacement key was created"
    );
    assert_eq!(
        b.text("/counter").await,
        "1",
        "a revoked key's cookie starts afresh"
    );
    assert_ne!(b.session_cookie().unwrap(), good);
    assert_eq!(b.text("/counter").await, "2", "the new cookie works");
}

fn flip_last_char(value: &str) -> String {
    let mut v = value.to_owned();
    let last = v.pop().unwrap();
    v.push(if last == 'A' { 'B' } else { 'A' });
    v
}

#[tokio::test]
async fn a_cookie_protected_with_a_rotated_out_key_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let (dp, store) = setup(dir.path()).await;
    let addr = serve(router(layer(&dp, &store).build().unwrap())).await;
    let old = Browser::new(addr);
    assert_eq!(old.text("/counter").await, "1");
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
    assert_eq!(dp.default_key(), Some(new_key), "the ring rotated");
    assert_ne!(new_key, old_key);
    assert_eq!(
        old.text("/counter").await,
        "2",
        "the old key still unprotects"
    );
    let fresh = Browser::new(addr);
    fresh.text("/counter").await;
    let value = fresh
        .session_cookie()
        .unwrap()
        .replace("%2B", "+")
        .replace("%2F", "/");
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(value)
        .unwrap();
    assert_eq!(
        &bytes[4..20],
        &new_key.to_guid_bytes(),
        "new cookies use the new key"
    );
}

#[tokio::test]
async fn renew_moves_the_data_to_a_new_key_and_deletes_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let (dp, store) = setup(dir.path()).await;
    let addr = serve(router(layer(&dp, &store).build().unwrap())).await;
    let b = Browser::new(addr);
    assert_eq!(b.text("/counter").await, "1");
    let before = b.session_cookie().unwrap();
    let r = b.post("/renew").await;
    assert_eq!(set_cookies(&r).len(), 1, "a new cookie");
    let after = b.session_cookie().unwrap();
    assert_ne!(after, before);
    assert_eq!(b.text("/counter").await, "2", "data moved");
    let thief = Browser::new(addr);
    thief.set_session_cookie(&before);
    assert_eq!(thief.text("/counter").await, "1", "the old key is dead");
    assert_eq!(
        store.len(),
        2,
        "the renewed session and the thief's new one"
    );
}

#[tokio::test]
async fn destroy_deletes_the_session_and_expires_the_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let (dp, store) = setup(dir.path()).await;
    let addr = serve(router(layer(&dp, &store).build().unwrap())).await;
    let b = Browser::new(addr);
    b.text("/counter").await;
    let cookie = b.session_cookie().unwrap();
    let r = b.post("/logout").await;
    let c = &set_cookies(&r)[0];
    assert!(
        c.starts_with(".AspNetCore.Session=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/"),
        "{c}"
    );
    assert!(b.session_cookie().is_none(), "the browser dropped it");
    assert!(store.is_empty());
    let replay = Browser::new(addr);
    replay.set_session_cookie(&cookie);
    assert_eq!(replay.text("/counter").await, "1");
}

#[tokio::test]
async fn without_consent_a_non_essential_session_is_not_established() {
    let dir = tempfile::tempdir().unwrap();
    let (dp, store) = setup(dir.path()).await;
    let consent = |h: &http::HeaderMap| h.contains_key("x-consent");
    let addr = serve(router(
        layer(&dp, &store).require_consent(consent).build().unwrap(),
    ))
    .await;
    let b = Browser::new(addr);
    let r = b.post("/set/a/1").await;
    assert!(set_cookies(&r).is_empty(), "no consent, no cookie");
    assert!(store.is_empty(), "and nothing stored");
    let r = b
        .client
        .post(format!("{}/set/a/1", b.base))
        .header("x-consent", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(set_cookies(&r).len(), 1, "consent given");

    let essential = layer(&dp, &store)
        .require_consent(consent)
        .essential(true)
        .build()
        .unwrap();
    let r = Browser::new(serve(router(essential)).await)
        .post("/set/a/1")
        .await;
    assert_eq!(
        set_cookies(&r).len(),
        1,
        "an essential cookie needs no consent"
    );
}

#[tokio::test]
async fn a_failed_commit_reaches_the_response_extensions_and_the_hook() {
    let dir = tempfile::tempdir().unwrap();
    let (dp, store) = setup(dir.path()).await;
    let failures = Arc::new(AtomicUsize::new(0));
    let seen = failures.clone();
    let l = layer(&dp, &store)
        .on_commit_error(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let b = Browser::new(serve(router(l.clone())).await);
    let r = b.post("/huge-key").await;
    assert_eq!(r.status(), 200, "the handler's answer is kept");
    let header = r.headers()["x-session-commit-error"].to_str().unwrap();
    assert!(header.contains("longer than 65535"), "{header}");
    assert_eq!(failures.load(Ordering::SeqCst), 1);
    assert_eq!(l.stats().commit_failures, 1);
    assert!(
        set_cookies(&r).is_empty(),
        "no cookie for a session that was not saved"
    );
}

#[tokio::test]
async fn a_route_without_the_layer_gets_a_clear_500() {
    use data_protection::session::Session;
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|_s: Session| async { "unreachable" }),
    );
    let r = Browser::new(serve(app).await).get("/").await;
    assert_eq!(r.status(), 500);
    assert!(r.text().await.unwrap().contains("add SessionLayer"));
}
