#!/usr/bin/env bash
# Builds the docs the way docs.rs does: nightly rustdoc, `--cfg docsrs` (which turns on the
# nightly-only `doc_cfg` feature in src/lib.rs), every feature, and warnings as errors so that
# a broken intra-doc link or a rejected feature gate fails CI instead of the docs.rs build.
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain="${DOCS_TOOLCHAIN:-nightly}"
if ! cargo "+$toolchain" --version >/dev/null 2>&1; then
    rustup toolchain install "$toolchain" --profile minimal
fi

# A separate target dir: nightly and `--cfg docsrs` would invalidate the stable build's cache.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/docs"
# --cfg docsrs for rustc as well as rustdoc, as docs.rs sets both.
RUSTFLAGS="${RUSTFLAGS:-} --cfg docsrs" \
RUSTDOCFLAGS="${RUSTDOCFLAGS:-} --cfg docsrs -D warnings" \
    cargo "+$toolchain" doc --no-deps --all-features
