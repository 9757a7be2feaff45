#!/usr/bin/env bash
# Runs the unit and integration tests under ThreadSanitizer (data races, including the ones loom's
# bounded models could miss on real hardware) and AddressSanitizer (use-after-free, double free,
# out-of-bounds, leaks through LeakSanitizer). Doc tests are left out: they are small and miri
# runs them (ci/miri.sh). Usage: `ci/sanitizers.sh [thread|address]...` (default: both). Takes
# about 6 minutes on 2 cores from a cold cache, most of it building std twice.
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

# The tests need only the dev-dependencies listed here. The others (criterion, rayon, the peer
# crates) serve the benches and examples; with -Zbuild-std and sanitizer flags they would all be
# rebuilt from source, which is most of the build time. So the sanitizer build uses a copy of the
# manifest without them, in a directory whose src/ and tests/ link to the real ones. A test that
# starts using another dev-dependency fails to compile here: add its name to this list.
# (rayon: tests/arena_default_config.rs starts a rayon pool. tokio: tests/bounded_tokio.rs runs
# bounded pools' futures on a multi-thread runtime, where TSan sees their wake-ups cross real
# threads. hashbrown and serde_json are only used by tests of features this build does not turn
# on.)
test_dev_deps="proptest rayon tokio"
crate="$work/crate"
mkdir -p "$crate"
ln -sfn "$root/src" "$crate/src"
ln -sfn "$root/tests" "$crate/tests"
ln -sfn "$root/README.md" "$crate/README.md" # src/lib.rs includes it as the crate docs
ln -sfn "$root/build.rs" "$crate/build.rs"   # declares and sets the crate's rustc-version cfg
cp "$root/Cargo.lock" "$crate/Cargo.lock"    # same dependency versions as `cargo test`
awk -v keep=" $test_dev_deps " '
    /^\[/ { section = $0; if (section == "[[bench]]") skip = 1; else skip = 0 }
    skip { next }
    section == "[dev-dependencies]" && /^[A-Za-z0-9_-]+ *=/ {
        name = $1; sub(/ *=.*/, "", name)
        if (index(keep, " " name " ") == 0) next
    }
    section == "[dev-dependencies]" && /^#/ { next }
    { print }
' "$root/Cargo.toml" >"$crate/Cargo.toml"
# Its own workspace root: with the default target dir the copy sits inside this repository, and
# cargo would otherwise take the repository's manifest as its workspace.
printf '\n[workspace]\n' >>"$crate/Cargo.toml"
# No [[bench]] targets are declared in the copy and autobenches = false, so benches/ is not read.

run() {
    local sanitizer="$1"
    echo "== ${sanitizer} sanitizer"
    case $sanitizer in
        thread)
            # No suppressions needed: std built with -Zsanitizer=thread (via -Zbuild-std) swaps the
            # fences in Arc's drop, which TSan cannot see, for acquire loads, so Arc raises no
            # false reports, and the suite raises none. halt_on_error: stop at the first report.
            export TSAN_OPTIONS="halt_on_error=1 ${TSAN_OPTIONS:-}"
            ;;
        address)
            # detect_leaks: LeakSanitizer runs at exit; a leaked pool object fails the binary.
            export ASAN_OPTIONS="detect_leaks=1 ${ASAN_OPTIONS:-}"
            ;;
        *) echo "unknown sanitizer $sanitizer (thread or address)" >&2; exit 2 ;;
    esac
    # One target dir per sanitizer: the flags differ, so sharing one would rebuild std each switch.
    # --target: required by -Zbuild-std, and keeps RUSTFLAGS off build scripts and proc macros.
    # No -Cunsafe-allow-abi-mismatch=sanitizer: every crate, std included, is built with the same
    #   -Zsanitizer flag, so nightly's sanitizer ABI check passes as is.
    RUSTFLAGS="-Zsanitizer=$sanitizer ${RUSTFLAGS:-}" \
        CARGO_TARGET_DIR="$work/$sanitizer" \
        cargo "+$toolchain" test -Zbuild-std --target "$target_triple" \
        --manifest-path "$crate/Cargo.toml" --lib --tests -- --test-threads=2
}

sanitizers=("$@")
((${#sanitizers[@]})) || sanitizers=(thread address)
for s in "${sanitizers[@]}"; do
    run "$s"
done
echo "sanitizers: no reports from ${sanitizers[*]}"
