//! Operations for maintenance jobs (`dpkeys check`, `dpkeys prune`): checking every key and
//! deleting keys that expired long ago.

use std::collections::HashSet;
use std::time::Duration;

use time::OffsetDateTime;

use super::DataProtection;
use crate::clock::to_time_duration;
use crate::elements::Revocation;
use crate::error::Result;
use crate::key_id::KeyId;
use crate::keyring::load::Loaded;
use crate::keyring::manager::ReloadCause;
use crate::keyring::problems::RingProblem;

/// The result of checking one key: whether its material can be read and used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyCheck {
    /// The key.
    pub id: KeyId,
    /// `None` when a payload protected with the key unprotects again; otherwise why not.
    pub problem: Option<String>,
}

/// One element that [`DataProtection::prune`] deleted (or would delete, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PrunedElement {
    /// Its name in the store (`key-{id}`, `revocation-{id}`, …).
    pub name: String,
    /// Why it may go.
    pub reason: String,
}

/// What [`DataProtection::prune`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PruneReport {
    /// Key elements, deleted before any revocation.
    pub keys: Vec<PrunedElement>,
    /// Revocations that no longer apply to any key in the store.
    pub revocations: Vec<PrunedElement>,
    /// Whether this was a dry run (nothing deleted).
    pub dry_run: bool,
}

impl DataProtection {
    /// Reloads the ring and checks every key: its material is read, a key is derived from it,
    /// and a probe payload protected with it unprotects again. Unreadable keys (encrypted with
    /// DPAPI, a certificate, …, or malformed) are reported with their problem.
    ///
    /// # Errors
    /// The store failed.
    pub async fn check_keys(&self) -> Result<Vec<KeyCheck>> {
        let ring = self.manager().reload(ReloadCause::Maintenance).await?;
        let random = self.manager().random();
        let mut out: Vec<KeyCheck> = ring
            .keys()
            .map(|k| {
                let problem = match (&k.key.encryptor, k.encryptor()) {
                    (Err(problem), _) => Some(problem.to_string()),
                    (Ok(_), Some(encryptor)) => {
                        let aad: [&[u8]; 1] = [b"dpkeys check"];
                        let mut payload = Vec::new();
                        encryptor.encrypt(&aad, b"probe", random, &mut payload);
                        match encryptor.decrypt(&aad, &payload) {
                            Ok(back) if back == b"probe" => None,
                            _ => Some("a probe payload did not unprotect".to_owned()),
                        }
                    }
                    (Ok(_), None) => Some("no key material".to_owned()),
                };
                KeyCheck {
                    id: k.key.id,
                    problem,
                }
            })
            .collect();
        out.sort_by_key(|c| c.id.to_string());
        Ok(out)
    }

    /// Deletes keys that expired more than `expired_for` ago, and then the revocations that
    /// no longer apply to any key left in the store. Never deletes the default key, an active
    /// or a pending key, or a revocation of all keys created before a date still to come.
    ///
    /// Keys are deleted before revocations, so an interrupted prune never un-revokes a key.
    /// Stores that keep the ring in one value (Redis, a single blob) delete everything in one
    /// atomic update. With `dry_run`, reports what would go and deletes nothing.
    ///
    /// Payloads protected with a deleted key can no longer be unprotected, by any node.
    ///
    /// # Errors
    /// The store failed, or cannot delete (the report of what was due is lost then; rerun).
    pub async fn prune(&self, expired_for: Duration, dry_run: bool) -> Result<PruneReport> {
        let manager = self.manager();
        let (ring, elements) = manager
            .reload_with_elements(ReloadCause::Maintenance)
            .await?;
        let now = manager.clock().now();
        let cutoff = now.saturating_sub(to_time_duration(expired_for));
        let default = ring.protect_key().map(|k| k.key.id);
        let mut report = PruneReport {
            dry_run,
            ..PruneReport::default()
        };
        // First pass: which keys may go, and which stay. Elements that are not a readable key
        // or revocation (bad XML, unknown elements) are never touched, and a key element that
        // cannot be read keeps every revocation that might concern it.
        let mut revocations: Vec<(String, Revocation)> = Vec::new();
        let mut candidates: Vec<(KeyId, PrunedElement)> = Vec::new();
        let mut kept_created: Vec<(KeyId, OffsetDateTime)> = Vec::new();
        let mut unreadable_ids: HashSet<KeyId> = HashSet::new();
        let mut unreadable_unknown = false;
        for (stored_name, element) in &elements {
            if let Loaded::Skipped(RingProblem::UnreadableElement { error, .. }) = &**element {
                let by_name = stored_name
                    .as_deref()
                    .and_then(|n| n.strip_prefix("key-"))
                    .and_then(|id| id.parse().ok());
                match error.key_id().or(by_name) {
                    Some(id) => unreadable_ids.insert(id),
                    None => {
                        unreadable_unknown = true;
                        false
                    }
                };
                continue;
            }
            let Some(name) = stored_name.clone().or_else(|| element.friendly_name()) else {
                continue;
            };
            match &**element {
                Loaded::Key(key) => {
                    let expired_long_ago = key.expiration <= cutoff && key.activation <= now;
                    if expired_long_ago && Some(key.id) != default {
                        let expired = crate::xml::datetime::format(key.expiration);
                        let reason = format!("key {} expired {expired}", key.id);
                        candidates.push((key.id, PrunedElement { name, reason }));
                    } else {
                        kept_created.push((key.id, key.created));
                    }
                }
                Loaded::Revocation(r) => revocations.push((name, *r)),
                Loaded::Skipped(_) => {}
            }
        }
        // A key id can appear in two elements; it stays if any copy stays.
        let kept_ids: HashSet<KeyId> = kept_created.iter().map(|(id, _)| *id).collect();
        report.keys = candidates
            .into_iter()
            .filter(|(id, _)| !kept_ids.contains(id))
            .map(|(_, p)| p)
            .collect();

        let any_unreadable = unreadable_unknown || !unreadable_ids.is_empty();
        for (name, revocation) in revocations {
            let moot = match revocation {
                Revocation::Key { id } => (!kept_ids.contains(&id)
                    && !unreadable_ids.contains(&id)
                    && !unreadable_unknown)
                    .then(|| format!("revokes key {id}, which is no longer in the store")),
                Revocation::CreatedBefore { date } => (date <= now
                    && !any_unreadable
                    && kept_created.iter().all(|(_, created)| *created >= date))
                .then(|| {
                    format!(
                        "revokes keys created before {}, and none is left",
                        crate::xml::datetime::format(date)
                    )
                }),
            };
            if let Some(reason) = moot {
                report.revocations.push(PrunedElement { name, reason });
            }
        }

        let nothing = report.keys.is_empty() && report.revocations.is_empty();
        if !dry_run && !nothing {
            let names: Vec<String> = report
                .keys
                .iter()
                .chain(&report.revocations)
                .map(|p| p.name.clone())
                .collect();
            manager.delete_elements(&names).await?;
        }
        Ok(report)
    }
}
