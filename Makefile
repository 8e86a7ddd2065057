# Two commands for a newcomer: `make sync` (see README) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# One stamp per set of extras, so `make sync` does not install the test tools and `make test`
# does not reinstall what `make sync` already put there.
SYNC_STAMP  := $(VENV)/.installed-sync
TEST_STAMP  := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
# The pinned versions everything here installs (the image installs requirements/runtime.lock).
LOCK        := requirements/dev.lock

.PHONY: install sync test lint typecheck unit e2e image-test bench clean lock lock-upgrade newest-cdk

$(BIN)/python:
	@echo "Creating $(VENV) with $(PYTHON) ..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(SYNC_STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	@echo "Installing source-sentry and PyAirbyte into $(VENV) (a minute or two on a fresh machine) ..."
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[airbyte]'
	touch $@

# Exactly the lock, then the package itself without resolving again.
$(TEST_STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	@echo "Installing source-sentry with its test tools, PyAirbyte and the benchmark's tools into $(VENV) ..."
	$(BIN)/pip install --quiet -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(BENCH_STAMP): $(TEST_STAMP)
	touch $@

install: $(TEST_STAMP)

# Sync every stream into a local DuckDB file through PyAirbyte, then sync again incrementally.
# CONFIG=path/to/config.json syncs that Sentry organization; without it, the project's Sentry
# emulator starts on 127.0.0.1 with sample data and is synced instead.
sync: $(SYNC_STAMP)
	AIRBYTE_OFFLINE_MODE=1 $(BIN)/python -m tools.local_sync $(if $(CONFIG),--config '$(CONFIG)')

LINTED := source_sentry sentry_emulator tools unit_tests integration_tests main.py
lint: $(TEST_STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

# mypy over the connector (strict), the emulator and the tools (strict but for the checks that
# demand an annotation everywhere); the settings, and why, are in pyproject.toml.
typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# Every test: unit tests, the CDK's standard tests, the emulator's own tests, the end-to-end
# runs of the installed command against it over loopback HTTP, the local sync and the
# benchmark's smoke mode. Two pytest-xdist workers, one group of tests each at a time (a test
# file, or one of the benchmark's smoke sections; the longest first: see conftest.py): about 80%
# of the suite's time is one core's worth of subprocesses and emulators, so two cores halve it.
# TEST_WORKERS=0 runs everything in this one process. The webhook receiver's tests start their
# own PostgreSQL on 127.0.0.1 and need Debian's server package: apt-get install -y postgresql.
TEST_WORKERS ?= 2
test: lint typecheck
	$(BIN)/python -m pytest --durations=25 $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder)

unit: $(TEST_STAMP)
	$(BIN)/python -m pytest unit_tests

e2e: $(TEST_STAMP)
	$(BIN)/python -m pytest integration_tests

# Build the image from the Dockerfile with buildah (no Docker engine needed) on a stand-in base
# cached in ~/.cache/source-sentry/image, and run it against the emulator: spec, check, discover,
# read, notify, the pipeline step, the GitHub action and the GitLab template. Needs root and
# `apt-get install buildah debootstrap`; not part of `make test`.
image-test: $(TEST_STAMP)
	@command -v buildah >/dev/null && command -v debootstrap >/dev/null || \
		{ echo "make image-test needs buildah and debootstrap: apt-get install -y buildah debootstrap"; exit 1; }
	$(BIN)/python -m pytest integration_tests/image -m image_build

# The full benchmark (not part of `make test`): writes docs/benchmarks.md.
bench: $(BENCH_STAMP)
	$(BIN)/python -m tools.bench $(BENCH_ARGS)

# Regenerate the locks from pyproject.toml after a dependency is added or its range changed.
# uv (the version the lock itself pins, PyAirbyte's) resolves in seconds, for every platform at
# once (--universal), and keeps every version already pinned that still fits: the same
# pyproject.toml gives the same locks. `make lock-upgrade` moves every pin to the newest that fits.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --quiet --custom-compile-command "make lock"
lock: | $(BIN)/python
	$(BIN)/pip install --quiet "$$(grep '^uv==' $(LOCK))"
	$(UV_COMPILE) $(UV_ARGS) --extra test --extra airbyte --extra bench -o $(LOCK)
	$(UV_COMPILE) -c $(LOCK) -o requirements/runtime.lock

lock-upgrade:
	$(MAKE) lock UV_ARGS=--upgrade

# The wing's tests against the newest airbyte-cdk 7.x that resolves, in a venv of its own (no
# lock; uv resolves in seconds): the focused subset, a few minutes. .ci/run runs it after make
# test; the summary names each patch that no longer fits (unit_tests/packaged/conftest.py).
NEWEST := .venv-newest-cdk
newest-cdk: $(TEST_STAMP)
	rm -rf $(NEWEST)
	$(BIN)/uv venv --quiet --python $(BIN)/python $(NEWEST)
	$(BIN)/uv pip install --quiet --python $(NEWEST)/bin/python -e '.[test]' 'airbyte-cdk>=7,<8'
	$(NEWEST)/bin/python -m pytest -p no:cacheprovider -q -n $(TEST_WORKERS) --dist loadfile \
		unit_tests/packaged integration_tests/test_packaged_equivalence.py \
		--deselect unit_tests/packaged/test_door.py::test_given_installed_versions_when_asked_then_they_are_the_tested_ones

clean:
	rm -rf $(VENV) $(NEWEST) build *.egg-info .pytest_cache .ruff_cache
