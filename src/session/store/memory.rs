//! An in-process session store, bounded and expiring.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Expected, SaveOutcome, SessionEntry, SessionStore};
use crate::error::StoreError;

/// Default capacity of a [`MemorySessionStore`].
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Keeps sessions in the memory of one process: for single-node apps and tests. Entries
/// expire by the clock the layer passes in (so tests can move time), and the store holds
/// at most `capacity` sessions: when full, expired entries go first, then the entry
/// closest to expiry.
pub struct MemorySessionStore {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Session keys are bearer secrets and user names personal data: counts only.
        let mut d = f.debug_struct("MemorySessionStore");
        d.field("capacity", &self.capacity);
        match self.inner.try_lock() {
            Ok(inner) => d
                .field("sessions", &inner.sessions.len())
                .field("users", &inner.users.len())
                .finish(),
            Err(_) => d.finish_non_exhaustive(),
        }
    }
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, Stored>,
    users: HashMap<String, (String, OffsetDateTime)>,
}

struct Stored {
    entry: SessionEntry,
    /// `None`: never expires.
    expires: Option<OffsetDateTime>,
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemorySessionStore {
    /// A store of at most [`DEFAULT_CAPACITY`] sessions.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store of at most `capacity` sessions (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Number of entries held, expired ones included until they are evicted.
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn expiry(entry: &SessionEntry, now: OffsetDateTime) -> Option<OffsetDateTime> {
    entry.time_to_live(now).map(|ttl| now + ttl)
}

fn live(stored: &Stored, now: OffsetDateTime) -> bool {
    stored.expires.is_none_or(|at| at > now)
}

impl Inner {
    /// The live entry of `key`, dropping it when expired.
    fn live_mut(&mut self, key: &str, now: OffsetDateTime) -> Option<&mut Stored> {
        if self.sessions.get(key).is_some_and(|s| !live(s, now)) {
            self.sessions.remove(key);
        }
        self.sessions.get_mut(key)
    }

    fn make_room(&mut self, capacity: usize, now: OffsetDateTime) {
        if self.sessions.len() < capacity {
            return;
        }
        self.sessions.retain(|_, s| live(s, now));
        self.users.retain(|_, (_, at)| *at > now);
        while self.sessions.len() >= capacity {
            let soonest = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| (s.expires.is_none(), s.expires))
                .map(|(k, _)| k.clone());
            match soonest {
                Some(k) => {
                    self.sessions.remove(&k);
                }
                None => break,
            }
        }
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn load(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SessionEntry>, StoreError> {
        let mut inner = self.lock();
        Ok(inner.live_mut(key, now).map(|s| {
            s.expires = expiry(&s.entry, now);
            s.entry.clone()
        }))
    }

    async fn save(
        &self,
        key: &str,
        entry: &SessionEntry,
        expected: Expected<'_>,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let mut inner = self.lock();
        let current = inner.live_mut(key, now);
        let matches = match (&current, expected) {
            (None, Expected::Absent) => true,
            (Some(s), Expected::Data(d)) => s.entry.data == d,
            _ => false,
        };
        if !matches {
            return Ok(SaveOutcome::Conflict(current.map(|s| s.entry.clone())));
        }
        let stored = Stored {
            entry: entry.clone(),
            expires: expiry(entry, now),
        };
        if let Some(slot) = current {
            *slot = stored;
        } else {
            inner.make_room(self.capacity, now);
            inner.sessions.insert(key.to_owned(), stored);
        }
        Ok(SaveOutcome::Saved)
    }

    async fn refresh(&self, key: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        if let Some(s) = self.lock().live_mut(key, now) {
            s.expires = expiry(&s.entry, now);
        }
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.lock().sessions.remove(key);
        Ok(())
    }

    async fn swap_user_session(
        &self,
        user: &str,
        session_key: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let mut inner = self.lock();
        if inner.users.len() >= self.capacity {
            inner.users.retain(|_, (_, at)| *at > now);
        }
        let previous = inner
            .users
            .insert(user.to_owned(), (session_key.to_owned(), now + ttl));
        Ok(previous.filter(|(_, at)| *at > now).map(|(k, _)| k))
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn debug_shows_counts_never_session_keys_or_users() {
        let store = MemorySessionStore::with_capacity(10);
        let now = OffsetDateTime::now_utc();
        let entry = SessionEntry::new(b"DATA-SECRET".to_vec(), None, None);
        let key = "6f9619ff-8b86-d011-b42d-00c04fc964ff";
        store
            .save(key, &entry, Expected::Absent, now)
            .await
            .unwrap();
        store
            .swap_user_session("alice@example.com", key, Duration::from_secs(60), now)
            .await
            .unwrap();
        let shown = format!("{store:?}");
        for secret in [key, "alice@example.com", "DATA-SECRET"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert_eq!(
            shown,
            "MemorySessionStore { capacity: 10, sessions: 1, users: 1 }"
        );
    }
}
