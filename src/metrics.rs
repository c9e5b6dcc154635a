//! Counters and histograms through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`); the exporter is the application's choice. Without the feature every function
//! here is empty and compiles away.
//!
//! Labels carry only fixed words (outcomes, causes, store kinds), never key material, key
//! ids or cookie values.
//!
//! | name | type | labels |
//! |---|---|---|
//! | `data_protection_protect_total` | counter | `outcome`: ok, no_key, default_unreadable |
//! | `data_protection_unprotect_total` | counter | `outcome`: ok, invalid, revoked, expired, unknown_key |
//! | `data_protection_ring_reloads_total` | counter | `cause`: startup, periodic, unknown_key, manual, maintenance; `outcome`: ok, error |
//! | `data_protection_key_creations_total` | counter | `outcome`: created, adopted, blocked_by_revocation, blocked_by_unreadable, generation_disabled |
//! | `data_protection_store_operations_total` | counter | `store`, `operation`: read, write, delete, scope; `outcome`: ok, error kind |
//! | `data_protection_store_operation_seconds` | histogram | `store`, `operation` |
//! | `data_protection_session_events_total` | counter | `event`: load, load_failure, save, conflict, same_key_overwrite, commit_failure, discarded, refresh, established |
//! | `data_protection_session_commit_retries` | histogram | (retries of one saved commit) |
//! | `data_protection_session_rejected_cookies_total` | counter | `reason`: encoding, unprotect, key_shape, unknown_session |
//! | `data_protection_cookie_rejections_total` | counter | `reason`: chunks, encoding, unprotect, expired, utf8, ticket, ticket_expired |

/// Registers the descriptions of every metric (once per provider build; cheap).
pub(crate) fn describe() {
    #[cfg(feature = "metrics")]
    {
        use metrics::{describe_counter, describe_histogram};
        describe_counter!(
            "data_protection_protect_total",
            "Payloads protected, by outcome"
        );
        describe_counter!(
            "data_protection_unprotect_total",
            "Payloads unprotected, by outcome"
        );
        describe_counter!(
            "data_protection_ring_reloads_total",
            "Key ring reloads from the store, by cause and outcome"
        );
        describe_counter!(
            "data_protection_key_creations_total",
            "Decisions on keys the rotation rules called for, by outcome"
        );
        describe_counter!(
            "data_protection_store_operations_total",
            "Key store operations, by store, operation and outcome"
        );
        describe_histogram!(
            "data_protection_store_operation_seconds",
            metrics::Unit::Seconds,
            "Latency of key store operations"
        );
        describe_counter!(
            "data_protection_session_events_total",
            "Session layer events (loads, saves, conflicts, failures, …)"
        );
        describe_histogram!(
            "data_protection_session_commit_retries",
            "Compare-and-swap retries of one saved session commit"
        );
        describe_counter!(
            "data_protection_session_rejected_cookies_total",
            "Session cookies that gave no session, by reason"
        );
        describe_counter!(
            "data_protection_cookie_rejections_total",
            "Protected cookies that read as absent, by reason"
        );
    }
}

/// One protect call.
#[inline]
pub(crate) fn protect(outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("data_protection_protect_total", "outcome" => outcome).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// One unprotect call.
#[inline]
pub(crate) fn unprotect(outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("data_protection_unprotect_total", "outcome" => outcome).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// One ring reload.
pub(crate) fn ring_reload(cause: &'static str, ok: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "data_protection_ring_reloads_total",
        "cause" => cause,
        "outcome" => if ok { "ok" } else { "error" }
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (cause, ok);
}

/// A decision on a key the rules called for.
pub(crate) fn key_creation(outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("data_protection_key_creations_total", "outcome" => outcome).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// One key store operation and how long it took.
pub(crate) fn store_operation(
    store: &'static str,
    operation: &'static str,
    outcome: &'static str,
    elapsed: std::time::Duration,
) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(
            "data_protection_store_operations_total",
            "store" => store,
            "operation" => operation,
            "outcome" => outcome
        )
        .increment(1);
        metrics::histogram!(
            "data_protection_store_operation_seconds",
            "store" => store,
            "operation" => operation
        )
        .record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (store, operation, outcome, elapsed);
}

/// A session layer event.
#[cfg(feature = "session")]
pub(crate) fn session_event(event: &'static str, by: u64) {
    #[cfg(feature = "metrics")]
    metrics::counter!("data_protection_session_events_total", "event" => event).increment(by);
    #[cfg(not(feature = "metrics"))]
    let _ = (event, by);
}

/// The retries one saved commit needed.
#[cfg(feature = "session")]
pub(crate) fn session_commit_retries(retries: u32) {
    #[cfg(feature = "metrics")]
    metrics::histogram!("data_protection_session_commit_retries").record(f64::from(retries));
    #[cfg(not(feature = "metrics"))]
    let _ = retries;
}

/// A session cookie that gave no session.
#[cfg(feature = "session")]
pub(crate) fn session_rejected_cookie(reason: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("data_protection_session_rejected_cookies_total", "reason" => reason)
        .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = reason;
}

/// A protected cookie that reads as absent.
#[cfg(feature = "cookies")]
pub(crate) fn cookie_rejected(reason: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("data_protection_cookie_rejections_total", "reason" => reason).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = reason;
}
