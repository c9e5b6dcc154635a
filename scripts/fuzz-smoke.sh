#!/usr/bin/env bash
# Fuzz smoke test: build every cargo-fuzz target of the fuzz/ crate, run each for
# ${FUZZ_SECONDS:-20} seconds, and fail if any of them finds a crash (panic, abort, timeout, OOM).
#
# Works on stable Rust: `cargo fuzz run --sanitizer none` needs no -Z flag (libFuzzer's coverage
# instrumentation uses only -C flags). FUZZ_SANITIZER=address turns on AddressSanitizer, which needs
# -Zsanitizer and so RUSTC_BOOTSTRAP=1 on stable (it switches RUSTFLAGS, so everything rebuilds).
#
# Knobs: FUZZ_SECONDS (20) per target, FUZZ_TIMEOUT (10) seconds for one input, FUZZ_SANITIZER (none),
# CARGO_FUZZ_VERSION (0.13.2), FUZZ_SEED (1: the same inputs in every run, so a CI run
# repeats what the local run before it saw; 0 lets libFuzzer pick a random seed, which is what
# a long exploratory run wants). Seeds committed under fuzz/seeds/<target>/ are used when present
# (fuzz/corpus/ is git-ignored). Logs go to target/fuzz-smoke/<target>.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_SANITIZER=${FUZZ_SANITIZER:-none}
FUZZ_SEED=${FUZZ_SEED:-1}
CARGO_FUZZ_VERSION=${CARGO_FUZZ_VERSION:-0.13.2}
FUZZ_TOOLS=$ROOT/target/ci-tools/cargo-fuzz
LOGS=$ROOT/target/fuzz-smoke

if [ ! -f fuzz/Cargo.toml ]; then
  echo "fuzz-smoke: no fuzz/Cargo.toml, so no fuzz targets exist; nothing to run"
  exit 0
fi
shopt -s nullglob
sources=(fuzz/fuzz_targets/*.rs)
shopt -u nullglob
if [ ${#sources[@]} -eq 0 ]; then
  echo "fuzz-smoke: no fuzz/fuzz_targets/*.rs; nothing to run"
  exit 0
fi

if [ "$("$FUZZ_TOOLS/bin/cargo-fuzz" --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "fuzz-smoke: installing cargo-fuzz $CARGO_FUZZ_VERSION into $FUZZ_TOOLS (about 30 s)"
  cargo install "cargo-fuzz@$CARGO_FUZZ_VERSION" --locked --root "$FUZZ_TOOLS" ||
    { echo "fuzz-smoke: cargo install cargo-fuzz failed" >&2; exit 1; }
fi
export PATH="$FUZZ_TOOLS/bin:$PATH"

flags=(--sanitizer "$FUZZ_SANITIZER")
if [ "$FUZZ_SANITIZER" != none ]; then
  export RUSTC_BOOTSTRAP=1 # -Zsanitizer on a stable compiler
fi

# Each fuzz_targets/<name>.rs must be a [[bin]] of the fuzz crate, or it would silently never run.
mapfile -t listed < <(cargo fuzz list)
targets=()
for src in "${sources[@]}"; do
  t=$(basename "$src" .rs)
  found=0
  for l in "${listed[@]}"; do
    if [ "$l" = "$t" ]; then found=1; fi
  done
  if [ "$found" = 0 ]; then
    echo "fuzz-smoke: $src has no [[bin]] named '$t' in fuzz/Cargo.toml (cargo fuzz list: ${listed[*]})" >&2
    exit 1
  fi
  targets+=("$t")
done

echo "fuzz-smoke: building ${#targets[@]} target(s) with sanitizer=$FUZZ_SANITIZER: ${targets[*]}"
start=$SECONDS
cargo fuzz build "${flags[@]}" || { echo "fuzz-smoke: cargo fuzz build failed" >&2; exit 1; }
echo "fuzz-smoke: built in $((SECONDS - start))s"

mkdir -p "$LOGS"
failed=()
for t in "${targets[@]}"; do
  log=$LOGS/$t.log
  corpus=(fuzz/corpus/"$t")
  mkdir -p "${corpus[0]}"
  if [ -d "fuzz/seeds/$t" ]; then corpus+=("fuzz/seeds/$t"); fi
  echo "fuzz-smoke: $t for ${FUZZ_SECONDS}s (log: $log)"
  # -max_total_time bounds the run; -timeout bounds one input (a hang counts as a failure);
  # the outer timeout is a last resort if the fuzzer itself wedges.
  rc=0
  timeout -k 10 $((FUZZ_SECONDS + 120)) \
    cargo fuzz run "${flags[@]}" "$t" "${corpus[@]}" -- \
    -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -seed="$FUZZ_SEED" >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "fuzz-smoke: ok: $t: $(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1)"
  else
    failed+=("$t")
    echo "fuzz-smoke: FAILED: $t (exit $rc); the panic, then the last lines of $log:" >&2
    grep -A3 -m1 "panicked at" "$log" >&2 || true
    tail -n 40 "$log" >&2
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-smoke: crashes in ${#failed[@]} target(s): ${failed[*]}; reproduce with" \
    "cargo fuzz run --sanitizer $FUZZ_SANITIZER <target> fuzz/artifacts/<target>/<crash-file>" >&2
  exit 1
fi
echo "fuzz-smoke: all ${#targets[@]} target(s) ran ${FUZZ_SECONDS}s without a crash"
