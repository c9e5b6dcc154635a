#!/usr/bin/env bash
# Load comparison of the session layer with tower-sessions: the same axum counter handler,
# the same store server, the same closed-loop load generator, in one run. The peers live in
# bench-peers/, a separate Cargo project, so they never touch the main build or CI.
#
#   bash scripts/session-load.sh [redis|postgres] [SECONDS_PER_RUN] [USERS] [ROUNDS]
#                                                       (default redis 10 32 2)
#
# redis: our RedisSessionStore against tower-sessions-redis-store. Uses $REDIS_URL when set;
#   otherwise starts a private redis-server ($REDIS_SERVER_BIN or redis-server from PATH) on a
#   free loopback port and stops it at the end.
# postgres: our PostgresSessionStore against tower-sessions-sqlx-store's PostgresStore, each
#   with a pool of $PG_POOL connections (default 16). Uses $PG_URL when set; otherwise starts
#   a private PostgreSQL cluster with scripts/backends.sh (the test suite's template, under
#   target/ci-tools/postgres) and stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/bench-peers}"

backend=redis
case "${1:-}" in
  redis | postgres) backend=$1; shift ;;
esac

REDIS_PID=""
REDIS_DIR=""
PG_STARTED=""
cleanup() {
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; fi
  if [ -n "$REDIS_DIR" ]; then rm -rf "$REDIS_DIR"; fi
  if [ -n "$PG_STARTED" ]; then backends_stop; fi
}
trap cleanup EXIT

if [ "$backend" = redis ] && [ -z "${REDIS_URL:-}" ]; then
  bin="${REDIS_SERVER_BIN:-$(command -v redis-server || true)}"
  [ -n "$bin" ] || { echo "no REDIS_URL and no redis-server: install redis-server or set REDIS_URL" >&2; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  REDIS_DIR=$(mktemp -d /tmp/session-load-redis.XXXXXX)
  "$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$REDIS_DIR" \
    --logfile "$REDIS_DIR/redis.log" >/dev/null 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    kill -0 "$REDIS_PID" 2>/dev/null || { echo "redis-server died during start-up" >&2; exit 1; }
    sleep 0.05
  done
  export REDIS_URL="redis://127.0.0.1:$port/"
fi

if [ "$backend" = postgres ] && [ -z "${PG_URL:-}" ]; then
  # shellcheck source=scripts/backends.sh
  source scripts/backends.sh
  PG_STARTED=1
  postgres_start || { echo "could not start PostgreSQL: run bash scripts/backends.sh install" >&2; exit 1; }
fi

cargo build --release --quiet --manifest-path bench-peers/Cargo.toml
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
"$CARGO_TARGET_DIR/release/session-bench-peers" "$backend" "$@"
echo "machine after: load $(cut -d' ' -f1-3 /proc/loadavg)"
