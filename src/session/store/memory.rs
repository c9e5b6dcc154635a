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
/// at most `capacity` sessions: when full, expired entries go first, then the entries
/// closest to expiry, a sixty-fourth of the capacity at a time (so a flood of new sessions
/// costs a sweep per batch, not a scan of every session per request).
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
    /// The user index is swept of expired entries when it reaches this size.
    users_sweep_at: usize,
}

/// The share of the capacity evicted at once when the store is full.
const EVICTION_BATCH_DIVISOR: usize = 64;

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

    /// Makes room for one more session: drops expired entries, then, if still full, the
    /// live ones closest to expiry (never-expiring ones last) down to one batch below the
    /// capacity. One sweep is O(n) and buys room for a batch of inserts.
    fn make_room(&mut self, capacity: usize, now: OffsetDateTime) {
        if self.sessions.len() < capacity {
            return;
        }
        self.sessions.retain(|_, s| live(s, now));
        let target = capacity - (capacity / EVICTION_BATCH_DIVISOR).max(1);
        if self.sessions.len() <= target {
            return;
        }
        let evict = self.sessions.len() - target;
        let mut by_expiry: Vec<_> = self
            .sessions
            .iter()
            .map(|(k, s)| ((s.expires.is_none(), s.expires), k.clone()))
            .collect();
        by_expiry.select_nth_unstable_by(evict - 1, |a, b| a.0.cmp(&b.0));
        for (_, key) in by_expiry.into_iter().take(evict) {
            self.sessions.remove(&key);
        }
    }

    /// Drops expired user-index entries once the index has doubled since the last sweep
    /// (live entries are never dropped: each one is what ends a user's older session).
    fn sweep_users(&mut self, capacity: usize, now: OffsetDateTime) {
        if self.users.len() < self.users_sweep_at.max(capacity) {
            return;
        }
        self.users.retain(|_, (_, at)| *at > now);
        self.users_sweep_at = self.users.len().saturating_mul(2);
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
        inner.sweep_users(self.capacity, now);
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

    fn entry_idle_for(secs: u64) -> SessionEntry {
        SessionEntry::new(b"x".to_vec(), None, Some(Duration::from_secs(secs)))
    }

    #[tokio::test]
    async fn a_full_store_evicts_the_soonest_to_expire_in_batches() {
        let store = MemorySessionStore::with_capacity(128);
        let now = OffsetDateTime::now_utc();
        // Keys 0..128 expire after 1000 + i seconds: key 0 is the soonest.
        for i in 0..128u64 {
            let key = format!("k{i:03}");
            let saved = store
                .save(&key, &entry_idle_for(1000 + i), Expected::Absent, now)
                .await
                .unwrap();
            assert!(matches!(saved, SaveOutcome::Saved));
        }
        assert_eq!(store.len(), 128);
        let never = SessionEntry::new(b"x".to_vec(), None, None);
        store
            .save("forever", &never, Expected::Absent, now)
            .await
            .unwrap();
        // One sweep evicted a batch of 128/64 = 2: the two soonest to expire.
        assert_eq!(store.len(), 127);
        for gone in ["k000", "k001"] {
            assert!(store.load(gone, now).await.unwrap().is_none(), "{gone}");
        }
        for kept in ["k002", "k127", "forever"] {
            assert!(store.load(kept, now).await.unwrap().is_some(), "{kept}");
        }
        // The next insert needs no sweep: there is room.
        store
            .save("new", &entry_idle_for(5), Expected::Absent, now)
            .await
            .unwrap();
        assert_eq!(store.len(), 128);
        assert!(store.load("k002", now).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn expired_sessions_go_before_live_ones() {
        let store = MemorySessionStore::with_capacity(4);
        let now = OffsetDateTime::now_utc();
        for (key, secs) in [("a", 10), ("b", 1000), ("c", 1000), ("d", 1000)] {
            store
                .save(key, &entry_idle_for(secs), Expected::Absent, now)
                .await
                .unwrap();
        }
        let later = now + Duration::from_secs(60);
        store
            .save("e", &entry_idle_for(1000), Expected::Absent, later)
            .await
            .unwrap();
        // "a" expired; that sweep left room without evicting a live session.
        for kept in ["b", "c", "d", "e"] {
            assert!(store.load(kept, later).await.unwrap().is_some(), "{kept}");
        }
    }

    #[tokio::test]
    async fn the_user_index_keeps_live_entries_and_sweeps_expired_ones() {
        let store = MemorySessionStore::with_capacity(2);
        let now = OffsetDateTime::now_utc();
        let short = Duration::from_secs(10);
        for user in ["u1", "u2", "u3"] {
            store
                .swap_user_session(user, "s-old", short, now)
                .await
                .unwrap();
        }
        // Live entries beyond the capacity are kept: each still ends an older session.
        let previous = store
            .swap_user_session("u1", "s-new", short, now)
            .await
            .unwrap();
        assert_eq!(previous.as_deref(), Some("s-old"));
        // The sweep at 2 entries kept both (live), so the next one comes at 4.
        let later = now + Duration::from_secs(60);
        for user in ["u4", "u5"] {
            store
                .swap_user_session(user, "s", short, later)
                .await
                .unwrap();
        }
        assert_eq!(store.lock().users.len(), 2, "u1..u3 expired and were swept");
        let previous = store
            .swap_user_session("u2", "s", short, later)
            .await
            .unwrap();
        assert_eq!(previous, None, "an expired entry names no session");
    }

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
