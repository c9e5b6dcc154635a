#!/usr/bin/env bash
# Noise-free regression guard for protect / unprotect: instructions per operation, counted by
# callgrind on a fixed number of operations (examples/instructions.rs), for ours (AES-256-GCM
# and AES-256-CBC + HMAC-SHA256, 36-byte session id, purposes ["MyApp", "SessionMiddleware"])
# and the `cookie` crate's private jar, with each operation's instructions split into
# function groups (SHA-512 for the KDF, AES key schedule, AES/GHASH, RNG, allocation,
# base64, ...). Instruction counts do not depend on the machine's load, unlike wall-clock
# figures (`cargo bench --bench protect`).
#
#   bash scripts/instructions.sh [COUNT] [OPERATION...]     (default 10000, every operation)
#
# TOP=N also prints each operation's N most expensive functions (self cost).
# Needs valgrind (apt-get install valgrind) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

count="${1:-10000}"
shift || true
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 1; }
command -v callgrind_annotate >/dev/null || { echo "callgrind_annotate is missing (part of valgrind)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is missing" >&2; exit 1; }

cargo build --release --quiet --example instructions
bin="${CARGO_TARGET_DIR:-target}/release/examples/instructions"
if [ "$#" -gt 0 ]; then ops=("$@"); else mapfile -t ops < <("$bin" --list); fi

out=$(mktemp -d /tmp/instructions.XXXXXX)
trap 'rm -rf "$out"' EXIT

for op in "${ops[@]}"; do
  file="$out/$(echo "$op" | tr '/' '_').out"
  valgrind --tool=callgrind --toggle-collect='*measured_loop*' --callgrind-out-file="$file" \
    "$bin" "$op" "$count" 2>"$file.log" || { cat "$file.log" >&2; exit 1; }
  callgrind_annotate --inclusive=no --threshold=100 "$file" >"$file.txt"
done

echo "valgrind $(valgrind --version | sed 's/valgrind-//'), $(rustc --version), $count operations each"
python3 - "$out" "$count" "${TOP:-0}" "${ops[@]}" <<'EOF'
import re, sys

out, count, top, ops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]

# First match wins; the patterns are matched against demangled function names.
GROUPS = [
    ("SHA-512 (KDF)", r"sha2::sha512|sha512"),
    ("SHA-256 (CBC MAC)", r"sha2::sha256|sha256"),
    ("HMAC/digest glue", r"\bhmac::|\bdigest::|block_buffer"),
    ("AES key schedule", r"aes::.*(expand|key_schedule|keys|KeyInit|new)|aes::.*ni::.*::(Aes\w+Enc|Aes\w+Dec)?.*(inv_|expand)"),
    ("AES blocks / GHASH", r"\baes::|\bghash|\bpolyval|\baes_gcm|\bctr::|\bcbc::|\bcipher::"),
    ("RNG", r"\brand\b|rand_core|rand_chacha|chacha|getrandom"),
    ("allocation", r"malloc|free|realloc|calloc|__rust_alloc|__rust_dealloc|__rdl_|raw_vec|alloc::alloc"),
    ("memcpy / memset", r"memcpy|memmove|memset|memcmp|bcmp"),
    ("base64", r"\bbase64::|base64url"),
    ("cookie jar (peer)", r"\bcookie::|hashbrown|siphash|SipHasher|core::hash"),
    ("ring, clock, metrics", r"arc_swap|clock_gettime|SystemTime|\btime::|keyring|metrics"),
    ("protector / payload", r"data_protection::"),
]
GROUPS = [(name, re.compile(pattern)) for name, pattern in GROUPS]
LINE = re.compile(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S.*?)\s*$")

def functions(path):
    """(self instructions, function) from callgrind_annotate --inclusive=no output."""
    rows, total, started = [], None, False
    for line in open(path, encoding="utf-8", errors="replace"):
        m = LINE.match(line)
        if not m:
            continue
        n, rest = int(m.group(1).replace(",", "")), m.group(2)
        if "PROGRAM TOTALS" in rest:
            total = n
            started = True
            continue
        if started and ":" in rest:
            name = rest.split(":", 1)[1]
            name = re.sub(r"\s+\[[^\]]*\]$", "", name)
            rows.append((n, name))
    return total or 0, rows

results = {}
for op in ops:
    path = f"{out}/{op.replace('/', '_')}.out.txt"
    total, rows = functions(path)
    groups = {name: 0 for name, _ in GROUPS}
    groups["other"] = 0
    for n, name in rows:
        for gname, pattern in GROUPS:
            if pattern.search(name):
                groups[gname] += n
                break
        else:
            groups["other"] += n
    results[op] = (total, groups, rows)

def per_op(n):
    return n / count

peer = {"protect": "jar/encrypt", "protect-str": "jar/encrypt",
        "unprotect": "jar/decrypt", "unprotect-str": "jar/decrypt"}
print()
print(f"{'operation':<20} {'instructions/op':>16} {'vs jar':>8}")
for op in ops:
    total = results[op][0]
    ratio = ""
    ref = peer.get(op.split("/")[0])
    if ref in results and results[ref][0]:
        ratio = f"{total / results[ref][0]:.2f}x"
    print(f"{op:<20} {per_op(total):>16,.0f} {ratio:>8}")

names = [name for name, _ in GROUPS] + ["other"]
print()
print("instructions/op by function group (self cost):")
width = max(len(op) for op in ops)
header = f"{'group':<22}" + "".join(f" {op:>{max(width, 9)}}" for op in ops)
print(header)
for name in names:
    if not any(results[op][1][name] for op in ops):
        continue
    row = f"{name:<22}" + "".join(f" {per_op(results[op][1][name]):>{max(width, 9)},.0f}" for op in ops)
    print(row)

if top:
    for op in ops:
        print()
        print(f"{op}: top {top} functions (instructions/op, self)")
        for n, name in sorted(results[op][2], reverse=True)[:top]:
            print(f"  {per_op(n):>10,.0f}  {name[:150]}")
EOF
