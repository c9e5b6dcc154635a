//! Where session data lives: the [`SessionStore`] trait, its built-in implementations and
//! a conformance suite.
//!
//! A store maps a session key to a [`SessionEntry`] (the serialized session and its
//! expirations) and must offer one conditional write, [`SessionStore::save`] with an
//! [`Expected`] state: that compare-and-swap is what keeps concurrent requests of one
//! session from losing each other's changes.

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::{StoreError, StoreErrorKind};

pub use memory::{DEFAULT_CAPACITY, MemorySessionStore};
#[cfg(feature = "postgres")]
pub use postgres::{
    DEFAULT_SESSION_TABLE, DEFAULT_SWEEP_PAGES, PostgresSessionStore, PostgresSessionStoreBuilder,
};
#[cfg(feature = "redis")]
pub use redis::{RedisSessionStore, RedisSessionStoreBuilder};

/// Prefix of the keys (Redis) or ids (PostgreSQL) that record each user's session (see
/// [`Session::bind_user`](crate::session::Session::bind_user)), after the instance name.
pub const USER_INDEX_PREFIX: &str = "DataProtection.SessionUser:";

/// One stored session, as ASP.NET's distributed cache keeps it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionEntry {
    /// The serialized session ([`SessionData::encode`](crate::session::SessionData::encode)).
    pub data: Vec<u8>,
    /// The instant the entry expires whatever happens (`absexp`).
    pub absolute_expiration: Option<OffsetDateTime>,
    /// The idle time after which the entry expires; every load or refresh restarts it
    /// (`sldexp`).
    pub sliding_expiration: Option<Duration>,
}

impl Debug for SessionEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionEntry")
            .field("data", &format_args!("[{} bytes]", self.data.len()))
            .field("absolute_expiration", &self.absolute_expiration)
            .field("sliding_expiration", &self.sliding_expiration)
            .finish()
    }
}

impl SessionEntry {
    /// An entry (for stores that read one back).
    pub fn new(
        data: Vec<u8>,
        absolute_expiration: Option<OffsetDateTime>,
        sliding_expiration: Option<Duration>,
    ) -> Self {
        Self {
            data,
            absolute_expiration,
            sliding_expiration,
        }
    }

    /// How long the entry lives from `now`: the shorter of the sliding expiration and the
    /// time left before the absolute one; `None` when it has neither. `Some(ZERO)` means
    /// expired.
    pub fn time_to_live(&self, now: OffsetDateTime) -> Option<Duration> {
        let absolute = self
            .absolute_expiration
            .map(|at| Duration::try_from(at - now).unwrap_or(Duration::ZERO));
        match (absolute, self.sliding_expiration) {
            (Some(a), Some(s)) => Some(a.min(s)),
            (a, s) => a.or(s),
        }
    }
}

/// What a conditional save expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected<'a> {
    /// No entry under the key.
    Absent,
    /// An entry whose `data` is exactly these bytes.
    Data(&'a [u8]),
}

/// The result of a conditional save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveOutcome {
    /// The entry was written.
    Saved,
    /// The stored state was not the expected one; nothing was written. Carries what is
    /// stored now (`None`: no entry), so the caller can merge without another read.
    Conflict(Option<SessionEntry>),
}

/// A session store. Implementations must be safe to share between tasks, processes and
/// machines; [`save`](Self::save) must be atomic. Run [`conformance::run`] against yours.
///
/// Every method gets `now` from the layer's clock; stores that expire entries themselves
/// (Redis) use it only to compute lifetimes.
#[async_trait]
pub trait SessionStore: Send + Sync + Debug {
    /// Reads the entry of `key` and restarts its sliding expiration. `None` when there is
    /// none or it has expired.
    async fn load(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SessionEntry>, StoreError>;

    /// Writes `entry` under `key` if what is stored matches `expected`, and sets its
    /// lifetime from `entry`'s expirations.
    async fn save(
        &self,
        key: &str,
        entry: &SessionEntry,
        expected: Expected<'_>,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError>;

    /// Restarts the sliding expiration of `key`, if it exists.
    async fn refresh(&self, key: &str, now: OffsetDateTime) -> Result<(), StoreError>;

    /// Reads the entry of `key` like [`load`](Self::load), but may leave restarting its
    /// sliding expiration to the caller: `(entry, false)` says it was not restarted, and
    /// the caller then restarts it before its request ends, with [`save`](Self::save) (which
    /// sets the entry's lifetime) or [`refresh_loaded`](Self::refresh_loaded). The session
    /// layer loads through this, so a request that saves restarts the expiration once, in
    /// its save. The default is [`load`](Self::load) (`true`: restarted).
    async fn load_deferring_refresh(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<(Option<SessionEntry>, bool), StoreError> {
        Ok((self.load(key, now).await?, true))
    }

    /// Restarts the sliding expiration of `key`, whose entry `loaded` was just read by
    /// [`load_deferring_refresh`](Self::load_deferring_refresh). The default is
    /// [`refresh`](Self::refresh).
    async fn refresh_loaded(
        &self,
        key: &str,
        loaded: &SessionEntry,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let _ = loaded;
        self.refresh(key, now).await
    }

    /// Deletes `key` (no error when it does not exist).
    async fn remove(&self, key: &str) -> Result<(), StoreError>;

    /// Records `session_key` as the one session of `user` for `ttl` from `now`, atomically
    /// returning the session key it replaces (unless that record had expired). Stores without
    /// this ability keep the default, which fails with [`StoreErrorKind::Unsupported`].
    async fn swap_user_session(
        &self,
        user: &str,
        session_key: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let _ = (user, session_key, ttl, now);
        Err(StoreError::new(
            StoreErrorKind::Unsupported,
            self.describe(),
            "this store cannot bind sessions to users",
        ))
    }

    /// A short description for logs and errors (`redis 127.0.0.1:6379 prefix app:`).
    fn describe(&self) -> String;
}

/// .NET ticks (100 ns since 0001-01-01) of the Unix epoch.
#[cfg(any(test, feature = "redis"))]
const UNIX_EPOCH_TICKS: i128 = 621_355_968_000_000_000;

/// An instant as .NET ticks (`DateTimeOffset.UtcTicks`).
#[cfg(any(test, feature = "redis"))]
pub(crate) fn to_ticks(at: OffsetDateTime) -> i64 {
    let ticks = at.unix_timestamp_nanos() / 100 + UNIX_EPOCH_TICKS;
    i64::try_from(ticks).unwrap_or(i64::MAX)
}

/// Reverses [`to_ticks`]; `None` out of range.
#[cfg(any(test, feature = "redis"))]
pub(crate) fn from_ticks(ticks: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos((i128::from(ticks) - UNIX_EPOCH_TICKS) * 100).ok()
}

/// A duration as .NET `TimeSpan` ticks.
#[cfg(any(test, feature = "redis"))]
pub(crate) fn duration_ticks(d: Duration) -> i64 {
    i64::try_from(d.as_nanos() / 100).unwrap_or(i64::MAX)
}

/// Reverses [`duration_ticks`]; `None` for negative values.
#[cfg(any(test, feature = "redis"))]
pub(crate) fn ticks_duration(ticks: i64) -> Option<Duration> {
    u64::try_from(ticks)
        .ok()
        .map(|t| Duration::from_nanos(t.saturating_mul(100)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ticks_match_dotnet() {
        // DateTimeOffset(2024-01-01T00:00:00Z).UtcTicks
        let t = datetime!(2024-01-01 0:00 UTC);
        assert_eq!(to_ticks(t), 638_396_640_000_000_000);
        assert_eq!(from_ticks(to_ticks(t)), Some(t));
        assert_eq!(duration_ticks(Duration::from_secs(1200)), 12_000_000_000);
        assert_eq!(
            ticks_duration(12_000_000_000),
            Some(Duration::from_secs(1200))
        );
        assert_eq!(ticks_duration(-1), None);
    }

    #[test]
    fn time_to_live_is_the_shorter_expiration() {
        let now = datetime!(2024-01-01 0:00 UTC);
        let e = |a: Option<OffsetDateTime>, s: Option<u64>| SessionEntry {
            data: vec![],
            absolute_expiration: a,
            sliding_expiration: s.map(Duration::from_secs),
        };
        assert_eq!(e(None, None).time_to_live(now), None);
        assert_eq!(
            e(None, Some(60)).time_to_live(now),
            Some(Duration::from_secs(60))
        );
        let soon = now + time::Duration::seconds(10);
        assert_eq!(
            e(Some(soon), Some(60)).time_to_live(now),
            Some(Duration::from_secs(10))
        );
        let past = now - time::Duration::seconds(10);
        assert_eq!(
            e(Some(past), Some(60)).time_to_live(now),
            Some(Duration::ZERO)
        );
    }
}
