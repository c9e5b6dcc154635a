//! Key lifetimes and the default-key rules (ASP.NET Core .NET 9+ semantics).

use time::{Duration, OffsetDateTime};

/// The timing rules of the key ring. Defaults are ASP.NET Core's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Lifetime of a new key, from its creation (90 days).
    pub(crate) key_lifetime: Duration,
    /// How long a new key needs to reach every node before it may become the default (2 days).
    pub(crate) propagation_window: Duration,
    /// How often the ring is reloaded from the store (24 hours).
    pub(crate) refresh_interval: Duration,
    /// Tolerated clock difference between nodes (5 minutes).
    pub(crate) clock_skew: Duration,
    /// Whether this node may create keys when the rules call for one.
    pub(crate) auto_generate: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            key_lifetime: Duration::days(90),
            propagation_window: Duration::days(2),
            refresh_interval: Duration::hours(24),
            clock_skew: Duration::minutes(5),
            auto_generate: true,
        }
    }
}

/// The facts about a key that the rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyFacts<Id> {
    pub(crate) id: Id,
    pub(crate) created: OffsetDateTime,
    pub(crate) activation: OffsetDateTime,
    pub(crate) expiration: OffsetDateTime,
    pub(crate) revoked: bool,
    pub(crate) usable: bool,
}

/// A key the rules ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyPlan {
    pub(crate) activation: OffsetDateTime,
    pub(crate) expiration: OffsetDateTime,
    /// `true` for the successor of the current default key, `false` for a key needed now.
    pub(crate) successor: bool,
}

impl Policy {
    /// The default key at `now`: the preferred key, unless it is revoked, expired or unusable.
    pub(crate) fn default_key<Id: Ord + Copy>(
        &self,
        keys: &[KeyFacts<Id>],
        now: OffsetDateTime,
    ) -> Option<Id> {
        let preferred = self.preferred_key(keys, now)?;
        (!preferred.revoked && preferred.expiration > now && preferred.usable)
            .then_some(preferred.id)
    }

    /// Among unexpired, unrevoked keys active by `now` (give or take the clock skew), those old
    /// enough to have propagated win, the latest-activated first; failing that, the
    /// earliest-activated new one. ASP.NET also considers expired and revoked keys here, so
    /// after an outage that outlived the default key, or after the default key is revoked, it
    /// rejects its own replacement for two days and generates a key at every refresh; leaving
    /// those keys out avoids that.
    fn preferred_key<'k, Id: Ord + Copy>(
        &self,
        keys: &'k [KeyFacts<Id>],
        now: OffsetDateTime,
    ) -> Option<&'k KeyFacts<Id>> {
        let cutoff = now - self.propagation_window;
        let candidates = || {
            keys.iter().filter(move |k| {
                k.activation <= now + self.clock_skew && k.expiration > now && !k.revoked
            })
        };
        let propagated = candidates()
            .filter(|k| k.created <= cutoff)
            .min_by(|a, b| b.activation.cmp(&a.activation).then(a.id.cmp(&b.id)));
        propagated.or_else(|| {
            candidates()
                .filter(|k| k.created > cutoff)
                .min_by(|a, b| a.activation.cmp(&b.activation).then(a.id.cmp(&b.id)))
        })
    }

    /// The key to protect with when there is no default key and none may be created:
    /// propagated keys newest-created first, then the rest oldest first; never a revoked one.
    pub(crate) fn fallback_key<Id: Ord + Copy>(
        &self,
        keys: &[KeyFacts<Id>],
        now: OffsetDateTime,
    ) -> Option<Id> {
        let cutoff = now - self.propagation_window;
        let ok = |k: &&KeyFacts<Id>| !k.revoked && k.usable;
        keys.iter()
            .filter(ok)
            .filter(|k| k.created <= cutoff)
            .max_by(|a, b| a.created.cmp(&b.created).then(b.id.cmp(&a.id)))
            .or_else(|| {
                keys.iter()
                    .filter(ok)
                    .filter(|k| k.created > cutoff)
                    .min_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)))
            })
            .map(|k| k.id)
    }

    /// The key that should be created now, if any: one active at once when there is no
    /// default key, or a successor activating when the default key expires, once that is
    /// closer than the next refresh plus the propagation window.
    pub(crate) fn key_needed<Id: Ord + Copy>(
        &self,
        keys: &[KeyFacts<Id>],
        now: OffsetDateTime,
    ) -> Option<KeyPlan> {
        let expiration = now + self.key_lifetime;
        let Some(default) = self.default_key(keys, now) else {
            return Some(KeyPlan {
                activation: now,
                expiration,
                successor: false,
            });
        };
        let default = keys.iter().find(|k| k.id == default)?;
        let threshold = now + self.refresh_interval + self.propagation_window;
        if default.expiration >= threshold {
            return None;
        }
        let next = self
            .default_key(keys, default.expiration)
            .and_then(|id| keys.iter().find(|k| k.id == id));
        match next {
            Some(next) if next.expiration >= threshold => None,
            _ => Some(KeyPlan {
                activation: default.expiration,
                expiration: expiration.max(default.expiration + self.propagation_window),
                successor: true,
            }),
        }
    }

    /// The next instant after `now` at which the default key may change without any new key
    /// appearing: a key activating, passing the propagation cutoff, or expiring.
    pub(crate) fn next_change<Id>(
        &self,
        keys: &[KeyFacts<Id>],
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        keys.iter()
            .flat_map(|k| {
                [
                    k.activation - self.clock_skew,
                    k.created + self.propagation_window,
                    k.expiration,
                ]
            })
            .filter(|t| *t > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn key(
        id: u32,
        created: OffsetDateTime,
        activation: OffsetDateTime,
        days: i64,
    ) -> KeyFacts<u32> {
        KeyFacts {
            id,
            created,
            activation,
            expiration: activation + Duration::days(days),
            revoked: false,
            usable: true,
        }
    }

    const T0: OffsetDateTime = datetime!(2025-01-01 0:00 UTC);

    #[test]
    fn empty_ring_needs_an_immediate_key() {
        let p = Policy::default();
        assert_eq!(p.default_key::<u32>(&[], T0), None);
        let plan = p.key_needed::<u32>(&[], T0).unwrap();
        assert_eq!(
            (plan.activation, plan.expiration, plan.successor),
            (T0, T0 + Duration::days(90), false)
        );
    }

    #[test]
    fn successor_is_planned_three_days_ahead_and_takes_over_at_expiry() {
        let p = Policy::default();
        let a = key(1, T0, T0, 90);
        let end = a.expiration;
        assert_eq!(p.key_needed(&[a], end - Duration::days(4)), None);
        assert_eq!(p.key_needed(&[a], end - Duration::days(3)), None);
        let plan = p
            .key_needed(&[a], end - Duration::days(3) + Duration::seconds(1))
            .unwrap();
        assert_eq!(plan.activation, end);
        assert!(plan.successor);
        let b = key(2, end - Duration::days(3), end, 90);
        let ring = [a, b];
        assert_eq!(p.key_needed(&ring, end - Duration::days(2)), None);
        assert_eq!(p.default_key(&ring, end - Duration::minutes(6)), Some(1));
        assert_eq!(
            p.default_key(&ring, end - Duration::minutes(4)),
            Some(2),
            "clock skew"
        );
        assert_eq!(p.default_key(&ring, end + Duration::days(1)), Some(2));
    }

    #[test]
    fn propagated_keys_win_over_fresh_ones() {
        let p = Policy::default();
        let old = key(1, T0, T0, 90);
        let fresh = key(2, T0 + Duration::days(10), T0 + Duration::days(10), 90);
        let ring = [old, fresh];
        assert_eq!(p.default_key(&ring, T0 + Duration::days(11)), Some(1));
        assert_eq!(p.default_key(&ring, T0 + Duration::days(12)), Some(2));
        assert_eq!(
            p.next_change(&ring, T0 + Duration::days(11)),
            Some(T0 + Duration::days(12))
        );
    }

    #[test]
    fn revoked_keys_are_never_preferred() {
        let p = Policy::default();
        let old = key(1, T0, T0, 30);
        let mut cur = key(2, T0 + Duration::days(5), T0 + Duration::days(5), 90);
        cur.revoked = true;
        let now = T0 + Duration::days(10);
        // ASP.NET would have no default here and generate a key at every refresh for two days.
        assert_eq!(p.default_key(&[old, cur], now), Some(1));
        assert!(p.key_needed(&[old, cur], now).is_none());
        // With nothing else left, a brand-new replacement is the default at once.
        let mut old_revoked = old;
        old_revoked.revoked = true;
        assert_eq!(p.default_key(&[old_revoked, cur], now), None);
        assert!(p.key_needed(&[old_revoked, cur], now).is_some());
        let replacement = key(3, now, now, 90);
        assert_eq!(
            p.default_key(&[old_revoked, cur, replacement], now),
            Some(3)
        );
        assert!(
            p.key_needed(&[old_revoked, cur, replacement], now)
                .is_none()
        );
    }

    #[test]
    fn an_unusable_preferred_key_means_no_default_but_a_fallback() {
        let p = Policy::default();
        let old = key(1, T0, T0, 30);
        let mut cur = key(2, T0 + Duration::days(5), T0 + Duration::days(5), 90);
        cur.usable = false;
        let now = T0 + Duration::days(10);
        assert_eq!(p.default_key(&[old, cur], now), None);
        assert_eq!(p.fallback_key(&[old, cur], now), Some(1));
        assert!(p.key_needed(&[old, cur], now).is_some());
    }

    #[test]
    fn a_replacement_after_an_outage_is_accepted_at_once() {
        let p = Policy::default();
        let old = key(1, T0, T0, 90);
        let now = T0 + Duration::days(120);
        let replacement = key(2, now, now, 90);
        assert_eq!(p.default_key(&[old, replacement], now), Some(2));
        assert_eq!(p.key_needed(&[old, replacement], now), None);
    }

    #[test]
    fn ties_break_by_id() {
        let p = Policy::default();
        let ring = [key(9, T0, T0, 90), key(3, T0, T0, 90)];
        assert_eq!(p.default_key(&ring, T0 + Duration::days(3)), Some(3));
    }
}
