#!/usr/bin/env bash
# make bench: runs the benchmark programs of BUILD_DIR (built already; this
# script builds nothing) and writes markdown tables to stdout. Progress and
# Google Benchmark's console output go to stderr.
#
# Usage: scripts/bench.sh BUILD_DIR [extra benchmark flags, e.g. --benchmark_filter=Commit]
# Environment (read by store_bench and vm_bench): CRUST_BENCH_QUICK=1 (small
# sizes, a few repetitions, under a minute each), CRUST_BENCH_REPS=n,
# CRUST_BENCH_DIR=dir (where stores are created; keep it on the filesystem
# under test; default BUILD_DIR/bench-stores, BUILD_DIR/vm-bench-stores),
# CRUST_BENCH_KEEP=1 (keep the stores); vm_bench also CRUST_BENCH_NODE=path.
set -euo pipefail
build=${1:?usage: scripts/bench.sh BUILD_DIR [benchmark flags]}
shift
# Programs that write markdown tables (--crust_markdown); any other *_bench
# program's console table is printed as is.
md_benches="store_bench vm_bench"
found=0
for name in $md_benches; do [ -x "$build/$name" ] && found=1; done
if [ "$found" = 0 ]; then
  echo "bench: no store_bench or vm_bench in $build; build first (make bench builds them)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "# crust benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$(dirname "$0")/.." rev-parse --short HEAD 2>/dev/null || echo unknown))"
for name in $md_benches; do
  [ -x "$build/$name" ] || { echo "bench: $build/$name not built; skipped" >&2; continue; }
  echo
  echo "## $name"
  echo
  # vm_bench needs <build>/contracts (target crust_contracts) and node for
  # its Node.js comparisons (left out, with a message, when node is missing).
  "$build/$name" --crust_markdown="$tmp/$name.md" "$@" >&2
  cat "$tmp/$name.md"
done

for bin in "$build"/*_bench; do
  [ -x "$bin" ] && [ -f "$bin" ] || continue
  name=$(basename "$bin")
  case " $md_benches " in *" $name "*) continue ;; esac
  echo
  echo "## $name"
  echo
  echo '```'
  "$bin" --benchmark_format=console --benchmark_color=false "$@" 2>&1
  echo '```'
done
