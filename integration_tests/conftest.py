"""Fixtures of the connector's end-to-end tests (the emulator's come from sentry_emulator.fixtures)."""

import pytest


@pytest.fixture
def workdir(tmp_path):
    """A directory for one run's config, catalog and state files."""
    return tmp_path
