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
target_root="${CARGO_TARGET_DIR:-target}"
case $target_root in /*) ;; *) target_root="$PWD/$target_root" ;; esac
export CARGO_TARGET_DIR="$target_root/loom"

# The models use no dev-dependency, but cargo would build them all (in release, with the cfg):
# criterion, the peer pools, jemalloc's and mimalloc's C code. That was two thirds of this step,
# so the models build from a copy of the manifest with only the dev-dependencies they name
# (ci/lean-crate.sh).
crate=$(bash ci/lean-crate.sh "$CARGO_TARGET_DIR" tests/loom_*.rs)

tests=()
for f in tests/loom_*.rs; do
    tests+=(--test "$(basename "$f" .rs)")
done
cargo test --release --manifest-path "$crate/Cargo.toml" "${tests[@]}" -- --test-threads=2
