//! An immutable snapshot of the key ring: every key by id, revocations applied, and the
//! default key resolved for a window of time.

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;

use super::descriptor::KeyProblem;
use super::elements::{Element, ParsedKey, Revocation};
use super::policy::{KeyFacts, Policy};
use crate::crypto::Encryptor;
use crate::{Algorithm, KeyId};

/// A key in a ring.
#[derive(Clone)]
pub(crate) struct RingKey {
    pub(crate) key: Arc<ParsedKey>,
    pub(crate) revoked: bool,
}

impl RingKey {
    pub(crate) fn encryptor(&self) -> Option<&Encryptor> {
        self.key.material.as_ref().ok().map(|e| &**e)
    }

    fn facts(&self) -> KeyFacts<KeyId> {
        KeyFacts {
            id: self.key.id,
            created: self.key.created,
            activation: self.key.activation,
            expiration: self.key.expiration,
            revoked: self.revoked,
            usable: self.key.material.is_ok(),
        }
    }
}

/// The key ring at one moment.
pub(crate) struct KeyRing {
    keys: HashMap<KeyId, RingKey>,
    facts: Vec<KeyFacts<KeyId>>,
    /// The key new payloads are protected with (the default key, or the fallback one).
    protect_key: Option<KeyId>,
    /// Whether `protect_key` is a fallback (no proper default).
    is_fallback: bool,
    /// Until when `protect_key` stays right, all else equal.
    valid_until: Option<OffsetDateTime>,
    /// Elements that were skipped, for the status report.
    pub(crate) problems: Vec<String>,
    /// The latest "every key created before" revocation date.
    pub(crate) revoked_before: Option<OffsetDateTime>,
}

impl KeyRing {
    /// Builds a ring from parsed elements. Duplicated ids with different content make that
    /// key unusable rather than failing the ring.
    pub(crate) fn build(elements: Vec<Arc<Element>>, policy: &Policy, now: OffsetDateTime) -> Self {
        let mut keys: HashMap<KeyId, RingKey> = HashMap::new();
        let mut revoked_ids = Vec::new();
        let mut revoke_before: Option<OffsetDateTime> = None;
        let mut problems = Vec::new();
        for element in &elements {
            match &**element {
                Element::Key(k) => {
                    let entry = RingKey {
                        key: k.clone(),
                        revoked: false,
                    };
                    if let Some(existing) = keys.get_mut(&k.id) {
                        if !same_key(&existing.key, k) {
                            problems.push(format!(
                                "key {}: two different elements carry this id",
                                k.id
                            ));
                            let mut conflicted = (*existing.key).clone();
                            conflicted.material = Err(KeyProblem::DuplicateId);
                            existing.key = Arc::new(conflicted);
                        }
                    } else {
                        keys.insert(k.id, entry);
                    }
                }
                Element::Revocation(Revocation::Key { id }) => revoked_ids.push(*id),
                Element::Revocation(Revocation::CreatedBefore { date }) => {
                    revoke_before = Some(revoke_before.map_or(*date, |d| d.max(*date)));
                }
                Element::BadKey(why) | Element::Unknown(why) => problems.push(why.clone()),
            }
        }
        for id in revoked_ids {
            match keys.get_mut(&id) {
                Some(k) => k.revoked = true,
                None => tracing::debug!(key = %id, "revocation of a key that is not in the ring"),
            }
        }
        if let Some(date) = revoke_before {
            for k in keys.values_mut() {
                k.revoked |= k.key.created < date;
            }
        }
        let mut ring = Self::from_keys(keys, problems, policy, now);
        ring.revoked_before = revoke_before;
        ring
    }

    fn from_keys(
        keys: HashMap<KeyId, RingKey>,
        problems: Vec<String>,
        policy: &Policy,
        now: OffsetDateTime,
    ) -> Self {
        let mut facts: Vec<_> = keys.values().map(RingKey::facts).collect();
        facts.sort_by_key(|f| f.id);
        let default = policy.default_key(&facts, now);
        let (protect_key, is_fallback) = match default {
            Some(id) => (Some(id), false),
            None => (policy.fallback_key(&facts, now), true),
        };
        let valid_until = policy.next_change(&facts, now);
        Self {
            keys,
            facts,
            protect_key,
            is_fallback,
            valid_until,
            problems,
            revoked_before: None,
        }
    }

    /// The same keys, with the default resolved again at `now`.
    pub(crate) fn re_resolved(&self, policy: &Policy, now: OffsetDateTime) -> Self {
        let mut ring = Self::from_keys(self.keys.clone(), self.problems.clone(), policy, now);
        ring.revoked_before = self.revoked_before;
        ring
    }

    /// Whether the resolved default may have changed by `now`.
    pub(crate) fn is_stale_at(&self, now: OffsetDateTime) -> bool {
        self.valid_until.is_some_and(|t| now >= t)
    }

    pub(crate) fn get(&self, id: &KeyId) -> Option<&RingKey> {
        self.keys.get(id)
    }

    /// The key to protect with, if any.
    pub(crate) fn protect_key(&self) -> Option<&RingKey> {
        self.protect_key.and_then(|id| self.keys.get(&id))
    }

    /// The proper default key (not a fallback).
    pub(crate) fn default_key_id(&self) -> Option<KeyId> {
        self.protect_key.filter(|_| !self.is_fallback)
    }

    pub(crate) fn facts(&self) -> &[KeyFacts<KeyId>] {
        &self.facts
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &RingKey> {
        self.keys.values()
    }
}

fn same_key(a: &ParsedKey, b: &ParsedKey) -> bool {
    a.created == b.created
        && a.activation == b.activation
        && a.expiration == b.expiration
        && match (&a.material, &b.material) {
            (Ok(x), Ok(y)) => x.same_key_as(y),
            (Err(x), Err(y)) => x == y,
            _ => false,
        }
}

/// What the ring says about one key, for listings and status checks.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Whether it is the key new payloads are protected with.
    pub is_default: bool,
    /// Its algorithm, when the key could be read.
    pub algorithm: Option<Algorithm>,
    /// Why it cannot be used, when it cannot.
    pub problem: Option<KeyProblem>,
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
        let mut out: Vec<KeyInfo> = self
            .keys
            .values()
            .map(|k| {
                let p = &k.key;
                let status = if p.material.is_err() {
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
                    is_default: self.protect_key == Some(p.id),
                    algorithm: p.material.as_ref().ok().map(|e| e.algorithm()),
                    problem: p.material.as_ref().err().cloned(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.activation.cmp(&b.activation).then(a.id.cmp(&b.id)));
        out
    }
}
