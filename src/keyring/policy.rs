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

/// The default key the rules pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefaultKey<Id> {
    /// This key protects new payloads.
    Usable(Id),
    /// The rules pick this key, but this node cannot read it (encrypted to a certificate it
    /// lacks, an unknown descriptor, …). Failing closed: nothing is protected and no key is
    /// created in its place, since other nodes may well be using it.
    Unreadable(Id),
    /// No key qualifies.
    Missing,
}

impl<Id: Copy> DefaultKey<Id> {
    #[cfg(test)]
    pub(crate) fn usable(self) -> Option<Id> {
        match self {
            Self::Usable(id) => Some(id),
            _ => None,
        }
    }
}

/// What the rules ask for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyNeed<Id> {
    /// Nothing to do.
    Nothing,
    /// Create this key.
    Create(KeyPlan),
    /// A key is due, but the key the rules pick (now, or as the successor) cannot be read
    /// here: creating another would fork the ring.
    BlockedByUnreadable(Id),
}

impl Policy {
    /// The default key at `now`: the preferred key, unless none qualifies or it cannot be
    /// read.
    pub(crate) fn default_key<Id: Ord + Copy>(
        &self,
        keys: &[KeyFacts<Id>],
        now: OffsetDateTime,
    ) -> DefaultKey<Id> {
        match self.preferred_key(keys, now) {
            None => DefaultKey::Missing,
            Some(k) if !k.usable => DefaultKey::Unreadable(k.id),
            Some(k) => DefaultKey::Usable(k.id),
        }
    }

    /// Among unexpired, unrevoked keys active by `now` (give or take the clock skew), those old
    /// enough to have propagated win, the latest-activated first; failing that, the
    /// earliest-activated new one. ASP.NET also considers expired and revoked keys here, so
    /// after an outage that outlived the default key, or after the default key is revoked, it
    /// rejects its own replacement for two days and generates a key at every refresh; leaving
    /// those keys out avoids that. All arithmetic saturates: stored dates span years 1 to
    /// 9999 and durations may be huge.
    fn preferred_key<'k, Id: Ord + Copy>(
        &self,
        keys: &'k [KeyFacts<Id>],
        now: OffsetDateTime,
    ) -> Option<&'k KeyFacts<Id>> {
        let cutoff = now.saturating_sub(self.propagation_window);
        let latest_activation = now.saturating_add(self.clock_skew);
        let candidates = || {
            keys.iter().filter(move |k| {
                k.activation <= latest_activation && k.expiration > now && !k.revoked
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
    /// propagated keys newest-created first, then the rest oldest first; never a revoked or
    /// an unreadable one.
    pub(crate) fn fallback_key<Id: Ord + Copy>(
        &self,
        keys: &[KeyFacts<Id>],
        now: OffsetDateTime,
    ) -> Option<Id> {
        let cutoff = now.saturating_sub(self.propagation_window);
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

    /// What to do now: create a key active at once when there is no default key, or a
    /// successor activating when the default key expires, once that is closer than the next
    /// refresh plus the propagation window; but never when the key the rules pick cannot be
    /// read here.
    pub(crate) fn key_needed<Id: Ord + Copy>(
        &self,
        keys: &[KeyFacts<Id>],
        now: OffsetDateTime,
    ) -> KeyNeed<Id> {
        let expiration = now.saturating_add(self.key_lifetime);
        let default = match self.default_key(keys, now) {
            DefaultKey::Missing => {
                return KeyNeed::Create(KeyPlan {
                    activation: now,
                    expiration,
                    successor: false,
                });
            }
            DefaultKey::Unreadable(id) => return KeyNeed::BlockedByUnreadable(id),
            DefaultKey::Usable(id) => id,
        };
        let Some(default) = keys.iter().find(|k| k.id == default) else {
            return KeyNeed::Nothing;
        };
        let threshold = now
            .saturating_add(self.refresh_interval)
            .saturating_add(self.propagation_window);
        if default.expiration >= threshold {
            return KeyNeed::Nothing;
        }
        match self.default_key(keys, default.expiration) {
            DefaultKey::Usable(next)
                if keys
                    .iter()
                    .any(|k| k.id == next && k.expiration >= threshold) =>
            {
                KeyNeed::Nothing
            }
            DefaultKey::Unreadable(next) => KeyNeed::BlockedByUnreadable(next),
            _ => KeyNeed::Create(KeyPlan {
                activation: default.expiration,
                expiration: expiration
                    .max(default.expiration.saturating_add(self.propagation_window)),
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
                    k.activation.saturating_sub(self.clock_skew),
                    k.created.saturating_add(self.propagation_window),
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

    /// The usable default key, if any.
    fn dk(p: &Policy, keys: &[KeyFacts<u32>], now: OffsetDateTime) -> Option<u32> {
        p.default_key(keys, now).usable()
    }

    /// The key to create, if any (a blocked creation fails the test).
    fn need(p: &Policy, keys: &[KeyFacts<u32>], now: OffsetDateTime) -> Option<KeyPlan> {
        match p.key_needed(keys, now) {
            KeyNeed::Nothing => None,
            KeyNeed::Create(plan) => Some(plan),
            KeyNeed::BlockedByUnreadable(id) => panic!("blocked by key {id}"),
        }
    }

    #[test]
    fn empty_ring_needs_an_immediate_key() {
        let p = Policy::default();
        assert_eq!(dk(&p, &[], T0), None);
        let plan = need(&p, &[], T0).unwrap();
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
        assert_eq!(need(&p, &[a], end - Duration::days(4)), None);
        assert_eq!(need(&p, &[a], end - Duration::days(3)), None);
        let plan = need(&p, &[a], end - Duration::days(3) + Duration::seconds(1)).unwrap();
        assert_eq!(plan.activation, end);
        assert!(plan.successor);
        let b = key(2, end - Duration::days(3), end, 90);
        let ring = [a, b];
        assert_eq!(need(&p, &ring, end - Duration::days(2)), None);
        assert_eq!(dk(&p, &ring, end - Duration::minutes(6)), Some(1));
        assert_eq!(
            dk(&p, &ring, end - Duration::minutes(4)),
            Some(2),
            "clock skew"
        );
        assert_eq!(dk(&p, &ring, end + Duration::days(1)), Some(2));
    }

    #[test]
    fn propagated_keys_win_over_fresh_ones() {
        let p = Policy::default();
        let old = key(1, T0, T0, 90);
        let fresh = key(2, T0 + Duration::days(10), T0 + Duration::days(10), 90);
        let ring = [old, fresh];
        assert_eq!(dk(&p, &ring, T0 + Duration::days(11)), Some(1));
        assert_eq!(dk(&p, &ring, T0 + Duration::days(12)), Some(2));
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
        assert_eq!(dk(&p, &[old, cur], now), Some(1));
        assert!(need(&p, &[old, cur], now).is_none());
        // With nothing else left, a brand-new replacement is the default at once.
        let mut old_revoked = old;
        old_revoked.revoked = true;
        assert_eq!(dk(&p, &[old_revoked, cur], now), None);
        assert!(need(&p, &[old_revoked, cur], now).is_some());
        let replacement = key(3, now, now, 90);
        assert_eq!(dk(&p, &[old_revoked, cur, replacement], now), Some(3));
        assert!(need(&p, &[old_revoked, cur, replacement], now).is_none());
    }

    #[test]
    fn an_unreadable_preferred_key_blocks_creation() {
        let p = Policy::default();
        let old = key(1, T0, T0, 30);
        let mut cur = key(2, T0 + Duration::days(5), T0 + Duration::days(5), 90);
        cur.usable = false;
        let now = T0 + Duration::days(10);
        assert_eq!(p.default_key(&[old, cur], now), DefaultKey::Unreadable(2));
        assert_eq!(
            p.key_needed(&[old, cur], now),
            KeyNeed::BlockedByUnreadable(2)
        );
        // Only keys only this node cannot read: still no key of its own.
        assert_eq!(p.key_needed(&[cur], now), KeyNeed::BlockedByUnreadable(2));
        // The fallback never picks an unreadable key.
        assert_eq!(p.fallback_key(&[cur], now), None);
    }

    #[test]
    fn an_unreadable_successor_blocks_another_successor() {
        let p = Policy::default();
        let a = key(1, T0, T0, 90);
        let end = a.expiration;
        let mut b = key(2, end - Duration::days(3), end, 90);
        b.usable = false;
        let now = end - Duration::days(2);
        assert_eq!(p.default_key(&[a, b], now), DefaultKey::Usable(1));
        assert_eq!(p.key_needed(&[a, b], now), KeyNeed::BlockedByUnreadable(2));
    }

    #[test]
    fn extreme_dates_and_durations_never_panic() {
        let far = datetime!(9999-12-31 23:59:59 UTC);
        let early = datetime!(0001-01-01 0:00 UTC);
        let huge = Policy {
            key_lifetime: Duration::MAX,
            propagation_window: Duration::MAX,
            refresh_interval: Duration::MAX,
            clock_skew: Duration::MAX,
            auto_generate: true,
        };
        for p in [Policy::default(), huge] {
            let keys = [
                key(1, far, far, 0),
                key(2, early, early, 1),
                key(3, far, early, 3),
            ];
            for now in [far, early, T0] {
                let _ = p.default_key(&keys, now);
                let _ = p.key_needed(&keys, now);
                let _ = p.fallback_key(&keys, now);
                let _ = p.next_change(&keys, now);
            }
        }
    }

    #[test]
    fn a_replacement_after_an_outage_is_accepted_at_once() {
        let p = Policy::default();
        let old = key(1, T0, T0, 90);
        let now = T0 + Duration::days(120);
        let replacement = key(2, now, now, 90);
        assert_eq!(dk(&p, &[old, replacement], now), Some(2));
        assert_eq!(need(&p, &[old, replacement], now), None);
    }

    #[test]
    fn ties_break_by_id() {
        let p = Policy::default();
        let ring = [key(9, T0, T0, 90), key(3, T0, T0, 90)];
        assert_eq!(dk(&p, &ring, T0 + Duration::days(3)), Some(3));
    }
}
