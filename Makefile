# Reprise: `make run` serves, `make test` runs every test. Both install what is missing first.
SWIFT ?= swift
CONFIG ?= config/reprise.yaml
AMPACHE_PY ?= 8.3.0
SCHEMATHESIS_PY ?= 4.32.5

.PHONY: deps build run test clean venv bench

deps:
	bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

run: build
	$(SWIFT) run reprise serve --config $(CONFIG)

# The suite takes about a minute; a run past 15 minutes is a hang, and fails instead of eating CI's time.
test: deps venv
	$(SWIFT) build --build-tests
	timeout -k 30 900 $(SWIFT) test --skip-build --parallel --num-workers 2
	@# Tests end every process they start: a player left running is a failure.
	@if pgrep -af '[m]pd-test-|[c]vlc -I http --http-host 127.0.0.1'; then echo "make test: the processes above outlived the suite" >&2; exit 1; fi

# The Python tools the tests drive, pinned: the Ampache client (tests/ampache) and Schemathesis (docs/openapi.yaml).
VENV_STAMP = .venv/.pinned-ampache-$(AMPACHE_PY)-schemathesis-$(SCHEMATHESIS_PY)
venv: deps
	@test -x .venv/bin/python -a -f $(VENV_STAMP) || { /usr/bin/python3 -m venv .venv && .venv/bin/pip install -q ampache==$(AMPACHE_PY) schemathesis==$(SCHEMATHESIS_PY) && touch $(VENV_STAMP); }

# Benchmarks against nginx (bench/bench.py, docs/performance.md); installs nginx+Lua and wrk when missing.
bench: deps
	bash bench/install.sh
	$(SWIFT) build -c release --product reprise --scratch-path .build-bench
	/usr/bin/python3 bench/bench.py

clean:
	rm -rf .build
