#!/usr/bin/env bash
# Fuzzes every cargo-fuzz target in fuzz/ (local_pool_ops, pool_ops, arena_ops: op sequences
# checked against a model after every op, see each target's docs) for FUZZ_SECONDS each
# (default 60), prints how many inputs each ran, and fails on any crash, panic, hang or
# sanitizer report. A failing input is kept in fuzz/artifacts/<target>/ for
# `cargo +nightly fuzz run <target> <file>` to reproduce and `cargo +nightly fuzz tmin` to shrink.
set -euo pipefail
cd "$(dirname "$0")/.."

# cargo-fuzz needs nightly: it builds with -Zsanitizer=address and sanitizer-coverage flags.
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    rustup toolchain install "$toolchain" --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    # --locked: build with cargo-fuzz's own lock file, not whatever versions resolve today.
    cargo install cargo-fuzz --locked
fi

seconds="${FUZZ_SECONDS:-60}"
mapfile -t targets < <(cargo "+$toolchain" fuzz list)
echo "== building ${targets[*]}"
cargo "+$toolchain" fuzz build

# Logs go to a directory made here: fuzz/target/ exists only when CARGO_TARGET_DIR is unset.
log_dir="${CARGO_TARGET_DIR:-fuzz/target}/fuzz-logs"
mkdir -p "$log_dir"
failed=()
for target in "${targets[@]}"; do
    log="$log_dir/$target.log"
    echo "== fuzzing $target for ${seconds}s"
    # -max_total_time: stop after this many seconds (exit status 0 if nothing was found).
    # -print_final_stats=1: print stat::number_of_executed_units at the end, parsed below.
    # -timeout=30: an input running over 30 s counts as a crash. pool_ops runs threads in
    #   lock-step, so a deadlock in the pool shows up as a hang; libFuzzer's default is 20 min.
    if cargo "+$toolchain" fuzz run "$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=30 >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$target")
        tail -n 80 "$log"
    fi
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "$target: ${executions:-?} executions in ${seconds}s: $status (log: $log)"
done

if ((${#failed[@]})); then
    echo "fuzzing found failures in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
