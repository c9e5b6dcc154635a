//! The Lua scripts. Each touches one key, so each runs on one node of a cluster.
//!
//! Times are .NET ticks (100 ns); Lua numbers are doubles, exact to 2^53, which at today's
//! tick values (about 6.4e17) is a 13 µs granularity: irrelevant for millisecond TTLs.

use std::sync::OnceLock;

use redis::{Cmd, Script};

/// A Lua script and its SHA-1, for `EVALSHA` commands built without intermediate copies.
pub(super) struct Lua {
    code: &'static str,
    hash: OnceLock<String>,
}

impl Lua {
    const fn new(code: &'static str) -> Self {
        Self {
            code,
            hash: OnceLock::new(),
        }
    }

    /// `EVALSHA` (or, with `by_code`, `EVAL`: for a server that does not have the script
    /// cached) of this script on one key, with room for `args` more arguments of `bytes`.
    pub(super) fn command(&self, by_code: bool, args: usize, bytes: usize) -> Cmd {
        let (name, body) = if by_code {
            ("EVAL", self.code)
        } else {
            let hash = self
                .hash
                .get_or_init(|| Script::new(self.code).get_hash().to_owned());
            ("EVALSHA", hash.as_str())
        };
        let mut cmd = Cmd::with_capacity(args + 4, bytes + body.len() + 16);
        cmd.arg(name).arg(body).arg(1);
        cmd
    }
}

/// KEYS[1] the entry; ARGV[1] now in ticks, ARGV[2] `1` to return the fields.
/// Restarts the sliding expiration as ASP.NET's `RedisCache.Get`/`Refresh` do: PEXPIRE
/// to the shorter of `sldexp` and the time left before `absexp`. Returns
/// `{absexp, sldexp, data}`, or nil when there is no entry (or it has expired).
pub(super) static LOAD: Lua = Lua::new(
    r"
local v = redis.call('HMGET', KEYS[1], 'absexp', 'sldexp', 'data')
if not v[3] then return false end
local abs = tonumber(v[1]) or -1
local sld = tonumber(v[2]) or -1
if abs ~= -1 and abs <= tonumber(ARGV[1]) then return false end
if sld ~= -1 then
  local ttl = sld
  if abs ~= -1 and abs - tonumber(ARGV[1]) < ttl then ttl = abs - tonumber(ARGV[1]) end
  local ms = math.floor(ttl / 10000)
  if ms < 1 then ms = 1 end
  redis.call('PEXPIRE', KEYS[1], ms)
end
if ARGV[2] == '1' then return v end
return 1
",
);

/// KEYS[1] the entry; ARGV: how to compare (`absent`, `data`: ARGV[6] is the expected
/// `data`, `sha1`: ARGV[6] is its SHA-1 hex, for large sessions), absexp, sldexp, data,
/// TTL in ms (`-1`: none), expected.
/// Writes the hash as ASP.NET's `RedisCache.Set` does (HSET absexp sldexp data, then the
/// expiry) if the stored `data` is the expected one. Returns `{1}` when written, `{0}`
/// when nothing is stored, `{0, absexp, sldexp, data}` when something else is.
pub(super) static SAVE: Lua = Lua::new(
    r"
local cur = redis.call('HGET', KEYS[1], 'data')
local ok
if ARGV[1] == 'absent' then ok = not cur
elseif ARGV[1] == 'data' then ok = cur == ARGV[6]
else ok = cur and redis.sha1hex(cur) == ARGV[6] end
if not ok then
  if not cur then return {0} end
  local f = redis.call('HMGET', KEYS[1], 'absexp', 'sldexp')
  return {0, f[1], f[2], cur}
end
redis.call('HSET', KEYS[1], 'absexp', ARGV[2], 'sldexp', ARGV[3], 'data', ARGV[4])
if ARGV[5] ~= '-1' then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return {1}
",
);
