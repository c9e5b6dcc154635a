//! The key ring in a PostgreSQL table, laid out as EF Core's `DataProtectionKeys` entity with
//! Npgsql (`PersistKeysToDbContext`), so .NET and Rust nodes share one table.

mod config;
mod sql;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

pub use config::PostgresRepositoryBuilder;
use sql::Statements;

use super::{StoreOutcome, StoredElement, XmlRepository, check_friendly_name, element_name};
use crate::error::{Error, StoreError, StoreErrorKind};
use crate::postgres_client::{Pg, pg_run};
use crate::xml::XmlElement;

/// The table EF Core's `DataProtectionKeys` entity maps to by default.
pub const DEFAULT_TABLE: &str = "DataProtectionKeys";
/// The schema used when none is given.
pub const DEFAULT_SCHEMA: &str = "public";

/// A key-ring store in one PostgreSQL table, shareable with ASP.NET Core nodes that use
/// `PersistKeysToDbContext` with Npgsql.
///
/// One row per element: `"Id"` (identity), `"FriendlyName"` (`key-{id}`, `revocation-{id}`,
/// …) and `"Xml"` (the element as single-line XML), the columns EF Core's
/// `DataProtectionKey` entity has. Rows with an empty `"Xml"` are skipped, as .NET does; a
/// row without a friendly name gets the one derived from its XML.
///
/// **Race-free without a unique constraint** (the .NET schema has none, and .NET nodes insert
/// without checking): [`store_element`](XmlRepository::store_element) takes a
/// transaction-scoped advisory lock on the table (`pg_advisory_xact_lock`, released by commit,
/// rollback or a dropped connection, so a crashed node cannot leave it behind), checks for
/// the name, and inserts only if it is absent. Rows .NET nodes insert simply count as changes.
///
/// **Cheap refresh:** every read sends the fingerprint of the last one (an MD5 over each row's
/// id and row version, computed in the server); when nothing changed the server returns one
/// short row and the elements read before are reused, without transferring any XML.
///
/// The table (and schema) is created if absent, with the DDL Npgsql's migration writes
/// ([`ddl`](Self::ddl)), unless [`create_table(false)`](PostgresRepositoryBuilder::create_table)
/// is set. Every operation has a deadline (default 3 s) covering the wait for a pooled
/// connection and every round trip.
///
/// ```no_run
/// # async fn run() -> data_protection::Result<()> {
/// use data_protection::DataProtection;
/// use data_protection::repository::PostgresRepository;
///
/// let dp = DataProtection::builder()
///     .application_name("MyApp")
///     .persist_keys_to(PostgresRepository::from_url(
///         "postgres://app:secret@db:5432/app?sslmode=require&sslrootcert=/etc/ssl/db-ca.pem",
///     )?)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresRepository {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    pg: Pg,
    sql: Statements,
    /// What [`XmlRepository::ring_scope`] answers: database and table, no host.
    scope: String,
    create_table: bool,
    table_ready: AtomicBool,
    /// The fingerprint of the last read and what it returned.
    cache: Mutex<Option<(String, Vec<StoredElement>)>>,
}

impl std::fmt::Debug for PostgresRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresRepository")
            .field("store", &self.inner.pg.describe())
            .field("create_table", &self.inner.create_table)
            .finish_non_exhaustive()
    }
}

/// Sent as the last fingerprint when there is none: never an MD5 or the empty table's `''`.
const NO_FINGERPRINT: &str = "-";

impl PostgresRepository {
    /// A repository for a connection string: `postgres://[USER[:PASSWORD]@]HOST[:PORT]/DB`
    /// (or libpq's `key=value` form), with optional query parameters `table=` (default
    /// [`DEFAULT_TABLE`]), `schema=` (default [`DEFAULT_SCHEMA`]), `create_table=false`, and
    /// for TLS `sslmode=require` with `sslrootcert=PEM_FILE` (a CA to trust instead of the
    /// system roots). Certificates are always verified, host name included. Other parameters
    /// go to `tokio-postgres`. Nothing is contacted here.
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed string, a bad table name or an unreadable CA file.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        Self::builder(url).build()
    }

    /// Starts configuring a repository for a connection string (the forms of
    /// [`from_url`](Self::from_url)).
    pub fn builder(url: impl Into<String>) -> PostgresRepositoryBuilder {
        PostgresRepositoryBuilder::from_source(crate::postgres_client::Source::Url(url.into()))
    }

    /// Starts configuring a repository on the application's own `deadpool-postgres` pool
    /// (its TLS and timeouts are the pool's; the operation deadline still applies).
    pub fn builder_with_pool(pool: deadpool_postgres::Pool) -> PostgresRepositoryBuilder {
        PostgresRepositoryBuilder::from_source(crate::postgres_client::Source::Pool(pool))
    }

    fn from_parts(pg: Pg, sql: Statements, scope: String, create_table: bool) -> Self {
        Self {
            inner: std::sync::Arc::new(Inner {
                pg,
                sql,
                scope,
                create_table,
                table_ready: AtomicBool::new(false),
                cache: Mutex::new(None),
            }),
        }
    }

    /// The DDL that creates the table (what the repository runs when the table is absent,
    /// and what an EF Core migration with Npgsql creates), for users who manage their schema.
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

    fn pg(&self) -> &Pg {
        &self.inner.pg
    }

    /// Creates the table if it is absent (once per repository; under the advisory lock, so
    /// racing nodes do not trip over each other's `CREATE`).
    async fn ensure_table(&self) -> Result<(), StoreError> {
        if self.inner.table_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let sql = &self.inner.sql;
        let create = self.inner.create_table;
        let exists = pg_run!(self.pg(), "checking the table", |client| {
            let row = client
                .query_one(sql.exists.as_str(), &[&sql.qualified])
                .await?;
            let exists: bool = row.try_get(0)?;
            if exists || !create {
                return Ok(exists);
            }
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&sql.lock_key])
                .await?;
            for stmt in &sql.create {
                tx.batch_execute(stmt).await?;
            }
            tx.commit().await?;
            Ok(true)
        })?;
        if !exists {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                self.pg().describe(),
                format!(
                    "the table {} does not exist and creating it is off; create it with:\n{}",
                    sql.qualified,
                    self.ddl()
                ),
            ));
        }
        self.inner.table_ready.store(true, Ordering::Release);
        Ok(())
    }

    async fn read(&self) -> Result<Vec<StoredElement>, StoreError> {
        self.ensure_table().await?;
        let seen = {
            let cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache
                .as_ref()
                .map_or_else(|| NO_FINGERPRINT.to_owned(), |(f, _)| f.clone())
        };
        let sql = &self.inner.sql;
        let rows = pg_run!(self.pg(), "reading the table", |client| {
            let stmt = client.prepare_cached(&sql.read).await?;
            client.query(&stmt, &[&seen]).await
        })?;
        let corrupt = |e: tokio_postgres::Error| {
            StoreError::new(
                StoreErrorKind::Corrupt,
                self.pg().describe(),
                format!("unexpected column types in {}: {e}", sql.qualified),
            )
        };
        let fingerprint: String = match rows.first() {
            Some(row) => row.try_get(0).map_err(corrupt)?,
            None => String::new(),
        };
        if fingerprint == seen {
            let cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, elements)) = cache.as_ref() {
                return Ok(elements.clone());
            }
        }
        let mut elements = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: Option<i64> = row.try_get(1).map_err(corrupt)?;
            if id.is_none() {
                continue; // the one row of an empty table
            }
            let name: Option<String> = row.try_get(2).map_err(corrupt)?;
            let xml: Option<String> = row.try_get(3).map_err(corrupt)?;
            let Some(xml) = xml.filter(|x| !x.trim().is_empty()) else {
                continue; // as .NET: rows without XML are skipped
            };
            let name = name.filter(|n| !n.is_empty()).or_else(|| derive_name(&xml));
            elements.push(StoredElement::new(name, xml));
        }
        let mut cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        *cache = Some((fingerprint, elements.clone()));
        Ok(elements)
    }

    async fn insert(&self, xml: &str, friendly_name: &str) -> Result<StoreOutcome, StoreError> {
        self.ensure_table().await?;
        let sql = &self.inner.sql;
        pg_run!(self.pg(), "writing to the table", |client| {
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&sql.lock_key])
                .await?;
            let rows = tx.query(sql.find.as_str(), &[&friendly_name]).await?;
            let mut taken = false;
            for row in &rows {
                let name: Option<String> = row.try_get(0)?;
                let text: Option<String> = row.try_get(1)?;
                let name = name
                    .filter(|n| !n.is_empty())
                    .or_else(|| text.as_deref().and_then(derive_name));
                if name.as_deref() == Some(friendly_name) {
                    taken = true;
                    break;
                }
            }
            if taken {
                tx.rollback().await?;
                return Ok(StoreOutcome::AlreadyExists);
            }
            tx.execute(sql.insert.as_str(), &[&friendly_name, &xml])
                .await?;
            tx.commit().await?;
            Ok(StoreOutcome::Created)
        })
    }

    async fn delete(&self, names: &[String]) -> Result<(), StoreError> {
        self.ensure_table().await?;
        let sql = &self.inner.sql;
        pg_run!(self.pg(), "deleting from the table", |client| {
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&sql.lock_key])
                .await?;
            let mut ids: Vec<i64> = Vec::new();
            for row in tx.query(sql.unnamed.as_str(), &[]).await? {
                let id: i32 = row.try_get(0)?;
                let text: Option<String> = row.try_get(1)?;
                let derived = text.as_deref().and_then(derive_name);
                if derived.is_some_and(|d| names.contains(&d)) {
                    ids.push(i64::from(id));
                }
            }
            tx.execute(sql.delete.as_str(), &[&names, &ids]).await?;
            tx.commit().await
        })
    }
}

fn derive_name(text: &str) -> Option<String> {
    XmlElement::parse(text).ok().as_ref().and_then(element_name)
}

#[async_trait]
impl XmlRepository for PostgresRepository {
    async fn get_all_elements(&self) -> Result<Vec<StoredElement>, StoreError> {
        self.pg().bounded("reading the table", self.read()).await
    }

    async fn store_element(
        &self,
        element: &XmlElement,
        friendly_name: &str,
    ) -> Result<StoreOutcome, StoreError> {
        check_friendly_name(self.pg().describe(), friendly_name)?;
        let xml = zeroize::Zeroizing::new(element.to_compact_string());
        self.pg()
            .bounded("writing to the table", self.insert(&xml, friendly_name))
            .await
    }

    async fn delete_elements(&self, friendly_names: &[String]) -> Result<(), StoreError> {
        for name in friendly_names {
            check_friendly_name(self.pg().describe(), name)?;
        }
        if friendly_names.is_empty() {
            return Ok(());
        }
        self.pg()
            .bounded("deleting from the table", self.delete(friendly_names))
            .await
    }

    fn describe(&self) -> String {
        self.inner.pg.describe().to_owned()
    }

    async fn ring_scope(&self) -> String {
        self.inner.scope.clone()
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }
}
