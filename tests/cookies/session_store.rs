//! The cookie-only session store over real HTTP: the same Session API, idle and absolute
//! expiry from protected timestamps, the budget error, destroy removing every chunk, renew.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{get, post};
use data_protection::ManualClock;
use data_protection::cookies::CookieSessionStore;
use data_protection::session::{CommitError, Session, SessionLayer};
use time::OffsetDateTime;

use crate::{Client, ring, serve};

async fn counter(session: Session) -> String {
    let n = session.get_i32("n").await.unwrap().unwrap_or(0) + 1;
    session.set_i32("n", n);
    n.to_string()
}

async fn put(session: Session, UrlPath(key): UrlPath<String>, body: String) -> &'static str {
    session.set_string(&key, &body);
    "ok"
}

async fn read(session: Session, UrlPath(key): UrlPath<String>) -> String {
    session
        .get_string(&key)
        .await
        .unwrap()
        .unwrap_or_else(|| "<absent>".into())
}

async fn destroy(session: Session) -> &'static str {
    session.destroy();
    "ok"
}

async fn renew(session: Session) -> &'static str {
    session.renew();
    "ok"
}

async fn bind(session: Session) -> &'static str {
    session.bind_user("alice");
    "ok"
}

async fn commit_error_header(mut response: Response) -> Response {
    if let Some(e) = response.extensions().get::<CommitError>() {
        let value = HeaderValue::from_str(&e.to_string().replace(['\r', '\n'], " ")).unwrap();
        response.headers_mut().insert("x-commit-error", value);
    }
    response
}

struct Setup {
    client: Client,
    clock: Arc<ManualClock>,
    addr: std::net::SocketAddr,
}

async fn setup(dir: &std::path::Path, budget: usize) -> Setup {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let dp = ring(dir, "CookieSessions")
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    let store = CookieSessionStore::builder(&dp).budget(budget).build();
    let sessions = SessionLayer::builder(&dp, store.clone())
        .idle_timeout(Duration::from_secs(60))
        .absolute_lifetime(Duration::from_secs(300))
        .clock(clock.clone())
        .build()
        .unwrap();
    let app = Router::new()
        .route("/counter", get(counter))
        .route("/put/{key}", post(put))
        .route("/get/{key}", get(read))
        .route("/destroy", post(destroy))
        .route("/renew", post(renew))
        .route("/bind", post(bind))
        .layer(sessions)
        .layer(store.layer())
        .layer(axum::middleware::map_response(commit_error_header));
    let addr = serve(app).await;
    Setup {
        client: Client::new(addr),
        clock,
        addr,
    }
}

#[tokio::test]
async fn the_session_lives_in_the_cookie_with_the_usual_api() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 16_000).await;
    let c = &s.client;
    assert_eq!(c.get("/counter").await.body, "1");
    assert_eq!(c.get("/counter").await.body, "2");
    assert_eq!(c.get("/counter").await.body, "3");
    let data = c.cookie(".AspNetCore.Session.Data").expect("data cookie");
    assert!(data.starts_with("CfDJ8"), "{data}");
    assert!(c.cookie(".AspNetCore.Session").is_some(), "key cookie");
    // Another browser with no cookies starts from scratch: nothing is on the server.
    let other = Client::new(s.addr);
    assert_eq!(other.get("/counter").await.body, "1");
    // The data cookie cannot be moved under another session key.
    let stolen = Client::new(s.addr);
    stolen.set_cookie(".AspNetCore.Session.Data", &data);
    assert_eq!(stolen.get("/counter").await.body, "1");
    c.post("/put/name", "alice").await;
    assert_eq!(c.get("/get/name").await.body, "alice");
    // What it cannot do: a replayed older data cookie is accepted (no server state).
    let old = c.cookie(".AspNetCore.Session.Data").unwrap();
    c.post("/put/name", "bob").await;
    assert_eq!(c.get("/get/name").await.body, "bob");
    c.set_cookie(".AspNetCore.Session.Data", &old);
    assert_eq!(c.get("/get/name").await.body, "alice");
    // renew moves to a new key and keeps the data.
    let key_before = c.cookie(".AspNetCore.Session").unwrap();
    c.post("/renew", "").await;
    assert_ne!(c.cookie(".AspNetCore.Session").unwrap(), key_before);
    assert_eq!(c.get("/get/name").await.body, "alice");
    // bind_user needs a server-side index: the commit error says so.
    let r = c.post("/bind", "").await;
    assert!(
        Client::header(&r, "x-commit-error").contains("cannot bind sessions to users"),
        "{:?}",
        r.headers
    );
}

#[tokio::test]
async fn idle_and_absolute_expiry_come_from_protected_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 16_000).await;
    let c = &s.client;
    assert_eq!(c.get("/counter").await.body, "1");
    // Within the idle timeout each request slides it.
    for n in 2..=5 {
        s.clock.advance(time::Duration::seconds(50));
        assert_eq!(c.get("/counter").await.body, n.to_string());
    }
    // Idle for longer than 60 s: gone, whatever the browser sends.
    s.clock.advance(time::Duration::seconds(61));
    assert_eq!(c.get("/counter").await.body, "1");
    // Active every 50 s, but the absolute lifetime (300 s) ends it.
    for _ in 0..5 {
        s.clock.advance(time::Duration::seconds(50));
        c.get("/counter").await;
    }
    s.clock.advance(time::Duration::seconds(50));
    assert_eq!(c.get("/counter").await.body, "1", "absolute lifetime over");
}

#[tokio::test]
async fn requests_that_only_read_the_session_slide_its_idle_expiry_too() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 16_000).await;
    let c = &s.client;
    c.post("/put/name", "alice").await;
    // Only reads, every 50 s: each one restarts the 60 s idle timeout, as a load does in
    // every store.
    for _ in 0..4 {
        s.clock.advance(time::Duration::seconds(50));
        assert_eq!(c.get("/get/name").await.body, "alice");
    }
    s.clock.advance(time::Duration::seconds(61));
    assert_eq!(c.get("/get/name").await.body, "<absent>", "then idle: gone");
}

#[tokio::test]
async fn outgrowing_the_budget_is_a_clear_error_and_destroy_removes_every_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 12_000).await;
    let c = &s.client;
    let big = "x".repeat(8_000);
    let r = c.post("/put/big", big.clone()).await;
    assert!(
        r.set_cookies.len() >= 4,
        "data chunked: {}",
        r.set_cookies.len()
    );
    let names = c.names();
    assert!(
        names.contains(&".AspNetCore.Session.DataC3".to_owned()),
        "{names:?}"
    );
    assert_eq!(c.get("/get/big").await.body, big);
    // Too large for the budget: a commit error, and the cookie keeps the old data (the
    // commit's load only restarted its idle expiry); nothing of the new value is written.
    let huge = "y".repeat(20_000);
    let r = c.post("/put/huge", huge).await;
    let error = Client::header(&r, "x-commit-error");
    assert!(error.contains("over the budget of 12000"), "{error}");
    let written: usize = r.set_cookies.iter().map(String::len).sum();
    assert!(written < 12_000, "only the old data: {written} characters");
    assert_eq!(c.get("/get/huge").await.body, "<absent>");
    assert_eq!(c.get("/get/big").await.body, big);
    // destroy: the key cookie and every data chunk go.
    c.post("/destroy", "").await;
    assert!(c.names().is_empty(), "{:?}", c.names());
}
