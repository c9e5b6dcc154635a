//! Counters of what the session layer did, for tests, metrics and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the layer's counters since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Store loads (first access of a session with a cookie).
    pub loads: u64,
    /// Loads that failed or timed out (the session was unavailable for that request).
    pub load_failures: u64,
    /// Sessions written.
    pub saves: u64,
    /// Compare-and-swap conflicts: each one re-applied the request's changes and retried.
    pub conflicts: u64,
    /// The most retries one commit needed.
    pub max_retries: u64,
    /// Keys this request set or removed that another request had changed concurrently
    /// (the later commit won for that key).
    pub same_key_overwrites: u64,
    /// Commits that gave up (store failure, timeout, too many conflicts).
    pub commit_failures: u64,
    /// Commits dropped because the session was deleted meanwhile (renewed, destroyed,
    /// replaced by a newer login of its user, or expired).
    pub discarded: u64,
    /// Expirations refreshed without a write.
    pub refreshes: u64,
    /// New sessions whose cookie was sent.
    pub established: u64,
    /// Cookies that did not give a session key (bad, foreign, revoked key, expired).
    pub rejected_cookies: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) loads: AtomicU64,
    pub(crate) load_failures: AtomicU64,
    pub(crate) saves: AtomicU64,
    pub(crate) conflicts: AtomicU64,
    pub(crate) max_retries: AtomicU64,
    pub(crate) same_key_overwrites: AtomicU64,
    pub(crate) commit_failures: AtomicU64,
    pub(crate) discarded: AtomicU64,
    pub(crate) refreshes: AtomicU64,
    pub(crate) established: AtomicU64,
    pub(crate) rejected_cookies: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> SessionStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SessionStats {
            loads: get(&self.loads),
            load_failures: get(&self.load_failures),
            saves: get(&self.saves),
            conflicts: get(&self.conflicts),
            max_retries: get(&self.max_retries),
            same_key_overwrites: get(&self.same_key_overwrites),
            commit_failures: get(&self.commit_failures),
            discarded: get(&self.discarded),
            refreshes: get(&self.refreshes),
            established: get(&self.established),
            rejected_cookies: get(&self.rejected_cookies),
        }
    }
}
