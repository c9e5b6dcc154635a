//! Sessions in PostgreSQL, in the columns of ASP.NET Core's SQL Server distributed cache
//! (`Microsoft.Extensions.Caching.SqlServer`) with PostgreSQL types. `"Value"` holds the same
//! `DistributedSession` blob the Redis store keeps in its `data` field.

mod builder;
mod sql;
mod sweep;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub use builder::PostgresSessionStoreBuilder;
use sql::Statements;

use super::{Expected, SaveOutcome, SessionEntry, SessionStore, USER_INDEX_PREFIX};
use crate::error::{StoreError, StoreErrorKind};
use crate::postgres_client::{Pg, pg_run};

/// The table used when none is given.
pub const DEFAULT_SESSION_TABLE: &str = "SessionCache";

/// Table pages one sweep statement scans by default (8 MiB of 8 KiB pages).
pub const DEFAULT_SWEEP_PAGES: usize = 1024;

/// The sliding expiration the SQL cache applies to an entry given neither expiration.
const DEFAULT_SLIDING: Duration = Duration::from_secs(20 * 60);

/// A [`SessionStore`] in one PostgreSQL table with the SQL cache's columns:
///
/// | column | type | holds |
/// |---|---|---|
/// | `"Id"` | `text` primary key | the session key (or a user's index entry) |
/// | `"Value"` | `bytea` | the serialized session |
/// | `"ExpiresAtTime"` | `timestamptz` | when the row expires |
/// | `"SlidingExpirationInSeconds"` | `double precision` | the idle timeout, or NULL |
/// | `"AbsoluteExpiration"` | `timestamptz` | the absolute expiration, or NULL |
///
/// Expiry has the cache's semantics and is enforced in SQL: a load slides `"ExpiresAtTime"`
/// to `now + sliding` (capped by the absolute expiration) and returns the row in the same
/// `UPDATE … RETURNING`, only if it has not expired. **Load and commit are one round trip
/// each**; a commit is a conditional `UPDATE` (the row's value must still hash, with SHA-256
/// in the server, to what the request loaded) or an `INSERT … ON CONFLICT` that only replaces
/// an expired row, so concurrent requests never lose each other's changes. Only a failed
/// commit reads once more, to hand the current state to the merge. The session layer loads
/// with a plain `SELECT` instead
/// ([`load_deferring_refresh`](SessionStore::load_deferring_refresh)) and restarts the
/// expiry in its commit, so a request that changes its session writes the row once.
///
/// A user's session ([`Session::bind_user`](crate::session::Session::bind_user)) is a row
/// `DataProtection.SessionUser:{user}` holding the session key, swapped in a transaction under
/// an advisory lock. A background task deletes expired rows in one pass over the table, a
/// few pages per statement ([`sweep_interval`](PostgresSessionStoreBuilder::sweep_interval),
/// like the cache's `ExpiredItemsDeletionInterval`); it stops when the last clone of the
/// store is dropped.
///
/// The table has no index on `"ExpiresAtTime"` (the PostgreSQL cache's own table has none
/// either): every save changes that column, and with an index on it PostgreSQL cannot update
/// the row in place (a HOT update) and adds index entries on every write. A table that has
/// such an index (earlier builds of this crate made `IX_{table}_ExpiresAtTime`) still works;
/// dropping the index makes saves cheaper.
///
/// The sliding expiration is kept in fractional seconds (`double precision`; SQL Server's
/// cache uses `bigint` whole seconds), so sub-second idle timeouts work too.
#[derive(Clone)]
pub struct PostgresSessionStore {
    inner: Arc<Inner>,
}

struct Inner {
    pg: Pg,
    sql: Statements,
    sweeper: Option<tokio::task::AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(sweeper) = &self.sweeper {
            sweeper.abort();
        }
    }
}

impl fmt::Debug for PostgresSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSessionStore")
            .field("store", &self.inner.pg.describe())
            .finish_non_exhaustive()
    }
}

impl PostgresSessionStore {
    /// Connects with a connection string (`postgres://…`, the forms and TLS parameters of
    /// [`PostgresRepository::from_url`](crate::repository::PostgresRepository::from_url), with
    /// `table=` and `schema=`), creating the table if it is absent.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) for bad settings, [`Error::Store`](crate::Error::Store)
    /// when the server cannot be reached or the table cannot be created.
    pub async fn new(url: &str) -> Result<Self, crate::Error> {
        Self::builder(url).build().await
    }

    /// Starts configuring a store for a connection string.
    pub fn builder(url: impl Into<String>) -> PostgresSessionStoreBuilder {
        PostgresSessionStoreBuilder::from_source(crate::postgres_client::Source::Url(url.into()))
    }

    /// Starts configuring a store on the application's own `deadpool-postgres` pool.
    pub fn builder_with_pool(pool: deadpool_postgres::Pool) -> PostgresSessionStoreBuilder {
        PostgresSessionStoreBuilder::from_source(crate::postgres_client::Source::Pool(pool))
    }

    /// The DDL of the table and its index, for users who manage their schema.
    pub fn ddl(&self) -> String {
        self.inner
            .sql
            .create
            .iter()
            .map(|s| format!("{s};\n"))
            .collect()
    }

    /// The quoted, schema-qualified table name.
    pub fn table(&self) -> &str {
        &self.inner.sql.qualified
    }

    /// Deletes the rows expired at `now` in one pass over the table, `pages` pages per
    /// statement; returns how many. The background sweep calls this; it is public for jobs
    /// that prefer to run it themselves.
    ///
    /// # Errors
    /// The server failed or did not answer within the deadline (per statement).
    pub async fn sweep_expired(
        &self,
        now: OffsetDateTime,
        pages: usize,
    ) -> Result<u64, StoreError> {
        sweep::sweep(&self.inner.pg, &self.inner.sql, now, pages).await
    }

    fn pg(&self) -> &Pg {
        &self.inner.pg
    }

    fn corrupt(&self, what: &str) -> StoreError {
        StoreError::new(StoreErrorKind::Corrupt, self.pg().describe(), what)
    }

    fn entry(&self, row: &tokio_postgres::Row) -> Result<SessionEntry, StoreError> {
        let bad = |_| self.corrupt("unexpected column types in the session table");
        let data: Vec<u8> = row.try_get(0).map_err(bad)?;
        let absolute: Option<OffsetDateTime> = row.try_get(1).map_err(bad)?;
        let sliding: Option<f64> = row.try_get(2).map_err(bad)?;
        let sliding = match sliding {
            None => None,
            Some(s) => Some(
                Duration::try_from_secs_f64(s)
                    .map_err(|_| self.corrupt("negative or invalid sliding expiration"))?,
            ),
        };
        Ok(SessionEntry::new(data, absolute, sliding))
    }

    async fn current(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SessionEntry>, StoreError> {
        let sql = &self.inner.sql;
        let row = pg_run!(self.pg(), "reading a session", |client| {
            let stmt = client.prepare_cached(&sql.current).await?;
            client.query_opt(&stmt, &[&key, &now]).await
        })?;
        row.as_ref().map(|r| self.entry(r)).transpose()
    }

    async fn save_once(
        &self,
        key: &str,
        entry: &SessionEntry,
        expected: Expected<'_>,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let sql = &self.inner.sql;
        let (sliding, expires) = match (entry.sliding_expiration, entry.absolute_expiration) {
            (None, None) => (Some(DEFAULT_SLIDING), after(now, DEFAULT_SLIDING)),
            (s, _) => (
                s,
                after(now, entry.time_to_live(now).unwrap_or(DEFAULT_SLIDING)),
            ),
        };
        let sliding = sliding.map(|s| s.as_secs_f64());
        let absolute = entry.absolute_expiration;
        let data = entry.data.as_slice();
        let written = match expected {
            Expected::Absent => pg_run!(self.pg(), "saving a session", |client| {
                let stmt = client.prepare_cached(&sql.insert).await?;
                client
                    .query_opt(&stmt, &[&key, &now, &data, &expires, &sliding, &absolute])
                    .await
                    .map(|r| r.is_some())
            })?,
            Expected::Data(old) => {
                let digest: Vec<u8> = Sha256::digest(old).to_vec();
                pg_run!(self.pg(), "saving a session", |client| {
                    let stmt = client.prepare_cached(&sql.replace).await?;
                    client
                        .execute(
                            &stmt,
                            &[&key, &now, &data, &expires, &sliding, &absolute, &digest],
                        )
                        .await
                        .map(|n| n == 1)
                })?
            }
        };
        if written {
            return Ok(SaveOutcome::Saved);
        }
        Ok(SaveOutcome::Conflict(self.current(key, now).await?))
    }
}

/// `now + d`, saturating at the end of year 9999 (PostgreSQL takes far later, .NET does not).
fn after(now: OffsetDateTime, d: Duration) -> OffsetDateTime {
    let last = time::macros::datetime!(9999-12-31 23:59:59 UTC);
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| now.checked_add(d))
        .map_or(last, |t| t.min(last))
}

#[async_trait]
impl SessionStore for PostgresSessionStore {
    async fn load(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SessionEntry>, StoreError> {
        let sql = &self.inner.sql;
        let row = self
            .pg()
            .bounded("loading a session", async {
                pg_run!(self.pg(), "loading a session", |client| {
                    let stmt = client.prepare_cached(&sql.load).await?;
                    client.query_opt(&stmt, &[&key, &now]).await
                })
            })
            .await?;
        row.as_ref().map(|r| self.entry(r)).transpose()
    }

    async fn save(
        &self,
        key: &str,
        entry: &SessionEntry,
        expected: Expected<'_>,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.pg()
            .bounded(
                "saving a session",
                self.save_once(key, entry, expected, now),
            )
            .await
    }

    /// A plain `SELECT` of the live row: no write. The sliding expiration is restarted by
    /// the commit's save or, when nothing is saved, by the default
    /// [`refresh_loaded`](SessionStore::refresh_loaded) (the refresh `UPDATE`), so a request
    /// that changes its session writes the row once, not twice.
    async fn load_deferring_refresh(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<(Option<SessionEntry>, bool), StoreError> {
        let entry = self
            .pg()
            .bounded("loading a session", self.current(key, now))
            .await?;
        Ok((entry, false))
    }

    async fn refresh(&self, key: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let sql = &self.inner.sql;
        self.pg()
            .bounded("refreshing a session", async {
                pg_run!(self.pg(), "refreshing a session", |client| {
                    let stmt = client.prepare_cached(&sql.refresh).await?;
                    client.execute(&stmt, &[&key, &now]).await.map(|_| ())
                })
            })
            .await
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        let sql = &self.inner.sql;
        self.pg()
            .bounded("deleting a session", async {
                pg_run!(self.pg(), "deleting a session", |client| {
                    let stmt = client.prepare_cached(&sql.delete).await?;
                    client.execute(&stmt, &[&key]).await.map(|_| ())
                })
            })
            .await
    }

    async fn swap_user_session(
        &self,
        user: &str,
        session_key: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let sql = &self.inner.sql;
        let id = format!("{USER_INDEX_PREFIX}{user}");
        let expires = after(now, ttl);
        let value = session_key.as_bytes();
        let old = self
            .pg()
            .bounded("recording the user's session", async {
                pg_run!(self.pg(), "recording the user's session", |client| {
                    let tx = client.transaction().await?;
                    // Serializes swaps of one user even while the row does not exist yet.
                    tx.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                        &[&id],
                    )
                    .await?;
                    let old = tx
                        .query_opt(sql.user_current.as_str(), &[&id, &now])
                        .await?;
                    tx.execute(sql.user_upsert.as_str(), &[&id, &value, &expires])
                        .await?;
                    tx.commit().await?;
                    let old = match old {
                        Some(row) => {
                            let live: bool = row.try_get(1)?;
                            let bytes: Vec<u8> = row.try_get(0)?;
                            live.then_some(bytes)
                        }
                        None => None,
                    };
                    Ok(old)
                })
            })
            .await?;
        old.map(|b| {
            String::from_utf8(b).map_err(|_| self.corrupt("a user's session index is not UTF-8"))
        })
        .transpose()
    }

    fn describe(&self) -> String {
        self.inner.pg.describe().to_owned()
    }
}
