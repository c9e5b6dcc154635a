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

/// Something the layer did, counted in [`SessionStats`] and in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Load,
    LoadFailure,
    Save,
    Conflict,
    SameKeyOverwrite,
    CommitFailure,
    Discarded,
    Refresh,
    Established,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Self::Load => "load",
            Self::LoadFailure => "load_failure",
            Self::Save => "save",
            Self::Conflict => "conflict",
            Self::SameKeyOverwrite => "same_key_overwrite",
            Self::CommitFailure => "commit_failure",
            Self::Discarded => "discarded",
            Self::Refresh => "refresh",
            Self::Established => "established",
        }
    }
}

impl Counters {
    /// Counts `by` occurrences of `event`.
    pub(crate) fn bump(&self, event: Event, by: u64) {
        let counter = match event {
            Event::Load => &self.loads,
            Event::LoadFailure => &self.load_failures,
            Event::Save => &self.saves,
            Event::Conflict => &self.conflicts,
            Event::SameKeyOverwrite => &self.same_key_overwrites,
            Event::CommitFailure => &self.commit_failures,
            Event::Discarded => &self.discarded,
            Event::Refresh => &self.refreshes,
            Event::Established => &self.established,
        };
        counter.fetch_add(by, Ordering::Relaxed);
        crate::metrics::session_event(event.name(), by);
    }

    /// Counts a cookie that gave no session, with why.
    pub(crate) fn rejected_cookie(&self, reason: &'static str) {
        self.rejected_cookies.fetch_add(1, Ordering::Relaxed);
        crate::metrics::session_rejected_cookie(reason);
    }

    /// Records that a commit has needed `retries` retries so far.
    pub(crate) fn retried(&self, retries: u32) {
        self.max_retries
            .fetch_max(u64::from(retries), Ordering::Relaxed);
    }

    /// Records a saved commit and the retries it needed.
    pub(crate) fn saved(&self, retries: u32) {
        self.bump(Event::Save, 1);
        crate::metrics::session_commit_retries(retries);
    }

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
