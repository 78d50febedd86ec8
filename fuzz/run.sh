#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan; fuzz/CMakeLists.txt) in
# BUILD (default build-fuzz) and runs each for SECONDS seconds (default 60)
# on its seed corpus fuzz/corpus/<target>/ (read only; new inputs go to
# BUILD/corpus/<target>/). Stops with a non-zero status at the first crash,
# leak or timeout; the input is kept in BUILD/crashes/<target>/ — turn it into
# a regression test (docs/testing.md, "Fuzzing").
#   usage: fuzz/run.sh [BUILD] [SECONDS]     FUZZ_TARGETS="a b" to pick targets
# FUZZ_RUNS=N makes the run reproducible (CI): a fixed seed and N inputs per
# target (N/100 for deploy_fuzz and N/1000 for differential_fuzz, which run
# the slow paths), SECONDS then only a safety bound. Without it each target
# runs for SECONDS with a random seed (exploration: `make fuzz`).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
SECS=${2:-60}
JOBS=${JOBS:-$(nproc)}
TARGETS=${FUZZ_TARGETS:-"deploy_fuzz index_fuzz delta_fuzz memory_image_fuzz prepared_entry_fuzz run_script_fuzz differential_fuzz"}

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  # Build type None: the fuzz flags (-O1, line tables) come from CMakeLists.txt.
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=None -DCRUST_BUILD_FUZZ=ON \
    -DCRUST_BUILD_TESTS=OFF -DCRUST_BUILD_BENCHMARKS=OFF -DCRUST_BUILD_CONTRACTS=OFF >/dev/null
fi
cmake --build "$BUILD" -j "$JOBS" --target fuzz_all

for t in $TARGETS; do
  work="$BUILD/corpus/$t"
  crashes="$BUILD/crashes/$t"
  mkdir -p "$work" "$crashes"
  opts=(-max_total_time="$SECS" -rss_limit_mb=2048 -timeout=60 -artifact_prefix="$crashes/" -print_final_stats=1)
  if [ -n "${FUZZ_RUNS:-}" ]; then
    runs=$FUZZ_RUNS
    [ "$t" = deploy_fuzz ] && runs=$((FUZZ_RUNS / 100))
    [ "$t" = differential_fuzz ] && runs=$((FUZZ_RUNS / 1000))
    opts+=(-seed=1 -runs="$runs")
  fi
  asan="detect_leaks=1"
  if [ "$t" = differential_fuzz ]; then
    # The runtime turns wasm traps (guard-page faults, SIGFPE) into results:
    # leave those signals to it.
    opts+=(-handle_segv=0 -handle_bus=0 -handle_fpe=0)
    asan="handle_segv=0:handle_sigbus=0:handle_sigfpe=0:allow_user_segv_handler=1:detect_leaks=0"
  fi
  echo "== $t: ${FUZZ_RUNS:+seed 1, }${SECS}s at most"
  ASAN_OPTIONS="$asan" UBSAN_OPTIONS=print_stacktrace=1 "$BUILD/fuzz/$t" "${opts[@]}" "$work" "fuzz/corpus/$t" 2>"$BUILD/$t.log" || {
    tail -60 "$BUILD/$t.log"
    echo "fuzz: $t failed; input kept in $crashes/" >&2
    exit 1
  }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$BUILD/$t.log" | tr '\n' ' '
  echo
done
