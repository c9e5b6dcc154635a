#!/usr/bin/env bash
# Where a session request's instructions go: callgrind on a fixed number of counter
# requests (bench-peers/src/bin/session-profile.rs: the layer called as a tower service, one
# user, current-thread runtime, the real Redis), for our session layer and for
# tower-sessions + its Redis store; then each layer's server-side Redis cost from
# `INFO commandstats` (calls and microseconds per command, reset before each layer).
#
#   bash scripts/session-profile.sh [COUNT]          (default 2000 requests per layer)
#
# TOP=N also prints each layer's N most expensive functions (self cost) and N largest
# inclusive costs. Uses $REDIS_URL when set, else starts a private redis-server. Needs
# valgrind, redis-server, redis-cli and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/bench-peers}"
count="${1:-2000}"
for tool in valgrind callgrind_annotate redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install valgrind redis-tools python3)" >&2; exit 1; }
done

out=$(mktemp -d /tmp/session-profile.XXXXXX)
REDIS_PID=""
cleanup() {
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; fi
  rm -rf "$out"
}
trap cleanup EXIT
if [ -z "${REDIS_URL:-}" ]; then
  command -v redis-server >/dev/null || { echo "no REDIS_URL and no redis-server (apt-get install redis-server)" >&2; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$out" \
    --logfile "$out/redis.log" >/dev/null 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 100); do
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
    sleep 0.05
  done
  export REDIS_URL="redis://127.0.0.1:$port/"
fi

cargo build --release --quiet --manifest-path bench-peers/Cargo.toml --bin session-profile
bin="$CARGO_TARGET_DIR/release/session-profile"
for layer in ours peer; do
  redis-cli -u "$REDIS_URL" CONFIG RESETSTAT >/dev/null
  valgrind --tool=callgrind --toggle-collect='*measured_requests*' \
    --callgrind-out-file="$out/$layer.out" "$bin" "$layer" "$count" 2>"$out/$layer.log" \
    || { cat "$out/$layer.log" >&2; exit 1; }
  redis-cli -u "$REDIS_URL" INFO commandstats | tr -d '\r' >"$out/$layer.redis"
  callgrind_annotate --inclusive=no --threshold=100 "$out/$layer.out" >"$out/$layer.self"
  callgrind_annotate --inclusive=yes --threshold=100 "$out/$layer.out" >"$out/$layer.incl"
done

echo "valgrind $(valgrind --version | sed 's/valgrind-//'), $(redis-server --version | cut -d' ' -f3), $count requests per layer (after 64 warm-up; Redis stats include the warm-up)"
python3 - "$out" "$count" "${TOP:-0}" <<'PY'
import re, sys
out, count, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
LINE = re.compile(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S.*?)\s*$")

def rows(path):
    total, found, started = 0, [], False
    for line in open(path, encoding="utf-8", errors="replace"):
        m = LINE.match(line)
        if not m:
            continue
        n, rest = int(m.group(1).replace(",", "")), m.group(2)
        if "PROGRAM TOTALS" in rest:
            total, started = n, True
            continue
        if started and ":" in rest:
            name = re.sub(r"\s+\[[^\]]*\]$", "", rest.split(":", 1)[1])
            found.append((n, name))
    return total, found

# Self cost by group; first match wins.
GROUPS = [
    ("cookie crypto (KDF, AES, RNG)", r"\bsha2::|\baes::|\baes_gcm|\bghash|\bpolyval|\bhmac::|\bcbc::|chacha|\brand\b|rand_core|data_protection::crypto|data_protection::protector|data_protection::base64url|data_protection::payload"),
    ("session blob encode/decode", r"data_protection::session::data|rmp|serde_json|serde::|ryu|itoa"),
    ("session layer (ours)", r"data_protection::session|data_protection::"),
    ("tower-sessions (peer)", r"tower_sessions"),
    ("Redis client: redis-rs", r"\bredis::|combine::"),
    ("Redis client: fred", r"\bfred::|redis_protocol"),
    ("sockets, epoll, syscalls", r"\bmio::|epoll|__libc_(send|recv|read|write)|\b(send|recv|read|write|sendto|recvfrom|writev)\b|tokio::net|tokio::io|tokio::runtime::io"),
    ("tokio runtime, timers, sync", r"\btokio::|parking_lot|futures"),
    ("HTTP: axum, hyper, http", r"\baxum|\bhyper|\bhttp::|\btower|matchit|percent_encoding|cookie::"),
    ("allocation", r"malloc|free|realloc|calloc|__rust_alloc|__rust_dealloc|__rdl_|raw_vec|alloc::alloc|cfree"),
    ("memcpy / memset", r"memcpy|memmove|memset|memcmp|bcmp|strlen"),
    ("hashing, formatting, std", r"\bcore::|\bstd::|\balloc::|hashbrown|\bbytes::|\bsmallvec"),
]
GROUPS = [(g, re.compile(p)) for g, p in GROUPS]
results = {}
for layer in ("ours", "peer"):
    total, self_rows = rows(f"{out}/{layer}.self")
    _, incl_rows = rows(f"{out}/{layer}.incl")
    groups = {g: 0 for g, _ in GROUPS}
    groups["other"] = 0
    for n, name in self_rows:
        for g, p in GROUPS:
            if p.search(name):
                groups[g] += n
                break
        else:
            groups["other"] += n
    results[layer] = (total, groups, self_rows, incl_rows)

print()
print(f"{'instructions/request':<32} {'ours':>10} {'peer':>10}")
print(f"{'total':<32} {results['ours'][0]/count:>10,.0f} {results['peer'][0]/count:>10,.0f}   ratio {results['ours'][0]/results['peer'][0]:.2f}")
for g in [g for g, _ in GROUPS] + ["other"]:
    a, b = results["ours"][1][g] / count, results["peer"][1][g] / count
    if a or b:
        print(f"  {g:<30} {a:>10,.0f} {b:>10,.0f}")

# Inclusive costs of the steps of a request (ours), where the function exists.
STEPS = [
    ("cookie unprotect (Protector::open)", r"data_protection::protector::Protector::open$"),
    ("cookie protect", r"data_protection::session::cookie::protect_key"),
    ("blob decode", r"data_protection::session::data::SessionData::decode"),
    ("blob encode", r"data_protection::session::data::SessionData::encode"),
    ("store load (incl. I/O wait polls)", r"RedisSessionStore as data_protection::session::store::SessionStore>::load"),
    ("store save", r"RedisSessionStore as data_protection::session::store::SessionStore>::save"),
    ("commit", r"data_protection::session::commit::.*Session>::commit::\{\{closure\}\}$"),
    ("keyed locks", r"data_protection::session::locks::KeyedLocks::lock|KeyGuard"),
]
print()
print("ours: inclusive instructions/request of named steps (async fns: their polls)")
incl = results["ours"][3]
for label, pattern in STEPS:
    p = re.compile(pattern)
    best = max((n for n, name in incl if p.search(name)), default=0)
    print(f"  {label:<36} {best / count:>10,.0f}")

def redis_stats(path):
    stats = []
    for line in open(path):
        m = re.match(r"cmdstat_(\w+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)", line)
        if m:
            stats.append((m.group(1), int(m.group(2)), int(m.group(3)), float(m.group(4))))
    return stats
print()
for layer in ("ours", "peer"):
    stats = redis_stats(f"{out}/{layer}.redis")
    total_us = sum(s[2] for s in stats if s[0] not in ("config", "info"))
    n = count + 64
    print(f"{layer}: Redis server time {total_us / n:.2f} µs/request over {n} requests")
    for name, calls, usec, per in sorted(stats, key=lambda s: -s[2]):
        if name in ("config", "info"):
            continue
        print(f"  {name:<10} calls {calls:>7} ({calls / n:.2f}/request)  {per:.2f} µs/call")
if top:
    for layer in ("ours", "peer"):
        print()
        print(f"{layer}: top {top} functions, self instructions/request")
        for n, name in sorted(results[layer][2], reverse=True)[:top]:
            print(f"  {n / count:>9,.0f}  {name[:140]}")
        print(f"{layer}: top {top} inclusive")
        for n, name in sorted(results[layer][3], reverse=True)[:top]:
            print(f"  {n / count:>9,.0f}  {name[:140]}")
PY
