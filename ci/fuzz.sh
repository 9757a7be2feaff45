#!/usr/bin/env bash
# Fuzzes every cargo-fuzz target in fuzz/ (local_pool_ops, pool_ops, arena_ops, buffer_ops: op
# sequences checked against a model after every op, see each target's docs) for FUZZ_SECONDS each
# (default 60), two at a time on two cores, prints how many inputs each ran, and fails on any
# crash, panic, hang or sanitizer report. A failing input is kept in fuzz/artifacts/<target>/ for
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
# Fuzzes one target; prints its result line (and the log's tail if it failed).
fuzz() {
    local target="$1" log="$log_dir/$1.log" status executions
    # -max_total_time: stop after this many seconds (exit status 0 if nothing was found).
    # -print_final_stats=1: print stat::number_of_executed_units at the end, parsed below.
    # -timeout=30: an input running over 30 s counts as a crash. pool_ops runs threads in
    #   lock-step, so a deadlock in the pool shows up as a hang; libFuzzer's default is 20 min.
    if cargo "+$toolchain" fuzz run "$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=30 >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        tail -n 80 "$log"
    fi
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "$target: ${executions:-?} executions in ${seconds}s: $status (log: $log)"
    [ "$status" = ok ]
}

# A libFuzzer run uses one core (pool_ops's threads take turns), so the targets run FUZZ_JOBS at
# a time (default: the number of cores); each still gets its full FUZZ_SECONDS.
jobs="${FUZZ_JOBS:-$(nproc)}"
failed=()
declare -A running=()
# Waits for one target to end (`wait -n -p`: bash 5.1 or later) and prints its result.
reap() {
    local pid status=0 target
    wait -n -p pid "${!running[@]}" || status=$?
    target=${running[$pid]}
    unset "running[$pid]"
    cat "$log_dir/$target.result"
    if ((status != 0)); then
        failed+=("$target")
    fi
}
for target in "${targets[@]}"; do
    while ((${#running[@]} >= jobs)); do
        reap
    done
    echo "== fuzzing $target for ${seconds}s"
    fuzz "$target" >"$log_dir/$target.result" 2>&1 &
    running[$!]=$target
done
while ((${#running[@]})); do
    reap
done

if ((${#failed[@]})); then
    echo "fuzzing found failures in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
