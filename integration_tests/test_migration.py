"""Moving from Airbyte's own Sentry connector: its config and its saved state, given unchanged to
the installed command, against the emulator served over https (the official connector only knows
a bare host name, which means https)."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from tools.airbyte_run import COMMAND, STREAMS, Run, parse, write_inputs

pytestmark = pytest.mark.e2e


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def official_config(emu, slug: str, **extra) -> dict:
    """A config as Airbyte's Sentry connector stores it: a bare host, one project, discover_fields."""
    return emu.config(hostname=f"127.0.0.1:{emu.port}", project=slug, discover_fields=[], **extra)


def run_command(verb: str, emu, tmp: Path, config: dict, *, state=None, mode="full_refresh") -> Run:
    if verb == "read":
        args = write_inputs(tmp, config, state=state, mode=mode)
    else:
        args = write_inputs(tmp, config)[:2]
    env = {**os.environ, "REQUESTS_CA_BUNDLE": emu.ca_cert}
    result = subprocess.run(
        [COMMAND, verb, *args], capture_output=True, text=True, timeout=240, cwd=tmp, env=env
    )
    run = parse(result.stdout, result.stderr, result.returncode)
    assert emu.token not in run.stdout
    assert emu.token not in run.stderr
    return run


@pytest.mark.parametrize(
    "extra",
    [{}, {"num_workers": 5}],
    ids=["older-config", "config-with-num-workers"],
)
def test_given_official_connector_config_when_check_and_read_then_its_one_project_syncs(
    make_emulator, workdir: Path, extra: dict
) -> None:
    emu = make_emulator(tls=True)
    slug = emu.project_slugs[1]
    config = official_config(emu, slug, **extra)

    check = run_command("check", emu, workdir, config)
    read = run_command("read", emu, workdir, config)

    assert check.messages[-1]["connectionStatus"]["status"] == "SUCCEEDED", check.messages[-1]
    assert not read.errors, read.errors
    for stream in STREAMS:
        expected = sorted(str(r["id"]) for r in emu.ground_truth(stream, [slug]))
        assert sorted(read.ids(stream)) == expected, stream
    assert read.ids("projects") == [next(p["id"] for p in emu.ground_truth("projects") if p["slug"] == slug)]


def test_given_official_connector_state_when_read_then_events_and_issues_start_over_and_the_rest_go_on(
    make_emulator, workdir: Path
) -> None:
    emu = make_emulator(tls=True)
    slug = emu.project_slugs[0]
    project = next(p for p in emu.ground_truth("projects") if p["slug"] == slug)
    releases = emu.ground_truth("releases", [slug])
    newest = sorted(releases, key=lambda r: instant(r["dateCreated"]), reverse=True)
    official_state = {
        "events": {"dateCreated": "2099-01-01T00:00:00.000000Z"},
        "issues": {"lastSeen": "2099-01-01T00:00:00.000000Z"},
        "projects": {"dateCreated": project["dateCreated"]},
        "releases": {"dateCreated": newest[2]["dateCreated"]},
    }
    state = [
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": value}}
        for name, value in official_state.items()
    ]

    run = run_command("read", emu, workdir, official_config(emu, slug), state=state, mode="incremental")

    assert not run.errors, run.errors
    warned = [line for line in run.logs() if line.startswith("Ignored the saved state of stream")]
    assert sorted(line.split("`")[1] for line in warned) == ["events", "issues"]
    assert sorted(run.ids("events")) == sorted(e["id"] for e in emu.ground_truth("events", [slug]))
    assert sorted(run.ids("issues")) == sorted(i["id"] for i in emu.ground_truth("issues", [slug]))
    assert sorted(run.ids("releases")) == sorted(str(r["id"]) for r in newest[:2])
    assert run.ids("projects") == []
