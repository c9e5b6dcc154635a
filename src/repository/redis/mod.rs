//! The key ring in a Redis list, laid out exactly as ASP.NET Core's
//! `PersistKeysToStackExchangeRedis` keeps it, so .NET and Rust nodes share one list.

mod cas;
mod config;
mod connection;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ::redis::RedisResult;
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use config::RedisRepositoryBuilder;
use connection::{Conn, Connector, is_connection_lost, store_error};

use super::{
    StoreOutcome, StoredElement, XmlRepository, check_friendly_name, derived_name, element_name,
    element_text,
};
use crate::error::{Error, StoreError, StoreErrorKind};
use crate::xml::XmlElement;

/// The list key ASP.NET Core uses when `PersistKeysToStackExchangeRedis` is given none.
pub const DEFAULT_LIST_KEY: &str = "DataProtection-Keys";

/// What a Redis server keeps on disk, from `CONFIG GET save` and `CONFIG GET appendonly`.
///
/// A server that keeps neither loses the key ring on restart. Every node then creates a
/// new key, and every payload, cookie and session protected before is unreadable. This is a
/// known way ASP.NET Core deployments lose their keys; the repository warns about it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Persistence {
    /// RDB snapshots are configured (`save` is not empty).
    pub rdb: bool,
    /// The append-only file is on (`appendonly yes`).
    pub aof: bool,
}

/// A key-ring store in one Redis list, shareable with ASP.NET Core nodes.
///
/// Each list element is one `<key>` or `<revocation>` as single-line XML (what .NET's
/// `XElement.ToString(SaveOptions.DisableFormatting)` writes); the list is read whole with
/// `LRANGE key 0 -1` and written with `RPUSH`. The list keeps no names: the friendly name of
/// an element (`key-{id}`, `revocation-{id}`, …) is derived from its content by
/// [`element_name`](super::element_name).
///
/// **Race-free without a lock.** [`store_element`](XmlRepository::store_element) reads the
/// list, returns [`AlreadyExists`](StoreOutcome::AlreadyExists) when an element of that name
/// is there, and otherwise pushes with a Lua script that runs only if the list is still
/// exactly what was read (a SHA-1 of the elements, compared inside Redis). If another writer
/// came first it re-reads and decides again, a bounded number of times with a short random
/// pause. .NET nodes push without that check; their elements simply count as a change.
///
/// Connects on first use (one multiplexed connection, or the cluster client for a Redis
/// Cluster) and reconnects by itself; a failed connect is retried by the next operation.
/// On the first connection it warns once if the server persists nothing (see
/// [`Persistence`]). The list is one key, so on a cluster it lives in one hash slot.
///
/// ```no_run
/// # async fn run() -> data_protection::Result<()> {
/// use data_protection::DataProtection;
/// use data_protection::repository::RedisRepository;
///
/// let dp = DataProtection::builder()
///     .application_name("MyApp")
///     .persist_keys_to(RedisRepository::from_url("redis://127.0.0.1:6379/")?)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisRepository {
    inner: Arc<Inner>,
}

struct Inner {
    list_key: String,
    describe: String,
    connector: Arc<Connector>,
    /// Names derived from element contents, by SHA-256 of the XML, so unchanged elements are
    /// not parsed again on every read. Holds no XML.
    names: Mutex<HashMap<[u8; 32], Option<String>>>,
}

impl std::fmt::Debug for RedisRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRepository")
            .field("store", &self.inner.describe)
            .finish_non_exhaustive()
    }
}

/// The list as read: each element's exact bytes, its text and its derived name.
struct Snapshot {
    raw: Vec<Zeroizing<Vec<u8>>>,
    names: Vec<Option<String>>,
}

impl Snapshot {
    fn digest(&self) -> String {
        cas::digest(self.raw.iter().map(|r| r.as_slice()))
    }
}

impl RedisRepository {
    /// A repository for `url`: `redis://[USER:PASSWORD@]HOST:PORT[/DB]` or `rediss://…`, with
    /// optional query parameters `key=LIST` (default [`DEFAULT_LIST_KEY`]), `cluster=true`
    /// (the host is a seed node of a Redis Cluster) and, for `rediss`, `ca=PEM_FILE` (a
    /// certificate authority to trust instead of the system roots). Other parameters (such
    /// as `protocol=resp3`) go to the redis client. Nothing is contacted here.
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed URL or an unreadable CA file.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        Self::builder(url).build()
    }

    /// Starts configuring a repository for `url` (the forms of [`from_url`](Self::from_url)).
    pub fn builder(url: impl Into<String>) -> RedisRepositoryBuilder {
        RedisRepositoryBuilder::new(url)
    }

    fn from_parts(list_key: String, describe: String, connector: Arc<Connector>) -> Self {
        Self {
            inner: Arc::new(Inner {
                list_key,
                describe,
                connector,
                names: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The Redis key of the list.
    pub fn list_key(&self) -> &str {
        &self.inner.list_key
    }

    /// What the server keeps on disk (on a cluster: the node holding the list).
    ///
    /// # Errors
    /// The server cannot be reached, or refuses `CONFIG GET` (common on managed Redis).
    pub async fn persistence(&self) -> Result<Persistence, StoreError> {
        let connector = &self.inner.connector;
        let mut conn = self.connection().await?;
        connector
            .persistence_on(&mut conn)
            .await
            .map_err(|e| self.error("reading the persistence settings", e))
    }

    fn error(&self, context: &str, e: ::redis::RedisError) -> StoreError {
        store_error(&self.inner.describe, context, e)
    }

    async fn connection(&self) -> Result<Conn, StoreError> {
        self.inner
            .connector
            .get()
            .await
            .map_err(|e| self.error("connecting", e))
    }

    /// Runs `op` on the connection; when the connection turns out to be lost, runs it once
    /// more on the connection the client re-opens (a server that restarted).
    async fn run<T, F, Fut>(&self, context: &str, op: F) -> Result<T, StoreError>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let first = op(self.connection().await?).await;
        match first {
            Err(e) if is_connection_lost(&e) => {
                tracing::debug!(store = %self.inner.describe, "connection lost, retrying once: {e}");
                op(self.connection().await?)
                    .await
                    .map_err(|e| self.error(context, e))
            }
            other => other.map_err(|e| self.error(context, e)),
        }
    }

    /// `LRANGE key 0 -1`, with each element's derived name.
    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let key = self.inner.list_key.as_str();
        let items: Vec<Vec<u8>> = self
            .run("reading the list", |mut conn| async move {
                ::redis::cmd("LRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        let raw: Vec<_> = items.into_iter().map(Zeroizing::new).collect();
        let names = self.names_of(&raw);
        Ok(Snapshot { raw, names })
    }

    /// The derived name of each element, parsing only elements not seen before.
    fn names_of(&self, raw: &[Zeroizing<Vec<u8>>]) -> Vec<Option<String>> {
        let mut cache = self.inner.names.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = HashMap::with_capacity(raw.len());
        let names = raw
            .iter()
            .map(|bytes| {
                let digest: [u8; 32] = Sha256::digest(bytes.as_slice()).into();
                let name = match cache.get(&digest) {
                    Some(name) => name.clone(),
                    None => derived_name(&element_text(bytes)),
                };
                next.insert(digest, name.clone());
                name
            })
            .collect();
        *cache = next;
        names
    }
}

#[async_trait]
impl XmlRepository for RedisRepository {
    async fn get_all_elements(&self) -> Result<Vec<StoredElement>, StoreError> {
        let snapshot = self.snapshot().await?;
        Ok(snapshot
            .raw
            .iter()
            .zip(snapshot.names)
            .map(|(bytes, name)| {
                let mut text = element_text(bytes);
                StoredElement::new(name, std::mem::take(&mut *text))
            })
            .collect())
    }

    async fn store_element(
        &self,
        element: &XmlElement,
        friendly_name: &str,
    ) -> Result<StoreOutcome, StoreError> {
        check_friendly_name(&self.inner.describe, friendly_name)?;
        let derived = element_name(element);
        if derived.as_deref() != Some(friendly_name) {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                &self.inner.describe,
                format!(
                    "a Redis list keeps no names, so the name must be the one derived from the \
                     element ({}), not {friendly_name:?}",
                    derived.as_deref().unwrap_or("none")
                ),
            ));
        }
        let xml = Zeroizing::new(element.to_compact_string());
        let key = self.inner.list_key.as_str();
        for attempt in 1..=cas::MAX_ATTEMPTS {
            let snapshot = self.snapshot().await?;
            if snapshot
                .names
                .iter()
                .any(|n| n.as_deref() == Some(friendly_name))
            {
                return Ok(StoreOutcome::AlreadyExists);
            }
            let digest = snapshot.digest();
            let (digest, xml) = (digest.as_str(), xml.as_str());
            let pushed: i64 = self
                .run("writing to the list", |mut conn| async move {
                    cas::push_script()
                        .key(key)
                        .arg(digest)
                        .arg(xml)
                        .invoke_async(&mut conn)
                        .await
                })
                .await?;
            if pushed == 1 {
                return Ok(StoreOutcome::Created);
            }
            tokio::time::sleep(cas::backoff(attempt)).await;
        }
        Err(self.busy("writing"))
    }

    async fn delete_elements(&self, friendly_names: &[String]) -> Result<(), StoreError> {
        for name in friendly_names {
            check_friendly_name(&self.inner.describe, name)?;
        }
        let key = self.inner.list_key.as_str();
        for attempt in 1..=cas::MAX_ATTEMPTS {
            let snapshot = self.snapshot().await?;
            let doomed: Vec<&[u8]> = snapshot
                .raw
                .iter()
                .zip(&snapshot.names)
                .filter(|(_, n)| n.as_ref().is_some_and(|n| friendly_names.contains(n)))
                .map(|(raw, _)| raw.as_slice())
                .collect();
            if doomed.is_empty() {
                return Ok(());
            }
            let digest = snapshot.digest();
            let (digest, doomed) = (digest.as_str(), &doomed);
            let removed: i64 = self
                .run("deleting from the list", |mut conn| async move {
                    let mut call = cas::remove_script().key(key);
                    call.arg(digest);
                    for element in doomed {
                        call.arg(*element);
                    }
                    call.invoke_async(&mut conn).await
                })
                .await?;
            if removed == 1 {
                return Ok(());
            }
            tokio::time::sleep(cas::backoff(attempt)).await;
        }
        Err(self.busy("deleting"))
    }

    fn kind(&self) -> &'static str {
        "redis"
    }

    fn describe(&self) -> String {
        self.inner.describe.clone()
    }

    /// The list key only: nodes reach one server under different host names.
    async fn ring_scope(&self) -> String {
        format!("redis list {}", self.inner.list_key)
    }
}

impl RedisRepository {
    fn busy(&self, what: &str) -> StoreError {
        StoreError::new(
            StoreErrorKind::Other,
            &self.inner.describe,
            format!(
                "{what}: the list changed during each of {} attempts; other writers are too busy",
                cas::MAX_ATTEMPTS
            ),
        )
    }
}
