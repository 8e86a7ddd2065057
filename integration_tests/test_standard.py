"""The CDK's standard source tests, offline, against the project's emulator.

The scenario configs in acceptance-test-config.yml point at secrets/emulator_config.json, which
the module fixture writes once the emulator is listening.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airbyte_cdk.test.models.scenario import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from sentry_emulator import Emulator
from source_sentry.packaged.source import PackagedSource

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "secrets" / "emulator_config.json"


@pytest.fixture(scope="module", autouse=True)
def emulator_config():
    with Emulator(seed=7, projects=2, events=120, issues=10, releases=6, rate_limits="none") as emu:
        CONFIG.parent.mkdir(exist_ok=True)
        CONFIG.write_text(json.dumps(emu.config()))
        yield
        CONFIG.unlink(missing_ok=True)


class TestSourceSentry(SourceTestSuiteBase):
    connector = PackagedSource

    @classmethod
    def create_connector(cls, scenario: ConnectorTestScenario | None) -> PackagedSource:
        config = scenario.get_config_dict(connector_root=ROOT, empty_if_missing=True) if scenario else None
        return PackagedSource(config=config)
