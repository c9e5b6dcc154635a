//! The background deletion of expired rows: batches through the `"ExpiresAtTime"` index, so
//! each statement is short and a large table is never locked for long.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::sql::Statements;
use crate::clock::Clock;
use crate::error::StoreError;
use crate::postgres_client::{Pg, pg_run};

/// Deletes rows expired at `now`, `batch` at a time, until a batch comes back short.
pub(super) async fn sweep(
    pg: &Pg,
    sql: &Statements,
    now: OffsetDateTime,
    batch: usize,
) -> Result<u64, StoreError> {
    let limit = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
    let mut total = 0;
    loop {
        let deleted = pg
            .bounded("deleting expired sessions", async {
                pg_run!(pg, "deleting expired sessions", |client| {
                    let stmt = client.prepare_cached(&sql.sweep).await?;
                    client.execute(&stmt, &[&now, &limit]).await
                })
            })
            .await?;
        total += deleted;
        if deleted < limit.unsigned_abs() {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Runs [`sweep`] every `interval` (the first time one interval after start) until aborted.
/// Failures are logged and retried at the next tick.
pub(super) fn spawn(
    pg: Pg,
    sql: Statements,
    clock: Arc<dyn Clock>,
    interval: Duration,
    batch: usize,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match sweep(&pg, &sql, clock.now(), batch).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(store = %pg.describe(), "deleted {n} expired sessions"),
                Err(e) => tracing::warn!("deleting expired sessions failed: {e}"),
            }
        }
    })
    .abort_handle()
}
