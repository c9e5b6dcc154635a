//! The connection and error mapping (shared with the Redis key store), and descriptions.

pub(super) use crate::redis_client::{Conn, ensure_crypto_provider, store_error};

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
