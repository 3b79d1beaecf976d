# Reprise: `make run` serves, `make test` runs every test. Both install what is missing first.
SWIFT ?= swift
CONFIG ?= config/reprise.yaml
AMPACHE_PY ?= 8.3.0
SCHEMATHESIS_PY ?= 4.32.5
OPENSONIC_PY ?= 10.4.1
PYSONIC_PY ?= 1.2.0
SELENIUM_PY ?= 4.27.1

FUZZ_SECONDS ?= 60

.PHONY: deps build run test clean venv bench fuzz sanitize

deps:
	bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

run: build
	$(SWIFT) run reprise serve --config $(CONFIG)

# The suite takes about a minute and a half; a run past 15 minutes is a hang, and fails instead of eating CI's time.
# At most 16 tests run at once: unbounded, some 90 test libraries opened together at the start and
# held nearly 1,000 descriptors, and libmpdclient (select) cannot use one above 1023.
TEST_WIDTH ?= 16
test: deps venv
	$(SWIFT) build --build-tests
	SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(TEST_WIDTH) timeout -k 30 900 $(SWIFT) test --skip-build --parallel --num-workers 2
	@# Tests end every process they start: a player left running is a failure.
	@if pgrep -af '[m]pd-test-|[c]vlc -I http --http-host 127.0.0.1'; then echo "make test: the processes above outlived the suite" >&2; exit 1; fi

# The Python tools the tests drive, pinned: the Ampache client (tests/ampache), the Subsonic clients
# py-opensonic and py-sonic (tests/subsonic), Schemathesis (docs/openapi.yaml) and selenium, which drives
# Debian's chromium through chromium-driver (tests/web).
VENV_STAMP = .venv/.pinned-ampache-$(AMPACHE_PY)-schemathesis-$(SCHEMATHESIS_PY)-opensonic-$(OPENSONIC_PY)-pysonic-$(PYSONIC_PY)-selenium-$(SELENIUM_PY)
venv: deps
	@test -x .venv/bin/python -a -f $(VENV_STAMP) || { /usr/bin/python3 -m venv .venv && .venv/bin/pip install -q ampache==$(AMPACHE_PY) schemathesis==$(SCHEMATHESIS_PY) py-opensonic==$(OPENSONIC_PY) py-sonic==$(PYSONIC_PY) selenium==$(SELENIUM_PY) && touch $(VENV_STAMP); }

# Benchmarks against nginx (bench/bench.py, docs/performance.md); installs nginx+Lua and wrk when missing.
bench: deps
	bash bench/install.sh
	$(SWIFT) build -c release --product reprise --scratch-path .build-bench
	/usr/bin/python3 bench/bench.py

# libFuzzer with AddressSanitizer over each parser (Sources/RepriseFuzz), FUZZ_SECONDS each, from the
# seeds in Fuzz/corpus/<target>/ (a working corpus grows in .build-fuzz/corpus). A crash stops here
# and leaves its input in .build-fuzz/crashes/: fix it, then add the input to Fuzz/corpus/<target>/,
# which make test replays (FuzzCorpusTests).
fuzz: deps
	$(SWIFT) build --product reprise-fuzz --scratch-path .build-fuzz -Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
	@mkdir -p .build-fuzz/crashes
	@for t in $$(.build-fuzz/debug/reprise-fuzz 2>&1 | sed -n 's/.*one of: //p' | tr -d ','); do \
		mkdir -p .build-fuzz/corpus/$$t; \
		echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
		REPRISE_FUZZ_TARGET=$$t .build-fuzz/debug/reprise-fuzz .build-fuzz/corpus/$$t Fuzz/corpus/$$t -max_total_time=$(FUZZ_SECONDS) \
			-max_len=4096 -timeout=5 -rss_limit_mb=2048 -artifact_prefix=.build-fuzz/crashes/$$t- -print_final_stats=1 > .build-fuzz/$$t.log 2>&1 \
			|| { tail -40 .build-fuzz/$$t.log; exit 1; }; \
		grep -E "stat::number_of_executed_units|stat::new_units_added" .build-fuzz/$$t.log; \
	done

# The suite under ThreadSanitizer, then AddressSanitizer (docs/sanitizers.md records the last runs).
sanitize: deps venv
	$(SWIFT) build --build-tests --scratch-path .build-tsan --sanitize=thread
	TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 suppressions=$(CURDIR)/.tsan-suppressions" SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(TEST_WIDTH) timeout -k 30 2400 $(SWIFT) test --skip-build --scratch-path .build-tsan --sanitize=thread --parallel --num-workers 2
	$(SWIFT) build --build-tests --scratch-path .build-asan --sanitize=address
	ASAN_OPTIONS="detect_leaks=0" SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(TEST_WIDTH) timeout -k 30 2400 $(SWIFT) test --skip-build --scratch-path .build-asan --sanitize=address --parallel --num-workers 2

clean:
	rm -rf .build .build-fuzz .build-tsan .build-asan
