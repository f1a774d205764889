# Warehouse. `make run` serves the demo on http://127.0.0.1:8000; `make test` runs the whole suite;
# `make bench` measures gate throughput, pages, the serving path over HTTP and evidence imports from a tracked
# run (never part of `make test`).
# All create the virtual environment first. The environment passes through (DATABASE_URL, ...).

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# Reinstalls only when pyproject.toml changes.
INSTALLED := $(VENV)/.installed
# Gate runs for `make bench` (RUNS=200 for a quick look), models for its serving part, and the MiB of the
# model its import part imports (about twice that in the temporary folder while the run is logged).
RUNS ?= 1000
MODELS ?= 500
IMPORT_MB ?= 100
# Models at full scale for `make bench-scale` (10 versions, about 220 slice metrics and 100 audit events each;
# 1/100 of it is the scale compared against).
SCALE_MODELS ?= 10000

.DEFAULT_GOAL := help
.PHONY: help install run test bench bench-scale migrations-check lint

help:
	@echo "make run               migrate, load the demo, serve http://127.0.0.1:8000 with a Celery worker and beat"
	@echo "make test              run the whole test suite (pytest; pass options with ARGS='-k ...')"
	@echo "make bench             gate throughput, audit verification, pages (RUNS=$(RUNS)); the production lookup over HTTP (MODELS=$(MODELS)); an evidence import from an MLflow run (IMPORT_MB=$(IMPORT_MB))"
	@echo "make bench-scale       every page and API list at 1/100 and full scale (SCALE_MODELS=$(SCALE_MODELS) models; PostgreSQL; ~15 min, ~2 GB of disk)"
	@echo "make install           create $(VENV) and install the project with its test and dev tools"
	@echo "make migrations-check  fail if a model change has no migration"
	@echo "make lint              ruff (lint, formatting), and no module over 500 lines or function over complexity 15"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(INSTALLED)

run: install
	@bash scripts/run.sh

test: install
	$(BIN)/python -m pytest -q $(ARGS)

bench: install
	$(BIN)/python -m bench.gates --runs $(RUNS)
	$(BIN)/python -m bench.serving --models $(MODELS)
	$(BIN)/python -m bench.imports --megabytes $(IMPORT_MB)

bench-scale: install
	$(BIN)/python -m bench.scale --models $(SCALE_MODELS) $(ARGS)

migrations-check: install
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m scripts.shape_check warehouse
