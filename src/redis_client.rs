//! What the Redis key store and the Redis session store share: one connection type for a
//! single server or a cluster, the rustls provider, and the mapping of Redis errors to
//! [`StoreError`] kinds.

use ::redis::aio::{ConnectionLike, ConnectionManager};
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, Value};

use crate::error::{StoreError, StoreErrorKind};

/// An open connection: multiplexed, cheap to clone, reconnecting by itself.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// rustls needs exactly one process-wide crypto provider; when more than one is compiled
/// in (other dependencies may enable `ring`), choose aws-lc-rs, as this crate's feature does.
pub(crate) fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may install one at the same moment; either is fine.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// Whether an error means the connection is gone (so the operation is worth one retry on
/// the connection the client re-opens).
pub(crate) fn is_connection_lost(e: &RedisError) -> bool {
    e.is_connection_dropped() || e.is_connection_refusal()
}

/// The kind of store failure a redis error is.
pub(crate) fn classify(e: &RedisError) -> StoreErrorKind {
    if e.is_timeout() {
        return StoreErrorKind::Timeout;
    }
    match e.code() {
        Some("NOAUTH" | "WRONGPASS" | "NOPERM") => return StoreErrorKind::Denied,
        Some("WRONGTYPE") => return StoreErrorKind::Corrupt,
        Some("CLUSTERDOWN" | "MASTERDOWN" | "LOADING" | "TRYAGAIN") => {
            return StoreErrorKind::Unavailable;
        }
        _ => {}
    }
    match e.kind() {
        ErrorKind::AuthenticationFailed => StoreErrorKind::Denied,
        ErrorKind::Io | ErrorKind::ClusterConnectionNotFound => StoreErrorKind::Unavailable,
        _ => StoreErrorKind::Other,
    }
}

/// A store error for a redis error.
pub(crate) fn store_error(describe: &str, context: &str, e: RedisError) -> StoreError {
    StoreError::new(classify(&e), describe, format!("{context}: {e}")).with_source(e)
}
