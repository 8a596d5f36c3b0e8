# `make run`: install into .venv and start the embedded server (SQLite, no services needed).
# `make test`: install everything the tests need and run the whole suite (needs PostgreSQL and
#              Redis on 127.0.0.1; see README.md).
# `make test-fast`: the domain's tests only (no database, broker or server), in well under a
#              minute: for every change.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast install install-test install-bench lint bench bench-aggregates bench-plans bench-exports bench-odata

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	cd tests/engine && npm ci --no-audit --no-fund --loglevel=error

install-bench: install-test
	$(BIN)/pip install --quiet -e ".[test,bench]"

run: install
	$(BIN)/dmip serve

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

test-fast: install-test
	$(BIN)/pytest -m pure

bench: install-bench
	$(BIN)/python bench/ingest/run.py

bench-aggregates: install-bench
	BENCH_DUCKDB_MEMORY=16GB $(BIN)/python bench/aggregates/run.py --submissions 1080000 \
		--rebuilds fast --freshness-seconds 60

bench-plans: install-bench
	$(BIN)/python bench/plans/run.py --districts 24

bench-exports: install-bench
	$(BIN)/python bench/exports/run.py --submissions 100000

bench-odata: install-bench
	$(BIN)/python bench/odata/run.py --submissions 100000 --runs 20
