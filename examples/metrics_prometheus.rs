//! An axum app that exports the crate's metrics to Prometheus and answers a readiness probe
//! from `DataProtection::health()`.
//!
//! ```sh
//! cargo run --example metrics_prometheus --features metrics,session,axum
//! curl http://127.0.0.1:3000/protect/hello        # a token
//! curl http://127.0.0.1:3000/unprotect/TOKEN      # hello
//! curl http://127.0.0.1:3000/metrics              # data_protection_* series
//! curl -i http://127.0.0.1:3000/ready             # 200 while a key can protect, else 503
//! ```
//!
//! Settings (environment): `KEYS_DIR` (key ring directory, default a temporary directory),
//! `ADDR` (default `127.0.0.1:3000`).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use data_protection::session::{MemorySessionStore, Session, SessionLayer};
use data_protection::{DataProtection, HealthStatus};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The application: protect and unprotect routes, a session counter, `/metrics` and
/// `/ready`.
pub fn app(dp: DataProtection, metrics: PrometheusHandle) -> Router {
    let sessions = SessionLayer::new(&dp, MemorySessionStore::new());
    Router::new()
        .route("/protect/{text}", get(protect))
        .route("/unprotect/{token}", get(unprotect))
        .route("/visits", get(visits).layer(sessions))
        .route("/ready", get(ready))
        .with_state(dp)
        .route("/metrics", get(move || async move { metrics.render() }))
}

async fn protect(
    State(dp): State<DataProtection>,
    Path(text): Path<String>,
) -> (StatusCode, String) {
    match dp.protector(["example"]).protect_str(&text) {
        Ok(token) => (StatusCode::OK, token),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn unprotect(
    State(dp): State<DataProtection>,
    Path(token): Path<String>,
) -> (StatusCode, String) {
    match dp.protector(["example"]).unprotect_str_async(&token).await {
        Ok(text) => (StatusCode::OK, text),
        Err(_) => (StatusCode::BAD_REQUEST, "invalid token".into()),
    }
}

async fn visits(session: Session) -> String {
    let n = session.get_i32("n").await.ok().flatten().unwrap_or(0) + 1;
    session.set_i32("n", n);
    n.to_string()
}

/// Ready while a key can protect; the body says why not, or what needs attention.
async fn ready(State(dp): State<DataProtection>) -> (StatusCode, String) {
    let health = dp.health();
    let code = match health.status {
        HealthStatus::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    let mut body = health.status.as_str().to_owned();
    for problem in &health.problems {
        body.push_str(&format!("\n{problem}"));
    }
    if let Some(failure) = &health.last_refresh_error {
        body.push_str(&format!("\nlast refresh failed: {}", failure.message));
    }
    (code, body)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let metrics = PrometheusBuilder::new().install_recorder()?;
    let keys = std::env::var("KEYS_DIR").unwrap_or_else(|_| {
        let dir = std::env::temp_dir().join("data-protection-metrics-example");
        dir.display().to_string()
    });
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let dp = DataProtection::builder()
        .application_name("MetricsExample")
        .persist_keys_to_directory(&keys)
        .build()
        .await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "key directory {keys}; listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app(dp, metrics)).await?;
    Ok(())
}
