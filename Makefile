# Entry points for people and CI. Both main targets install missing Debian
# packages first (scripts/install-deps.sh is idempotent and fast when nothing
# is missing).
BUILD ?= build
JOBS ?= $(shell nproc)
STORE ?= ./crust-store

.PHONY: all deps build demo test bench tsan asan clean install

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	bash scripts/demo.sh $(BUILD) $(STORE)

test: build
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

# Installs headers, libcrust.so/.a, the crust tool, the CMake package, crust.pc
# and the bindings under PREFIX (docs/embedding.md).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) build-tsan build-asan
