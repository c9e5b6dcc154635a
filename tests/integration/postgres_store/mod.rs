//! The PostgreSQL key-ring store against real servers: the shared server `scripts/backends.sh`
//! starts (plain and TLS) and private servers each test starts, stops, pauses and restarts.

mod compat;
mod conformance;
mod faults;
mod processes;
mod races;
pub mod server;
mod tls;

use std::sync::Arc;

use data_protection::repository::PostgresRepository;
use data_protection::{DataProtection, ManualClock};

use crate::backends;

/// The shared server, as superuser without TLS.
pub fn url() -> String {
    backends::env("PG_URL")
}

/// A repository on the shared server, on `schema.table`.
pub fn repo(schema: &str, table: &str) -> PostgresRepository {
    PostgresRepository::builder(url())
        .schema(schema)
        .table(table)
        .build()
        .expect("PG_URL is a valid connection string")
}

/// A node with no background task: tests drive refreshes themselves.
pub async fn node(repo: PostgresRepository, clock: Arc<ManualClock>) -> DataProtection {
    DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to(repo)
        .clock(clock)
        .background_refresh(false)
        .build()
        .await
        .expect("build on a reachable PostgreSQL")
}

/// A plain client, for reading and writing the table as another application would.
pub async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to PostgreSQL: {e}; {}", backends::HOW));
    tokio::spawn(conn);
    client
}

/// A schema name no other test uses (lowercase, as unquoted SQL would fold it).
pub fn schema() -> String {
    backends::unique("dp").replace('-', "_").to_lowercase()
}

/// Drops a test's schema and everything in it.
pub async fn drop_schema(schema: &str) {
    raw(&url())
        .await
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .unwrap();
}
