//! An immutable snapshot of the key ring: every key by id, revocations applied, and the
//! default key resolved for a window of time.

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;

use super::key::{LoadedKey, RingKey};
use super::load::Loaded;
use super::policy::{DefaultKey, KeyFacts, Policy};
use super::problems::RingProblem;
use crate::algorithm::Algorithm;
use crate::elements::{KeyProblem, Revocation};
use crate::key_id::KeyId;

/// Which key new payloads are protected with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProtectWith {
    /// The default key.
    Default(KeyId),
    /// No default key and none may be created yet: the best other key.
    Fallback(KeyId),
    /// The default key cannot be read here: nothing.
    Unreadable(KeyId),
    /// No key at all.
    Nothing,
}

/// The key ring at one moment.
pub(crate) struct KeyRing {
    keys: HashMap<KeyId, RingKey>,
    facts: Vec<KeyFacts<KeyId>>,
    protect: ProtectWith,
    /// The key `protect` names when it may protect (a copy, so protect and the common
    /// unprotect need no map lookup).
    protect_key: Option<RingKey>,
    /// Until when `protect` stays right, all else equal, in nanoseconds since the Unix
    /// epoch (cheaper to compare on the hot path than an `OffsetDateTime`).
    valid_until_nanos: Option<i128>,
    /// Elements that were skipped and keys that cannot be used.
    problems: Vec<RingProblem>,
    /// The latest "every key created before" revocation date.
    pub(crate) revoked_before: Option<OffsetDateTime>,
}

impl KeyRing {
    /// Builds a ring from loaded elements. Duplicated ids with different content make that
    /// key unusable rather than failing the ring.
    pub(crate) fn build(elements: &[Arc<Loaded>], policy: &Policy, now: OffsetDateTime) -> Self {
        let mut keys: HashMap<KeyId, RingKey> = HashMap::new();
        let mut revoked_ids = Vec::new();
        let mut revoked_before: Option<OffsetDateTime> = None;
        let mut problems = Vec::new();
        for element in elements {
            match &**element {
                Loaded::Key(k) => match keys.get_mut(&k.id) {
                    Some(existing) if !existing.key.same_as(k) => {
                        existing.key = Arc::new(existing.key.unusable(KeyProblem::DuplicateId));
                    }
                    Some(_) => {}
                    None => {
                        keys.insert(
                            k.id,
                            RingKey {
                                key: k.clone(),
                                revoked: false,
                            },
                        );
                    }
                },
                Loaded::Revocation(Revocation::Key { id }) => revoked_ids.push(*id),
                Loaded::Revocation(Revocation::CreatedBefore { date }) => {
                    revoked_before = Some(revoked_before.map_or(*date, |d| d.max(*date)));
                }
                Loaded::Skipped(problem) => problems.push(problem.clone()),
            }
        }
        for id in revoked_ids {
            match keys.get_mut(&id) {
                Some(k) => k.revoked = true,
                None => tracing::debug!(key = %id, "revocation of a key that is not in the ring"),
            }
        }
        if let Some(date) = revoked_before {
            for k in keys.values_mut() {
                k.revoked |= k.key.created < date;
            }
        }
        let mut unreadable: Vec<_> = keys
            .values()
            .filter_map(|k| {
                k.key
                    .encryptor
                    .as_ref()
                    .err()
                    .map(|p| (k.key.id, p.clone()))
            })
            .collect();
        unreadable.sort_by_key(|(id, _)| *id);
        problems.extend(
            unreadable
                .into_iter()
                .map(|(id, problem)| RingProblem::UnreadableKey { id, problem }),
        );
        Self::resolve(keys, problems, revoked_before, policy, now)
    }

    fn resolve(
        keys: HashMap<KeyId, RingKey>,
        mut problems: Vec<RingProblem>,
        revoked_before: Option<OffsetDateTime>,
        policy: &Policy,
        now: OffsetDateTime,
    ) -> Self {
        problems.retain(|p| !matches!(p, RingProblem::UnreadableDefaultKey { .. }));
        let mut facts: Vec<_> = keys.values().map(RingKey::facts).collect();
        facts.sort_by_key(|f| f.id);
        let protect = match policy.default_key(&facts, now) {
            DefaultKey::Usable(id) => ProtectWith::Default(id),
            DefaultKey::Unreadable(id) => {
                let problem = keys[&id].key.encryptor.as_ref().err().cloned();
                if let Some(problem) = problem {
                    problems.push(RingProblem::UnreadableDefaultKey { id, problem });
                }
                ProtectWith::Unreadable(id)
            }
            DefaultKey::Missing => policy
                .fallback_key(&facts, now)
                .map_or(ProtectWith::Nothing, ProtectWith::Fallback),
        };
        let valid_until = policy.next_change(&facts, now);
        let protect_key = match protect {
            ProtectWith::Default(id) | ProtectWith::Fallback(id) => keys.get(&id).cloned(),
            ProtectWith::Unreadable(_) | ProtectWith::Nothing => None,
        };
        Self {
            keys,
            facts,
            protect,
            protect_key,
            valid_until_nanos: valid_until.map(OffsetDateTime::unix_timestamp_nanos),
            problems,
            revoked_before,
        }
    }

    /// The same keys, with the default resolved again at `now`.
    pub(crate) fn re_resolved(&self, policy: &Policy, now: OffsetDateTime) -> Self {
        Self::resolve(
            self.keys.clone(),
            self.problems.clone(),
            self.revoked_before,
            policy,
            now,
        )
    }

    /// Whether the resolved default may have changed by `now`, in nanoseconds since the Unix
    /// epoch ([`Clock::unix_nanos`]).
    ///
    /// [`Clock::unix_nanos`]: crate::clock::Clock::unix_nanos
    pub(crate) fn is_stale_at_nanos(&self, now: i128) -> bool {
        self.valid_until_nanos.is_some_and(|t| now >= t)
    }

    pub(crate) fn get(&self, id: &KeyId) -> Option<&RingKey> {
        match &self.protect_key {
            Some(k) if k.key.id == *id => Some(k),
            _ => self.keys.get(id),
        }
    }

    /// Which key new payloads get.
    pub(crate) fn protect_with(&self) -> ProtectWith {
        self.protect
    }

    /// The key to protect with, if there is one that may.
    pub(crate) fn protect_key(&self) -> Option<&RingKey> {
        self.protect_key.as_ref()
    }

    /// The proper default key (not a fallback, not an unreadable one).
    pub(crate) fn default_key_id(&self) -> Option<KeyId> {
        match self.protect {
            ProtectWith::Default(id) => Some(id),
            _ => None,
        }
    }

    pub(crate) fn facts(&self) -> &[KeyFacts<KeyId>] {
        &self.facts
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &RingKey> {
        self.keys.values()
    }

    pub(crate) fn problems(&self) -> &[RingProblem] {
        &self.problems
    }

    /// An unreadable key's problem (for errors).
    pub(crate) fn problem_of(&self, id: KeyId) -> Option<&KeyProblem> {
        self.keys.get(&id)?.key.encryptor.as_ref().err()
    }
}

/// What the ring says about one key, for listings and status checks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// The key's id.
    pub id: KeyId,
    /// When it was created.
    pub created: OffsetDateTime,
    /// When it starts protecting new payloads.
    pub activation: OffsetDateTime,
    /// When it stops protecting new payloads (it still unprotects old ones).
    pub expiration: OffsetDateTime,
    /// Its state at the time of the listing.
    pub status: KeyStatus,
    /// Whether it is revoked (also reported when the key is unreadable).
    pub revoked: bool,
    /// Whether it is the key new payloads are protected with (or would be, were it readable).
    pub is_default: bool,
    /// Its algorithm, when the key could be read.
    pub algorithm: Option<Algorithm>,
    /// Why it cannot be used, when it cannot.
    pub problem: Option<KeyProblem>,
    /// What its stored master key is encrypted to (`certificate THUMBPRINT (SUBJECT)`,
    /// `kek ID`, or the decryptor's name), `None` when stored unencrypted.
    pub encrypted_to: Option<String>,
}

/// The state of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyStatus {
    /// Not yet active.
    Pending,
    /// Active and not expired.
    Active,
    /// Past its expiration date.
    Expired,
    /// Revoked.
    Revoked,
    /// The key's element cannot be read or its secret decrypted: never used.
    Unreadable,
}

impl KeyStatus {
    /// Lowercase name (`pending`, `active`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Unreadable => "unreadable",
        }
    }
}

impl std::fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl KeyRing {
    /// A listing of every key, sorted by activation date.
    pub(crate) fn infos(&self, now: OffsetDateTime) -> Vec<KeyInfo> {
        let default = match self.protect {
            ProtectWith::Default(id) | ProtectWith::Fallback(id) | ProtectWith::Unreadable(id) => {
                Some(id)
            }
            ProtectWith::Nothing => None,
        };
        let mut out: Vec<KeyInfo> = self
            .keys
            .values()
            .map(|k| key_info(k, now, default == Some(k.key.id)))
            .collect();
        out.sort_by(|a, b| a.activation.cmp(&b.activation).then(a.id.cmp(&b.id)));
        out
    }
}

fn key_info(k: &RingKey, now: OffsetDateTime, is_default: bool) -> KeyInfo {
    let p: &LoadedKey = &k.key;
    let status = if p.encryptor.is_err() {
        KeyStatus::Unreadable
    } else if k.revoked {
        KeyStatus::Revoked
    } else if p.expiration <= now {
        KeyStatus::Expired
    } else if p.activation > now {
        KeyStatus::Pending
    } else {
        KeyStatus::Active
    };
    KeyInfo {
        id: p.id,
        created: p.created,
        activation: p.activation,
        expiration: p.expiration,
        status,
        revoked: k.revoked,
        is_default,
        algorithm: p.encryptor.as_ref().ok().map(|e| e.algorithm()),
        problem: p.encryptor.as_ref().err().cloned(),
        encrypted_to: p.encrypted_to.clone(),
    }
}
