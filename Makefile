# Shortcuts for the commands in README.md. `make setup && make demo` on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: setup test demo dev catalogue catalogue-check snapshot

setup: $(BIN)/cb-pipeline

$(BIN)/cb-pipeline: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[test]'
	touch $@

test: setup
	$(BIN)/pytest

demo: setup
	$(BIN)/cb-pipeline demo

# The Dagster UI on http://127.0.0.1:3000 over the same definitions; run history kept in .dagster_home/.
dev: setup
	mkdir -p .dagster_home
	test -f .dagster_home/dagster.yaml || cp deploy/dagster.local.yaml .dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(BIN)/dagster dev -w workspace.yaml

catalogue: setup
	$(BIN)/cb-pipeline catalogue

catalogue-check: setup
	$(BIN)/cb-pipeline catalogue --check

# Regenerate the checked-in snapshot of the Dagster definitions after changing models or feeds.
snapshot: setup
	CB_UPDATE_SNAPSHOT=1 $(BIN)/pytest cb_pipeline_tests/test_definitions.py
