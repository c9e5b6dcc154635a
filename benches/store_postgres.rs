//! Loading and refreshing a ring of 1,000 keys from PostgreSQL, next to the directory store
//! and Redis, in one run.
//!
//! ```sh
//! eval "$(bash scripts/backends.sh start)"     # PG_URL and REDIS_URL
//! cargo bench --features postgres,redis --bench store_postgres
//! ```
//!
//! Groups, each `…/{postgres,redis,directory}`:
//!
//! - `load-1000-keys`: a new node starts on the ring: `DataProtection::builder()
//!   .persist_keys_to(..).build()` with a fresh repository each time. For PostgreSQL that is
//!   opening a pooled connection (TCP, SCRAM authentication), checking the table exists, one
//!   `SELECT` of every row with the table's fingerprint, and parsing every key; for Redis,
//!   connecting, the persistence check, `LRANGE` and parsing; for the directory, listing and
//!   reading 1,000 files and parsing them.
//! - `refresh-unchanged-1000-keys`: `DataProtection::refresh` on a running node when nothing
//!   changed. PostgreSQL: one round trip that sends the last fingerprint and gets one short
//!   row back (the server hashes every row's id and row version; no XML crosses the wire);
//!   Redis: `LRANGE` of the whole list, every element's SHA-256 compared; directory: listing
//!   and reading every file. No XML is parsed in any of them.
//!
//! The table (EF Core's `DataProtectionKeys` layout, in a schema of its own that is dropped at
//! the end), the list and the directory hold the same 1,000 keys (AES-256-CBC +
//! HMAC-SHA256, about 1 KB of XML each), created once at start-up.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use data_protection::repository::{
    DirectoryRepository, PostgresRepository, RedisRepository, XmlRepository,
};

#[path = "support/ring.rs"]
mod ring;

use ring::{
    RING_SIZE, delete_redis, env, fill_directory, fill_redis, load_and_refresh, make_keys, provider,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to PG_URL");
    tokio::spawn(conn);
    client
}

/// Creates the table through the repository (its DDL), then inserts every key in one
/// statement, as rows a .NET node would have written.
async fn fill_postgres(url: &str, schema: &str, keys: &[(String, String)]) {
    let repo = PostgresRepository::builder(url)
        .schema(schema)
        .build()
        .expect("PG_URL");
    assert!(repo.get_all_elements().await.expect("create").is_empty());
    let names: Vec<&str> = keys.iter().map(|(n, _)| n.as_str()).collect();
    let xml: Vec<&str> = keys.iter().map(|(_, x)| x.as_str()).collect();
    let sql = format!(
        "INSERT INTO {} (\"FriendlyName\", \"Xml\") SELECT * FROM unnest($1::text[], $2::text[])",
        repo.table()
    );
    raw(url)
        .await
        .execute(sql.as_str(), &[&names, &xml])
        .await
        .expect("INSERT");
}

async fn drop_schema(url: &str, schema: &str) {
    raw(url)
        .await
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .expect("DROP SCHEMA");
}

fn stores(c: &mut Criterion) {
    let rt = runtime();
    let redis_url = env("REDIS_URL");
    let pg_url = env("PG_URL");
    let name = format!("dp_bench_{}", std::process::id());
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let keys = rt.block_on(make_keys());
    rt.block_on(fill_postgres(&pg_url, &name, &keys));
    rt.block_on(fill_redis(&redis_url, &name, &keys));
    rt.block_on(fill_directory(dir.path(), &keys));
    eprintln!(
        "setup: {RING_SIZE} keys in PostgreSQL schema {name}, Redis list {name} and {} in {:.1?}",
        dir.path().display(),
        started.elapsed()
    );
    let pg_repo = || {
        PostgresRepository::builder(pg_url.as_str())
            .schema(name.as_str())
            .build()
            .expect("PG_URL")
    };
    let redis_repo = || {
        RedisRepository::builder(redis_url.as_str())
            .list_key(name.as_str())
            .build()
            .expect("REDIS_URL")
    };
    let directory_repo = || DirectoryRepository::new(dir.path());

    load_and_refresh(
        c,
        &rt,
        &[
            ("postgres", &|| provider(pg_repo())),
            ("redis", &|| provider(redis_repo())),
            ("directory", &|| provider(directory_repo())),
        ],
    );

    rt.block_on(drop_schema(&pg_url, &name));
    rt.block_on(delete_redis(&redis_url, &name));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = stores
}
criterion_main!(benches);
