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

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use data_protection::repository::{DirectoryRepository, RedisRepository};

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

fn stores(c: &mut Criterion) {
    let rt = runtime();
    let url = env("REDIS_URL");
    let list = format!("dp-bench-{}", std::process::id());
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let keys = rt.block_on(make_keys());
    rt.block_on(fill_redis(&url, &list, &keys));
    rt.block_on(fill_directory(dir.path(), &keys));
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

    load_and_refresh(
        c,
        &rt,
        &[
            ("redis", &|| provider(redis_repo())),
            ("directory", &|| provider(directory_repo())),
        ],
    );

    rt.block_on(delete_redis(&url, &list));
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
