"""The warm launch (tools/warm_source.py) is the installed command: for the same inputs, against the
same emulator, it writes the same messages, ends with the same exit code, and dies of SIGTERM as
the command does. A launch in another environment than the warm process's runs the command."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from source_sentry.packaged.door import SHUT_OFF
from tools.airbyte_run import Run, interrupted_read, source

pytestmark = pytest.mark.e2e
# A fixed start, so that two runs a second apart read the same days.
START = "2026-01-01T00:00:00Z"


# The Date header of a response, which a failed request's message quotes.
HTTP_DATE = re.compile(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT")


def without_time(text: str) -> str:
    return HTTP_DATE.sub("<date>", text)


def without_lookback(state: Any) -> Any:
    """A state without the CDK's lookback window: the seconds the previous sync took."""
    if isinstance(state, dict):
        return {k: without_lookback(v) for k, v in state.items() if k != "lookback_window"}
    return state


def comparable(run: Run) -> dict[str, Any]:
    """What two runs of the command with the same inputs agree on: the exit code, each stream's
    records and final state, the order of each stream's statuses, the errors, the connection status,
    the lines logged and standard error. Not the moment each message was written (nor the response
    dates quoted, nor the seconds the sync took, which states keep as their lookback window), nor
    how two streams' messages interleave or which states come between: the streams' partitions are
    read concurrently."""
    statuses: dict[str, list[str]] = {}
    for message in run.messages:
        status = message.get("trace", {}).get("stream_status")
        if status:
            statuses.setdefault(status["stream_descriptor"]["name"], []).append(status["status"])
    return {
        "returncode": run.returncode,
        "records": {name: sorted(map(json.dumps, records)) for name, records in run.records.items()},
        "final_state": {
            state["stream"]["stream_descriptor"]["name"]: without_lookback(state)
            for state in run.final_state()
        },
        "statuses": statuses,
        "errors": [
            without_time(json.dumps({k: v for k, v in error.items() if k != "emitted_at"}, sort_keys=True))
            for error in run.errors
        ],
        "connection": [m for m in run.messages if m["type"] == "CONNECTION_STATUS"],
        "logs": sorted(map(without_time, run.logs())),
        "types": sorted(m["type"] for m in run.messages if m["type"] != "STATE"),
        "stderr": run.stderr,
    }


def both(tmp_path: Path, verb: str, config: dict, **options: Any) -> tuple[Run, Run]:
    runs = []
    for warm in (False, True):
        workdir = tmp_path / ("warm" if warm else "installed")
        workdir.mkdir()
        runs.append(source(verb, workdir, config, warm=warm, **options))
    return runs[0], runs[1]


def test_given_a_read_when_launched_warm_then_the_same_messages_and_exit_code(
    make_emulator, tmp_path
) -> None:
    installed, warm = both(
        tmp_path, "read", make_emulator().config(start_date=START), streams=["projects", "issues", "events"]
    )

    assert installed.returncode == 0, installed.stderr[-2000:]
    assert installed.records["issues"]
    assert comparable(warm) == comparable(installed)


def test_given_a_failing_check_and_read_when_launched_warm_then_the_same_messages_and_exit_code(
    make_emulator, tmp_path
) -> None:
    config = {**make_emulator().config(), "auth_token": "sntryu_" + "0" * 64}
    (tmp_path / "check").mkdir()
    installed, warm = both(tmp_path / "check", "check", config)
    statuses = [m["connectionStatus"] for m in installed.messages if m["type"] == "CONNECTION_STATUS"]
    assert [s["status"] for s in statuses] == ["FAILED"]
    assert comparable(warm) == comparable(installed)

    (tmp_path / "read").mkdir()
    installed, warm = both(tmp_path / "read", "read", config, streams=["projects"])
    assert installed.returncode == 1
    assert installed.errors
    assert comparable(warm) == comparable(installed)


def test_given_sigterm_during_a_read_when_launched_warm_then_it_dies_of_it_as_the_command_does(
    make_emulator, tmp_path
) -> None:
    emulator = make_emulator()
    runs = []
    for warm in (False, True):
        workdir = tmp_path / ("warm" if warm else "installed")
        workdir.mkdir()
        runs.append(interrupted_read(workdir, emulator.config(), streams=["events"], stop_after=5, warm=warm))
    installed, warm = runs

    assert installed.returncode == -signal.SIGTERM
    assert warm.returncode == installed.returncode
    assert 5 <= len(warm.ids("events")) < len(emulator.ground_truth("events"))


def test_given_another_environment_when_launched_warm_then_the_command_itself_runs(
    emulator, tmp_path
) -> None:
    # The warm process imported the packaged connector; the command told to run the plain manifest
    # says so, which only the command started afresh does.
    run = source("check", tmp_path, emulator.config(), env={**os.environ, SHUT_OFF: "1"}, warm=True)

    assert run.returncode == 0
    assert any("Running the plain manifest" in line for line in run.logs() + run.stderr.splitlines())
