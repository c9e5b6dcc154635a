//! Sessions in Redis, in the exact layout of ASP.NET Core's StackExchange.Redis
//! distributed cache: a hash at `{instance name}{session key}` with fields `absexp`
//! (ticks, `-1` for none), `sldexp` (ticks) and `data` (the serialized session), expiring
//! with the shorter of the two. A .NET node and a Rust node share these entries.

mod conn;
mod scripts;

use std::fmt;
use std::io::Write as _;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, ErrorKind, FromRedisValue, RedisWrite as _, ServerErrorKind, Value};
use sha1::{Digest, Sha1};
use time::OffsetDateTime;

use self::conn::{Conn, ensure_crypto_provider, hosts, store_error};
use super::{
    Expected, SaveOutcome, SessionEntry, SessionStore, USER_INDEX_PREFIX, duration_ticks,
    from_ticks, ticks_duration, to_ticks,
};
use crate::error::{StoreError, StoreErrorKind};

/// A [`SessionStore`] in Redis 6.2 or later (one server, or a Redis Cluster). Every
/// operation is one round trip: a Lua script or a single command on one key, so it works
/// on a cluster without hash tags. Cheap to clone.
///
/// A user's session index ([`Session::bind_user`](crate::session::Session::bind_user)) is
/// a string key `{instance name}DataProtection.SessionUser:{user}` holding the session
/// key, swapped atomically with `SET … GET PX`; the replaced session is then deleted.
#[derive(Clone)]
pub struct RedisSessionStore {
    conn: Conn,
    instance_name: String,
    describe: String,
}

impl fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("store", &self.describe)
            .finish_non_exhaustive()
    }
}

/// Configures a [`RedisSessionStore`].
#[derive(Clone)]
#[must_use = "call build() to connect"]
pub struct RedisSessionStoreBuilder {
    urls: Vec<String>,
    cluster: bool,
    instance_name: String,
    connect_timeout: Duration,
}

impl fmt::Debug for RedisSessionStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSessionStoreBuilder")
            .field("hosts", &hosts(&self.urls))
            .field("cluster", &self.cluster)
            .field("instance_name", &self.instance_name)
            .finish_non_exhaustive()
    }
}

impl RedisSessionStoreBuilder {
    /// The prefix of every key (ASP.NET's `RedisCacheOptions.InstanceName`, for example
    /// `"myapp:"`); it must equal the .NET app's to share sessions. Default empty.
    pub fn instance_name(mut self, name: impl Into<String>) -> Self {
        self.instance_name = name.into();
        self
    }

    /// Treats the URLs as seed nodes of a Redis Cluster.
    pub fn cluster(mut self, nodes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.urls.extend(nodes.into_iter().map(Into::into));
        self.cluster = true;
        self
    }

    /// Timeout of a connection attempt (default 5 seconds).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Connects. Once connected, the store reconnects by itself after Redis restarts.
    ///
    /// # Errors
    /// A URL is invalid or Redis cannot be reached.
    pub async fn build(self) -> Result<RedisSessionStore, StoreError> {
        ensure_crypto_provider();
        let kind = if self.cluster {
            "redis cluster"
        } else {
            "redis"
        };
        let describe = format!(
            "{kind} {} instance {:?}",
            hosts(&self.urls),
            self.instance_name
        );
        let fail = |context: &str, e| store_error(&describe, context, e);
        let connect = async {
            if self.cluster {
                let client = redis::cluster::ClusterClientBuilder::new(self.urls.clone())
                    .connection_timeout(self.connect_timeout)
                    .build()
                    .map_err(|e| fail("invalid cluster URLs", e))?;
                let conn = client
                    .get_async_connection()
                    .await
                    .map_err(|e| fail("connecting", e))?;
                Ok(Conn::Cluster(conn))
            } else {
                let url = self.urls.first().map(String::as_str).unwrap_or_default();
                let client = redis::Client::open(url).map_err(|e| fail("invalid URL", e))?;
                // No response timeout of the client's own: the session layer's I/O timeout
                // bounds every call, and is the one setting users tune.
                let config = ConnectionManagerConfig::new()
                    .set_response_timeout(None)
                    .set_connection_timeout(Some(self.connect_timeout))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_secs(1));
                let conn = ConnectionManager::new_with_config(client, config)
                    .await
                    .map_err(|e| fail("connecting", e))?;
                Ok(Conn::Single(conn))
            }
        };
        let limit = self.connect_timeout * 2;
        let conn = tokio::time::timeout(limit, connect)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::new(
                    StoreErrorKind::Timeout,
                    &describe,
                    format!("no connection within {limit:?}"),
                ))
            })?;
        Ok(RedisSessionStore {
            conn,
            instance_name: self.instance_name,
            describe,
        })
    }
}

impl RedisSessionStore {
    /// Connects to one Redis server (`redis://[user:password@]host:port[/db]`, or
    /// `rediss://` for TLS) with no instance name.
    ///
    /// # Errors
    /// The URL is invalid or Redis cannot be reached.
    pub async fn new(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).build().await
    }

    /// Starts configuring a store for `url`.
    pub fn builder(url: impl Into<String>) -> RedisSessionStoreBuilder {
        RedisSessionStoreBuilder {
            urls: vec![url.into()],
            cluster: false,
            instance_name: String::new(),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// Connects to a Redis Cluster through its seed nodes.
    ///
    /// # Errors
    /// A URL is invalid or the cluster cannot be reached.
    pub async fn cluster(
        nodes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, StoreError> {
        RedisSessionStoreBuilder {
            urls: Vec::new(),
            cluster: false,
            instance_name: String::new(),
            connect_timeout: Duration::from_secs(5),
        }
        .cluster(nodes)
        .build()
        .await
    }

    /// The Redis key of a session: instance name, then session key.
    pub fn redis_key(&self, session_key: &str) -> String {
        format!("{}{session_key}", self.instance_name)
    }

    /// Appends the Redis key of a session as one argument, without an intermediate string.
    fn push_key(&self, cmd: &mut Cmd, session_key: &str) {
        let mut arg = cmd.writer_for_next_arg();
        // Writes into a Vec cannot fail.
        let _ = arg.write_all(self.instance_name.as_bytes());
        let _ = arg.write_all(session_key.as_bytes());
    }

    /// A command on one session's key with room for `args` more arguments of `bytes`, so
    /// that building it allocates its two buffers once.
    fn command(&self, name: &str, session_key: &str, args: usize, bytes: usize) -> Cmd {
        let key_len = self.instance_name.len() + session_key.len();
        let mut cmd = Cmd::with_capacity(args + 2, name.len() + key_len + bytes);
        cmd.arg(name);
        self.push_key(&mut cmd, session_key);
        cmd
    }

    /// Runs `script` on one session's key with the arguments `args` writes: `EVALSHA`, and
    /// `EVAL` when the server does not have the script cached (a restart, `SCRIPT FLUSH`).
    async fn run_script<T: FromRedisValue>(
        &self,
        script: &scripts::Lua,
        session_key: &str,
        (count, bytes): (usize, usize),
        args: impl Fn(&mut Cmd),
        context: &str,
    ) -> Result<T, StoreError> {
        let build = |by_code| {
            let key_len = self.instance_name.len() + session_key.len();
            let mut cmd = script.command(by_code, count + 1, bytes + key_len);
            self.push_key(&mut cmd, session_key);
            args(&mut cmd);
            cmd
        };
        let mut conn = self.conn.clone();
        match build(false).query_async(&mut conn).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                build(true).query_async(&mut conn).await
            }
            other => other,
        }
        .map_err(|e| self.error(context, e))
    }

    fn error(&self, context: &str, e: redis::RedisError) -> StoreError {
        store_error(&self.describe, context, e)
    }

    fn corrupt(&self, what: &str) -> StoreError {
        StoreError::new(StoreErrorKind::Corrupt, &self.describe, what)
    }

    /// `{absexp, sldexp, data}` as the scripts return them.
    fn entry(
        &self,
        absexp: &Value,
        sldexp: &Value,
        data: Value,
    ) -> Result<SessionEntry, StoreError> {
        let number = |v: &Value| -> Result<i64, StoreError> {
            match v {
                Value::Nil => Ok(-1),
                Value::BulkString(b) => std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or_else(|| self.corrupt("absexp or sldexp is not a number")),
                Value::Int(i) => Ok(*i),
                _ => Err(self.corrupt("unexpected absexp or sldexp reply")),
            }
        };
        let Value::BulkString(data) = data else {
            return Err(self.corrupt("unexpected data reply"));
        };
        let absexp = number(absexp)?;
        let sldexp = number(sldexp)?;
        Ok(SessionEntry {
            data,
            absolute_expiration: if absexp == -1 {
                None
            } else {
                from_ticks(absexp)
            },
            sliding_expiration: if sldexp == -1 {
                None
            } else {
                ticks_duration(sldexp)
            },
        })
    }

    async fn load_or_refresh(
        &self,
        key: &str,
        now: OffsetDateTime,
        fetch: bool,
    ) -> Result<Option<SessionEntry>, StoreError> {
        let args = |cmd: &mut Cmd| {
            cmd.arg(to_ticks(now)).arg(if fetch { "1" } else { "0" });
        };
        let reply: Value = self
            .run_script(&scripts::LOAD, key, (2, 24), args, "loading a session")
            .await?;
        match reply {
            Value::Array(fields) if fetch => {
                let [absexp, sldexp, data]: [Value; 3] = fields
                    .try_into()
                    .map_err(|_| self.corrupt("unexpected reply to the load script"))?;
                self.entry(&absexp, &sldexp, data).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// Expected data up to this size is sent and compared in full; larger by SHA-1 digest.
const COMPARE_IN_FULL: usize = 1024;

/// The SHA-1 of `data` in lowercase hex, as Lua's `redis.sha1hex` gives it.
fn sha1_hex(data: &[u8]) -> [u8; 40] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 40];
    for (i, b) in Sha1::digest(data).iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    out
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn load(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SessionEntry>, StoreError> {
        self.load_or_refresh(key, now, true).await
    }

    async fn save(
        &self,
        key: &str,
        entry: &SessionEntry,
        expected: Expected<'_>,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        // Small sessions are compared byte for byte; large ones by digest, to send less.
        let digest;
        let (mode, expected): (&str, &[u8]) = match expected {
            Expected::Absent => ("absent", &[]),
            Expected::Data(d) if d.len() <= COMPARE_IN_FULL => ("data", d),
            Expected::Data(d) => {
                digest = sha1_hex(d);
                ("sha1", &digest)
            }
        };
        let ticks = |t: Option<i64>| t.unwrap_or(-1);
        let ttl_ms = entry.time_to_live(now).map_or(-1, |ttl| {
            i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
        });
        let args = |cmd: &mut Cmd| {
            cmd.arg(mode)
                .arg(ticks(entry.absolute_expiration.map(to_ticks)))
                .arg(ticks(entry.sliding_expiration.map(duration_ticks)))
                .arg(entry.data.as_slice())
                .arg(ttl_ms)
                .arg(expected);
        };
        let size = (6, 80 + entry.data.len() + expected.len());
        let reply: Vec<Value> = self
            .run_script(&scripts::SAVE, key, size, args, "saving a session")
            .await?;
        let mut reply = reply.into_iter();
        match (reply.next(), reply.next(), reply.next(), reply.next()) {
            (Some(Value::Int(1)), ..) => Ok(SaveOutcome::Saved),
            (Some(Value::Int(0)), None, ..) => Ok(SaveOutcome::Conflict(None)),
            (Some(Value::Int(0)), Some(absexp), Some(sldexp), Some(data)) => Ok(
                SaveOutcome::Conflict(Some(self.entry(&absexp, &sldexp, data)?)),
            ),
            _ => Err(self.corrupt("unexpected reply to the save script")),
        }
    }

    async fn refresh(&self, key: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        self.load_or_refresh(key, now, false).await.map(|_| ())
    }

    /// A plain `HMGET` (ASP.NET's own read; no script, which costs Redis several times
    /// more); the expiry is left to the commit's save or [`refresh_loaded`](Self::refresh_loaded).
    async fn load_deferring_refresh(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<(Option<SessionEntry>, bool), StoreError> {
        let fields: Vec<Value> = self
            .command("HMGET", key, 3, 16)
            .arg("absexp")
            .arg("sldexp")
            .arg("data")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.error("loading a session", e))?;
        let [absexp, sldexp, data]: [Value; 3] = fields
            .try_into()
            .map_err(|_| self.corrupt("unexpected reply to HMGET"))?;
        if matches!(data, Value::Nil) {
            return Ok((None, false));
        }
        let entry = self.entry(&absexp, &sldexp, data)?;
        // Redis expires entries itself; this only covers the moments before it does.
        if entry.absolute_expiration.is_some_and(|at| at <= now) {
            return Ok((None, false));
        }
        Ok((Some(entry), false))
    }

    /// `PEXPIRE` to the shorter of the loaded entry's sliding expiration and the time left
    /// before its absolute one, as the load script does (nothing without a sliding one).
    async fn refresh_loaded(
        &self,
        key: &str,
        loaded: &SessionEntry,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if loaded.sliding_expiration.is_none() {
            return Ok(());
        }
        let Some(ttl) = loaded.time_to_live(now) else {
            return Ok(());
        };
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.command("PEXPIRE", key, 1, 20)
            .arg(ms)
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(|e| self.error("refreshing a session", e))
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.command("DEL", key, 0, 0)
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(|e| self.error("deleting a session", e))
    }

    async fn swap_user_session(
        &self,
        user: &str,
        session_key: &str,
        ttl: Duration,
        _now: OffsetDateTime, // Redis expires the index by its own clock (PX)
    ) -> Result<Option<String>, StoreError> {
        let index = format!("{}{USER_INDEX_PREFIX}{user}", self.instance_name);
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        redis::cmd("SET")
            .arg(index)
            .arg(session_key)
            .arg("GET")
            .arg("PX")
            .arg(ms)
            .query_async::<Option<String>>(&mut self.conn.clone())
            .await
            .map_err(|e| self.error("recording the user's session", e))
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}
