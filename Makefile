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

$(BUILD)/CMakeCache.txt: | deps
	@echo "configuring $(BUILD) (cmake)"
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

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

# ThreadSanitizer over the threaded tests (the Concurrency* suites among
# them). TSAN_LAYERS is the layer prefix built: crust_tests depends on the
# tool, which now needs every layer up to vm.
TSAN_LAYERS ?= util;os;store;engine;vm
tsan: deps
	cmake -S . -B build-tsan -DCRUST_TSAN=ON -DCRUST_BUILD_BENCHMARKS=OFF -DCRUST_BUILD_CONTRACTS=OFF \
	  -DCRUST_LAYER_LIST="$(TSAN_LAYERS)" >/dev/null
	cmake --build build-tsan -j $(JOBS) --target crust_tests
	cd build-tsan && TSAN_OPTIONS="second_deadlock_stack=1 $(TSAN_OPTIONS)" \
	  ./crust_tests --gtest_filter='*Concurren*:*Thread*'

asan: deps
	cmake -S . -B build-asan -DCRUST_ASAN=ON -DCRUST_BUILD_BENCHMARKS=OFF >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)

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
