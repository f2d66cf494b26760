#!/usr/bin/env bash
# The full performance record (issue 7, docs/performance.md): installs what it
# needs (Debian packages only, idempotent), builds a Release tree in
# build-bench/, and runs bench/run, which writes bench/REPORT.md,
# bench/results/<date>.json and bench/plots/. Extra arguments go to bench/run
# (e.g. --repeats 5, --smoke). Takes ~15 minutes on 2 CPUs; CI runs only the
# smoke form (ctest label bench).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh --bench
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
echo "built build-bench; running bench/run (this takes a while)"
# bench/run re-executes itself under Debian's python3 if the python3 on PATH
# lacks matplotlib.
exec python3 bench/run --bin-dir build-bench "$@"
