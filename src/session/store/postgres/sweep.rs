//! The background deletion of expired rows: one pass over the table, `pages` pages per
//! statement (TID range scans, PostgreSQL 14 or later), so no index on `"ExpiresAtTime"` is
//! needed and each statement is short: a large table is never locked for long.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::sql::Statements;
use crate::clock::Clock;
use crate::error::StoreError;
use crate::postgres_client::{Pg, pg_run};

/// Deletes rows expired at `now`, scanning `pages` pages of the table per statement, from
/// the first page to the last one the table had when the sweep started.
pub(super) async fn sweep(
    pg: &Pg,
    sql: &Statements,
    now: OffsetDateTime,
    pages: usize,
) -> Result<u64, StoreError> {
    let step = i64::try_from(pages.max(1)).unwrap_or(i64::MAX);
    let size: Option<i64> = pg
        .bounded("measuring the session table", async {
            pg_run!(pg, "measuring the session table", |client| {
                let stmt = client.prepare_cached(&sql.pages).await?;
                client.query_one(&stmt, &[&sql.qualified]).await
            })
        })
        .await?
        .get(0);
    let size = size.unwrap_or(0);
    let mut total = 0;
    let mut first = 0i64;
    while first < size {
        let end = first.saturating_add(step);
        total += pg
            .bounded("deleting expired sessions", async {
                pg_run!(pg, "deleting expired sessions", |client| {
                    let stmt = client.prepare_cached(&sql.sweep).await?;
                    client.execute(&stmt, &[&now, &first, &end]).await
                })
            })
            .await?;
        first = end;
        tokio::task::yield_now().await;
    }
    Ok(total)
}

/// Runs [`sweep`] every `interval` (the first time one interval after start) until aborted.
/// Failures are logged and retried at the next tick.
pub(super) fn spawn(
    pg: Pg,
    sql: Statements,
    clock: Arc<dyn Clock>,
    interval: Duration,
    pages: usize,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match sweep(&pg, &sql, clock.now(), pages).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(store = %pg.describe(), "deleted {n} expired sessions"),
                Err(e) => tracing::warn!("deleting expired sessions failed: {e}"),
            }
        }
    })
    .abort_handle()
}
