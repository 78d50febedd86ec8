# Entry points for people and CI. Both main targets install missing Debian
# packages first (scripts/install-deps.sh is idempotent and fast when nothing
# is missing).
BUILD ?= build
JOBS ?= $(shell nproc)
STORE ?= ./crust-store

.PHONY: all deps build demo test bench tsan asan fuzz clean install
SHELL := /bin/bash
MAKEFLAGS += --no-print-directory

all: build

deps:
	@bash scripts/install-deps.sh

# CMAKE_ARGS: extra configure options, e.g. -DCRUST_WERROR=ON (CI).
CMAKE_ARGS ?=
$(BUILD)/CMakeCache.txt: | deps
	@echo "configuring $(BUILD) (cmake)"
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The demo builds only what it runs (the tool, the demo program, the library
# and the example contracts); the build's own output goes to
# $(BUILD)/demo-build.log and only its progress is shown.
# (only the example contracts: not the benchmarks' or the SDK tests').
DEMO_CONTRACTS = $(addprefix crust_contract_,$(basename $(notdir $(wildcard contracts/examples/*.c))))
DEMO_TARGETS = crust_tool crust_demo $(DEMO_CONTRACTS)
demo: deps $(BUILD)/CMakeCache.txt
	@echo "demo: building the tool, the library and the example contracts (log: $(BUILD)/demo-build.log)"
	@set -o pipefail; cmake --build $(BUILD) -j $(JOBS) --target $(DEMO_TARGETS) -- --no-print-directory 2>&1 | \
	  tee $(BUILD)/demo-build.log | sed -nu -E 's/^\[ *[0-9]+%\] Built target (.*)/\1/p' | \
	  awk '!seen[$$0]++ { print "demo: built " $$0; fflush() }' || \
	  { echo "demo: build failed; see $(BUILD)/demo-build.log" >&2; tail -30 $(BUILD)/demo-build.log >&2; exit 1; }
	@bash scripts/demo.sh $(BUILD) $(STORE)

test: build
	@bash scripts/install-deps.sh --test
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

bench: build
	bash scripts/bench.sh $(BUILD)

# ThreadSanitizer over the tests labelled `concurrency` (ctest -L; the
# threaded tests: sessions sharing a store, task pool, caches), built with
# clang (which also keeps the library, the tool and these tests building with
# clang). Only the test binaries holding such tests are built (not
# crust_vm_tests), without the contracts or benchmarks. docs/testing.md.
TSAN_LABELS ?= concurrency
TSAN_TARGETS ?= crust_util_tests crust_os_tests crust_store_tests crust_engine_tests crust_tests
tsan: deps
	CC=clang CXX=clang++ cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRUST_TSAN=ON \
	  -DCRUST_BUILD_BENCHMARKS=OFF -DCRUST_BUILD_CONTRACTS=OFF $(CMAKE_ARGS) >/dev/null
	cmake --build build-tsan -j $(JOBS) --target $(TSAN_TARGETS)
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 $(TSAN_OPTIONS)" \
	  ctest --output-on-failure -j $(JOBS) -L '$(TSAN_LABELS)'

# AddressSanitizer + UBSan (undefined behaviour is an error) over the tests
# labelled ASAN_LABELS (default `unit`; ASAN_LABELS=. runs every test).
ASAN_LABELS ?= unit
# The engine turns guard-page faults (SIGSEGV, SIGBUS) and SIGFPE into wasm
# traps: its handlers, not ASan's, must get them. Leaks fail the test.
ASAN_TEST_OPTIONS = detect_leaks=1:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:allow_user_segv_handler=1
# ASAN_TARGETS: what to build (default: everything; .ci/run builds the
# util, os, store and engine test binaries: tests of binaries not built are
# skipped).
ASAN_TARGETS ?= all
# ASAN_EXCLUDE: a ctest -E regex of tests not to run (e.g. tests of targets
# ASAN_TARGETS leaves out that are not gtest binaries).
ASAN_EXCLUDE ?=
asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRUST_ASAN=ON -DCRUST_BUILD_BENCHMARKS=OFF \
	  $(CMAKE_ARGS) >/dev/null
	cmake --build build-asan -j $(JOBS) --target $(ASAN_TARGETS)
	cd build-asan && ASAN_OPTIONS="$(ASAN_TEST_OPTIONS) $(ASAN_OPTIONS)" UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -L '$(ASAN_LABELS)' $(if $(ASAN_EXCLUDE),-E '$(ASAN_EXCLUDE)')

# libFuzzer targets (clang, ASan + UBSan) in build-fuzz, each run for
# FUZZ_SECONDS on its seed corpus (fuzz/run.sh, docs/testing.md).
FUZZ_SECONDS ?= 60
# FUZZ_RUNS=N: reproducible runs (fixed seed, N inputs per target; .ci/run)
FUZZ_RUNS ?=
fuzz: deps
	JOBS=$(JOBS) FUZZ_RUNS=$(FUZZ_RUNS) bash fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

# Installs headers, libcrust.so/.a, the crust tool, the CMake package, crust.pc
# and the bindings under PREFIX (docs/embedding.md).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) build-tsan build-asan build-fuzz
