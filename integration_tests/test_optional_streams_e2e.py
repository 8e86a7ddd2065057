"""A token lacking the scope of some optional streams, end to end: `check` succeeds and names what
it cannot read, and a sync skips exactly those streams with one warning each."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentry_emulator.auth import ALL_SCOPES
from tools.airbyte_run import STREAMS, Run, cloud_read, warm_source, write_inputs

pytestmark = pytest.mark.e2e

DENIED = {"members": "member:read", "repositories": "org:integrations"}


@pytest.fixture
def limited(emulator) -> dict:
    """A config whose token has every scope but those of `members` and `repositories`."""
    return emulator.config(
        auth_token=emulator.make_token(scopes=[s for s in ALL_SCOPES if s not in DENIED.values()])
    )


def warnings(run: Run) -> list[str]:
    return [m["log"]["message"] for m in run.messages if m["type"] == "LOG" and m["log"]["level"] == "WARN"]


def test_given_token_without_two_scopes_when_read_then_those_streams_are_skipped_with_one_warning_each(
    emulator, limited, workdir: Path
) -> None:
    run = warm_source("read", workdir, limited, mode="full_refresh")

    assert run.returncode == 0, run.stderr[-2000:]
    assert not run.errors, run.errors
    for stream in STREAMS:
        expected = [] if stream in DENIED else sorted(str(r["id"]) for r in emulator.ground_truth(stream))
        assert sorted(run.ids(stream)) == expected, stream
    skipped = [w for w in warnings(run) if w.startswith("Stream `")]
    assert sorted(skipped) == sorted(
        f"Stream `{stream}` skipped: the auth token lacks the scope {scope} (Sentry answered 403 for "
        f"/api/0/organizations/acme/{'members' if stream == 'members' else 'repos'}/). The other streams "
        f"sync; give the token {scope} to read this one."
        for stream, scope in DENIED.items()
    )
    # The CDK's own line per skipped request is gone.
    assert not [line for line in run.logs() if line.startswith("Skipping ") and "lacks the scope" in line]
    assert limited["auth_token"] not in run.stdout + run.stderr


def test_given_token_without_two_scopes_when_check_then_it_succeeds_and_names_what_it_cannot_read(
    emulator, limited, workdir: Path
) -> None:
    emulator.reset_log()

    run = warm_source("check", workdir, limited)

    status = run.messages[-1]["connectionStatus"]
    assert status["status"] == "SUCCEEDED"
    readable = ", ".join(s for s in STREAMS[5:] if s not in DENIED)
    assert (
        f"Optional streams readable: {readable}. Not readable, skipped by syncs: members (the token lacks "
        "member:read); repositories (the token lacks org:integrations)." in status["message"]
    )
    assert any(status["message"] in w for w in warnings(run))
    # One request per optional stream, one for a release (deploys, release_commits need one) and
    # one for a monitor (monitor_checkins), beside the core check's own one-record probes of
    # events and releases.
    optional = len(STREAMS) - 5
    probes = [r for r in emulator.requests if r["query"].get("per_page") == ["1"]]
    assert len(probes) == optional + 2 + 2
    # The two releases lists are one path, and the monitor's list is the monitors stream's.
    assert len({r["path"] for r in probes}) == optional + 2
    assert limited["auth_token"] not in run.stdout + run.stderr


# An optional endpoint the server does not serve: a web app's page (a 500 or a 200 one), a 410,
# a 404 on every day of one path.
UNSERVED = [
    ("commits:500html", "release_commits", "/commits/", 0),
    ("commits:410", "release_commits", "/commits/", 0),
    ("sessions:404", "sessions", "/sessions/", 1),
]


@pytest.mark.parametrize(("fault", "stream", "path", "asked_again"), UNSERVED)
def test_given_an_optional_endpoint_not_served_when_syncing_twice_then_asked_once_a_sync_and_exit_0(
    emulator, workdir: Path, fault: str, stream: str, path: str, asked_again: int
) -> None:
    emulator.set_faults(fault)

    first = warm_source("read", workdir, emulator.config(), streams=["releases", stream])
    asked_first = [r for r in emulator.requests if path in r["path"]]
    emulator.reset_log()
    second = warm_source(
        "read", workdir, emulator.config(), streams=["releases", stream], state=first.final_state()
    )
    asked_second = [r for r in emulator.requests if path in r["path"]]

    for run in (first, second):
        assert run.returncode == 0, run.stderr[-2000:]
        assert not run.errors, run.errors
        assert run.ids(stream) == []
    assert len(asked_first) == 1
    # What the first sync learnt stays learnt: no release is asked for its commits again.
    assert len(asked_second) == asked_again
    skipped = [w for w in warnings(first) if w.startswith("Stream `")]
    assert len(skipped) == 1
    assert skipped[0].startswith(f"Stream `{stream}` skipped: this server does ")


def test_given_an_optional_endpoint_answering_a_web_page_when_cloud_manifest_syncs_then_no_retry_exit_0(
    emulator, workdir: Path
) -> None:
    emulator.set_faults("commits:500html")

    run = cloud_read(workdir, write_inputs(workdir, emulator.config(), ["releases", "release_commits"]))

    assert run.returncode == 0, run.stderr[-2000:]
    assert not run.errors, run.errors
    asked = [r["path"] for r in emulator.requests if "/commits/" in r["path"]]
    # One request per release, none retried: the manifest cannot remember across partitions.
    assert len(asked) == len(set(asked)) == len(emulator.ground_truth("releases"))
