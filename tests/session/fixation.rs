//! Session fixation over real HTTP: a cookie whose stored session is gone (destroyed,
//! idle-expired, absolute-expired, evicted, deleted by a newer login of its user, deleted
//! from Redis by hand, or unreadable) never carries a login. Login (`renew()`) always ends
//! with a new key and a new cookie; the planted key stays empty. Also: session keys and ids
//! come from the provider's `RandomSource`, and the layer follows the provider's clock.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use data_protection::session::{
    Expected, MemorySessionStore, SessionEntry, SessionLayer, SessionLayerBuilder, SessionStore,
};
use data_protection::{Clock, DataProtection, ManualClock, RandomSource};
use time::OffsetDateTime;

use crate::app::{Browser, ring, router, serve, set_cookies};

/// The session key a cookie value protects.
fn cookie_key(dp: &DataProtection, value: &str) -> String {
    let b64 = value.replace("%2B", "+").replace("%2F", "/");
    let protected = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(b64)
        .unwrap();
    let key = dp
        .protector(["SessionMiddleware"])
        .unprotect(&protected)
        .unwrap();
    String::from_utf8(key).unwrap()
}

/// The attacker's planted cookie `planted` (whose stored session is gone) reaches the victim,
/// who logs in with it. The login must answer with a new cookie that carries the victim; the
/// planted cookie must stay anonymous and its key must never hold data.
async fn login_with_planted_cookie_does_not_fixate(
    addr: std::net::SocketAddr,
    dp: &DataProtection,
    store: &dyn SessionStore,
    now: impl Fn() -> OffsetDateTime,
    planted: &str,
    what: &str,
) {
    let planted_key = cookie_key(dp, planted);
    assert!(
        store.load(&planted_key, now()).await.unwrap().is_none(),
        "{what}: the planted cookie's session is gone before the login"
    );
    let victim = Browser::with_cookie(addr, planted);
    let user = crate::backends::unique("victim");
    let r = victim.post(&format!("/login/{user}")).await;
    assert_eq!(r.status(), 200, "{what}");
    assert_eq!(
        set_cookies(&r).len(),
        1,
        "{what}: the login sends a new cookie"
    );
    let fresh = victim.session_cookie().unwrap();
    assert_ne!(fresh, planted, "{what}: a new cookie");
    assert_ne!(cookie_key(dp, &fresh), planted_key, "{what}: a new key");
    assert_eq!(
        victim.text("/whoami").await,
        user,
        "{what}: the new cookie carries the user"
    );
    assert!(
        store.load(&planted_key, now()).await.unwrap().is_none(),
        "{what}: nothing is stored under the planted key"
    );

    let attacker = Browser::with_cookie(addr, planted);
    assert_eq!(
        attacker.text("/whoami").await,
        "anonymous",
        "{what}: the planted cookie is anonymous"
    );
    // Even when the attacker writes, the data goes to a new key of the attacker's own.
    attacker.ok("/set/x/1").await;
    assert_ne!(attacker.session_cookie().unwrap(), planted, "{what}");
    assert!(
        store.load(&planted_key, now()).await.unwrap().is_none(),
        "{what}: the planted key is never reused for new data"
    );
    assert_eq!(
        victim.text("/whoami").await,
        user,
        "{what}: still logged in"
    );
    assert_eq!(
        victim.text("/get/x").await,
        "",
        "{what}: sessions are apart"
    );
}

struct Setup {
    dp: DataProtection,
    store: Arc<MemorySessionStore>,
    clock: Arc<ManualClock>,
}

async fn setup(dir: &std::path::Path, capacity: usize) -> Setup {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let dp = ring(dir, "Fixation")
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    Setup {
        dp,
        store: Arc::new(MemorySessionStore::with_capacity(capacity)),
        clock,
    }
}

impl Setup {
    fn layer(&self) -> SessionLayerBuilder {
        SessionLayerBuilder::with_shared_store(&self.dp, self.store.clone())
    }

    async fn check(&self, addr: std::net::SocketAddr, planted: &str, what: &str) {
        let clock = self.clock.clone();
        login_with_planted_cookie_does_not_fixate(
            addr,
            &self.dp,
            &*self.store,
            move || clock.now(),
            planted,
            what,
        )
        .await;
    }
}

/// A browser with a session that holds data; returns it and its cookie.
async fn planted(addr: std::net::SocketAddr) -> (Browser, String) {
    let b = Browser::new(addr);
    assert_eq!(b.text("/counter").await, "1");
    let cookie = b.session_cookie().unwrap();
    (b, cookie)
}

#[tokio::test]
async fn destroyed_session_cookie_does_not_fixate() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 1000).await;
    let addr = serve(router(s.layer().build().unwrap())).await;
    let (attacker, cookie) = planted(addr).await;
    attacker.ok("/logout").await;
    s.check(addr, &cookie, "destroyed").await;
}

#[tokio::test]
async fn logged_in_then_destroyed_session_cookie_does_not_fixate() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 1000).await;
    let addr = serve(router(s.layer().build().unwrap())).await;
    let attacker = Browser::new(addr);
    attacker.ok("/login/attacker").await;
    let cookie = attacker.session_cookie().unwrap();
    attacker.ok("/logout").await;
    s.check(addr, &cookie, "the attacker's own login, logged out")
        .await;
}

#[tokio::test]
async fn idle_expired_session_cookie_does_not_fixate_and_the_layer_follows_the_providers_clock() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 1000).await;
    // No `.clock(..)` on the layer: it must use the provider's (manual) clock.
    let addr = serve(router(s.layer().build().unwrap())).await;
    let (attacker, cookie) = planted(addr).await;
    s.clock.advance(time::Duration::minutes(19));
    assert_eq!(
        attacker.text("/counter").await,
        "2",
        "19 minutes on the provider's clock: alive"
    );
    s.clock.advance(time::Duration::minutes(21));
    s.check(addr, &cookie, "idle-expired").await;
}

#[tokio::test]
async fn absolute_expired_session_cookie_does_not_fixate() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 1000).await;
    let l = s
        .layer()
        .absolute_lifetime(Duration::from_secs(3600))
        .build()
        .unwrap();
    let addr = serve(router(l)).await;
    let (attacker, cookie) = planted(addr).await;
    for _ in 0..4 {
        s.clock.advance(time::Duration::minutes(15));
        attacker.text("/counter").await;
    }
    s.clock.advance(time::Duration::minutes(1));
    s.check(addr, &cookie, "absolute-expired").await;
}

#[tokio::test]
async fn evicted_session_cookie_does_not_fixate() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 2).await;
    let addr = serve(router(s.layer().build().unwrap())).await;
    let (_attacker, cookie) = planted(addr).await;
    // Two newer sessions fill the store; the oldest (closest to expiry) goes.
    for _ in 0..2 {
        s.clock.advance(time::Duration::seconds(10));
        planted(addr).await;
    }
    assert_eq!(s.store.len(), 2, "the store is full");
    s.clock.advance(time::Duration::seconds(10));
    // The check adds sessions later on the clock, so they evict the two fillers, not the
    // victim's new session.
    s.check(addr, &cookie, "evicted").await;
}

#[tokio::test]
async fn session_deleted_by_a_newer_login_does_not_fixate() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 1000).await;
    let addr = serve(router(s.layer().build().unwrap())).await;
    let first = Browser::new(addr);
    first.ok("/login/mallory").await;
    let cookie = first.session_cookie().unwrap();
    let second = Browser::new(addr);
    second.ok("/login/mallory").await;
    assert_eq!(first.text("/whoami").await, "anonymous");
    s.check(addr, &cookie, "deleted by a newer login").await;
}

#[tokio::test]
async fn unreadable_stored_session_cookie_does_not_fixate() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 1000).await;
    let addr = serve(router(s.layer().build().unwrap())).await;
    let (_attacker, cookie) = planted(addr).await;
    let key = cookie_key(&s.dp, &cookie);
    let now = s.clock.now();
    let current = s.store.load(&key, now).await.unwrap().unwrap();
    let mut garbage: SessionEntry = current.clone();
    garbage.data = vec![0xff; 7];
    s.store
        .save(&key, &garbage, Expected::Data(&current.data), now)
        .await
        .unwrap();
    let victim = Browser::with_cookie(addr, &cookie);
    let r = victim.post("/login/victim").await;
    assert_eq!(set_cookies(&r).len(), 1, "a new cookie");
    let fresh = victim.session_cookie().unwrap();
    assert_ne!(cookie_key(&s.dp, &fresh), key, "a new key");
    assert_eq!(victim.text("/whoami").await, "victim");
    let stored = s.store.load(&key, s.clock.now()).await.unwrap();
    assert!(
        stored.is_none_or(|e| e.data == garbage.data),
        "nothing new was written under the unreadable session's key"
    );
    assert_eq!(
        Browser::with_cookie(addr, &cookie).text("/whoami").await,
        "anonymous"
    );
}

#[tokio::test]
async fn renew_always_ends_with_a_new_key_whatever_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 1000).await;
    let addr = serve(router(s.layer().build().unwrap())).await;
    // No cookie at all.
    let b = Browser::new(addr);
    let r = b.post("/login/u1").await;
    assert_eq!(set_cookies(&r).len(), 1);
    let first = b.session_cookie().unwrap();
    // A live session: renew moves it.
    let r = b.post("/renew").await;
    assert_eq!(set_cookies(&r).len(), 1);
    let second = b.session_cookie().unwrap();
    assert_ne!(first, second);
    assert_eq!(b.text("/whoami").await, "u1");
    // A login again on the renewed session.
    let r = b.post("/login/u2").await;
    assert_eq!(set_cookies(&r).len(), 1);
    assert_ne!(b.session_cookie().unwrap(), second);
    assert_eq!(b.text("/whoami").await, "u2");
    for old in [first, second] {
        assert_eq!(
            Browser::with_cookie(addr, &old).text("/whoami").await,
            "anonymous"
        );
    }
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_deleted_from_redis_by_hand_does_not_fixate() {
    use redis::AsyncCommands;
    let dir = tempfile::tempdir().unwrap();
    let dp = ring(dir.path(), "Fixation").build().await.unwrap();
    let (store, _) = crate::redis_common::store("fixation").await;
    let store = Arc::new(store);
    let addr = serve(router(
        SessionLayerBuilder::with_shared_store(&dp, store.clone())
            .build()
            .unwrap(),
    ))
    .await;
    let (_attacker, cookie) = planted(addr).await;
    let redis_key = store.redis_key(&cookie_key(&dp, &cookie));
    let mut raw = crate::redis_common::raw().await;
    let deleted: i64 = raw.del(&redis_key).await.unwrap();
    assert_eq!(deleted, 1, "the session was in Redis under {redis_key}");
    login_with_planted_cookie_does_not_fixate(
        addr,
        &dp,
        &*store,
        OffsetDateTime::now_utc,
        &cookie,
        "deleted from Redis by hand",
    )
    .await;
    let exists: bool = raw.exists(&redis_key).await.unwrap();
    assert!(!exists, "the planted key was not written to Redis");
}

/// A recording generator: distinct bytes every call (a counter mixed in), all outputs kept.
#[derive(Debug, Default)]
struct Recording {
    next: AtomicU8,
    outputs: Mutex<Vec<Vec<u8>>>,
}

impl RandomSource for Recording {
    fn fill(&self, dest: &mut [u8]) {
        let call = self.next.fetch_add(1, Ordering::Relaxed);
        for (i, b) in dest.iter_mut().enumerate() {
            *b = call
                .wrapping_mul(37)
                .wrapping_add(i as u8)
                .wrapping_add(0x5a);
        }
        self.outputs.lock().unwrap().push(dest.to_vec());
    }
}

impl Recording {
    /// Whether some call gave exactly the 16 bytes of this .NET-formatted Guid.
    fn gave_guid(&self, guid: &str) -> bool {
        let bytes = uuid::Uuid::parse_str(guid).unwrap().to_bytes_le();
        self.outputs
            .lock()
            .unwrap()
            .iter()
            .any(|o| o.as_slice() == bytes)
    }
}

#[tokio::test]
async fn session_keys_and_ids_come_from_the_injected_random_source() {
    let dir = tempfile::tempdir().unwrap();
    let random = Arc::new(Recording::default());
    let dp = ring(dir.path(), "Fixation")
        .random(random.clone())
        .build()
        .await
        .unwrap();
    let addr = serve(router(SessionLayer::new(&dp, MemorySessionStore::new()))).await;
    let b = Browser::new(addr);
    b.ok("/set/a/1").await;
    let key = cookie_key(&dp, &b.session_cookie().unwrap());
    assert!(random.gave_guid(&key), "session key {key} from the source");
    assert!(random.gave_guid(&b.text("/id").await), "session id from it");
    b.ok("/renew").await;
    let renewed = cookie_key(&dp, &b.session_cookie().unwrap());
    assert_ne!(renewed, key);
    assert!(random.gave_guid(&renewed), "renewed key from the source");
}
