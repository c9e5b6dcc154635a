//! Compare-and-swap on the whole list: a write runs only if the list is exactly what the
//! writer read. No lock key, no XML in Lua: names are derived in Rust from the read.

use std::sync::LazyLock;
use std::time::Duration;

use ::redis::Script;
use sha1::{Digest, Sha1};

/// The list digest, in Lua: SHA-1 of every element as `{byte length}:{bytes}`, in order.
/// Length-prefixing makes it unambiguous whatever the elements contain.
const DIGEST_LUA: &str = r"
local function digest(key)
  local items = redis.call('LRANGE', key, 0, -1)
  local parts = {}
  for i = 1, #items do
    parts[i] = string.len(items[i]) .. ':' .. items[i]
  end
  return redis.sha1hex(table.concat(parts))
end
";

/// `KEYS[1]` list, `ARGV[1]` expected digest, `ARGV[2]` element: RPUSH if unchanged.
static PUSH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{DIGEST_LUA}
if digest(KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
return 1"
    ))
});

/// `KEYS[1]` list, `ARGV[1]` expected digest, `ARGV[2..]` exact elements: LREM each if
/// unchanged.
static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{DIGEST_LUA}
if digest(KEYS[1]) ~= ARGV[1] then return 0 end
for i = 2, #ARGV do redis.call('LREM', KEYS[1], 0, ARGV[i]) end
return 1"
    ))
});

/// How many times a write re-reads and retries when other writers keep changing the list.
pub(super) const MAX_ATTEMPTS: u32 = 24;

/// The push script.
pub(super) fn push_script() -> &'static Script {
    &PUSH
}

/// The remove script.
pub(super) fn remove_script() -> &'static Script {
    &REMOVE
}

/// The digest `DIGEST_LUA` computes, over the elements as read.
pub(super) fn digest<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha1::new();
    for item in items {
        h.update(item.len().to_string().as_bytes());
        h.update(b":");
        h.update(item);
    }
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

/// A short random pause before retry `attempt` (1-based): 2, 4, 8 … ms up to 100 ms,
/// times 0.5–1.5, so racing writers spread out.
pub(super) fn backoff(attempt: u32) -> Duration {
    let base = (2u64 << attempt.min(6)).min(100);
    let factor: f64 = rand::random_range(0.5..1.5);
    Duration::from_secs_f64(base as f64 * factor / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_length_prefixed_sha1() {
        // sha1("") and sha1("1:a2:bc"), as redis.sha1hex computes them.
        assert_eq!(
            digest(std::iter::empty()),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        let items: [&[u8]; 2] = [b"a", b"bc"];
        let expected = Sha1::digest(b"1:a2:bc")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        assert_eq!(digest(items), expected);
        let split: [&[u8]; 2] = [b"ab", b"c"];
        assert_ne!(digest(split), expected, "element boundaries count");
    }

    #[test]
    fn backoff_stays_small() {
        for attempt in 1..=MAX_ATTEMPTS {
            assert!(backoff(attempt) <= Duration::from_millis(150));
        }
    }
}
