//! Redis helpers: stores on the shared servers with unique instance names, raw
//! connections; the private redis-server for fault tests is `support::private_redis`.

use data_protection::session::RedisSessionStore;

use crate::backends::{env, unique};

/// A store on the shared Redis, keys prefixed with a fresh instance name.
pub async fn store(name: &str) -> (RedisSessionStore, String) {
    let instance = format!("{}:", unique(name));
    let store = RedisSessionStore::builder(env("REDIS_URL"))
        .instance_name(&instance)
        .build()
        .await
        .expect("connect to REDIS_URL");
    (store, instance)
}

/// The seed URLs of the shared 3-node cluster.
pub fn cluster_urls() -> Vec<String> {
    env("REDIS_CLUSTER_URLS")
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// A raw connection to the shared Redis.
pub async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(env("REDIS_URL"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}
