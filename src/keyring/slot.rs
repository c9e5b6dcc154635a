//! The id of a key the rules call for: the same on every node that sees the same ring, so
//! nodes deciding together collide on one `key-{id}` name and exactly one create wins; and
//! different between rings and over time, so ids stay unique.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::policy::KeyPlan;
use super::ring::KeyRing;
use crate::key_id::KeyId;
use crate::xml::datetime;

/// Width of the time window an immediate key's id depends on: nodes that decide within one
/// window agree; those straddling two create two keys, which is harmless (every node
/// resolves the same default).
const WINDOW_SECONDS: i64 = 3600;

/// The id of the key that fills `plan` in `ring` for `application_name`.
///
/// It hashes the application name and the store's scope
/// ([`XmlRepository::ring_scope`](crate::repository::XmlRepository::ring_scope)), so two
/// applications or two stores never share a key id, even on empty rings; the ring's history
/// (every key id and whether it is revoked, the latest mass-revocation date); and *when* the
/// key is due: the activation date of a successor (which every node derives from the same
/// default key), or the hour of an immediate key's decision. A ring emptied by pruning
/// therefore never derives an id it had (its keys were created hours before); the key
/// manager also never reuses an id it has seen in the ring (emptied by hand within the hour).
pub(crate) fn slot_id(
    application_name: &str,
    scope: &str,
    plan: &KeyPlan,
    ring: &KeyRing,
) -> KeyId {
    let mut h = Sha256::new();
    h.update(b"data-protection key slot v3\0");
    for part in [application_name, scope] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.update([u8::from(plan.successor)]);
    let when = if plan.successor {
        plan.activation
    } else {
        window_start(plan.activation)
    };
    h.update(datetime::format(when).as_bytes());
    if let Some(date) = ring.revoked_before {
        h.update(b"\0revoked-before\0");
        h.update(datetime::format(date).as_bytes());
    }
    for f in ring.facts() {
        h.update(f.id.to_guid_bytes());
        h.update([u8::from(f.revoked)]);
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    KeyId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

fn window_start(at: OffsetDateTime) -> OffsetDateTime {
    let ts = at.unix_timestamp();
    OffsetDateTime::from_unix_timestamp(ts - ts.rem_euclid(WINDOW_SECONDS)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::keyring::policy::Policy;

    fn immediate(at: OffsetDateTime) -> KeyPlan {
        KeyPlan {
            activation: at,
            expiration: at + time::Duration::days(90),
            successor: false,
        }
    }

    #[test]
    fn ids_differ_by_application_and_by_hour_and_agree_within_it() {
        let t = datetime!(2026-12-02 10:15 UTC);
        let empty = KeyRing::build(&[], &Policy::default(), t);
        let a = slot_id("App A", "s", &immediate(t), &empty);
        assert_ne!(a, slot_id("App B", "s", &immediate(t), &empty));
        assert_eq!(
            a,
            slot_id(
                "App A",
                "s",
                &immediate(t + time::Duration::minutes(40)),
                &empty
            )
        );
        assert_ne!(
            a,
            slot_id(
                "App A",
                "s",
                &immediate(t + time::Duration::hours(1)),
                &empty
            )
        );
        assert_ne!(
            a,
            slot_id("App A", "other store", &immediate(t), &empty),
            "two stores of one application"
        );
        // Name boundaries are part of the hash.
        assert_ne!(
            slot_id("ab", "s", &immediate(t), &empty),
            slot_id("a", "s", &immediate(t), &empty)
        );
        assert_ne!(
            slot_id("a", "bs", &immediate(t), &empty),
            slot_id("ab", "s", &immediate(t), &empty)
        );
    }
}
