//! The Redis key-ring store against real servers: the shared server and cluster that
//! `scripts/backends.sh` starts, and private servers each test starts, stops and stops
//! again at the end (killing, pausing and TLS).

mod compat;
mod conformance;
mod faults;
mod races;
mod tls;

use std::sync::Arc;

use data_protection::repository::RedisRepository;
use data_protection::{DataProtection, ManualClock};

use crate::backends;

/// The shared single server.
pub fn url() -> String {
    backends::env("REDIS_URL")
}

/// The seed URLs of the shared 3-node cluster.
pub fn cluster_urls() -> Vec<String> {
    backends::env("REDIS_CLUSTER_URLS")
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// A repository on the shared server, on `list`.
pub fn repo(list: &str) -> RedisRepository {
    RedisRepository::builder(url())
        .list_key(list)
        .build()
        .expect("REDIS_URL is a valid Redis URL")
}

/// A node with no background task: tests drive refreshes themselves.
pub async fn node(repo: RedisRepository, clock: Arc<ManualClock>) -> DataProtection {
    DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to(repo)
        .clock(clock)
        .background_refresh(false)
        .build()
        .await
        .expect("build on a reachable Redis")
}

/// A plain connection, for reading and writing the list by hand as another client would.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}; {}", backends::HOW))
}

/// `LRANGE key 0 -1` on the shared server.
pub async fn lrange(key: &str) -> Vec<String> {
    redis::cmd("LRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query_async(&mut raw(&url()).await)
        .await
        .unwrap()
}

/// Removes a test's list from the shared server.
pub async fn delete(key: &str) {
    let _: i64 = redis::cmd("DEL")
        .arg(key)
        .query_async(&mut raw(&url()).await)
        .await
        .unwrap();
}
