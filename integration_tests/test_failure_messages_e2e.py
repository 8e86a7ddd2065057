"""What a failed sync says last (the reason Airbyte shows): ours, naming what to fix."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tools.airbyte_run import COMMAND, catalog, cloud_source, parse, warm_source, write_inputs

pytestmark = pytest.mark.e2e


def test_given_catalog_naming_unknown_streams_when_read_then_config_error_naming_the_closest(
    emulator, workdir: Path
) -> None:
    args = write_inputs(workdir, emulator.config())
    wrong = catalog(["Projects", "alerts_rules", "events"], "full_refresh")
    (workdir / "catalog.json").write_text(json.dumps(wrong))

    result = subprocess.run([COMMAND, "read", *args], capture_output=True, text=True, timeout=240)
    run = parse(result.stdout, result.stderr, result.returncode)

    assert run.returncode == 1
    assert run.records == {}
    assert emulator.requests == []
    (error,) = run.errors
    assert error["failure_type"] == "config_error"
    assert "`Projects` (the closest stream is `projects`)" in error["message"]
    assert "`alerts_rules` (the closest stream is `" in error["message"]
    assert "`events`" not in error["message"]


def test_given_revoked_token_when_read_then_last_error_is_the_first_in_our_words(
    emulator, workdir: Path
) -> None:
    config = emulator.config(auth_token="sntryu_" + "0" * 64)

    run = warm_source("read", workdir, config, streams=["projects", "events"], mode="full_refresh")

    assert run.returncode == 1
    first, last = run.errors[0], run.errors[-1]
    assert first["message"].startswith("Sentry rejected the auth token (401). Create a new token")
    assert last["message"].startswith(first["message"])
    assert last["failure_type"] == "config_error"
    assert "headers" not in last["message"]
    assert "During the sync" not in last["message"]


def test_given_wrong_path_prefix_when_check_and_read_then_messages_name_the_whole_base_url(
    emulator, workdir: Path
) -> None:
    config = emulator.config(hostname=f"{emulator.base_url}/sentry")

    checked = warm_source("check", workdir, config)
    read = warm_source("read", workdir, config, streams=["projects"], mode="full_refresh")

    status = checked.messages[-1]["connectionStatus"]
    assert status["status"] == "FAILED"
    assert f"was not found on {emulator.base_url}/sentry (404)" in status["message"]
    assert read.returncode == 1
    assert f"404 for {emulator.base_url}/sentry/api/0/organizations/" in read.errors[-1]["message"]
    assert {r["path"] for r in emulator.requests} <= {
        "/sentry/api/0/organizations/acme/",
        "/sentry/api/0/organizations/acme/projects/",
    }


def test_given_mistyped_project_slug_when_cloud_manifest_reads_then_config_error_naming_it(
    emulator, workdir: Path
) -> None:
    config = emulator.config(projects=[emulator.project_slugs[0], "frontend-typo"])
    args = write_inputs(workdir, config, ["project_detail", "events"], mode="full_refresh")

    run = cloud_source("read", args, workdir)

    assert run.returncode == 1
    first = run.errors[0]["message"]
    assert first.startswith("Project `frontend-typo` is not in organization `acme` (Sentry answered 404")
    assert {e["failure_type"] for e in run.errors} == {"config_error"}
    typo = "/api/0/projects/acme/frontend-typo/"
    assert {r["path"] for r in emulator.requests if r["path"].startswith(typo)} == {typo}
