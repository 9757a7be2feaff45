#!/usr/bin/env bash
# Runs the unit, integration and doc tests under miri, which checks every unsafe line for
# undefined behaviour: once with Stacked Borrows and once with Tree Borrows, both with strict
# provenance. Loom models (cfg(hotpool_loom) only) and benches are not part of `cargo miri test`.
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain="${MIRI_TOOLCHAIN:-nightly}"
if ! cargo "+$toolchain" miri --version >/dev/null 2>&1; then
    rustup toolchain install "$toolchain" --profile minimal
    rustup component add miri rust-src --toolchain "$toolchain"
fi
cargo "+$toolchain" miri setup

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/miri"
# -Zmiri-strict-provenance: integer-to-pointer casts are errors, so provenance bugs cannot hide.
base="-Zmiri-strict-provenance"

run() {
    local flags="$1" docs="$2"
    # Two invocations: cargo cannot mix --doc with other target selections.
    MIRIFLAGS="$flags ${MIRIFLAGS:-}" cargo "+$toolchain" miri test --lib --tests
    if [ "$docs" = with-docs ]; then
        MIRIFLAGS="$flags ${MIRIFLAGS:-}" cargo "+$toolchain" miri test --doc
    fi
}

echo "== miri: stacked borrows (unit, integration and doc tests)"
run "$base" with-docs
# The doc tests (~200, each its own binary) take half of miri's time and exercise the same
# unsafe code as the tests, through the public API: under tree borrows the unit and integration
# tests only, which keeps CI inside its time budget.
echo "== miri: tree borrows (unit and integration tests)"
run "$base -Zmiri-tree-borrows" no-docs
