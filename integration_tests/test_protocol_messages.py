"""What an Airbyte user sees of a sync besides records: stream status, rate-limit waits, errors.

Each case runs the command (launched warm: tools/warm_source.py) against the emulator over loopback
HTTP.
"""

from __future__ import annotations

import re

import pytest

from tools.airbyte_run import warm_source

pytestmark = pytest.mark.e2e

WAIT = re.compile(r"waiting (\d+\.\d) (s|min)")


def _statuses(run) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for m in run.messages:
        if m["type"] == "TRACE" and m["trace"]["type"] == "STREAM_STATUS":
            status = m["trace"]["stream_status"]
            seen.setdefault(status["stream_descriptor"]["name"], []).append(status["status"])
    return seen


def test_given_tight_rate_limits_when_read_with_one_worker_then_paced_below_them_and_each_wait_logged(
    make_emulator, workdir
) -> None:
    emu = make_emulator(
        events=900,
        issues=150,
        releases=250,
        rate_limits={"events": (3, 2.0), "issues": (2, 1.0), "releases": (1, 1.0)},
    )

    # The five streams whose endpoints Sentry's tight limits below apply to.
    paced = ["projects", "project_detail", "events", "issues", "releases"]
    run = warm_source("read", workdir, emu.config(num_workers=1), streams=paced)

    assert run.returncode == 0
    assert sorted(run.ids("events")) == sorted(str(e["id"]) for e in emu.ground_truth("events"))
    assert [r for r in emu.requests if r["status"] == 429] == []
    waits = [line for line in run.logs() if line.startswith("Rate limit:")]
    for path in ("/events/", "/organizations/acme/issues/", "/organizations/acme/releases/"):
        assert any(path in line for line in waits), (path, waits)
    assert all(WAIT.search(line) for line in waits)
    assert all(
        statuses[0] == "STARTED" and statuses[-1] == "COMPLETE" for statuses in _statuses(run).values()
    )
    assert set(_statuses(run)) == set(paced)


def test_given_429_when_read_then_log_says_rate_limited_and_how_long_and_status_says_why(
    make_emulator, workdir
) -> None:
    emu = make_emulator(faults="events:429=2x1")

    run = warm_source("read", workdir, emu.config(), streams=["events"])

    assert run.returncode == 0
    retries = [line for line in run.logs() if "HTTP 429" in line]
    assert len(retries) == 1
    seconds = float(WAIT.search(retries[0]).group(1))
    assert 1.0 <= seconds <= 4.0
    reasons = [
        m["trace"]["stream_status"].get("reasons")
        for m in run.messages
        if m["type"] == "TRACE" and m["trace"]["type"] == "STREAM_STATUS"
    ]
    assert [{"type": "RATE_LIMITED"}] in reasons


def test_given_server_error_when_read_then_retry_is_not_called_a_rate_limit(make_emulator, workdir) -> None:
    emu = make_emulator(faults="issues:502htmlx1")

    run = warm_source("read", workdir, emu.config(), streams=["issues"])

    assert run.returncode == 0
    assert any(line.startswith("Sentry answered HTTP 502; retrying in") for line in run.logs())
    assert not any("HTTP 502" in line and "Rate limit" in line for line in run.logs())


@pytest.mark.parametrize(
    ("case", "failure_type", "fragments"),
    [
        ("revoked token", "config_error", ["401", "auth_token"]),
        ("unknown organization", "config_error", ["404", "`nope`"]),
        ("hostname that is not a host", "config_error", ["`hostname`"]),
        ("server keeps failing", "system_error", ["400"]),
    ],
)
def test_given_failure_when_read_then_trace_error_with_failure_type_and_words_to_act_on(
    make_emulator, workdir, case: str, failure_type: str, fragments: list[str]
) -> None:
    emu = make_emulator()
    config = emu.config()
    streams = ["events"]
    if case == "revoked token":
        config["auth_token"] = "sntryu_" + "0" * 64
    elif case == "unknown organization":
        config["organization"] = "nope"
        streams = ["issues"]
    elif case == "hostname that is not a host":
        config["hostname"] = "sentry io"
    else:
        emu.set_faults("events:400")

    run = warm_source("read", workdir, config, streams=streams)

    assert run.returncode != 0 or run.errors
    errors = run.errors
    assert errors, run.stdout[-2000:]
    assert errors[0]["failure_type"] == failure_type
    message = errors[0]["message"]
    assert not message.startswith("Traceback")
    for fragment in fragments:
        assert fragment in message, message
    assert emu.token not in run.stdout + run.stderr


def _warnings(run) -> list[str]:
    return [m["log"]["message"] for m in run.messages if m["type"] == "LOG" and m["log"]["level"] == "WARN"]


def test_given_token_without_event_scope_when_read_then_closing_warning_names_every_project_and_scope(
    make_emulator, workdir
) -> None:
    emu = make_emulator()
    config = emu.config(auth_token=emu.make_token(scopes=["org:read", "project:read"]))

    run = warm_source("read", workdir, config, streams=["events", "project_detail"])

    assert run.returncode == 0
    assert run.ids("events") == []
    assert len(run.ids("project_detail")) == len(emu.project_slugs)
    [warning] = _warnings(run)
    assert warning.startswith(f"{len(emu.project_slugs)} project(s) were skipped because Sentry answered 403")
    for slug in emu.project_slugs:
        assert f"{slug} (events)" in warning
    assert "event:read" in warning


def test_given_one_forbidden_project_when_read_then_others_sync_and_warning_names_only_it(
    make_emulator, workdir
) -> None:
    emu = make_emulator()
    locked = emu.project_slugs[0]
    config = emu.config(auth_token=emu.make_token(forbidden_projects=[locked]))

    run = warm_source("read", workdir, config, streams=["events", "project_detail"])

    assert run.returncode == 0
    others = [s for s in emu.project_slugs if s != locked]
    assert sorted(run.ids("events")) == sorted(
        str(e["id"]) for e in emu.ground_truth("events", projects=others)
    )
    [warning] = _warnings(run)
    assert warning.startswith("1 project(s) were skipped")
    assert f"{locked} (events, project_detail)" in warning


def test_given_nothing_forbidden_when_read_then_no_warning(emulator, workdir) -> None:
    run = warm_source("read", workdir, emulator.config(), streams=["events", "project_detail"])

    assert run.returncode == 0
    assert _warnings(run) == []
