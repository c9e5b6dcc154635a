//! Settings of the PostgreSQL key store and the builder (no I/O).

use std::time::Duration;

use super::sql::Statements;
use super::{DEFAULT_SCHEMA, DEFAULT_TABLE, PostgresRepository};
use crate::error::Error;
use crate::postgres_client::{
    ConnectOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Pg, Source, check_ident, parse_bool,
    pool,
};

/// The query parameters this store reads from a connection string.
const OWN_PARAMETERS: &[&str] = &["table", "schema", "create_table"];

/// Configures a [`PostgresRepository`]; start with [`PostgresRepository::builder`] or
/// [`PostgresRepository::builder_with_pool`]. Nothing is contacted until first use.
#[derive(Clone, Debug)]
#[must_use = "call build() to get a repository"]
pub struct PostgresRepositoryBuilder {
    source: Source,
    schema: Option<String>,
    table: Option<String>,
    create_table: Option<bool>,
    root_certificate: Option<Vec<u8>>,
    connect_timeout: Duration,
    timeout: Duration,
    max_connections: usize,
}

impl PostgresRepositoryBuilder {
    pub(super) fn from_source(source: Source) -> Self {
        Self {
            source,
            schema: None,
            table: None,
            create_table: None,
            root_certificate: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_connections: 2,
        }
    }

    /// The schema of the table (default [`DEFAULT_SCHEMA`], or `?schema=`).
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The table (default [`DEFAULT_TABLE`], or `?table=`), as EF Core maps the
    /// `DataProtectionKeys` set. Names are quoted, so case is kept.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = Some(table.into());
        self
    }

    /// Whether an absent table (and schema) is created (default true, or
    /// `?create_table=false`). Turn it off when migrations manage the schema; a missing table
    /// is then an error that shows the DDL.
    pub fn create_table(mut self, create: bool) -> Self {
        self.create_table = Some(create);
        self
    }

    /// Trusts this PEM certificate authority for TLS (instead of `sslrootcert=` or the
    /// system roots).
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificate = Some(pem.into());
        self
    }

    /// Time allowed to open a connection (default 3 s; `connect_timeout=` in the string wins).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Deadline of one operation, waiting for a connection and every round trip included
    /// (default 3 s). A stopped or hung server then gives a
    /// [`Timeout`](crate::error::StoreErrorKind::Timeout) error instead of a hang.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The size of the pool the repository opens from a connection string (default 2).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Checks the settings and creates the repository. The only I/O is reading a CA file.
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed connection string, a bad schema or table name, a bad
    /// `create_table=` value or an unreadable CA.
    pub fn build(self) -> Result<PostgresRepository, Error> {
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
            .unwrap_or_else(|| DEFAULT_SCHEMA.to_owned());
        let table = self
            .table
            .or_else(|| own.get("table").cloned())
            .unwrap_or_else(|| DEFAULT_TABLE.to_owned());
        check_ident("schema", &schema)?;
        check_ident("table", &table)?;
        let create_table = match (self.create_table, own.get("create_table")) {
            (Some(b), _) => b,
            (None, Some(v)) => parse_bool("create_table", v)?,
            (None, None) => true,
        };
        let sql = Statements::new(&schema, &table);
        let describe = format!("postgres {address} table {}", sql.qualified);
        // Without the host: nodes reach one server under different names (a proxy, a DNS
        // alias), and the scope goes into derived key ids that racing nodes must agree on.
        let database = address.rsplit_once('/').map_or("", |(_, db)| db);
        let scope = format!("postgres database {database} table {}", sql.qualified);
        Ok(PostgresRepository::from_parts(
            Pg::new(pool, describe, self.timeout),
            sql,
            scope,
            create_table,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repository::XmlRepository;

    #[test]
    fn the_url_names_the_table_and_the_description_no_password() {
        let repo = PostgresRepository::from_url(
            "postgres://app:hunter2@127.0.0.1:5432/app?schema=dp&table=Keys&create_table=false",
        )
        .unwrap();
        assert_eq!(repo.table(), "\"dp\".\"Keys\"");
        let text = format!("{} {repo:?}", repo.describe());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("127.0.0.1:5432/app"), "{text}");
        assert!(
            repo.ddl()
                .starts_with("CREATE SCHEMA IF NOT EXISTS \"dp\";")
        );
        let builder = PostgresRepository::builder("postgres://app:hunter2@h/app");
        assert!(!format!("{builder:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn the_ring_scope_names_database_and_table_not_the_host() {
        let scope = async |url: &str| {
            PostgresRepository::from_url(url)
                .unwrap()
                .ring_scope()
                .await
        };
        let a = scope("postgres://app:pw@10.0.0.5:5432/app?table=Keys").await;
        assert_eq!(
            a,
            scope("postgres://app@db.internal:6432/app?table=Keys").await
        );
        assert_ne!(
            a,
            scope("postgres://app@10.0.0.5:5432/other?table=Keys").await
        );
        assert_ne!(
            a,
            scope("postgres://app@10.0.0.5:5432/app?table=Other").await
        );
        assert!(!a.contains("10.0.0.5") && !a.contains("pw"), "{a}");
    }

    #[test]
    fn bad_settings_are_config_errors() {
        for url in [
            "postgres://h/db?create_table=maybe",
            "postgres://h/db?table=",
            "postgres://h/db?sslmode=require&sslrootcert=/nonexistent/ca.pem",
        ] {
            assert!(
                matches!(PostgresRepository::from_url(url), Err(Error::Config(_))),
                "{url:?} must be refused"
            );
        }
    }
}
