# clipdex — the two commands a newcomer needs are `make demo` and `make test`; each installs
# what it needs first (scripts/deps.sh, idempotent). The demo needs the Debian packages and the
# emoji drawings only, and builds the `clipdex` program only.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
MODEL ?=
PYTEST = .venv/bin/python -m pytest

.PHONY: all deps deps-system deps-demo build build-cli build-asan test test-unit test-asan test-conformance demo bench format clean

all: build

deps:
	scripts/deps.sh

deps-system:
	scripts/deps.sh --system

deps-demo:
	scripts/deps.sh --demo

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCLIPDEX_UNITY=ON

build: deps-system $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The program and the helper it spawns (SVG rendering), nothing else.
build-cli: deps-system $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target clipdex clipdex-svg-worker

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLIPDEX_SANITIZE=ON -DCLIPDEX_NATIVE=OFF -DCLIPDEX_BENCH=OFF

build-asan: deps-system $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test: deps build build-asan
	$(MAKE) --no-print-directory test-unit test-asan test-conformance

test-unit:
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

test-asan:
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS) --timeout 1800 -E "$(ASAN_EXCLUDE)"

test-conformance:
	CLIPDEX_STRICT=1 CLIPDEX_BUILD_DIR=$(abspath $(BUILD)) $(PYTEST) -q tests

demo: deps-demo build-cli
	BUILD=$(BUILD) scripts/demo.sh $(MODEL)

bench: deps build
	scripts/bench.sh

format:
	find include src tests bench -name '*.h' -o -name '*.cpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
