# Market of One — the two commands a new machine needs: `make demo` and `make test`.
# Both create .venv/ from the pinned lock (requirements.lock) when it is missing or stale.

PYTHON      ?= python3.11
UV_VERSION  := 0.13.9
VENV        := .venv
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
CUSTOMERS   ?= 2000
DATE        ?= 2026-06-30
PYTEST_ARGS ?=

.PHONY: demo test unit engines production venv lock lint bench clean clean-home

venv: $(STAMP)

# The stamp is older than the lock or the metadata -> reinstall (uv makes this quick). Bytecode is compiled at
# install: where PYTHONDONTWRITEBYTECODE is set, every process (Airflow tasks, Spark's Python workers, the CLI)
# would otherwise compile Great Expectations, Airflow and MLflow again on import (about 40% of their import time).
$(STAMP): requirements.lock setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --python $(BIN)/python --quiet --compile-bytecode requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	@touch $(STAMP)

# Re-resolve the whole stack after editing setup.cfg.
# Left out: rfc3987-syntax (and lark, its only user), which jupyter-events' jsonschema[format-nongpl] pulls in. When it
# is installed, jsonschema builds its IRI grammar on import, about 1 CPU-second in every process that imports
# Airflow, Great Expectations or MLflow (each task, each CLI command); jsonschema then just skips the "iri" format.
lock:
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"; }
	$(BIN)/uv pip compile setup.cfg --extra dev --extra jvm --extra notebooks --extra production \
	    --python-version 3.11 --generate-hashes --no-emit-package rfc3987-syntax --no-emit-package lark \
	    -o requirements.lock

demo: $(STAMP)
	$(BIN)/marketofone demo --customers $(CUSTOMERS) --date $(DATE)

# Everything, the three-engine parity run (about 27 minutes on 2 cores beside the rest, most of it the two JVM engines'
# per-statement overhead: they use about 1,400 of its CPU-seconds, the embedded engine about 110) and the
# production-profile run (11 minutes) included. Three workers, each test file whole on one, the longest first
# (tests/conftest.py): the parity run starts at once on one worker, the rest runs beside it on the other two. The
# cores are busy throughout with two workers as with three (vmstat: under 6% idle in every five minutes), yet three
# were faster on fresh clones: 30.2 to 31.0 minutes in three runs, against 37.2 with two. On a later day the same
# suite took 37.9 and 38.4 minutes (before and after that day's changes, back to back): the machine's speed
# varies by that much from day to day, so compare runs of one day only. The one failure a
# three-worker run once had was a real bug, now fixed: Sail numbers a file's byte ranges differently from one write
# to the next, and bronze row ids took that numbering for file order (jobs/ingest/load.py, with_file_positions).
# Progress dots are no measure of a run's progress: written to a file, pytest's output comes in bursts.
test: $(STAMP)
	$(BIN)/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# The daily and weekly DAGs on embedded Sail, classic JVM Spark + Delta and a JVM Spark Connect server with Delta,
# every table compared row for row (tests/integration/test_engines.py), alone.
engines: $(STAMP)
	$(BIN)/python -m pytest -m engines $(PYTEST_ARGS)

# The production profile on this machine (tests/integration/test_production_profile.py), alone: PostgreSQL, the MLflow
# server, a Spark Connect server and Airflow's components as processes; PostgreSQL's server programs must be installed.
production: $(STAMP)
	$(BIN)/python -m pytest -m production $(PYTEST_ARGS)

# The inner loop: tests/unit, which mirrors the package: tiny frames, no generated bank, no trained model, no
# whole step or DAG run, no started process, server or JVM (those are tests/integration, run by `make test`).
# Two workers (pytest-xdist), each with its own embedded engine: the tests are small, so the two cores halve it.
unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests/unit $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check jobs dags tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/pipeline.py --customers $(CUSTOMERS)

clean-home:
	rm -rf .marketofone

clean: clean-home
	rm -rf $(VENV)
