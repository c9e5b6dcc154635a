//! State shared by every request of one session layer.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use super::CommitError;
use super::config::SessionConfig;
use super::locks::KeyedLocks;
use super::stats::Counters;
use super::store::SessionStore;
use crate::clock::Clock;
use crate::error::{StoreError, StoreErrorKind};
use crate::protector::Protector;
use crate::random::RandomSource;

/// Called with every failed commit, after it was logged.
pub(crate) type CommitHook = Arc<dyn Fn(&CommitError) + Send + Sync>;

pub(crate) struct Shared {
    pub(crate) config: SessionConfig,
    pub(crate) protector: Protector,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Session keys and ids.
    pub(crate) random: Arc<dyn RandomSource>,
    pub(crate) stats: Counters,
    pub(crate) locks: KeyedLocks,
    pub(crate) on_commit_error: Option<CommitHook>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("store", &self.store.describe())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Runs one store call within the I/O timeout.
    pub(crate) async fn timed<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.config.io_timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(self.timeout_error(what)),
        }
    }

    pub(crate) fn timeout_error(&self, what: &str) -> StoreError {
        StoreError::new(
            StoreErrorKind::Timeout,
            self.store.describe(),
            format!(
                "session {what} took longer than the I/O timeout ({:?})",
                self.config.io_timeout
            ),
        )
    }
}
