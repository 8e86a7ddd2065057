"""The door to the wing, through the installed command: on a CDK version outside the tested set
the command runs the plain manifest, says so once, and syncs the same records and state."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from source_sentry.packaged.door import TESTED
from tools.airbyte_run import Run, source

STREAMS = ["projects", "events", "issues", "releases"]
UNTESTED_CDK = "7.999.0"
NOTICE = "Running the plain manifest (slower, same records)"


def _untested_cdk_env(root: Path) -> dict[str, str]:
    """An environment where package metadata says airbyte-cdk is UNTESTED_CDK: a distribution
    found earlier on the path than the installed one (the CDK's code is still the installed one)."""
    assert UNTESTED_CDK not in TESTED["airbyte-cdk"]
    dist = root / f"airbyte_cdk-{UNTESTED_CDK}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: airbyte-cdk\nVersion: {UNTESTED_CDK}\n")
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path)


def _records(run: Run) -> dict[str, dict[str, Any]]:
    assert run.returncode == 0, run.stderr[-2000:]
    assert not run.errors, run.errors
    return {stream: {str(r["id"]): r for r in rows} for stream, rows in run.records.items()}


def _positions(run: Run) -> list[dict[str, Any]]:
    """Each stream's final state without what depends on thread timing (sourceStats, the CDK's
    lookback_window): the positions the next sync starts from."""
    final = []
    for state in run.final_state():
        state = {key: value for key, value in state.items() if key != "sourceStats"}
        state["stream"]["stream_state"].pop("lookback_window", None)
        final.append(state)
    return sorted(final, key=lambda s: s["stream"]["stream_descriptor"]["name"])


def _sync(tmp: Path, config: dict, state: Any, env: dict[str, str] | None) -> Run:
    tmp.mkdir()
    return source("read", tmp, config, streams=STREAMS, state=state, env=env)


@pytest.mark.e2e
def test_given_cdk_outside_tested_set_when_syncing_then_plain_manifest_gives_same_records_and_state(
    make_emulator, tmp_path: Path
) -> None:
    emu = make_emulator()
    config = emu.config()
    untested = _untested_cdk_env(tmp_path / "metadata")

    packaged = _sync(tmp_path / "packaged-full", config, None, None)
    plain = _sync(tmp_path / "plain-full", config, None, untested)
    assert _records(plain) == _records(packaged)
    assert sum(len(rows) for rows in _records(plain).values()) > 100
    assert _positions(plain) == _positions(packaged)
    notices = [line for line in plain.logs() if NOTICE in line]
    assert notices == [
        f"{NOTICE}: the packaged connector's speed-ups were not tested on airbyte-cdk {UNTESTED_CDK}."
    ]
    assert not [line for line in packaged.logs() if NOTICE in line]

    emu.add_events(emu.project_slugs[0], 12)
    packaged_next = _sync(tmp_path / "packaged-next", config, packaged.final_state(), None)
    plain_next = _sync(tmp_path / "plain-next", config, plain.final_state(), untested)
    assert _records(plain_next) == _records(packaged_next)
    assert len(_records(plain_next)["events"]) == 12
    assert _positions(plain_next) == _positions(packaged_next)
