#!/usr/bin/env bash
# Runs the tests under ThreadSanitizer (data races, including the ones loom's bounded models could
# miss on real hardware) and AddressSanitizer (use-after-free, double free, out-of-bounds, leaks
# through LeakSanitizer). ASan runs the unit tests and every integration test; TSan the unit tests
# and the integration tests that start threads (a race needs two), chosen below. Doc tests are
# left out: they are small and miri runs them (ci/miri.sh). Usage:
# `ci/sanitizers.sh [thread|address]...` (default: both). Most of its time is building: std twice
# (once per sanitizer) and the test binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

toolchain="${SANITIZER_TOOLCHAIN:-nightly}"
target_triple=x86_64-unknown-linux-gnu
if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    rustup toolchain install "$toolchain" --profile minimal
fi
# -Zbuild-std rebuilds std from source so that it is instrumented too: an uninstrumented std
# hides races on its own atomics from TSan (and TSan rejects mixing instrumented and plain code).
rustup component add rust-src --toolchain "$toolchain"

target_root="${CARGO_TARGET_DIR:-target}"
case $target_root in /*) ;; *) target_root="$root/$target_root" ;; esac
work="$target_root/sanitizers"

# The tests need few of the dev-dependencies; the others (criterion, the peer crates, jemalloc and
# mimalloc) serve the benches, and with -Zbuild-std and sanitizer flags they would all be rebuilt
# from source. So the sanitizer build uses a copy of the manifest that keeps only the
# dev-dependencies src/ and tests/ name (ci/lean-crate.sh).
crate=$(bash ci/lean-crate.sh "$work" src tests)

# TSan's binaries: the unit tests, and each tests/*.rs that starts threads (`thread::`, rayon or
# tokio in the file or in a support module it declares with `mod name;`). The others run on one
# thread (`LocalPool`, the per-thread arenas, config errors, ...), where TSan has nothing to
# compare; ASan and valgrind still run them. (The process-wide state their tests share when the
# harness runs two at once, the pool registry, is raced on purpose in tests/report.rs, which TSan
# runs.) The loom models are left out (they compile to
# nothing without --cfg hotpool_loom; ci/loom.sh runs them) and so is the #[ignore]d soak test
# (the soak step of .ci/run runs it).
thread_tests=()
thread_names=()
for f in tests/*.rs; do
    name=$(basename "$f" .rs)
    case $name in loom_* | soak) continue ;; esac
    files=("$f")
    for m in $(sed -n 's/^ *\(pub \)\{0,1\}mod \([a-z_0-9]*\);.*/\2/p' "$f"); do
        for p in "tests/$m" "tests/$m.rs"; do
            [ -e "$p" ] && files+=("$p")
        done
    done
    if grep -rqE 'thread::|rayon|tokio' "${files[@]}"; then
        thread_tests+=(--test "$name")
        thread_names+=("$name")
    fi
done

run() {
    local sanitizer="$1" selection
    echo "== ${sanitizer} sanitizer"
    case $sanitizer in
        thread)
            # No suppressions needed: std built with -Zsanitizer=thread (via -Zbuild-std) swaps the
            # fences in Arc's drop, which TSan cannot see, for acquire loads, so Arc raises no
            # false reports, and the suite raises none. halt_on_error: stop at the first report.
            # allocator_may_return_null: the sanitizer's allocator must refuse an impossible size
            # (null) as the system's does, not abort: `BufferPool::try_get` turns that null into
            # `BufferError::AllocFailed`, and tests/buffer_requests.rs checks it.
            export TSAN_OPTIONS="halt_on_error=1 allocator_may_return_null=1 ${TSAN_OPTIONS:-}"
            selection=(--lib "${thread_tests[@]}")
            echo "(the unit tests and the ${#thread_names[@]} integration tests with threads:" \
                "${thread_names[*]})"
            ;;
        address)
            # detect_leaks: LeakSanitizer runs at exit; a leaked pool object fails the binary.
            # allocator_may_return_null: as for TSan above.
            export ASAN_OPTIONS="detect_leaks=1 allocator_may_return_null=1 ${ASAN_OPTIONS:-}"
            selection=(--lib --tests)
            ;;
        *) echo "unknown sanitizer $sanitizer (thread or address)" >&2; exit 2 ;;
    esac
    # One target dir per sanitizer: the flags differ, so sharing one would rebuild std each switch.
    # --target: required by -Zbuild-std, and keeps RUSTFLAGS off build scripts and proc macros.
    # No -Cunsafe-allow-abi-mismatch=sanitizer: every crate, std included, is built with the same
    #   -Zsanitizer flag, so nightly's sanitizer ABI check passes as is.
    # debug = line-tables-only: a report's stack trace needs files and lines, not variables; full
    #   debug info for std and ~35 test binaries made compiling and linking them much slower.
    RUSTFLAGS="-Zsanitizer=$sanitizer ${RUSTFLAGS:-}" \
        CARGO_TARGET_DIR="$work/$sanitizer" \
        CARGO_PROFILE_DEV_DEBUG=line-tables-only CARGO_PROFILE_TEST_DEBUG=line-tables-only \
        cargo "+$toolchain" test -Zbuild-std --target "$target_triple" \
        --manifest-path "$crate/Cargo.toml" "${selection[@]}" -- --test-threads=2
}

# tests/orchestrated_races.rs repeats its races until a time budget is spent (1.5 s per test by
# default). A sanitizer slows each round several times (ASan: ~500 rounds of the owned-guard race
# in 1.5 s, against ~3,000 without), and the use-after-free that race looks for showed under ASan
# after 1 to 4 s of rounds (in 1 of 4 runs at 1.5 s): 5 s per test, about 10 s per sanitizer for
# the file (its three tests two at a time).
export HOTPOOL_RACE_SECS="${HOTPOOL_RACE_SECS:-5}"

sanitizers=("$@")
((${#sanitizers[@]})) || sanitizers=(thread address)
for s in "${sanitizers[@]}"; do
    run "$s"
done
echo "sanitizers: no reports from ${sanitizers[*]}"
