#!/usr/bin/env bash
# make bench: runs the benchmark programs of BUILD_DIR (built already; this
# script builds nothing) and writes markdown tables to stdout. Progress and
# Google Benchmark's console output go to stderr.
#
# Usage: scripts/bench.sh BUILD_DIR [extra benchmark flags, e.g. --benchmark_filter=Commit]
# Environment (read by store_bench): CRUST_BENCH_QUICK=1 (small sizes, a few
# repetitions, under a minute), CRUST_BENCH_REPS=n, CRUST_BENCH_DIR=dir (where
# stores are created; keep it on the filesystem under test; default
# BUILD_DIR/bench-stores), CRUST_BENCH_KEEP=1 (keep the stores).
set -euo pipefail
build=${1:?usage: scripts/bench.sh BUILD_DIR [benchmark flags]}
shift
if [ ! -x "$build/store_bench" ]; then
  echo "bench: $build/store_bench not found; build first (make bench builds it)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "# crust benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$(dirname "$0")/.." rev-parse --short HEAD 2>/dev/null || echo unknown))"
echo
echo "## store_bench"
echo
"$build/store_bench" --crust_markdown="$tmp/store.md" "$@" >&2
cat "$tmp/store.md"

# Any other benchmark program: its console table, as is.
for bin in "$build"/*_bench; do
  [ -x "$bin" ] && [ -f "$bin" ] || continue
  name=$(basename "$bin")
  [ "$name" = store_bench ] && continue
  echo
  echo "## $name"
  echo
  echo '```'
  "$bin" --benchmark_format=console --benchmark_color=false "$@" 2>&1
  echo '```'
done
