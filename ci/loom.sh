#!/usr/bin/env bash
# Model-checks every concurrent path with loom: the tests/loom_*.rs binaries, which compile only
# under `--cfg hotpool_loom` (src/sync.rs then swaps std's primitives for loom's).
set -euo pipefail
cd "$(dirname "$0")/.."

# --release: loom explores thousands of interleavings; debug builds make that ~10x slower.
# LOOM_MAX_PREEMPTIONS=2 bounds the search the way loom's authors recommend for CI: most
# real-world races need at most two preemptions, and 3 multiplies the run time many-fold.
# The crate's own cfg, not tokio's `loom`: a downstream build with `--cfg loom` (to model-check
# its own code) must get hotpool's normal primitives. Checked first: with `--cfg loom` alone,
# loom must not even be in hotpool's dependency tree.
if RUSTFLAGS="${RUSTFLAGS:-} --cfg loom" cargo tree -e normal --prefix none | grep -q '^loom '; then
    echo "a build with --cfg loom pulls in loom: hotpool must only react to --cfg hotpool_loom" >&2
    exit 1
fi

export RUSTFLAGS="${RUSTFLAGS:-} --cfg hotpool_loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
# A separate target dir: `--cfg hotpool_loom` rebuilds every dependency, and sharing the normal one
# would throw away its cache on each switch.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom"

tests=()
for f in tests/loom_*.rs; do
    tests+=(--test "$(basename "$f" .rs)")
done
cargo test --release "${tests[@]}" -- --test-threads=2
