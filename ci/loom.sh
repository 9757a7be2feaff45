#!/usr/bin/env bash
# Model-checks every concurrent path with loom: the tests/loom_*.rs binaries, which compile only
# under `--cfg loom` (src/sync.rs then swaps std's primitives for loom's).
set -euo pipefail
cd "$(dirname "$0")/.."

# --release: loom explores thousands of interleavings; debug builds make that ~10x slower.
# LOOM_MAX_PREEMPTIONS=2 bounds the search the way loom's authors recommend for CI: most
# real-world races need at most two preemptions, and 3 multiplies the run time many-fold.
export RUSTFLAGS="${RUSTFLAGS:-} --cfg loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
# A separate target dir: `--cfg loom` rebuilds every dependency, and sharing the normal one
# would throw away its cache on each switch.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom"

tests=()
for f in tests/loom_*.rs; do
    tests+=(--test "$(basename "$f" .rs)")
done
cargo test --release "${tests[@]}" -- --test-threads=2
