//! The connection (one server or a cluster) and the mapping of redis errors.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, Value};

use crate::{StoreError, StoreErrorKind};

/// A multiplexed connection that reconnects by itself; cheap to clone.
#[derive(Clone)]
pub(super) enum Conn {
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

/// rustls needs one process-wide crypto provider for `rediss://`; install aws-lc-rs (the
/// one this crate's `redis` feature enables) unless the application chose one.
pub(super) fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// A store error for a redis error.
pub(super) fn store_error(describe: &str, context: &str, e: RedisError) -> StoreError {
    let kind = if e.is_timeout() {
        StoreErrorKind::Timeout
    } else if e.is_connection_dropped() || e.is_connection_refusal() {
        StoreErrorKind::Unavailable
    } else {
        match e.code() {
            Some("NOAUTH" | "WRONGPASS" | "NOPERM") => StoreErrorKind::Denied,
            Some("WRONGTYPE") => StoreErrorKind::Corrupt,
            Some("CLUSTERDOWN" | "MASTERDOWN" | "LOADING" | "TRYAGAIN") => {
                StoreErrorKind::Unavailable
            }
            _ => match e.kind() {
                ErrorKind::AuthenticationFailed => StoreErrorKind::Denied,
                ErrorKind::Io | ErrorKind::ClusterConnectionNotFound => StoreErrorKind::Unavailable,
                _ => StoreErrorKind::Other,
            },
        }
    };
    StoreError::new(kind, describe, format!("{context}: {e}")).with_source(e)
}

/// `host:port` list of URLs, without credentials, for descriptions.
pub(super) fn hosts(urls: &[String]) -> String {
    urls.iter()
        .map(|u| {
            let rest = u.split_once("://").map_or(u.as_str(), |(_, r)| r);
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
        })
        .collect::<Vec<_>>()
        .join(",")
}
