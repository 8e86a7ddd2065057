"""The command run with no arguments and Drone/Woodpecker plugin settings in the environment,
as the Docker image runs as a pipeline step, records the release and deploy."""

from __future__ import annotations

import os
import subprocess

import pytest

from tools.airbyte_run import COMMAND

pytestmark = pytest.mark.e2e


def test_given_plugin_settings_and_no_arguments_when_run_then_release_and_deploy_recorded(emulator) -> None:
    env = {
        **os.environ,
        "PLUGIN_SENTRY_AUTH_TOKEN": emulator.token,
        "PLUGIN_SENTRY_ORGANIZATION": emulator.organization,
        "SENTRY_URL": emulator.base_url,
        "PLUGIN_SENTRY_PROJECT": emulator.project_slugs[0],
        "PLUGIN_SENTRY_RELEASE_VERSION": "3.1.4+ci",
        "PLUGIN_SENTRY_RELEASE_ENVIRONMENT": "staging",
    }

    result = subprocess.run([COMMAND], capture_output=True, text=True, env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "Release 3.1.4+ci created (201)" in result.stdout
    assert "to staging recorded" in result.stdout
    assert emulator.token not in result.stdout + result.stderr
    posts = [r for r in emulator.requests if r["method"] == "POST"]
    assert [r["path"].split("/")[-2] for r in posts] == ["releases", "deploys"]
