# The two commands a newcomer needs (see README.md):
#   make run    install dependencies, build, and run the walkthrough (examples/demo.sh)
#   make test   install dependencies, build, and run every test through CTest
# and, for the team:
#   make bench      build and run the benchmarks in bench/ (figures next to their baselines)
#   make asan-test  every unit test again under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz       build the libFuzzer targets with clang-14 and run each for FUZZ_SECONDS (default 60)
#
# The ASan tests and the fuzz targets share one clang-14 tree (build/asan): its libraries are compiled once
# with ASan + UBSan + libFuzzer's coverage instrumentation; the test binaries link without libFuzzer's main,
# the fuzz targets with it. `make asan-test` builds everything there (fuzz targets included), `make fuzz` only
# the fuzz targets and what they need.

BUILD_DIR    ?= build/release
ASAN_DIR     ?= build/asan
FUZZ_DIR     ?= $(ASAN_DIR)
JOBS         ?= $(shell nproc)
FUZZ_SECONDS ?= 60
# BENCH=OFF leaves bench/ out of the release tree (CI does, to stay within its 30 minutes; `make bench` and
# `make run` build them).
BENCH        ?= ON
# UNITY=OFF compiles file by file (CMakeLists.txt: VEIL_UNITY_BUILD), which rebuilds less after a one-file edit;
# the default batches each target's sources, about half the CPU time of a cold build.
UNITY        ?= ON
CMAKE_QUIET  := --log-level=WARNING

# ccache: paths relative to the checkout, so that two clones of the repository (a developer's and CI's) share
# cache entries; with -g (the ASan and fuzz builds) the build directory is then left out of the hash too.
export CCACHE_BASEDIR  ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= true

.PHONY: all deps build run test bench asan-test fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DVEIL_BUILD_BENCH=$(BENCH) -DVEIL_TEST_HOOKS=ON \
	  -DVEIL_UNITY_BUILD=$(UNITY) \
	  $(CMAKE_QUIET)
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@VEIL=$(BUILD_DIR)/tools/veil/veil examples/demo.sh

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

bench: build
	@bench/run.sh $(BUILD_DIR)/bench

# Debug: no NDEBUG; CMakeLists.txt sets -O1 and line-table debug info for the sanitizer builds.
SANITIZE_CONFIG := -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Debug -DVEIL_SANITIZE=ON \
                   -DVEIL_FUZZ=ON -DVEIL_BUILD_BENCH=OFF -DVEIL_TEST_HOOKS=ON -DVEIL_UNITY_BUILD=$(UNITY) \
                   $(CMAKE_QUIET)

# $(call configure_sanitize,DIR): a tree configured with another compiler (build/asan was GCC's before it held
# the fuzz targets too) is configured afresh, since CMake cannot switch a tree's compiler in place.
define configure_sanitize
	@if [ -f $(1)/CMakeCache.txt ] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang++-14$$' $(1)/CMakeCache.txt; then \
	  echo "make: $(1) was configured with another compiler: configuring it afresh with clang-14"; \
	  rm -rf $(1)/CMakeCache.txt $(1)/CMakeFiles; \
	fi
	@cmake -S . -B $(1) $(SANITIZE_CONFIG)
endef

asan-test: deps
	$(call configure_sanitize,$(ASAN_DIR))
	@cmake --build $(ASAN_DIR) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp \
	  ctest --test-dir $(ASAN_DIR) --output-on-failure -j $(JOBS)

fuzz: deps
	$(call configure_sanitize,$(FUZZ_DIR))
	@cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzzers
	@fuzz/run.sh $(FUZZ_DIR)/fuzz $(FUZZ_SECONDS)

clean:
	rm -rf build
