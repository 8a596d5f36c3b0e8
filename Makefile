# `make run`: install into .venv and start the embedded server (SQLite, no services needed).
# `make test`: install everything the tests need and run the whole suite (needs PostgreSQL and
#              Redis on 127.0.0.1; see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install install-test lint bench bench-aggregates bench-plans

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	cd tests/engine && npm ci --no-audit --no-fund --loglevel=error

run: install
	$(BIN)/dmip serve

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest

bench: install-test
	$(BIN)/python bench/ingest/run.py

bench-aggregates: install-test
	BENCH_DUCKDB_MEMORY=16GB $(BIN)/python bench/aggregates/run.py --submissions 1080000 \
		--rebuilds fast --freshness-seconds 60

bench-plans: install-test
	$(BIN)/python bench/plans/run.py --districts 24
