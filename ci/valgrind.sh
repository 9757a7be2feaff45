#!/usr/bin/env bash
# Runs the test binaries under valgrind's memcheck and fails on any definite leak or memory
# error: every object a pool or an arena made must be freed when the pool, the guard, the scope
# or the thread goes away, including the thread-churn tests (tests/pool_threads.rs).
#
# Which binaries: the library's unit tests and every tests/*.rs binary except the loom models
# (tests/loom_*.rs compile to nothing without --cfg hotpool_loom; ci/loom.sh runs them). Proptest state
# machines run PROPTEST_CASES=8 cases instead of 256: under valgrind (~30x slower) the default
# would take most of the time budget, and what valgrind looks for (leaks) shows up in a few
# cases. valgrind runs a program on one core, so two binaries run at a time on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
    apt-get update && apt-get install -y valgrind
fi

export PROPTEST_CASES="${PROPTEST_CASES:-8}"
# The race programs repeat their races for a time or a number of rounds (tests/orchestrated_races.rs,
# tests/owned_teardown_races.rs, tests/owned_guard_release_is_last_access.rs); valgrind runs one
# thread at a time, so a few rounds show a leak as well as many.
export HOTPOOL_RACE_SECS="${HOTPOOL_RACE_SECS:-0.5}"
export HOTPOOL_RACE_ROUNDS="${HOTPOOL_RACE_ROUNDS:-5}"
# The same (debug) build as `cargo test`, so after it nothing is rebuilt.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"

# --message-format=json: cargo names each test executable it built ("executable":"...").
mapfile -t binaries < <(
    cargo test --lib --tests --no-run --message-format=json |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' |
        grep -v '/loom_[a-z_]*-[0-9a-f]*$'
)

mkdir -p "$CARGO_TARGET_DIR/logs"

# One binary under valgrind; prints its result line and returns non-zero on failure.
check() {
    local bin="$1" name log status=0 lost
    name=$(basename "$bin")
    log="$CARGO_TARGET_DIR/logs/$name.valgrind"
    # --leak-check=full --errors-for-leak-kinds=definite: a definitely lost block is an error;
    #   "possibly lost" and "still reachable" are not (std keeps thread-locals, the test
    #   harness's threads and once_cell globals alive until exit).
    # --show-leak-kinds=definite: list only those blocks, with the stack that allocated them.
    # --error-exitcode=99: memcheck errors (leaks included) exit 99, told apart from a failing
    #   test (101).
    # --fair-sched=yes: valgrind runs one thread at a time; fair scheduling keeps the lock
    #   hand-offs of the thread tests from starving a thread for seconds.
    # --test-threads=2: the machine's cores; valgrind serializes threads anyway.
    valgrind --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
        --error-exitcode=99 --fair-sched=yes --log-file="$log" \
        "$bin" --test-threads=2 -q >"$log.out" 2>&1 || status=$?
    lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -n 1)
    case $status in
        0) echo "$name: ok, ${lost:-0} bytes definitely lost" ;;
        99) echo "$name: MEMCHECK ERRORS, ${lost:-0} bytes definitely lost"; cat "$log" ;;
        *) echo "$name: TESTS FAILED (exit $status)"; tail -n 40 "$log.out" ;;
    esac
    return "$status"
}

# valgrind runs each program on one core (it serializes the program's threads), so the binaries
# run VALGRIND_JOBS at a time (default: the number of cores), each one's report printed whole.
jobs="${VALGRIND_JOBS:-$(nproc)}"
failed=()
declare -A running=()
# Waits for one check to end (`wait -n -p`: bash 5.1 or later) and prints its report.
reap() {
    local pid status=0 name
    wait -n -p pid "${!running[@]}" || status=$?
    name=${running[$pid]}
    unset "running[$pid]"
    cat "$CARGO_TARGET_DIR/logs/$name.result"
    if ((status != 0)); then
        failed+=("$name")
    fi
}
for bin in "${binaries[@]}"; do
    while ((${#running[@]} >= jobs)); do
        reap
    done
    name=$(basename "$bin")
    check "$bin" >"$CARGO_TARGET_DIR/logs/$name.result" 2>&1 &
    running[$!]=$name
done
while ((${#running[@]})); do
    reap
done

if ((${#failed[@]})); then
    echo "valgrind run failed for: ${failed[*]}" >&2
    exit 1
fi
echo "valgrind: no memory errors and no definite leaks in ${#binaries[@]} test binaries"
