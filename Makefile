# Two commands for a newcomer: `make sync` (see README) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint unit e2e clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check source_sentry unit_tests integration_tests scripts main.py

# Every test: unit tests, the CDK's standard tests, the emulator's own tests and the end-to-end
# runs of the installed command against it over loopback HTTP.
test: lint
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest unit_tests

e2e: $(STAMP)
	$(BIN)/python -m pytest integration_tests

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
