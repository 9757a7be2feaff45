#!/usr/bin/env bash
# Builds the docs the way docs.rs does, from the settings in Cargo.toml's
# [package.metadata.docs.rs] (read here, so the two cannot drift apart): nightly rustdoc, every
# feature if `all-features = true`, and `rustdoc-args` (`--cfg docsrs`, which turns on the
# nightly-only `doc_cfg` feature in src/lib.rs and the feature labels). On top of that, warnings
# are errors, so that a broken intra-doc link or a rejected feature gate fails CI instead of the
# docs.rs build.
set -euo pipefail
cd "$(dirname "$0")/.."

# The value of `key` in [package.metadata.docs.rs], as written (one line per key).
docs_rs() {
    awk -v key="$1" '
        /^\[/ { section = $0; next }
        section == "[package.metadata.docs.rs]" && $1 == key { sub(/^[^=]*= */, ""); print }
    ' Cargo.toml
}
# Only these two keys are read; another one (features, targets, rustc-args ...) would make
# docs.rs build something this script does not.
unknown=$(awk '
    /^\[/ { section = $0; next }
    section == "[package.metadata.docs.rs]" && /=/ && $1 != "all-features" && $1 != "rustdoc-args"
' Cargo.toml)
if [[ -n $unknown ]]; then
    echo "ci/docs.sh reads only all-features and rustdoc-args; [package.metadata.docs.rs] has: $unknown" >&2
    exit 1
fi
features=()
if [[ $(docs_rs all-features) == true ]]; then
    features=(--all-features)
fi
# ["--cfg", "docsrs"] -> --cfg docsrs (arguments without spaces, as these are).
rustdoc_args=$(docs_rs rustdoc-args | tr -d '[],"')

toolchain="${DOCS_TOOLCHAIN:-nightly}"
if ! cargo "+$toolchain" --version >/dev/null 2>&1; then
    rustup toolchain install "$toolchain" --profile minimal
fi

# A separate target dir: nightly would invalidate the stable build's cache.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/docs"
# rustdoc-args go to rustdoc only, as docs.rs passes them (dependencies are compiled without them).
RUSTDOCFLAGS="${RUSTDOCFLAGS:-} $rustdoc_args -D warnings" \
    cargo "+$toolchain" doc --no-deps "${features[@]}"
