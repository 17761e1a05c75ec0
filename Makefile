# Makefile: a thin wrapper over CMake. Every target installs what is missing
# first (deploy/install-deps.sh), so both commands work on a fresh Debian 12.
#   make demo       build and run the day-in-the-life workflow on bundled data
#   make test       the whole suite: normal build, then ASan+UBSan with fuzzers
#   make test-fast  unit tests only (the edit-test loop)
#   make bench      benchmarks against the peers (BENCHMARKS.md)
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 20

.PHONY: all deps test-deps build demo test test-normal test-asan test-fast bench clean

all: build

deps:
	@deploy/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	./$(BUILD)/cohort run examples/day.yaml

test: test-deps test-normal test-asan

test-deps:
	@deploy/install-deps.sh --test

test-normal: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 900

test-asan: deps
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCOHORT_SANITIZE=ON \
	  -DCOHORT_FUZZ=ON -DCOHORT_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 900

test-fast: build
	cd $(BUILD) && ctest -L fast --output-on-failure -j$(JOBS)

bench: deps
	@deploy/install-deps.sh --bench
	bash bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
