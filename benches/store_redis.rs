//! Loading and refreshing a ring of 1,000 keys from Redis, next to the directory store.
//!
//! Run with `REDIS_URL=redis://127.0.0.1:PORT/ cargo bench --features redis --bench
//! store_redis` (`eval "$(bash scripts/backends.sh start)"` provides a server). Groups:
//!
//! - `load-1000-keys/{redis,directory}`: `DataProtection::builder().persist_keys_to(..)
//!   .build()` with a fresh repository each time: for Redis that is connecting (plus the
//!   one-time persistence check), `LRANGE` of the whole list and parsing every element;
//!   for the directory, listing and reading 1,000 files and parsing them.
//! - `refresh-unchanged-1000-keys/{redis,directory}`: `DataProtection::refresh` on a built
//!   provider when nothing changed: one read of the whole ring, no XML parsed (the key
//!   manager and the Redis store both cache by SHA-256 of the element text).
//!
//! The list and the directory hold the same 1,000 keys (AES-256-CBC + HMAC-SHA256, about
//! 1 KB of XML each), created once at start-up (the setup time is printed).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use data_protection::repository::{
    DirectoryRepository, MemoryRepository, RedisRepository, XmlRepository,
};
use data_protection::xml::XmlElement;
use data_protection::{DataProtection, DataProtectionBuilder};
use time::OffsetDateTime;

const RING_SIZE: usize = 1_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn redis_url() -> String {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "REDIS_URL is not set: this benchmark needs a Redis server. Start one with \
             `eval \"$(bash scripts/backends.sh start)\"` or set REDIS_URL=redis://HOST:PORT/"
        ),
    }
}

/// `RING_SIZE` keys, one a day, each valid 90 days (the newest are still active), as
/// `(friendly name, single-line XML)`.
async fn make_keys() -> Vec<(String, String)> {
    let scratch_store: Arc<dyn XmlRepository> = Arc::new(MemoryRepository::new());
    let scratch = DataProtection::builder()
        .background_refresh(false)
        .disable_automatic_key_generation()
        .persist_keys_to_shared(scratch_store.clone())
        .build()
        .await
        .expect("scratch provider");
    let now = OffsetDateTime::now_utc();
    let mut keys = Vec::with_capacity(RING_SIZE);
    for i in 0..RING_SIZE {
        let activation = now - time::Duration::days((RING_SIZE - i) as i64);
        scratch
            .create_key(activation, activation + time::Duration::days(90))
            .await
            .expect("create_key");
        let stored = scratch_store.get_all_elements().await.expect("scratch");
        let name = stored[0].name.clone().expect("memory store keeps names");
        keys.push((name.clone(), stored[0].xml.to_string()));
        scratch_store
            .delete_elements(&[name])
            .await
            .expect("clear scratch");
    }
    keys
}

/// Fills a fresh list (plain RPUSH, as .NET writes) and a directory with the same keys.
async fn fill(url: &str, list: &str, dir: &std::path::Path, keys: &[(String, String)]) {
    let mut conn = redis::Client::open(url)
        .expect("REDIS_URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to REDIS_URL");
    let _: () = redis::cmd("DEL")
        .arg(list)
        .query_async(&mut conn)
        .await
        .expect("DEL");
    let mut push = redis::pipe();
    for (_, xml) in keys {
        push.cmd("RPUSH").arg(list).arg(xml).ignore();
    }
    let _: () = push.query_async(&mut conn).await.expect("RPUSH");
    let directory = DirectoryRepository::new(dir);
    for (name, xml) in keys {
        let element = XmlElement::parse(xml).expect("key XML");
        directory
            .store_element(&element, name)
            .await
            .expect("write key file");
    }
}

fn provider(repo: impl XmlRepository + 'static) -> DataProtectionBuilder {
    DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to(repo)
        .background_refresh(false)
        .disable_automatic_key_generation()
}

fn stores(c: &mut Criterion) {
    let rt = runtime();
    let url = redis_url();
    let list = format!("dp-bench-{}", std::process::id());
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let keys = rt.block_on(make_keys());
    rt.block_on(fill(&url, &list, dir.path(), &keys));
    eprintln!(
        "setup: {RING_SIZE} keys in Redis list {list} and in {} in {:.1?}",
        dir.path().display(),
        started.elapsed()
    );
    let redis_repo = || {
        RedisRepository::builder(url.as_str())
            .list_key(list.as_str())
            .build()
            .expect("REDIS_URL")
    };
    let directory_repo = || DirectoryRepository::new(dir.path());

    let mut load = c.benchmark_group("load-1000-keys");
    load.bench_function("redis", |b| {
        b.iter(|| {
            let dp = rt.block_on(provider(redis_repo()).build()).expect("load");
            assert_eq!(dp.keys().len(), RING_SIZE);
            black_box(dp)
        });
    });
    load.bench_function("directory", |b| {
        b.iter(|| {
            let dp = rt
                .block_on(provider(directory_repo()).build())
                .expect("load");
            assert_eq!(dp.keys().len(), RING_SIZE);
            black_box(dp)
        });
    });
    load.finish();

    let mut refresh = c.benchmark_group("refresh-unchanged-1000-keys");
    for (name, dp) in [
        ("redis", rt.block_on(provider(redis_repo()).build())),
        ("directory", rt.block_on(provider(directory_repo()).build())),
    ] {
        let dp = dp.expect("load");
        refresh.bench_function(name, |b| {
            b.iter(|| rt.block_on(dp.refresh()).expect("refresh"));
        });
    }
    refresh.finish();

    rt.block_on(async {
        let mut conn = redis::Client::open(url.as_str())
            .expect("REDIS_URL")
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        let _: () = redis::cmd("DEL")
            .arg(&list)
            .query_async(&mut conn)
            .await
            .expect("DEL");
    });
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
