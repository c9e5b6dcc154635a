//! [`DataProtection::health`]: what a readiness probe or a monitoring job needs to know about
//! the key ring, computed from the loaded ring without I/O.

use std::time::Duration;

use time::OffsetDateTime;

use super::DataProtection;
use crate::key_id::KeyId;
use crate::keyring::RefreshFailure;
use crate::keyring::policy::DefaultKey;
use crate::keyring::problems::RingProblem;
use crate::keyring::ring::ProtectWith;

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthStatus {
    /// A default key protects, the last reload worked, nothing is unreadable, and a
    /// successor exists or is not due yet.
    Healthy,
    /// Payloads are protected and unprotected, but something needs attention: the last
    /// reload failed (the loaded ring stays in use), elements or keys cannot be read, a
    /// successor is overdue, or only a fallback key protects.
    Degraded,
    /// Nothing can be protected (no usable default key).
    Unhealthy,
}

impl HealthStatus {
    /// `healthy`, `degraded` or `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
        }
    }
}

/// The state of the key ring as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// The verdict.
    pub status: HealthStatus,
    /// When the ring was last loaded successfully (by the provider's clock).
    pub loaded_at: Option<OffsetDateTime>,
    /// How long ago that was.
    pub ring_age: Option<Duration>,
    /// The failure of the latest reload, when it failed (cleared by the next success).
    pub last_refresh_error: Option<RefreshFailure>,
    /// The key new payloads are protected with (a fallback key when no proper default
    /// exists and none may be created).
    pub default_key: Option<KeyId>,
    /// Whether `default_key` is only a fallback.
    pub default_is_fallback: bool,
    /// When the default key stops protecting.
    pub default_key_expires: Option<OffsetDateTime>,
    /// The key that takes over when the default expires, when one exists.
    pub successor: Option<KeyId>,
    /// How long until a successor must exist (the rules create it this long before the
    /// default expires: refresh interval plus propagation window); zero when overdue, `None`
    /// when a successor exists or there is no default.
    pub successor_needed_in: Option<Duration>,
    /// Keys this node cannot use.
    pub unreadable_keys: Vec<KeyId>,
    /// Everything the ring could not use.
    pub problems: Vec<RingProblem>,
}

impl DataProtection {
    /// The key ring's health, from the loaded ring (no I/O, cheap enough for every readiness
    /// probe).
    pub fn health(&self) -> Health {
        let manager = &self.inner.manager;
        let ring = manager.current();
        let now = manager.clock().now();
        let policy = manager.policy();
        let (loaded_at, last_refresh_error) = manager.health.snapshot();
        let (default_key, default_is_fallback) = match ring.protect_with() {
            ProtectWith::Default(id) => (Some(id), false),
            ProtectWith::Fallback(id) => (Some(id), true),
            ProtectWith::Unreadable(_) | ProtectWith::Nothing => (None, false),
        };
        let default = default_key.and_then(|id| ring.get(&id));
        let default_key_expires = default.map(|k| k.key.expiration);
        let successor =
            default_key_expires.and_then(|at| match policy.default_key(ring.facts(), at) {
                DefaultKey::Usable(id) if Some(id) != default_key => Some(id),
                _ => None,
            });
        let successor_needed_in = match (default_key_expires, successor) {
            (Some(expires), None) => {
                let due = expires
                    .saturating_sub(policy.refresh_interval)
                    .saturating_sub(policy.propagation_window);
                Some(Duration::try_from(due - now).unwrap_or(Duration::ZERO))
            }
            _ => None,
        };
        let problems = ring.problems().to_vec();
        let unreadable_keys: Vec<KeyId> = problems
            .iter()
            .filter_map(|p| match p {
                RingProblem::UnreadableKey { id, .. } => Some(*id),
                _ => None,
            })
            .collect();
        let status = if default.is_none() {
            HealthStatus::Unhealthy
        } else if default_is_fallback
            || last_refresh_error.is_some()
            || !problems.is_empty()
            || successor_needed_in == Some(Duration::ZERO)
        {
            HealthStatus::Degraded
        } else {
            HealthStatus::Healthy
        };
        Health {
            status,
            loaded_at,
            ring_age: loaded_at.map(|at| Duration::try_from(now - at).unwrap_or(Duration::ZERO)),
            last_refresh_error,
            default_key,
            default_is_fallback,
            default_key_expires,
            successor,
            successor_needed_in,
            unreadable_keys,
            problems,
        }
    }
}
