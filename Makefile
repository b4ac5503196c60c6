# The two commands: `make run` (main job, offline default) and `make test` (lint + tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAMP_DEV := $(VENV)/.installed-dev
PIP_FLAGS := --disable-pip-version-check -q -c constraints.txt
export TOKENIZERS_PARALLELISM := false

.PHONY: run test lint test-fast test-slow install install-dev clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) torch==2.13.0
	$(BIN)/pip install $(PIP_FLAGS) -e ".[instruct]"
	touch $@

$(STAMP_DEV): $(STAMP)
	$(BIN)/pip install $(PIP_FLAGS) -e ".[dev]"
	touch $@

install: $(STAMP)

install-dev: $(STAMP_DEV)

run: $(STAMP)
	$(BIN)/evoforge run

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	mkdir -p .typecheck && ln -sfn "$(CURDIR)" .typecheck/evoforge
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test-fast: $(STAMP_DEV)
	$(BIN)/pytest -q

test-slow: $(STAMP_DEV)
	$(BIN)/pytest -q -m slow || [ $$? -eq 5 ]  # 5: no slow tests collected

test: lint test-fast test-slow

clean:
	rm -rf $(VENV) build dist *.egg-info
