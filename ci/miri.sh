#!/usr/bin/env bash
# Runs the tests under miri, which checks the unsafe code for undefined behaviour, with strict
# provenance:
# - Stacked Borrows: the unit, integration and doc tests;
# - Tree Borrows: the unit tests and the integration tests aimed at the unsafe code (the list
#   below).
# Every file with unsafe code runs under both models, the feature-gated ones included (the build
# turns on `allocator-api2` and `bytes`). Loom models (cfg(hotpool_loom) only) and benches are not
# part of `cargo miri test`.
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain="${MIRI_TOOLCHAIN:-nightly}"
if ! cargo "+$toolchain" miri --version >/dev/null 2>&1; then
    rustup toolchain install "$toolchain" --profile minimal
    rustup component add miri rust-src --toolchain "$toolchain"
fi
cargo "+$toolchain" miri setup

target_root="${CARGO_TARGET_DIR:-target}"
case $target_root in /*) ;; *) target_root="$PWD/$target_root" ;; esac
export CARGO_TARGET_DIR="$target_root/miri"

# The tests use a few dev-dependencies; the rest serve the benches, and building them for miri
# took most of this step's build time (jemalloc's and mimalloc's build scripts compile their C code
# even for miri). So miri builds a copy of the manifest with only the dev-dependencies the tests
# and docs name (ci/lean-crate.sh).
crate=$(bash ci/lean-crate.sh "$CARGO_TARGET_DIR" src tests README.md)
# src/arena/allocator.rs and src/buffer/bytes.rs are compiled only with these features; with them
# their tests run too (tests/arena_allocator.rs, the `bytes` tests of tests/buffer.rs).
cargo_miri() {
    cargo "+$toolchain" miri test --manifest-path "$crate/Cargo.toml" \
        --features allocator-api2,bytes "$@"
}

# Stacked Borrows: the unit tests and every tests/*.rs but the loom models (they compile to
# nothing without --cfg hotpool_loom, and starting an empty binary under miri still costs
# seconds), the #[ignore]d soak test and the orchestrated races (run below under many seeds,
# seed 0 included).
stacked=(--lib)
for f in tests/*.rs; do
    name=$(basename "$f" .rs)
    case $name in loom_* | soak | orchestrated_races) ;; *) stacked+=(--test "$name") ;; esac
done
# Tree Borrows: the unit tests (slot table, depot, registry) and the integration tests written
# against the unsafe code:
# - src/pool/{slots,thread,owned,cache}.rs, src/barrier.rs, src/guard.rs (the `Pool` engine, owned
#   guards, thread exit, taking an object out of a guard, the hit path's last-slot entries):
#   pool, pool_owned, pool_threads, pool_panics, pool_exit_panics, put_attach, fuzz_regressions,
#   pool_several_pools_on_one_thread, pool_thread_exit;
# - src/local/stack.rs, src/guard.rs: local_pool, guard_traits;
# - src/arena/drop_list.rs: arena, arena_api, arena_bounds, arena_thread_exit;
# - src/arena/allocator.rs: arena_allocator;
# - src/buffer/bytes.rs and the buffer guards: buffer.
# - src/pool/slots.rs's steal path (bounded pools: the thief and the announced hit path):
#   bounded, bounded_futures, bounded_blocking.
# - src/pool/owned.rs's release against the last handle, and the steal against full caches and
#   exiting threads: orchestrated_races.
# Left to Stacked Borrows alone: the proptest models (*_props, arena_model) and the counting-
# allocator tests (*_alloc), which drive the same code through the same public API in long
# sequences (most of the time of a run), and the rest: configuration errors, policies, `Recycle`
# impls, the report, an arena in a pooled object, the default arena config. A new test aimed at
# unsafe code belongs in this list.
tree_tests=(pool pool_owned pool_threads pool_panics pool_exit_panics put_attach fuzz_regressions
    pool_several_pools_on_one_thread pool_thread_exit local_pool guard_traits arena arena_api
    arena_bounds arena_thread_exit arena_allocator buffer bounded bounded_futures bounded_blocking
    orchestrated_races)
tree=(--lib)
for name in "${tree_tests[@]}"; do
    tree+=(--test "$name")
done

# -Zmiri-strict-provenance: integer-to-pointer casts are errors, so provenance bugs cannot hide.
base="-Zmiri-strict-provenance ${MIRIFLAGS:-}"

# One build serves both models and the many-seeds run below: MIRIFLAGS only matter when the tests
# run.
cargo_miri "${stacked[@]}" --test orchestrated_races --no-run

# miri interprets a program on one thread and cargo runs the test binaries one after the other,
# so a model's run uses one core: two runs go side by side, each its own cargo (the build is done,
# and cargo holds the target dir's lock only while building), their output kept in logs.
# - Stacked Borrows over the unit and integration tests (the longer one);
# - Tree Borrows over its tests, then the doc tests under Stacked Borrows. Each doc test is
#   compiled and interpreted on its own (rustdoc runs two at a time), which is why they run
#   under one model only: they reach the unsafe code through the same public API as the tests.
log_dir="$CARGO_TARGET_DIR/logs"
mkdir -p "$log_dir"
echo "== miri, side by side: stacked borrows (unit and integration tests) | tree borrows (unit" \
    "tests and ${tree_tests[*]}), then stacked borrows (doc tests)"
MIRIFLAGS="$base" cargo_miri "${stacked[@]}" >"$log_dir/stacked.log" 2>&1 &
stacked_pid=$!
{
    MIRIFLAGS="$base -Zmiri-tree-borrows" cargo_miri "${tree[@]}" &&
        MIRIFLAGS="$base" cargo_miri --doc
} >"$log_dir/tree-then-doc.log" 2>&1 &
tree_pid=$!
status=0
wait "$stacked_pid" || status=1
echo "-- stacked borrows: unit and integration tests"
cat "$log_dir/stacked.log"
wait "$tree_pid" || status=1
echo "-- tree borrows: unit tests and the integration tests above; then stacked borrows: doc tests"
cat "$log_dir/tree-then-doc.log"
if ((status != 0)); then
    echo "miri found undefined behaviour or a failing test (the logs above are also in" \
        "$log_dir)" >&2
    exit 1
fi

# The orchestrated races (tests/orchestrated_races.rs: an owned guard dropped against the last
# handle, a bounded pool's steal against full caches and exiting threads) under many schedules.
# A run follows one interleaving per round, picked by miri's seed; -Zmiri-many-seeds runs the
# binary once per seed of a range, one seed after the other: 16 seeds as two ranges side by side
# (the runs above are done, so both cores are free). Under cfg!(miri) the tests run 6, 4 and 4
# rounds; a passing seed costs about 14 CPU-seconds, so this takes about 2 minutes. Before the
# owned-guard fix, 10 of 16 seeds (7 of 8 in a range of its own) reported that race: a data race
# with the pool's deallocation, or a Stacked Borrows protector. Stacked Borrows, as the rest;
# Tree Borrows runs the default seed (the list above).
echo "== miri, many seeds: the orchestrated races, seeds 0..8 | 8..16"
pids=()
for seeds in 0..8 8..16; do
    MIRIFLAGS="$base -Zmiri-many-seeds=$seeds" cargo_miri --test orchestrated_races \
        >"$log_dir/races-seeds-$seeds.log" 2>&1 &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid" || status=1
done
for seeds in 0..8 8..16; do
    echo "-- orchestrated races, seeds $seeds"
    cat "$log_dir/races-seeds-$seeds.log"
done
if ((status != 0)); then
    echo "miri found undefined behaviour or a failing test in the orchestrated races (the logs" \
        "above are also in $log_dir)" >&2
    exit 1
fi
