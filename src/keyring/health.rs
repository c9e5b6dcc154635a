//! What the manager remembers about its reloads, for `DataProtection::health()`.

use std::sync::Mutex;

use time::OffsetDateTime;

use crate::error::{Error, StoreErrorKind};

/// The latest reload that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshFailure {
    /// When it failed (by the provider's clock).
    pub at: OffsetDateTime,
    /// The error, as text.
    pub message: String,
    /// For store failures, what kind (timeout, unavailable, …).
    pub store_error_kind: Option<StoreErrorKind>,
}

#[derive(Default)]
struct State {
    loaded_at: Option<OffsetDateTime>,
    last_failure: Option<RefreshFailure>,
}

/// Updated by every reload; read by health checks. One short lock, never on the protect path.
#[derive(Default)]
pub(crate) struct ReloadHealth {
    state: Mutex<State>,
}

impl ReloadHealth {
    pub(crate) fn record(&self, now: OffsetDateTime, error: Option<&Error>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match error {
            None => {
                state.loaded_at = Some(now);
                state.last_failure = None;
            }
            Some(e) => {
                state.last_failure = Some(RefreshFailure {
                    at: now,
                    message: e.to_string(),
                    store_error_kind: match e {
                        Error::Store(s) => Some(s.kind()),
                        _ => None,
                    },
                });
            }
        }
    }

    /// When the ring was last loaded, and the failure since, if any.
    pub(crate) fn snapshot(&self) -> (Option<OffsetDateTime>, Option<RefreshFailure>) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (state.loaded_at, state.last_failure.clone())
    }
}
