//! The visit counter of the session layer, with sessions in Redis.
//!
//! ```sh
//! cargo run --example session_counter --features session,axum,redis
//! curl -c jar -b jar http://127.0.0.1:3000/   # visits: 1, then 2, 3, ...
//! ```
//!
//! Settings (environment): `REDIS_URL` (without it, a private `redis-server` from `PATH` is
//! started on a free loopback port and stopped on Ctrl-C), `KEYS_DIR` (key ring directory,
//! default `data-protection-session-counter-keys` in the system temp dir), `ADDR` (default
//! `127.0.0.1:3000`).

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use data_protection::DataProtection;
use data_protection::session::{RedisSessionStore, Session, SessionError, SessionLayer};

/// Redis for the example (`REDIS_URL` or a private server).
#[path = "support/demo_redis.rs"]
pub mod demo_redis;

/// The application: one route counting the visits of each browser.
pub fn app(sessions: SessionLayer) -> Router {
    Router::new().route("/", get(handler)).layer(sessions)
}

async fn handler(session: Session) -> Result<String, AppError> {
    let n = session.get_i32("counter").await?.unwrap_or(0) + 1;
    session.set_i32("counter", n);
    Ok(format!("visits: {n}"))
}

/// A session that cannot be loaded (Redis down or slow) answers 503 within the I/O
/// timeout instead of hanging.
#[derive(Debug)]
pub struct AppError(SessionError);

impl From<SessionError> for AppError {
    fn from(e: SessionError) -> Self {
        Self(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (StatusCode::SERVICE_UNAVAILABLE, self.0.to_string()).into_response()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let redis = demo_redis::DemoRedis::from_env_or_exit();
    let default_keys = std::env::temp_dir().join("data-protection-session-counter-keys");
    let keys = var("KEYS_DIR", &default_keys.display().to_string());
    let addr = var("ADDR", "127.0.0.1:3000");

    let dp = DataProtection::builder()
        .application_name("SessionCounter")
        .persist_keys_to_directory(&keys)
        .build()
        .await?;
    let sessions = SessionLayer::builder(&dp, RedisSessionStore::new(redis.url()).await?)
        .idle_timeout(Duration::from_secs(20 * 60))
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "session counter on http://{}/ (keys in {keys}, sessions in Redis at {}); Ctrl-C stops",
        listener.local_addr()?,
        redis.url()
    );
    axum::serve(listener, app(sessions))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    drop(redis); // stops a private redis-server
    Ok(())
}
