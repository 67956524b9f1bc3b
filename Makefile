# Strangler: two commands on a fresh machine.
#   make up    - build .venv, migrate, seed (first run), run the whole stack on SQLite
#   make test  - build .venv, run every test of every part (PostgreSQL-backed ones too when reachable)
# Every install step lives here; nothing is installed by hand.

SHELL := /bin/bash
PYTHON := $(shell tools/find-python)
VENV := .venv
PY := $(VENV)/bin/python
# An installable part is a folder whose pyproject.toml has a [project] table (e2e/ and tests/ only configure pytest).
PARTS := $(patsubst %/pyproject.toml,%,$(shell grep -l '^\[project\]' */pyproject.toml extracted/*/pyproject.toml 2>/dev/null))
PART_PROJECTS := $(foreach p,$(PARTS),$(p)/pyproject.toml)

.PHONY: help venv up demo test fuzz lint fmt typecheck bench-proxy bench-data clean

help:
	@echo "make up          run the stack on SQLite (monolith, services, proxy) and print its URLs"
	@echo "make demo        a stack of its own, clients on it, the catalog walked while the console shows it (DEMO_PAUSE)"
	@echo "make test        run every test of every part (see README for PostgreSQL)"
	@echo "make fuzz        the proxy's fuzzers (client side, faulty upstream), long (FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) inputs)"
	@echo "make lint        ruff + import boundaries;  make typecheck  mypy strict on proxy, playbook, inventory"
	@echo "make bench-proxy / bench-data   benchmarks (not tests), printed as ratios to the reference"

venv: $(VENV)/.installed $(VENV)/.compiled

# The proxy's hot path compiled by mypyc into $(VENV)/strangler_compiled (proxy/build_compiled.py), rebuilt whenever
# a proxy source changes; the proxy runs pure Python until then (and wherever no C compiler exists).
$(VENV)/.compiled: $(VENV)/.installed proxy/build_compiled.py $(shell find proxy/src/strangler_proxy -name '*.py')
	$(PY) proxy/build_compiled.py
	@touch $@

$(VENV)/bin/python:
	@test -n "$(PYTHON)" || { echo "no Python >= 3.12 found (see above)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall whenever a part's dependencies change.
$(VENV)/.installed: $(VENV)/bin/python requirements-dev.txt $(PART_PROJECTS)
	$(PY) -m pip install --quiet -r requirements-dev.txt $(foreach p,$(PARTS),-e ./$(p))
	@touch $@

up: venv
	$(PY) tools/stack.py up

# DEMO_PAUSE seconds between steps (default 20), DEMO_RATE requests a second, DEMO_STICKY sticky clients.
demo: venv
	$(PY) tools/demo.py

test: venv
	$(PY) tools/run_tests.py

# make test runs the fuzzers for about a minute and a half; this runs them for as long as FUZZ_EXAMPLES takes.
FUZZ_EXAMPLES ?= 30000
fuzz: venv
	cd proxy && STRANGLER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) STRANGLER_UPSTREAM_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
		../$(PY) -m pytest -q -p no:cacheprovider --hypothesis-show-statistics \
		tests/http/test_fuzz_differential.py tests/http/test_fuzz_upstream.py

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	cd monolith && ../$(VENV)/bin/lint-imports
	cd migration-playbook && ../$(VENV)/bin/lint-imports --no-cache
	cd proxy && ../$(VENV)/bin/lint-imports

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: venv
	$(VENV)/bin/mypy --strict proxy/src migration-playbook/src
	$(VENV)/bin/mypy --strict extracted/inventory/inventory_service

bench-proxy: venv
	$(PY) bench/proxy/run.py
	$(PY) bench/proxy/nginx_export.py

# The data benchmark's specialist reference is Debian's pgcopydb: installed here when missing (as root), or named.
bench-data: venv
	@command -v pgcopydb >/dev/null || { test "$$(id -u)" = 0 \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgcopydb >/dev/null; } \
		|| { echo "bench-data needs Debian's pgcopydb: run 'apt-get install pgcopydb' as root (or make bench-data as root)"; exit 1; }
	$(PY) bench/data/run.py
	$(PY) bench/data/cutover_hold.py

clean:
	rm -rf $(VENV) .run
