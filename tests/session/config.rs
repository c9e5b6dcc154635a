//! `SessionLayerBuilder::build` checks every setting and returns an error instead of
//! panicking: cookie name, path and domain that would break or inject into `Set-Cookie`,
//! durations that are zero or absurdly long.

use std::time::Duration;

use data_protection::session::{
    MemorySessionStore, SessionConfigError, SessionLayer, SessionLayerBuilder,
};

use crate::app::ring;

#[tokio::test]
async fn bad_cookie_settings_and_durations_are_errors_from_build() {
    let dir = tempfile::tempdir().unwrap();
    let dp = ring(dir.path(), "Config").build().await.unwrap();
    let b = || SessionLayer::builder(&dp, MemorySessionStore::new());
    type Case = (&'static str, fn(SessionLayerBuilder) -> SessionLayerBuilder);
    let bad: [(Case, SessionConfigError); 14] = [
        (
            ("empty name", |b| b.cookie_name("")),
            SessionConfigError::CookieName(String::new()),
        ),
        (
            ("space", |b| b.cookie_name("a b")),
            SessionConfigError::CookieName("a b".into()),
        ),
        (
            ("semicolon", |b| b.cookie_name("a;b")),
            SessionConfigError::CookieName("a;b".into()),
        ),
        (
            ("equals", |b| b.cookie_name("a=b")),
            SessionConfigError::CookieName("a=b".into()),
        ),
        (
            ("non-ASCII", |b| b.cookie_name("séance")),
            SessionConfigError::CookieName("séance".into()),
        ),
        (
            ("header injection in the path", |b| {
                b.cookie_path("/\r\nSet-Cookie: x=1")
            }),
            SessionConfigError::CookiePath("/\r\nSet-Cookie: x=1".into()),
        ),
        (
            ("attribute in the path", |b| b.cookie_path("/; secure")),
            SessionConfigError::CookiePath("/; secure".into()),
        ),
        (
            ("attribute in the domain", |b| {
                b.cookie_domain("a.test; path=/x")
            }),
            SessionConfigError::CookieDomain("a.test; path=/x".into()),
        ),
        (
            ("DEL in the domain", |b| b.cookie_domain("a\u{7f}.test")),
            SessionConfigError::CookieDomain("a\u{7f}.test".into()),
        ),
        (
            ("zero idle timeout", |b| b.idle_timeout(Duration::ZERO)),
            SessionConfigError::Duration("idle timeout"),
        ),
        (
            ("huge idle timeout", |b| b.idle_timeout(Duration::MAX)),
            SessionConfigError::Duration("idle timeout"),
        ),
        (
            ("zero I/O timeout", |b| b.io_timeout(Duration::ZERO)),
            SessionConfigError::Duration("I/O timeout"),
        ),
        (
            ("huge absolute lifetime", |b| {
                b.absolute_lifetime(Duration::MAX)
            }),
            SessionConfigError::Duration("absolute lifetime"),
        ),
        (
            ("huge user index lifetime", |b| {
                b.user_index_ttl(Duration::from_secs(u64::MAX))
            }),
            SessionConfigError::Duration("user index lifetime"),
        ),
    ];
    for ((what, set), expected) in bad {
        let err = set(b()).build().expect_err(what);
        assert_eq!(err, expected, "{what}");
        assert!(!err.to_string().is_empty());
    }
    let century = Duration::from_secs(36_525 * 24 * 3600);
    b().cookie_name("my.app-session_1")
        .cookie_path("/app/x")
        .cookie_domain("example.test")
        .idle_timeout(century)
        .absolute_lifetime(century)
        .io_timeout(Duration::from_millis(1))
        .user_index_ttl(century)
        .build()
        .expect("the extremes that are allowed");
}
