//! Settings of the PostgreSQL session store.

use std::sync::Arc;
use std::time::Duration;

use super::sql::Statements;
use super::{DEFAULT_SESSION_TABLE, DEFAULT_SWEEP_PAGES, Inner, PostgresSessionStore, sweep};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, StoreError, StoreErrorKind};
use crate::postgres_client::{
    ConnectOptions, DEFAULT_CONNECT_TIMEOUT, Pg, Source, check_ident, parse_bool, pg_run, pool,
};

/// The query parameters this store reads from a connection string.
const OWN_PARAMETERS: &[&str] = &["table", "schema", "create_table"];

/// Configures a [`PostgresSessionStore`]; start with [`PostgresSessionStore::builder`] or
/// [`PostgresSessionStore::builder_with_pool`].
#[derive(Clone, Debug)]
#[must_use = "call build() to get a store"]
pub struct PostgresSessionStoreBuilder {
    source: Source,
    schema: Option<String>,
    table: Option<String>,
    create_table: Option<bool>,
    root_certificate: Option<Vec<u8>>,
    connect_timeout: Duration,
    timeout: Duration,
    max_connections: usize,
    sweep_interval: Option<Duration>,
    sweep_pages: usize,
    clock: Option<Arc<dyn Clock>>,
}

impl PostgresSessionStoreBuilder {
    pub(super) fn from_source(source: Source) -> Self {
        Self {
            source,
            schema: None,
            table: None,
            create_table: None,
            root_certificate: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: Duration::from_secs(5),
            max_connections: 16,
            sweep_interval: Some(Duration::from_secs(30 * 60)),
            sweep_pages: DEFAULT_SWEEP_PAGES,
            clock: None,
        }
    }

    /// The schema (default `public`, or `?schema=`).
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The table (default [`DEFAULT_SESSION_TABLE`], or `?table=`).
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = Some(table.into());
        self
    }

    /// Whether an absent table (with its index) is created at build (default true).
    pub fn create_table(mut self, create: bool) -> Self {
        self.create_table = Some(create);
        self
    }

    /// Trusts this PEM certificate authority for TLS.
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificate = Some(pem.into());
        self
    }

    /// Time allowed to open a connection (default 3 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The store's own deadline for one operation (default 5 s). The session layer's I/O
    /// timeout bounds every call as well; the shorter one wins.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The size of the pool opened from a connection string (default 16).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// How often expired rows are deleted (default 30 minutes, the SQL cache's
    /// `ExpiredItemsDeletionInterval`); `None` turns the sweep off (expired rows are still
    /// never returned).
    pub fn sweep_interval(mut self, interval: Option<Duration>) -> Self {
        self.sweep_interval = interval.filter(|d| !d.is_zero());
        self
    }

    /// Table pages (8 KiB each by default) one sweep statement scans for expired rows
    /// (default 1024, 8 MiB): smaller makes each statement shorter, the pass longer.
    pub fn sweep_pages(mut self, pages: usize) -> Self {
        self.sweep_pages = pages.max(1);
        self
    }

    /// The clock the sweep compares expirations with (default the system clock). Loads and
    /// saves use the `now` the session layer passes.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Checks the settings, creates the table if absent (and allowed), and starts the sweep
    /// (which needs a tokio runtime).
    ///
    /// # Errors
    /// [`Error::Config`] for bad settings; [`Error::Store`] when the server cannot be
    /// reached within the deadline, or the table is missing and may not be created.
    pub async fn build(self) -> Result<PostgresSessionStore, Error> {
        let options = ConnectOptions {
            root_certificate: self.root_certificate.clone(),
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            max_connections: self.max_connections,
        };
        let (pool, address, own) = pool(&self.source, OWN_PARAMETERS, &options)?;
        let schema = self
            .schema
            .or_else(|| own.get("schema").cloned())
            .unwrap_or_else(|| "public".to_owned());
        let table = self
            .table
            .or_else(|| own.get("table").cloned())
            .unwrap_or_else(|| DEFAULT_SESSION_TABLE.to_owned());
        check_ident("schema", &schema)?;
        check_ident("table", &table)?;
        let create = match (self.create_table, own.get("create_table")) {
            (Some(b), _) => b,
            (None, Some(v)) => parse_bool("create_table", v)?,
            (None, None) => true,
        };
        let sql = Statements::new(&schema, &table);
        let pg = Pg::new(
            pool,
            format!("postgres {address} sessions {}", sql.qualified),
            self.timeout,
        );
        ensure_table(&pg, &sql, create).await?;
        let sweeper = self.sweep_interval.map(|interval| {
            sweep::spawn(
                pg.clone(),
                sql.clone(),
                self.clock.clone().unwrap_or_else(|| Arc::new(SystemClock)),
                interval,
                self.sweep_pages,
            )
        });
        Ok(PostgresSessionStore {
            inner: Arc::new(Inner { pg, sql, sweeper }),
        })
    }
}

async fn ensure_table(pg: &Pg, sql: &Statements, create: bool) -> Result<(), StoreError> {
    let lock_key = {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(format!("data-protection sessions {}", sql.qualified).as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&d[..8]);
        i64::from_be_bytes(first)
    };
    let exists = pg
        .bounded("creating the session table", async {
            pg_run!(pg, "creating the session table", |client| {
                let exists: bool = client
                    .query_one(sql.exists.as_str(), &[&sql.qualified])
                    .await?
                    .try_get(0)?;
                if exists || !create {
                    return Ok(exists);
                }
                let tx = client.transaction().await?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key])
                    .await?;
                for stmt in &sql.create {
                    tx.batch_execute(stmt).await?;
                }
                tx.commit().await?;
                Ok(true)
            })
        })
        .await?;
    if exists {
        return Ok(());
    }
    let ddl: String = sql.create.iter().map(|s| format!("{s};\n")).collect();
    Err(StoreError::new(
        StoreErrorKind::Other,
        pg.describe(),
        format!(
            "the table {} does not exist and creating it is off; create it with:\n{ddl}",
            sql.qualified
        ),
    ))
}
