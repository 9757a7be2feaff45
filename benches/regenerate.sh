#!/usr/bin/env bash
# Regenerates the bench report from one fresh `cargo bench` run: the results section of
# benches/README.md, one SVG chart per group in benches/charts/, and the comparison figures of
# README.md, each with the commit, date and machine (benches/report_gen, run as the example
# `bench_report`).
#
#     bash benches/regenerate.sh
#
# Every bench runs (the release build, then several minutes of measuring): run it when `uptime`
# shows the machine quiet, on the commit the figures are for.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -gt 0 ]]; then
    echo "usage: bash benches/regenerate.sh (no arguments: it runs every bench)" >&2
    exit 2
fi

echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
# Only this run's results: criterion keeps every earlier run's files, and a case this run did not
# measure would keep its old figures.
rm -rf "${CARGO_TARGET_DIR:-target}/criterion"
cargo bench
cargo run --release --example bench_report
