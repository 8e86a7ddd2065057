"""`check` proves what `read` will need: each stream's own request shape, and configured projects
that exist. Against the Sentry emulator over loopback HTTP."""

from __future__ import annotations

import pytest

from tools.airbyte_run import warm_source

pytestmark = pytest.mark.e2e


def connection_status(run) -> dict:
    return next(m["connectionStatus"] for m in run.messages if m["type"] == "CONNECTION_STATUS")


def test_given_good_config_when_check_then_each_stream_request_is_sent_as_the_sync_sends_it(
    emulator, workdir
) -> None:
    run = warm_source("check", workdir, emulator.config())

    assert connection_status(run)["status"] == "SUCCEEDED"
    issues = [r for r in emulator.requests if r["path"].endswith("/issues/")]
    events = [r for r in emulator.requests if r["path"].endswith("/events/") and "full" in r["query"]]
    assert issues, [r["path"] for r in emulator.requests]
    assert issues[0]["query"]["query"][0].startswith("lastSeen:>=")
    assert issues[0]["query"]["sort"] == ["date"]
    assert set(events[0]["query"]) >= {"full", "start", "end"}


@pytest.mark.parametrize("fault", ["org_issues:422", "events:410"])
def test_given_server_that_cannot_serve_a_stream_when_check_then_fails_naming_the_stream(
    make_emulator, workdir, fault: str
) -> None:
    emu = make_emulator(faults=fault)

    run = warm_source("check", workdir, emu.config())

    status = connection_status(run)
    stream = "issues" if "issues" in fault else "events"
    assert status["status"] == "FAILED"
    assert stream in status["message"].lower(), status["message"]
    assert "could not reach" not in status["message"].lower()
    assert fault.split(":")[1] in status["message"], status["message"]
    assert emu.token not in run.stdout + run.stderr


def test_given_a_configured_project_that_does_not_exist_when_read_then_config_error_names_it(
    emulator, workdir
) -> None:
    real = emulator.project_slugs[0]
    config = emulator.config(projects=[real, "bakcend-typo", "deleted-app"])

    run = warm_source("read", workdir, config, streams=["events"])

    assert run.returncode != 0
    assert run.records == {}
    errors = run.errors
    assert [e["failure_type"] for e in errors] == ["config_error"]
    assert "`bakcend-typo`, `deleted-app`" in errors[0]["message"]
    assert f"`{real}`" not in errors[0]["message"]
