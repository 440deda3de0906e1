# Two commands on a fresh machine: `make demo` and `make test` (see README).
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
# checkov's own environment (its pins clash with the project's): infra/terraform/checkov.requirements.txt
CHECKOV_VENV := .venv-checkov
CHECKOV_LOCK := infra/terraform/checkov.requirements.txt
UV := $(VENV)/bin/uv
export UNMOGROWP_HOME ?= $(CURDIR)/.lakehouse
export DAGSTER_HOME ?= $(UNMOGROWP_HOME)/dagster
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: demo test lint checkov-lock dev mlflow feast-ui report clickhouse clickhouse-stop bench bench-server lock clean

# Debian packages the tests and the demo start: redis-server (Feast's production online store) and
# chromium (the browser tests drive the Dagster UI with Playwright; it cannot download its own here),
# g++ (ChannelAttribution, the Markov reference the tests compare with, builds from its sdist).
# Each package installs the command of its name; the missing ones are installed.
APT_PACKAGES := redis-server chromium g++
.PHONY: system-packages
system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do command -v $$p >/dev/null || echo $$p; done); \
	[ -z "$$missing" ] || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "apt-get install $$missing"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; }

# The environment: uv from PyPI, then exactly the versions in uv.lock (editable project).
$(VENV)/.synced: pyproject.toml uv.lock | system-packages
	@test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install -q uv==$(UV_VERSION); }
	$(UV) sync --frozen --compile-bytecode --python $(VENV)/bin/python
	@touch $@

$(CHECKOV_VENV)/.synced: $(CHECKOV_LOCK) | $(VENV)/.synced
	@test -x $(CHECKOV_VENV)/bin/python || $(UV) venv -q --python $(VENV)/bin/python $(CHECKOV_VENV)
	$(UV) pip sync -q --require-hashes --python $(CHECKOV_VENV)/bin/python $(CHECKOV_LOCK)
	@touch $@

checkov-lock: $(VENV)/.synced
	$(UV) pip compile -q --python-version 3.11 --generate-hashes --no-header \
	  --custom-compile-command "make checkov-lock" infra/terraform/checkov.in -o $(CHECKOV_LOCK)

demo: $(VENV)/.synced
	@test -f $(DAGSTER_HOME)/dagster.yaml || $(VENV)/bin/python -m orchestration.launcher $(DAGSTER_HOME) >/dev/null
	$(VENV)/bin/python -m orchestration.demo $(if $(filter 1,$(UNMOGROWP_DEMO_REDIS)),--redis)

# the whole suite, the linters (tests/test_linters.py: ruff, import-linter, sqlfluff) included
test: $(VENV)/.synced $(CHECKOV_VENV)/.synced
	$(VENV)/bin/python -m pytest

lint: $(VENV)/.synced $(CHECKOV_VENV)/.synced
	$(VENV)/bin/python -m pytest -q tests/test_linters.py

dev: $(VENV)/.synced clickhouse
	@test -f $(DAGSTER_HOME)/dagster.yaml || $(VENV)/bin/python -m orchestration.launcher $(DAGSTER_HOME) >/dev/null
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# the UIs the Dagster asset pages link to: MLflow runs (the local store) and Feast feature views
mlflow: $(VENV)/.synced
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(UNMOGROWP_HOME)/mlflow/mlflow.db -h 127.0.0.1 -p 5000

feast-ui: $(VENV)/.synced
	$(VENV)/bin/feast -c ml/feature_repo ui -h 127.0.0.1 -p 8888

clickhouse: $(VENV)/.synced
	$(VENV)/bin/unmogrowp clickhouse start

clickhouse-stop: $(VENV)/.synced
	$(VENV)/bin/unmogrowp clickhouse stop

# every stage at 1x, 3x and 10x data with peers and machine limits: a table, and JSON in .lakehouse/bench/
# (about 20-25 min; `make bench BENCH_ARGS=--quick` is a smoke run, `--help` lists the options)
bench: $(VENV)/.synced
	$(VENV)/bin/python -m benchmarks.harness $(BENCH_ARGS)

# the local ClickHouse server against in-process chDB (insert/select throughput, round trips)
bench-server: $(VENV)/.synced
	$(VENV)/bin/python benchmarks/clickhouse_server.py

lock:
	$(UV) lock

clean: clickhouse-stop
	rm -rf .lakehouse
