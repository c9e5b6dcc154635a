//! One lazily opened, self-reconnecting connection per repository.

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use ::redis::{Client, ErrorKind, RedisError, RedisResult, Value};

use super::Persistence;
use crate::redis_client::ensure_crypto_provider;
pub(super) use crate::redis_client::{Conn, is_connection_lost, store_error};

/// Where the connection goes.
pub(super) enum Backend {
    /// One server (or a proxy in front of several).
    Single(Box<Client>),
    /// A Redis Cluster, reached through its seed nodes.
    Cluster(Box<ClusterClient>),
}

/// Opens the connection on first use. A failed attempt is not kept: the next call tries
/// again. Once open, the redis client reconnects by itself after a drop.
pub(super) struct Connector {
    backend: Backend,
    connect_timeout: Duration,
    response_timeout: Duration,
    list_key: String,
    describe: String,
    conn: tokio::sync::OnceCell<Conn>,
}

impl Connector {
    pub(super) fn new(
        backend: Backend,
        connect_timeout: Duration,
        response_timeout: Duration,
        list_key: String,
        describe: String,
    ) -> Self {
        Self {
            backend,
            connect_timeout,
            response_timeout,
            list_key,
            describe,
            conn: tokio::sync::OnceCell::new(),
        }
    }

    /// The connection, opened now if this is the first use (or earlier attempts failed).
    pub(super) async fn get(&self) -> RedisResult<Conn> {
        self.conn.get_or_try_init(|| self.open()).await.cloned()
    }

    async fn open(&self) -> RedisResult<Conn> {
        ensure_crypto_provider();
        let mut conn = match &self.backend {
            Backend::Single(client) => {
                // One attempt per call: the key manager retries, and a caller waiting on a
                // dead server should hear about it within the connect timeout.
                let config = ConnectionManagerConfig::new()
                    .set_number_of_retries(0)
                    .set_connection_timeout(Some(self.connect_timeout))
                    .set_response_timeout(Some(self.response_timeout));
                let connect = ConnectionManager::new_with_config((**client).clone(), config);
                Conn::Single(self.bounded(connect).await?)
            }
            Backend::Cluster(client) => {
                Conn::Cluster(self.bounded(client.get_async_connection()).await?)
            }
        };
        tracing::debug!(store = %self.describe, "connected");
        self.warn_if_not_persistent(&mut conn).await;
        Ok(conn)
    }

    /// Bounds a connection attempt by the connect timeout (plus the handshake's answer),
    /// whatever retries the client makes inside it.
    async fn bounded<T>(&self, attempt: impl Future<Output = RedisResult<T>>) -> RedisResult<T> {
        let limit = self.connect_timeout + self.response_timeout;
        tokio::time::timeout(limit, attempt)
            .await
            .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into()))
    }

    /// Logs one warning (this runs once per repository, on its first connection) when the
    /// server keeps nothing on disk.
    async fn warn_if_not_persistent(&self, conn: &mut Conn) {
        match self.persistence_on(conn).await {
            Ok(Persistence {
                rdb: false,
                aof: false,
            }) => tracing::warn!(
                store = %self.describe,
                "the Redis server persists nothing (no RDB snapshots, no AOF): a restart loses \
                 the key ring, every node then creates new keys and every existing payload \
                 and cookie becomes unreadable; enable appendonly or save"
            ),
            Ok(p) => tracing::debug!(store = %self.describe, ?p, "Redis persistence"),
            Err(e) => tracing::debug!(
                store = %self.describe,
                "cannot read the Redis persistence settings (CONFIG GET refused?): {e}"
            ),
        }
    }

    /// `CONFIG GET save` and `CONFIG GET appendonly`, on the node holding the list.
    pub(super) async fn persistence_on(&self, conn: &mut Conn) -> RedisResult<Persistence> {
        let save = self.config_get(conn, "save").await?;
        let appendonly = self.config_get(conn, "appendonly").await?;
        Ok(Persistence {
            rdb: !save.trim().is_empty(),
            aof: appendonly.trim().eq_ignore_ascii_case("yes"),
        })
    }

    async fn config_get(&self, conn: &mut Conn, name: &str) -> RedisResult<String> {
        let mut cmd = ::redis::cmd("CONFIG");
        cmd.arg("GET").arg(name);
        let value = match conn {
            Conn::Single(c) => cmd.query_async::<Value>(c).await?,
            Conn::Cluster(c) => {
                let route = Route::with_key(self.list_key.as_bytes(), SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                c.route_command(cmd, routing).await?
            }
        };
        let pairs: std::collections::HashMap<String, String> =
            ::redis::FromRedisValue::from_redis_value(value)?;
        pairs.get(name).cloned().ok_or_else(|| {
            RedisError::from((
                ErrorKind::UnexpectedReturnType,
                "CONFIG GET did not return the parameter",
            ))
        })
    }
}
