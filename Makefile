# The two commands of the README: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: demo test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install when pyproject.toml changes.
$(VENV)/.demo-deps: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[ml,search,api,report]"
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[ml,search,api,report,browser,spark,dev]"
	touch $@ $(VENV)/.demo-deps

demo: $(VENV)/.demo-deps
	$(BIN)/shopsense demo

lint: $(VENV)/.test-deps
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.test-deps
	$(BIN)/mypy

unit: $(VENV)/.test-deps
	$(BIN)/pytest -n 2 -q

test: lint typecheck unit

bench: $(VENV)/.test-deps
	$(BIN)/python benchmarks/ingest_throughput.py

clean:
	rm -rf $(VENV) shopsense-data .mypy_cache .ruff_cache .pytest_cache
