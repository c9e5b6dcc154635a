//! Settings: the URL forms, the builder, and the redis clients they produce (no I/O).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ::redis::cluster::{ClusterClient, ClusterClientBuilder};
use ::redis::{Client, ConnectionInfo, IntoConnectionInfo, TlsCertificates};

use super::connection::{Backend, Connector};
use super::{DEFAULT_LIST_KEY, RedisRepository};
use crate::error::Error;

/// Default time allowed to open a connection (TCP, TLS and handshake).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default time allowed for one command's answer.
const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// The URL forms, for error messages.
const FORMS: &str = "redis://[USER:PASSWORD@]HOST:PORT[/DB][?key=LIST][&cluster=true] or \
rediss://…[&ca=PEM_FILE]";

/// Configures a [`RedisRepository`]; start with [`RedisRepository::builder`].
///
/// Nothing is contacted until the repository is first used.
#[derive(Clone)]
#[must_use = "call build() to get a repository"]
pub struct RedisRepositoryBuilder {
    url: String,
    list_key: Option<String>,
    cluster_nodes: Vec<String>,
    root_certificate: Option<Vec<u8>>,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl std::fmt::Debug for RedisRepositoryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // URLs may carry a password: show host and port only.
        let redact =
            |u: &String| parse_url(u).map_or_else(|_| "(invalid URL)".to_owned(), |p| p.address());
        f.debug_struct("RedisRepositoryBuilder")
            .field("url", &redact(&self.url))
            .field("list_key", &self.list_key)
            .field(
                "cluster_nodes",
                &self.cluster_nodes.iter().map(redact).collect::<Vec<_>>(),
            )
            .field("root_certificate", &self.root_certificate.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .finish()
    }
}

impl RedisRepositoryBuilder {
    pub(super) fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            list_key: None,
            cluster_nodes: Vec::new(),
            root_certificate: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
        }
    }

    /// The Redis key of the list (default [`DEFAULT_LIST_KEY`], or `?key=` of the URL).
    pub fn list_key(mut self, key: impl Into<String>) -> Self {
        self.list_key = Some(key.into());
        self
    }

    /// Treats the servers as a Redis Cluster and adds these seed nodes (URLs like the main
    /// one) to the URL given to [`RedisRepository::builder`]. Any one reachable seed is
    /// enough; the client discovers the others.
    pub fn cluster_nodes(mut self, urls: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.cluster_nodes.extend(urls.into_iter().map(Into::into));
        self
    }

    /// Trusts this PEM certificate authority for `rediss://` (instead of the system roots).
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificate = Some(pem.into());
        self
    }

    /// Time allowed to open a connection (default 3 seconds).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for the answer to one command (default 3 seconds). A stopped or
    /// overloaded server then gives a [`Timeout`](crate::error::StoreErrorKind::Timeout) error
    /// instead of a hang.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Checks the settings and creates the repository. Nothing is contacted: the first
    /// operation connects. The only I/O is reading the `ca=` file of a `rediss://` URL.
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed URL, an empty list key, an unreadable CA file, a
    /// CA for a plain `redis://` URL, or a database other than 0 on a cluster.
    pub fn build(self) -> Result<RedisRepository, Error> {
        let main = parse_url(&self.url)?;
        let list_key = match self.list_key.clone().or_else(|| main.list_key.clone()) {
            Some(key) if key.is_empty() => {
                return Err(Error::Config("the Redis list key must not be empty".into()));
            }
            Some(key) => key,
            None => DEFAULT_LIST_KEY.to_owned(),
        };
        let root_cert = match (&self.root_certificate, &main.ca_path) {
            (Some(pem), _) => Some(pem.clone()),
            (None, Some(path)) => Some(std::fs::read(path).map_err(|e| {
                Error::Config(format!(
                    "cannot read the Redis CA file {}: {e}",
                    path.display()
                ))
            })?),
            (None, None) => None,
        };
        if root_cert.is_some() && !main.tls {
            return Err(Error::Config(format!(
                "a TLS root certificate was given for {}, which is not a rediss:// URL",
                main.address()
            )));
        }
        let certs = || TlsCertificates {
            client_tls: None,
            root_cert: root_cert.clone(),
        };
        let cluster = main.cluster || !self.cluster_nodes.is_empty();
        let scheme = if main.tls { "rediss" } else { "redis" };
        let (backend, describe) = if cluster {
            let mut seeds = vec![main];
            for url in &self.cluster_nodes {
                seeds.push(parse_url(url)?);
            }
            if seeds.iter().any(|s| s.tls != seeds[0].tls) {
                return Err(Error::Config(
                    "Redis Cluster seed URLs must all be redis:// or all rediss://".into(),
                ));
            }
            if seeds.iter().any(|s| s.info.redis_settings().db() != 0) {
                return Err(Error::Config(
                    "Redis Cluster has only database 0; remove /DB from the URL".into(),
                ));
            }
            let addresses: Vec<_> = seeds.iter().map(ParsedUrl::address).collect();
            let mut b = ClusterClientBuilder::new(seeds.into_iter().map(|s| s.info))
                .connection_timeout(self.connect_timeout)
                .response_timeout(self.response_timeout)
                .retries(2)
                .min_retry_wait(10)
                .max_retry_wait(500);
            if root_cert.is_some() {
                b = b.certs(certs());
            }
            let client: ClusterClient = b.build().map_err(|e| config_error(&self.url, &e))?;
            (
                Backend::Cluster(Box::new(client)),
                format!("{scheme} cluster {} list {list_key}", addresses.join(",")),
            )
        } else {
            let address = main.address();
            let client = if root_cert.is_some() {
                Client::build_with_tls(main.info, certs())
            } else {
                Client::open(main.info)
            }
            .map_err(|e| config_error(&self.url, &e))?;
            (
                Backend::Single(Box::new(client)),
                format!("{scheme} {address} list {list_key}"),
            )
        };
        let connector = Connector::new(
            backend,
            self.connect_timeout,
            self.response_timeout,
            list_key.clone(),
            describe.clone(),
        );
        Ok(RedisRepository::from_parts(
            list_key,
            describe,
            Arc::new(connector),
        ))
    }
}

fn config_error(url: &str, e: &::redis::RedisError) -> Error {
    let address = parse_url(url).map_or_else(|_| "the Redis URL".to_owned(), |p| p.address());
    Error::Config(format!("{address}: {e}; use {FORMS}"))
}

/// A URL split into what the redis crate understands and this crate's own parameters.
struct ParsedUrl {
    info: ConnectionInfo,
    tls: bool,
    list_key: Option<String>,
    cluster: bool,
    ca_path: Option<PathBuf>,
}

impl ParsedUrl {
    /// `host:port`, plus `/db` when not 0; never a password.
    fn address(&self) -> String {
        match self.info.redis_settings().db() {
            0 => self.info.addr().to_string(),
            db => format!("{}/{db}", self.info.addr()),
        }
    }
}

/// Parses a `redis://` or `rediss://` URL, removing `key`, `cluster` and `ca` from its query.
fn parse_url(url: &str) -> Result<ParsedUrl, Error> {
    let bad = |why: &str| Error::Config(format!("invalid Redis URL: {why}; use {FORMS}"));
    let (scheme, _) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "redis" => false,
        "rediss" => true,
        _ => return Err(bad(&format!("unknown scheme {scheme:?}"))),
    };
    let (base, query) = match url.split_once('?') {
        Some((base, rest)) => (base, rest),
        None => (url, ""),
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let mut kept = Vec::new();
    let (mut list_key, mut cluster, mut ca_path) = (None, false, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value =
            || percent_decode(value).ok_or_else(|| bad(&format!("bad percent-encoding in {name}")));
        match name {
            "key" => list_key = Some(value()?),
            "cluster" => {
                cluster = match value()?.as_str() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    other => return Err(bad(&format!("cluster={other:?} (use true or false)"))),
                }
            }
            "ca" => ca_path = Some(PathBuf::from(value()?)),
            _ => kept.push(pair),
        }
    }
    let mut rest = base.to_owned();
    if !kept.is_empty() {
        rest = format!("{rest}?{}", kept.join("&"));
    }
    if let Some(fragment) = fragment {
        rest = format!("{rest}#{fragment}");
    }
    let info = rest
        .as_str()
        .into_connection_info()
        .map_err(|e| bad(&e.to_string()))?;
    Ok(ParsedUrl {
        info,
        tls,
        list_key,
        cluster,
        ca_path,
    })
}

/// Decodes `%XX` escapes and `+` (a space, as in HTML forms); `None` if malformed.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_parameters_are_removed_and_the_rest_kept() {
        let p = parse_url(
            "redis://u:secret@127.0.0.1:6380/2?key=My%2FKeys&protocol=resp3&ca=%2Ftmp%2Fca.pem",
        )
        .unwrap();
        assert_eq!(p.list_key.as_deref(), Some("My/Keys"));
        assert_eq!(p.ca_path, Some(PathBuf::from("/tmp/ca.pem")));
        assert!(!p.cluster && !p.tls);
        assert_eq!(p.address(), "127.0.0.1:6380/2");
        assert_eq!(p.info.redis_settings().password(), Some("secret"));
        assert_eq!(
            p.info.redis_settings().protocol(),
            ::redis::ProtocolVersion::RESP3
        );
        assert!(parse_url("rediss://h:1?cluster=true").unwrap().cluster);
    }

    #[test]
    fn malformed_urls_are_config_errors() {
        for url in [
            "",
            "127.0.0.1:6379",
            "http://127.0.0.1:6379",
            "redis://127.0.0.1:6379/notadb",
            "redis://127.0.0.1:6379?cluster=maybe",
            "redis://127.0.0.1:6379?key=%zz",
            "redis://:6379",
        ] {
            assert!(
                matches!(parse_url(url), Err(Error::Config(_))),
                "{url:?} must be refused"
            );
        }
    }

    #[test]
    fn debug_output_hides_passwords() {
        let b = RedisRepository::builder("redis://user:hunter2@127.0.0.1:6379")
            .cluster_nodes(["redis://user:hunter2@127.0.0.1:6380"]);
        let text = format!("{b:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("127.0.0.1:6380"), "{text}");
    }
}
