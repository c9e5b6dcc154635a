//! The counter app behind each layer, shared by the load comparison and the profile: the
//! same handler logic, our layer's and tower-sessions' settings (20 minutes idle, no
//! `Secure` flag), and the peer's Redis pool.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use data_protection::DataProtection;
use data_protection::session::{Session, SessionLayer, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore as PeerStore};
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

async fn ours(session: Session) -> Result<String, StatusCode> {
    let n = session
        .get_i32("counter")
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
        .unwrap_or(0)
        + 1;
    session.set_i32("counter", n);
    Ok(format!("visits: {n}"))
}

async fn peer(session: tower_sessions::Session) -> Result<String, StatusCode> {
    let n: i32 = session
        .get("counter")
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
        .unwrap_or(0)
        + 1;
    session
        .insert("counter", n)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(format!("visits: {n}"))
}

/// The counter app behind our session layer on `store`.
pub fn ours_app(dp: &DataProtection, store: impl SessionStore + 'static) -> Result<Router, Error> {
    let layer = SessionLayer::builder(dp, store)
        .idle_timeout(Duration::from_secs(20 * 60))
        .build()?;
    Ok(Router::new().route("/", get(ours)).layer(layer))
}

/// The counter app behind tower-sessions on `store`.
pub fn peer_app<S: PeerStore + Clone>(store: S) -> Router {
    let layer = SessionManagerLayer::new(store)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(20)));
    Router::new().route("/", get(peer)).layer(layer)
}

/// The peer's Redis client: a fred pool of 6 connections, connected.
pub async fn fred_pool(url: &str) -> Result<Pool, Error> {
    let pool = Pool::new(Config::from_url(url)?, None, None, None, 6)?;
    let _connection = pool.connect();
    pool.wait_for_connect().await?;
    Ok(pool)
}
