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
    local flags="$1"
    # Two invocations: cargo cannot mix --doc with other target selections.
    MIRIFLAGS="$flags ${MIRIFLAGS:-}" cargo "+$toolchain" miri test --lib --tests
    MIRIFLAGS="$flags ${MIRIFLAGS:-}" cargo "+$toolchain" miri test --doc
}

echo "== miri: stacked borrows"
run "$base"
echo "== miri: tree borrows"
run "$base -Zmiri-tree-borrows"
