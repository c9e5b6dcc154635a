//! [`Session`]: the handle a request's code reads and changes its session through.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use super::data::{EncodeError, ID_LEN, SessionData, encode_entries};
use super::shared::Shared;
use super::stats::Event;
use super::store::SessionEntry;
use crate::error::{StoreError, StoreErrorKind};
use crate::random::RandomSource;

/// The entry that records the user a session is bound to (see [`Session::bind_user`]).
/// [`Session::keys`] does not list it.
pub const USER_ENTRY: &str = "__DataProtection.Session.User";

/// Errors of the session API. Its [`source`](std::error::Error::source) is the
/// [`StoreError`] itself when the store failed (downcast it, or use
/// [`store_error_kind`](Self::store_error_kind)).
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// The session could not be loaded for this request (the store failed or timed out);
    /// the error was logged. Changes made in this request are not saved.
    Unavailable(Arc<StoreError>),
    /// A value could not be converted to or from JSON.
    Json(serde_json::Error),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(e) => write!(f, "the session is unavailable: {e}"),
            Self::Json(e) => write!(f, "session value is not valid JSON for this type: {e}"),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The StoreError itself, not the Arc around it, so callers can downcast.
            Self::Unavailable(e) => Some(&**e),
            Self::Json(e) => Some(e),
        }
    }
}

impl From<serde_json::Error> for SessionError {
    fn from(e: serde_json::Error) -> Self {
        Self::Json(e)
    }
}

/// The session of the current request. Cheap to clone (an `Arc` inside); the layer puts
/// one in the request extensions and commits it when the inner service has answered.
///
/// Reads load the session from the store on first use (once per request); writes are
/// recorded and applied at commit, on top of whatever is stored then, so concurrent
/// requests that change different keys keep each other's changes.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) shared: Arc<Shared>,
    /// The session key from a valid cookie.
    pub(crate) cookie_key: Option<String>,
    pub(crate) state: Mutex<State>,
    pub(crate) loaded: OnceCell<Loaded>,
}

pub(crate) struct State {
    /// The key the session is saved under (a fresh one when the cookie gave none).
    pub(crate) key: String,
    /// The key is not in the browser yet.
    pub(crate) key_is_new: bool,
    pub(crate) changes: Changes,
    pub(crate) renew: bool,
    pub(crate) destroy: bool,
    pub(crate) bind_user: Option<String>,
    pub(crate) committed: bool,
    /// The store loaded the entry without restarting its sliding expiration
    /// ([`SessionStore::load_deferring_refresh`]): the commit must save or refresh it.
    ///
    /// [`SessionStore::load_deferring_refresh`]: super::store::SessionStore::load_deferring_refresh
    pub(crate) refresh_due: bool,
}

/// What the store gave at first access.
pub(crate) enum Loaded {
    /// The store failed; the session cannot be used in this request.
    Unavailable(Arc<StoreError>),
    /// Nothing stored: a new session with this id.
    Fresh(SessionData),
    /// What is stored, and its contents (empty when unreadable).
    Stored(SessionEntry, SessionData),
}

/// The changes of one request, replayed on the stored session at commit.
#[derive(Default, Clone)]
pub(crate) struct Changes {
    pub(crate) cleared: bool,
    /// Last write of each key, in first-write order; `None` removes.
    pub(crate) ops: Vec<(String, Option<Vec<u8>>)>,
}

impl Changes {
    fn record(&mut self, key: &str, value: Option<Vec<u8>>) {
        match self.ops.iter_mut().find(|(k, _)| k == key) {
            Some(op) => op.1 = value,
            None => self.ops.push((key.to_owned(), value)),
        }
    }

    /// `Some(v)` when this request decided the value of `key`.
    fn get(&self, key: &str) -> Option<Option<&[u8]>> {
        match self.ops.iter().find(|(k, _)| k == key) {
            Some((_, v)) => Some(v.as_deref()),
            None if self.cleared => Some(None),
            None => None,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        !self.cleared && self.ops.is_empty()
    }

    /// The blob of `base` with these changes applied: what [`apply`](Self::apply) then
    /// [`SessionData::encode`] give, without copying the session.
    pub(crate) fn encode_onto(&self, base: &SessionData) -> Result<Vec<u8>, EncodeError> {
        // Stored entries keep their places (a cleared session keeps none); new keys follow
        // in the order this request first wrote them.
        let kept = base
            .entries()
            .filter(|_| !self.cleared)
            .filter_map(|(k, v)| match self.get(k) {
                Some(new) => new.map(|new| (k, new)),
                None => Some((k, v)),
            });
        let added = self.ops.iter().filter_map(|(k, v)| {
            let v = v.as_deref()?;
            (self.cleared || base.get(k).is_none()).then_some((k.as_str(), v))
        });
        let size = base
            .entries()
            .map(|(k, v)| 6 + k.len() + v.len())
            .sum::<usize>()
            + self
                .ops
                .iter()
                .map(|(k, v)| 6 + k.len() + v.as_ref().map_or(0, Vec::len))
                .sum::<usize>();
        encode_entries(&base.id_bytes(), kept.chain(added), size)
    }

    pub(crate) fn apply(&self, data: &mut SessionData) {
        if self.cleared {
            data.clear();
        }
        for (k, v) in &self.ops {
            match v {
                Some(v) => data.set(k, v.clone()),
                None => {
                    data.remove(k);
                }
            }
        }
    }
}

/// A fresh random session key (a Guid, as ASP.NET makes them).
pub(crate) fn new_key(random: &dyn RandomSource) -> String {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes);
    super::data::dotnet_guid(bytes)
}

/// An empty session with a fresh random id.
pub(crate) fn new_data(random: &dyn RandomSource) -> SessionData {
    let mut id = [0u8; ID_LEN];
    random.fill(&mut id);
    SessionData::new(id)
}

impl SessionError {
    /// For [`Unavailable`](Self::Unavailable): what kind of store failure it was.
    pub fn store_error_kind(&self) -> Option<StoreErrorKind> {
        match self {
            Self::Unavailable(e) => Some(e.kind()),
            Self::Json(_) => None,
        }
    }
}

impl Session {
    pub(crate) fn new(shared: Arc<Shared>, cookie_key: Option<String>) -> Self {
        let (key, key_is_new) = match &cookie_key {
            Some(k) => (k.clone(), false),
            None => (new_key(&*shared.random), true),
        };
        Self {
            inner: Arc::new(Inner {
                shared,
                cookie_key,
                state: Mutex::new(State {
                    key,
                    key_is_new,
                    changes: Changes::default(),
                    renew: false,
                    destroy: false,
                    bind_user: None,
                    committed: false,
                    refresh_due: false,
                }),
                loaded: OnceCell::new(),
            }),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads the session now if it was not loaded yet (ASP.NET's `LoadAsync`). Every
    /// read does this by itself.
    ///
    /// # Errors
    /// [`SessionError::Unavailable`] when the store failed or timed out.
    pub async fn load(&self) -> Result<(), SessionError> {
        self.loaded().await.map(|_| ())
    }

    /// Whether the session could be loaded (loads it if needed).
    pub async fn is_available(&self) -> bool {
        self.load().await.is_ok()
    }

    /// What loading gave (loading now if needed).
    pub(crate) async fn loaded_state(&self) -> &Loaded {
        self.inner.loaded.get_or_init(|| self.fetch()).await
    }

    pub(crate) async fn loaded(&self) -> Result<&SessionData, SessionError> {
        match self.loaded_state().await {
            Loaded::Unavailable(e) => Err(SessionError::Unavailable(e.clone())),
            Loaded::Fresh(data) | Loaded::Stored(_, data) => Ok(data),
        }
    }

    async fn fetch(&self) -> Loaded {
        let shared = &self.inner.shared;
        let Some(key) = &self.inner.cookie_key else {
            return Loaded::Fresh(new_data(&*shared.random));
        };
        shared.stats.bump(Event::Load, 1);
        let now = shared.clock.now();
        let load = shared.store.load_deferring_refresh(key, now);
        match shared.timed("load", load).await {
            Ok((Some(entry), refreshed)) => match SessionData::decode(&entry.data) {
                Ok(data) => {
                    self.state().refresh_due = !refreshed;
                    Loaded::Stored(entry, data)
                }
                Err(e) => {
                    tracing::warn!("stored session is unreadable ({e}); starting a new one");
                    self.fresh()
                }
            },
            Ok((None, _)) => {
                tracing::debug!(
                    "session cookie names an expired or unknown session; starting a new one"
                );
                shared.stats.rejected_cookie("unknown_session");
                self.fresh()
            }
            Err(e) => {
                shared.stats.bump(Event::LoadFailure, 1);
                tracing::error!("session unavailable for this request: loading it failed: {e}");
                Loaded::Unavailable(Arc::new(e))
            }
        }
    }

    /// A new session under a new key. The key the cookie named is never reused for new data:
    /// whoever planted that cookie (or kept a copy of it) must not share the new session.
    fn fresh(&self) -> Loaded {
        let random = &*self.inner.shared.random;
        let mut state = self.state();
        state.key = new_key(random);
        state.key_is_new = true;
        Loaded::Fresh(new_data(random))
    }

    fn change(&self, key: &str, value: Option<Vec<u8>>) {
        let mut state = self.state();
        if state.committed {
            tracing::warn!("session changed after its request was answered; the change is lost");
        }
        state.changes.record(key, value);
    }

    /// The value of `key`.
    ///
    /// # Errors
    /// [`SessionError::Unavailable`] when the session could not be loaded.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, SessionError> {
        let data = self.loaded().await?;
        let state = self.state();
        Ok(match state.changes.get(key) {
            Some(v) => v.map(<[u8]>::to_vec),
            None => data.get(key).map(<[u8]>::to_vec),
        })
    }

    /// The value of `key` as text (UTF-8, invalid sequences replaced, like ASP.NET's
    /// `GetString`).
    ///
    /// # Errors
    /// [`SessionError::Unavailable`] when the session could not be loaded.
    pub async fn get_string(&self, key: &str) -> Result<Option<String>, SessionError> {
        Ok(self
            .get(key)
            .await?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The value of `key` as ASP.NET's `GetInt32` reads it: 4 bytes big-endian; `None`
    /// when absent or shorter.
    ///
    /// # Errors
    /// [`SessionError::Unavailable`] when the session could not be loaded.
    pub async fn get_i32(&self, key: &str) -> Result<Option<i32>, SessionError> {
        Ok(self.get(key).await?.and_then(|v| {
            v.get(..4)
                .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        }))
    }

    /// The value of `key` read as JSON.
    ///
    /// # Errors
    /// [`SessionError::Unavailable`], or [`SessionError::Json`] when the value is not
    /// JSON for `T`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, SessionError> {
        match self.get(key).await? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// Sets `key` (ASP.NET's `Set`). Keys longer than 65,535 UTF-8 bytes make the commit
    /// fail.
    pub fn set(&self, key: &str, value: impl Into<Vec<u8>>) {
        self.change(key, Some(value.into()));
    }

    /// Sets `key` to UTF-8 text (ASP.NET's `SetString`).
    pub fn set_string(&self, key: &str, value: &str) {
        self.set(key, value.as_bytes());
    }

    /// Sets `key` to 4 bytes big-endian (ASP.NET's `SetInt32`).
    pub fn set_i32(&self, key: &str, value: i32) {
        self.set(key, value.to_be_bytes());
    }

    /// Sets `key` to `value` as JSON.
    ///
    /// # Errors
    /// [`SessionError::Json`] when `value` cannot be serialized.
    pub fn set_json<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), SessionError> {
        self.set(key, serde_json::to_vec(value)?);
        Ok(())
    }

    /// Removes `key`.
    pub fn remove(&self, key: &str) {
        self.change(key, None);
    }

    /// Removes every entry. At commit this also removes entries other requests added
    /// concurrently.
    pub fn clear(&self) {
        let mut state = self.state();
        state.changes.ops.clear();
        state.changes.cleared = true;
    }

    /// The keys, in insertion order ([`USER_ENTRY`] excepted).
    ///
    /// # Errors
    /// [`SessionError::Unavailable`] when the session could not be loaded.
    pub async fn keys(&self) -> Result<Vec<String>, SessionError> {
        let data = self.loaded().await?;
        let state = self.state();
        let mut view = data.clone();
        state.changes.apply(&mut view);
        Ok(view
            .keys()
            .filter(|k| *k != USER_ENTRY)
            .map(str::to_owned)
            .collect())
    }

    /// The session id (ASP.NET's `ISession.Id`): a Guid stored inside the session data,
    /// stable for the session's life. It is not the session key the cookie protects, and
    /// is safe to log.
    ///
    /// # Errors
    /// [`SessionError::Unavailable`] when the session could not be loaded.
    pub async fn id(&self) -> Result<String, SessionError> {
        Ok(self.loaded().await?.id())
    }

    /// Moves the session to a new key at commit and deletes the old entry; the browser
    /// gets a new cookie. Call it when the user logs in (session fixation).
    pub fn renew(&self) {
        self.state().renew = true;
    }

    /// Deletes the session at commit and tells the browser to drop its cookie (log out).
    /// Changes made in this request are discarded.
    pub fn destroy(&self) {
        self.state().destroy = true;
    }

    /// Makes this the only session of `user`: at commit, the user's previous session (on
    /// any node) is deleted, so its next request is anonymous. Needs a store that supports
    /// [`SessionStore::swap_user_session`](super::SessionStore::swap_user_session).
    pub fn bind_user(&self, user: &str) {
        let mut state = self.state();
        state
            .changes
            .record(USER_ENTRY, Some(user.as_bytes().to_vec()));
        state.bind_user = Some(user.to_owned());
    }

    /// The user this session is bound to, if any.
    ///
    /// # Errors
    /// [`SessionError::Unavailable`] when the session could not be loaded.
    pub async fn user(&self) -> Result<Option<String>, SessionError> {
        self.get_string(USER_ENTRY).await
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The session key is a bearer secret: never shown.
        let state = self.state();
        f.debug_struct("Session")
            .field("from_cookie", &self.inner.cookie_key.is_some())
            .field("loaded", &self.inner.loaded.initialized())
            .field("changes", &state.changes.ops.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_replay_in_order_and_clear_drops_earlier_ones() {
        let mut base = SessionData::new([0; ID_LEN]);
        base.set("kept", vec![1]);
        base.set("gone", vec![2]);
        let mut c = Changes::default();
        c.record("new", Some(vec![3]));
        c.record("gone", None);
        c.record("new", Some(vec![4]));
        assert_eq!(c.get("new"), Some(Some(&[4][..])));
        assert_eq!(c.get("gone"), Some(None));
        assert_eq!(c.get("kept"), None, "not decided by this request");
        let mut d = base.clone();
        c.apply(&mut d);
        assert_eq!(d.keys().collect::<Vec<_>>(), ["kept", "new"]);

        c.ops.clear();
        c.cleared = true;
        c.record("after", Some(vec![5]));
        assert_eq!(c.get("kept"), Some(None), "cleared");
        let mut d = base;
        c.apply(&mut d);
        assert_eq!(d.keys().collect::<Vec<_>>(), ["after"]);
        assert_eq!(d.id_bytes(), [0; ID_LEN], "the id survives a clear");
    }

    /// `encode_onto` writes exactly what applying the changes and encoding would, for
    /// every mix of kept, replaced, removed, new and cleared keys.
    #[test]
    fn encoding_changes_onto_a_session_equals_applying_then_encoding() {
        let mut base = SessionData::new([9; ID_LEN]);
        for (k, v) in [("a", 1u8), ("b", 2), ("c", 3), ("d", 4)] {
            base.set(k, vec![v; usize::from(v)]);
        }
        let ops: [(&str, Option<Vec<u8>>); 6] = [
            ("c", Some(vec![30])),
            ("x", Some(vec![])),
            ("a", None),
            ("y", Some(vec![7; 300])),
            ("z", None),
            ("x", Some(vec![8])),
        ];
        for cleared in [false, true] {
            for n in 0..=ops.len() {
                for start in 0..ops.len() {
                    let mut c = Changes {
                        cleared,
                        ..Changes::default()
                    };
                    for (k, v) in ops.iter().cycle().skip(start).take(n) {
                        c.record(k, v.clone());
                    }
                    let mut applied = base.clone();
                    c.apply(&mut applied);
                    assert_eq!(
                        c.encode_onto(&base).unwrap(),
                        applied.encode().unwrap(),
                        "cleared {cleared}, {n} ops from {start}"
                    );
                }
            }
        }
        let empty = SessionData::new([1; ID_LEN]);
        assert_eq!(
            Changes::default().encode_onto(&empty).unwrap(),
            empty.encode().unwrap()
        );
    }
}
