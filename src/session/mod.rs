//! Distributed sessions, wire-compatible with ASP.NET Core's session middleware.
//!
//! A cookie holds only the session key, protected by the key ring (purposes [application
//! name, `SessionMiddleware`]); the data lives in a [`SessionStore`]. With
//! [`RedisSessionStore`] the entries have exactly the layout of ASP.NET's
//! StackExchange.Redis distributed cache, so .NET and Rust nodes behind one load balancer
//! share sessions.
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # async fn run(dp: data_protection::DataProtection) {
//! use std::time::Duration;
//! use data_protection::session::{MemorySessionStore, Session, SessionError, SessionLayer};
//!
//! async fn handler(session: Session) -> Result<String, String> {
//!     let n = session.get_i32("counter").await.map_err(|e| e.to_string())?.unwrap_or(0) + 1;
//!     session.set_i32("counter", n);
//!     Ok(format!("visits: {n}"))
//! }
//!
//! let sessions = SessionLayer::builder(&dp, MemorySessionStore::new())
//!     .idle_timeout(Duration::from_secs(20 * 60))
//!     .build()
//!     .expect("valid settings");
//! let app: axum::Router = axum::Router::new()
//!     .route("/", axum::routing::get(handler))
//!     .layer(sessions);
//! # }
//! ```
//!
//! # Semantics
//!
//! * Reads load the session lazily, once per request, within the I/O timeout; a failed
//!   load makes the session unavailable for that request ([`SessionError::Unavailable`])
//!   and is logged; requests that do not touch the session never wait for the store.
//! * Writes are recorded and committed when the inner service has answered, with a
//!   compare-and-swap on the data that was loaded. On conflict the request's own changes
//!   are re-applied to what is stored now and the save retried (bounded). Two concurrent
//!   requests that change different keys both keep their changes; when both change the
//!   same key, the later commit wins for that key (counted in
//!   [`SessionStats::same_key_overwrites`]).
//! * An unchanged session only has its expiry refreshed. A failed commit is logged, put in
//!   the response extensions as [`CommitError`] and passed to the
//!   [`SessionLayer::on_commit_error`] hook.
//! * A cookie that cannot be read (garbage, truncated, another application's, a revoked
//!   key, an expired session) silently starts a new session; the reason is logged at debug
//!   level.

#[cfg(feature = "axum")]
mod axum;
mod commit;
mod config;
pub(crate) mod cookie;
mod data;
mod handle;
mod layer;
mod locks;
mod shared;
mod stats;
pub mod store;

#[cfg(feature = "axum")]
pub use self::axum::MissingSessionLayer;
pub use commit::CommitError;
pub use config::{
    ConsentCheck, CookieConfig, DEFAULT_COMMIT_RETRIES, DEFAULT_COOKIE_NAME, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_IO_TIMEOUT, DEFAULT_USER_INDEX_TTL, SameSite, SecurePolicy, SessionConfigError,
};
pub use cookie::{PURPOSE, SESSION_KEY_LEN};
pub use data::{
    DecodeError, EncodeError, ID_LEN, MAX_ENTRIES, SERIALIZATION_REVISION, SessionData,
};
pub use handle::{Session, SessionError, USER_ENTRY};
pub use layer::{SessionFuture, SessionLayer, SessionLayerBuilder, SessionService};
pub use stats::SessionStats;
pub use store::{Expected, MemorySessionStore, SaveOutcome, SessionEntry, SessionStore};
#[cfg(feature = "postgres")]
pub use store::{PostgresSessionStore, PostgresSessionStoreBuilder};
#[cfg(feature = "redis")]
pub use store::{RedisSessionStore, RedisSessionStoreBuilder};

/// The session cookie in a `Cookie` header value, unescaped (for the fuzz targets).
pub(crate) fn cookie_value_for_fuzzing(header: &str) -> Option<String> {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::COOKIE,
        http::HeaderValue::from_str(header).ok()?,
    );
    cookie::find_cookie(&headers, ".AspNetCore.Session")
        .and_then(crate::token::escape::unescape_data_string)
}
