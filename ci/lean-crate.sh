#!/usr/bin/env bash
# Usage: ci/lean-crate.sh <dir> <path>...
# Makes <dir>/crate, a copy of this crate whose manifest keeps only the dev-dependencies that the
# given paths (files or directories, relative to the repository root) name, and prints its path.
#
# Why: cargo builds every dev-dependency for every test target. Most of ours (criterion, the peer
# pools, jemalloc and mimalloc, whose build scripts compile C) serve only the benches, and a build
# with its own flags (loom's --cfg, a sanitizer, miri) would rebuild them all for nothing. The copy
# has no [[bench]] or [[example]] targets (and autobenches = false; no examples/ to discover), and
# its src/, tests/, README.md (the crate docs) and build.rs are links to the real ones, so it tests
# exactly this crate's code; its Cargo.lock is a copy, so the dependencies it keeps have the
# versions `cargo test` uses.
#
# Which dev-dependencies stay: those whose name (with `-` read as `_`, as in Rust paths) appears as
# a word in the given paths. A test that starts using a new dev-dependency therefore keeps it with
# no list to update; a mention in a comment keeps one needlessly, which costs only build time.
# Dev-dependencies must be written on one line each (`name = ...`), as they are now.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$1"
shift
case $dir in /*) ;; *) dir="$root/$dir" ;; esac

keep=" "
while IFS= read -r name; do
    if (cd "$root" && grep -rqw -- "${name//-/_}" "$@"); then
        keep+="$name "
    fi
done < <(awk '
    /^\[/ { section = $0 }
    section == "[dev-dependencies]" && /^[A-Za-z0-9_-]+ *=/ { sub(/ *=.*/, ""); print }
' "$root/Cargo.toml")

crate="$dir/crate"
mkdir -p "$crate"
for f in src tests README.md build.rs; do
    ln -sfn "$root/$f" "$crate/$f"
done
cp "$root/Cargo.lock" "$crate/Cargo.lock"
awk -v keep="$keep" '
    /^\[/ { section = $0; skip = (section == "[[bench]]" || section == "[[example]]") }
    skip { next }
    section == "[dev-dependencies]" && /^[A-Za-z0-9_-]+ *=/ {
        name = $1; sub(/ *=.*/, "", name)
        if (index(keep, " " name " ") == 0) next
    }
    section == "[dev-dependencies]" && /^#/ { next }
    { print }
' "$root/Cargo.toml" >"$crate/Cargo.toml"
# Its own workspace root: under the default target dir the copy sits inside this repository, and
# cargo would otherwise take the repository's manifest as its workspace.
printf '\n[workspace]\n' >>"$crate/Cargo.toml"
echo "lean crate: dev-dependencies kept:${keep% }" >&2
echo "$crate"
