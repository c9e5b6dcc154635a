//! The end of a request: saving the session with a compare-and-swap, re-applying this
//! request's changes on top of concurrent ones; or only refreshing its expiry.

use std::borrow::Cow;
use std::sync::Arc;

use super::data::SessionData;
use super::handle::{Changes, Loaded, Session, new_data, new_key};
use super::shared::Shared;
use super::stats::Event;
use super::store::{Expected, SaveOutcome, SessionEntry};
use crate::clock::to_time_duration;
use crate::error::StoreError;

/// Why a session could not be committed. The layer logs it, puts it in the response
/// extensions and passes it to the hook set with
/// [`SessionLayer::on_commit_error`](super::SessionLayer::on_commit_error).
///
/// Its [`source`](std::error::Error::source) is the [`StoreError`] itself for store failures
/// (downcast it, or use [`store_error_kind`](Self::store_error_kind)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CommitError {
    /// The store failed or timed out.
    Store(Arc<StoreError>),
    /// The session could not be loaded in this request, so its changes were dropped.
    Unavailable(Arc<StoreError>),
    /// Other requests kept changing the session; the bounded retries ran out.
    Contention(u32),
    /// A key or value is too large for the session format.
    Encode(super::data::EncodeError),
}

impl std::fmt::Display for CommitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store(e) => write!(f, "saving the session failed: {e}"),
            Self::Unavailable(e) => {
                write!(
                    f,
                    "the session was unavailable; its changes were not saved: {e}"
                )
            }
            Self::Contention(n) => write!(
                f,
                "the session kept changing concurrently; gave up after {n} retries"
            ),
            Self::Encode(e) => write!(f, "the session cannot be serialized: {e}"),
        }
    }
}

impl std::error::Error for CommitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The StoreError itself, not the Arc around it, so callers can downcast.
            Self::Store(e) | Self::Unavailable(e) => Some(&**e),
            Self::Contention(_) => None,
            Self::Encode(e) => Some(e),
        }
    }
}

impl From<super::data::EncodeError> for CommitError {
    fn from(e: super::data::EncodeError) -> Self {
        Self::Encode(e)
    }
}

impl From<StoreError> for CommitError {
    fn from(e: StoreError) -> Self {
        Self::Store(Arc::new(e))
    }
}

impl CommitError {
    /// For store failures: what kind of failure it was (a timeout, a refused connection, …).
    pub fn store_error_kind(&self) -> Option<crate::error::StoreErrorKind> {
        match self {
            Self::Store(e) | Self::Unavailable(e) => Some(e.kind()),
            Self::Contention(_) | Self::Encode(_) => None,
        }
    }
}

/// What the response must carry after a commit.
#[derive(Debug)]
pub(crate) enum CookieAction {
    None,
    /// Send this session key as the cookie.
    Set(String),
    /// Tell the browser to drop the cookie.
    Expire,
}

/// The outcome of a commit, for the service.
#[derive(Debug)]
pub(crate) struct Committed {
    pub(crate) cookie: CookieAction,
    pub(crate) error: Option<CommitError>,
}

impl Committed {
    fn ok(cookie: CookieAction) -> Self {
        Self {
            cookie,
            error: None,
        }
    }
}

/// Counts the keys this request changes that changed between `seen` and `now`: for those
/// the later commit wins.
fn count_overwrites(shared: &Shared, changes: &Changes, seen: &SessionData, now: &SessionData) {
    let overwritten = changes
        .ops
        .iter()
        .filter(|(k, _)| seen.get(k) != now.get(k))
        .count();
    if overwritten > 0 {
        tracing::debug!(
            overwritten,
            "a concurrent request changed keys this request also changes; this request's values win"
        );
        shared
            .stats
            .bump(Event::SameKeyOverwrite, overwritten as u64);
    }
}

/// What one request asks of the commit, taken from the session's state.
struct Plan {
    key_is_new: bool,
    changes: Changes,
    renew: bool,
    destroy: bool,
    user: Option<String>,
}

impl Session {
    /// Commits the session; `consent` says whether a new session may set its cookie.
    pub(crate) async fn commit(&self, consent: bool) -> Committed {
        let plan = {
            let mut s = self.state();
            s.committed = true;
            Plan {
                key_is_new: s.key_is_new,
                changes: std::mem::take(&mut s.changes),
                renew: s.renew,
                destroy: s.destroy,
                user: s.bind_user.take(),
            }
        };
        let shared = &self.inner.shared;
        let result = tokio::time::timeout(shared.config.io_timeout, self.run(plan, consent))
            .await
            .unwrap_or_else(|_| Err(shared.timeout_error("commit").into()));
        match result {
            Ok(committed) => committed,
            Err(error) => {
                shared.stats.bump(Event::CommitFailure, 1);
                tracing::error!("session commit failed: {error}");
                if let Some(hook) = &shared.on_commit_error {
                    hook(&error);
                }
                Committed {
                    cookie: CookieAction::None,
                    error: Some(error),
                }
            }
        }
    }

    async fn run(&self, plan: Plan, consent: bool) -> Result<Committed, CommitError> {
        let committed = self.apply(plan, consent).await?;
        self.refresh_if_due().await?;
        Ok(committed)
    }

    /// Restarts the sliding expiration of the loaded entry if the store left that to this
    /// request and nothing saved (or removed) it since.
    pub(crate) async fn refresh_if_due(&self) -> Result<(), StoreError> {
        let due = std::mem::take(&mut self.state().refresh_due);
        let (Some(key), Some(Loaded::Stored(entry, _))) =
            (&self.inner.cookie_key, self.inner.loaded.get())
        else {
            return Ok(());
        };
        if due {
            let shared = &self.inner.shared;
            shared
                .store
                .refresh_loaded(key, entry, shared.clock.now())
                .await?;
        }
        Ok(())
    }

    async fn apply(&self, plan: Plan, consent: bool) -> Result<Committed, CommitError> {
        let shared = &self.inner.shared;
        let store = &shared.store;
        if plan.destroy {
            if let Some(key) = &self.inner.cookie_key {
                store.remove(key).await?;
                self.state().refresh_due = false;
                return Ok(Committed::ok(CookieAction::Expire));
            }
            return Ok(Committed::ok(CookieAction::None));
        }
        if plan.changes.is_empty() && !plan.renew && plan.user.is_none() {
            // Unchanged: a load already restarted the expiry; otherwise refresh it.
            if let Some(key) = &self.inner.cookie_key
                && !self.inner.loaded.initialized()
            {
                store.refresh(key, shared.clock.now()).await?;
                shared.stats.bump(Event::Refresh, 1);
            }
            return Ok(Committed::ok(CookieAction::None));
        }
        if plan.key_is_new && !consent {
            tracing::debug!("new session not established: no consent for a non-essential cookie");
            return Ok(Committed::ok(CookieAction::None));
        }
        if let Loaded::Unavailable(e) = self.loaded_state().await {
            return Err(CommitError::Unavailable(e.clone()));
        }
        let (mut expected, base) = match self.inner.loaded.get() {
            Some(Loaded::Stored(entry, data)) => (Some(Cow::Borrowed(entry)), Cow::Borrowed(data)),
            Some(Loaded::Fresh(data)) => (None, Cow::Borrowed(data)),
            _ => unreachable!("loaded above"),
        };
        // The key may have changed while loading (expired session).
        let key = self.state().key.clone();
        let key_is_new = self.state().key_is_new;
        // A renewed session always moves to a new key. When nothing was stored under the
        // cookie's key, loading already gave the request a new one (key_is_new).
        let (target, moved) = if plan.renew && expected.is_some() {
            (new_key(&*shared.random), true)
        } else {
            (key.clone(), false)
        };
        if moved {
            // The new key is unique: nothing to race with.
            expected = None;
        }
        let saved = self
            .save_with_retries(&target, expected, base, &plan.changes)
            .await?;
        if !saved {
            return Ok(Committed::ok(CookieAction::None));
        }
        if moved {
            store.remove(&key).await?;
        }
        if let Some(user) = &plan.user {
            let ttl = shared.config.user_index_ttl();
            let now = shared.clock.now();
            let previous = store.swap_user_session(user, &target, ttl, now).await?;
            if let Some(previous) = previous.filter(|p| *p != target && *p != key) {
                store.remove(&previous).await?;
            }
        }
        if moved || key_is_new {
            shared.stats.bump(Event::Established, 1);
            Ok(Committed::ok(CookieAction::Set(target)))
        } else {
            Ok(Committed::ok(CookieAction::None))
        }
    }

    /// The compare-and-swap loop. `Ok(false)`: nothing was written (no change, or the
    /// session was deleted meanwhile).
    async fn save_with_retries(
        &self,
        key: &str,
        mut expected: Option<Cow<'_, SessionEntry>>,
        mut base: Cow<'_, SessionData>,
        changes: &Changes,
    ) -> Result<bool, CommitError> {
        let shared = &self.inner.shared;
        let config = &shared.config;
        let mut lock = shared.locks.lock(key).await;
        let contended = std::mem::take(&mut lock.handoff().contended);
        if contended {
            // Another node is writing this session too, and the previous local commit
            // just beat it: give its retry a head start, or this node's queue can starve
            // it (the queue's next commit starts from a known base, the retry does not).
            let mut b = [0u8; 2];
            shared.random.fill(&mut b);
            let pause = 200 + u64::from(u16::from_le_bytes(b)) % 1300;
            tokio::time::sleep(std::time::Duration::from_micros(pause)).await;
        }
        if let Some(last) = lock.handoff().written.take() {
            // A commit of this node just wrote the session: start from that.
            if expected.as_ref().is_some_and(|e| e.data != last.data)
                && let Ok(data) = SessionData::decode(&last.data)
            {
                count_overwrites(shared, changes, &base, &data);
                base = Cow::Owned(data);
                expected = Some(Cow::Owned(last));
            }
        }
        let mut retries = 0u32;
        loop {
            let blob = changes.encode_onto(&base)?;
            if expected.as_ref().is_some_and(|e| e.data == blob) {
                return Ok(false);
            }
            let now = shared.clock.now();
            let absolute_expiration = match &expected {
                Some(e) => e.absolute_expiration,
                None => config
                    .absolute_lifetime
                    .map(|life| now.saturating_add(to_time_duration(life))),
            };
            let entry = SessionEntry {
                data: blob,
                absolute_expiration,
                sliding_expiration: Some(config.idle_timeout),
            };
            let expected_entry = expected.is_some();
            let condition = match &expected {
                Some(e) => Expected::Data(&e.data),
                None => Expected::Absent,
            };
            match shared.store.save(key, &entry, condition, now).await? {
                SaveOutcome::Saved => {
                    shared.stats.saved(retries);
                    // The save set the lifetime (a renewed session's old key is removed).
                    self.state().refresh_due = false;
                    let handoff = lock.handoff();
                    handoff.written = Some(entry);
                    // Sticky while commits queue here: the other node is likely still busy.
                    handoff.contended = contended || retries > 0;
                    return Ok(true);
                }
                SaveOutcome::Conflict(None) if expected_entry => {
                    shared.stats.bump(Event::Discarded, 1);
                    tracing::info!(
                        "session deleted while this request ran (renewed, destroyed, replaced \
                         by a newer login, or expired): its changes are dropped"
                    );
                    return Ok(false);
                }
                SaveOutcome::Conflict(current) => {
                    retries += 1;
                    shared.stats.bump(Event::Conflict, 1);
                    shared.stats.retried(retries);
                    if retries > config.commit_retries {
                        return Err(CommitError::Contention(config.commit_retries));
                    }
                    let next = match &current {
                        Some(e) => SessionData::decode(&e.data)
                            .unwrap_or_else(|_| new_data(&*shared.random)),
                        None => new_data(&*shared.random),
                    };
                    count_overwrites(shared, changes, &base, &next);
                    // Retry at once with what is stored now: a pause would only let the
                    // other writers move on and make this state stale again.
                    base = Cow::Owned(next);
                    expected = current.map(Cow::Owned);
                }
            }
        }
    }
}
