"""The `source-sentry` command (launched warm: tools/warm_source.py) against the Sentry emulator over
loopback HTTP, compared record by record with the emulator's ground truth."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from tools.airbyte_run import COMMAND, STREAMS, Run, cloud_read, warm_source, write_inputs

pytestmark = pytest.mark.e2e


def assert_token_hidden(run: Run, token: str) -> None:
    assert token not in run.stdout
    assert token not in run.stderr


def assert_matches_ground_truth(run: Run, emu, projects=None, streams=STREAMS) -> None:
    for stream in streams:
        expected = sorted(str(r["id"]) for r in emu.ground_truth(stream, projects))
        got = run.ids(stream)
        assert len(got) == len(set(got)), f"{stream}: duplicates"
        assert sorted(got) == expected, f"{stream}: {len(got)} read, {len(expected)} expected"


# ---- check and discover -----------------------------------------------------------------------


def test_given_good_config_when_check_then_succeeds(emulator, workdir: Path) -> None:
    run = warm_source("check", workdir, emulator.config())

    assert run.messages[-1]["connectionStatus"]["status"] == "SUCCEEDED"
    assert_token_hidden(run, emulator.token)


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("bad_token", "401"),
        ("unknown_org", "nope-org"),
        ("unknown_project", "no-such-project"),
        ("missing_scope", "event:read"),
    ],
)
def test_given_bad_config_when_check_then_fails_with_actionable_message(
    emulator, workdir: Path, case, fragment
) -> None:
    config = emulator.config()
    if case == "bad_token":
        config["auth_token"] = "sntryu_" + "0" * 64
    elif case == "unknown_org":
        config["organization"] = "nope-org"
    elif case == "unknown_project":
        config["projects"] = [emulator.project_slugs[0], "no-such-project"]
    elif case == "missing_scope":
        config["auth_token"] = emulator.make_token(scopes=["org:read", "project:read"])

    run = warm_source("check", workdir, config)

    status = run.messages[-1]["connectionStatus"]
    assert status["status"] == "FAILED"
    assert fragment in status["message"]
    assert_token_hidden(run, config["auth_token"])


def test_given_unreachable_host_when_check_then_fails_within_seconds(workdir: Path) -> None:
    started = time.monotonic()
    run = warm_source(
        "check",
        workdir,
        {"auth_token": "t0ken-abcdef", "organization": "acme", "hostname": "http://127.0.0.1:9"},
    )
    elapsed = time.monotonic() - started

    status = run.messages[-1]["connectionStatus"]
    assert status["status"] == "FAILED"
    assert "127.0.0.1" in status["message"]
    assert elapsed < 30, f"check took {elapsed:.1f}s"


def test_given_config_when_discover_then_every_stream_with_key_cursor_and_modes(
    emulator, workdir: Path
) -> None:
    run = warm_source("discover", workdir, emulator.config())

    streams = {s["name"]: s for s in run.messages[-1]["catalog"]["streams"]}
    assert sorted(streams) == sorted(STREAMS)
    assert all(s["source_defined_primary_key"] == [["id"]] for s in streams.values())
    cursors = {name: s.get("default_cursor_field") for name, s in streams.items()}
    assert cursors == {
        "projects": ["dateCreated"],
        "project_detail": None,
        "events": ["dateReceived"],
        "issues": ["lastSeen"],
        "releases": ["dateCreated"],
        "organization": None,
        "teams": None,
        "members": None,
        "repositories": None,
        "environments": None,
        "project_keys": None,
        "monitors": None,
        "deploys": ["dateFinished"],
        "release_commits": ["dateCreated"],
        "workflows": None,
        "detectors": None,
        "monitor_checkins": ["dateCreated"],
        "user_feedback": ["dateCreated"],
        "replays": ["started_at"],
        "sessions": ["day"],
        "usage_stats": ["day"],
    }
    assert streams["project_detail"]["supported_sync_modes"] == ["full_refresh"]
    assert streams["events"]["supported_sync_modes"] == ["full_refresh", "incremental"]


# ---- full reads -------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["organization", "projects", "project"])
def test_given_scope_when_full_read_then_exactly_the_ground_truth(
    emulator, workdir: Path, scope: str
) -> None:
    slugs = emulator.project_slugs
    extra, projects = {}, None
    if scope == "projects":
        extra, projects = {"projects": slugs[:2]}, slugs[:2]
    elif scope == "project":
        extra, projects = {"project": slugs[1]}, [slugs[1]]

    run = warm_source("read", workdir, emulator.config(**extra), mode="full_refresh")

    assert not run.errors, run.errors
    assert_matches_ground_truth(run, emulator, projects)
    assert_token_hidden(run, emulator.token)


def test_given_cloud_manifest_when_run_by_source_declarative_manifest_then_same_records(
    emulator, workdir: Path
) -> None:
    args = write_inputs(workdir, emulator.config(), mode="full_refresh")
    run = cloud_read(workdir, args)

    assert not run.errors, run.errors
    assert_matches_ground_truth(run, emulator)


# ---- incremental ------------------------------------------------------------------------------


def test_given_new_data_when_incremental_then_only_new_and_changed_records_and_then_none(
    emulator, workdir: Path
) -> None:
    config = emulator.config()
    first = warm_source("read", workdir, config)
    assert_matches_ground_truth(first, emulator)
    slug = emulator.project_slugs[0]
    old_issue = emulator.ground_truth("issues", [slug])[-1]["id"]

    new_events = emulator.add_events(slug, 5)  # a new issue
    joined = emulator.add_events(slug, 2, issue_id=old_issue)  # moves an old issue's lastSeen
    release = emulator.add_release("2.0.0+build.7", [slug])
    emulator.reset_log()
    second = warm_source("read", workdir, config, state=first.final_state())

    assert not second.errors, second.errors
    assert sorted(second.ids("events")) == sorted(e["id"] for e in new_events + joined)
    assert sorted(second.ids("issues")) == sorted({new_events[0]["groupID"], old_issue})
    assert second.ids("releases") == [str(release["id"])]
    assert second.ids("projects") == []

    emulator.reset_log()
    third = warm_source("read", workdir, config, state=second.final_state())

    assert not third.errors
    assert {s: third.ids(s) for s in ("events", "issues", "releases", "projects")} == {
        "events": [],
        "issues": [],
        "releases": [],
        "projects": [],
    }
    # The cost of an incremental sync with nothing new: a constant, not the history. The
    # organization's six lists, environments (the project list and each project) and one
    # releases page for each of deploys and release_commits come on top of the core streams;
    # then workflows, one detectors page per project, the monitors and one check-ins page each,
    # the project list and one page per project for each of user_feedback and replays, and the
    # days sessions (6) and usage_stats (2) read again. Parent lists are not cached (a cached
    # truncated page would be served to every retry): each child stream reads its parent list
    # itself, the project list once more for detectors and the monitor list for check-ins.
    projects, monitors = len(emulator.project_slugs), len(emulator.ground_truth("monitors"))
    core = (5 + 3 * projects) + 6 + (1 + projects) + 2
    alerting = 1 + (1 + projects)
    newest = (2 + monitors) + 2 * (1 + projects)
    assert len(emulator.requests) <= core + alerting + newest + (6 + 2), len(emulator.requests)


def test_given_new_deploy_of_old_release_and_new_release_when_incremental_then_only_those_and_then_none(
    emulator, workdir: Path
) -> None:
    config = emulator.config()
    streams = ["deploys", "release_commits"]
    first = warm_source("read", workdir, config, streams=streams)
    assert_matches_ground_truth(first, emulator, streams=streams)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {emulator.token}"
    base = f"{emulator.base_url}/api/0/organizations/{emulator.organization}/releases"
    old = emulator.ground_truth("releases")[-1]
    slug = old["projects"][0]["slug"]
    deploy = api.post(
        f"{base}/{quote(old['version'], safe='')}/deploys/",
        json={"environment": "canary", "projects": [slug]},
        timeout=30,
    ).json()
    emulator.add_release("3.0.0+build.9", [slug])
    api.put(f"{base}/3.0.0%2Bbuild.9/", json={"commits": [{"id": "a"}, {"id": "b"}]}, timeout=30)
    emulator.reset_log()

    second = warm_source("read", workdir, config, streams=streams, state=first.final_state())

    assert not second.errors, second.errors
    assert second.ids("deploys") == [deploy["id"]]
    assert {r["release"] for r in second.records["release_commits"]} == {"3.0.0+build.9"}
    assert len(second.ids("release_commits")) == 2
    # The releases list once for each stream, then one deploys and one commits request.
    assert sorted(r["path"].rsplit("/", 2)[-2] for r in emulator.requests) == [
        "commits",
        "deploys",
        "releases",
        "releases",
    ]

    emulator.reset_log()
    third = warm_source("read", workdir, config, streams=streams, state=second.final_state())

    assert not third.errors
    assert third.records == {}
    assert len(emulator.requests) == 2


def test_given_new_checkin_feedback_and_replay_when_incremental_then_exactly_those_and_then_none(
    emulator, workdir: Path
) -> None:
    config = emulator.config()
    streams = ["monitor_checkins", "user_feedback", "replays"]
    first = warm_source("read", workdir, config, streams=streams)
    assert not first.errors, first.errors
    assert_matches_ground_truth(first, emulator, streams=streams)
    monitor = emulator.ground_truth("monitors")[0]
    slug = monitor["project"]["slug"]
    issue = emulator.ground_truth("issues", [slug])[-1]["id"]
    emulator.resolve_issue(issue)  # Sentry's default list would hide its feedback
    checkin = emulator.add_checkin(monitor["slug"], status="error")
    report = emulator.add_user_feedback(issue, "It crashed again after the update.")
    replay = emulator.add_replay(slug, started_ago=3_660)  # over, and past the hour a sync waits
    emulator.add_replay(slug, started_ago=60)  # still running: the next syncs' business
    emulator.reset_log()

    second = warm_source("read", workdir, config, streams=streams, state=first.final_state())

    assert not second.errors, second.errors
    assert {s: second.ids(s) for s in streams} == {
        "monitor_checkins": [checkin["id"]],
        "user_feedback": [report["id"]],
        "replays": [replay["id"]],
    }
    feedback = [r for r in emulator.requests if r["path"].endswith("/user-feedback/")]
    assert [r["query"]["status"] for r in feedback] == [[""]] * len(emulator.project_slugs)

    emulator.reset_log()
    third = warm_source("read", workdir, config, streams=streams, state=second.final_state())

    assert not third.errors
    assert third.records == {}
    # Monitors and one check-ins page per monitor; for each of user_feedback and replays the
    # project list (each reads its parent list itself: parent lists are not cached) and one page
    # per project.
    projects, monitors = len(emulator.project_slugs), len(emulator.ground_truth("monitors"))
    paths = sorted(r["path"].split("/")[-2] for r in emulator.requests)
    assert paths == sorted(
        ["monitors"] + ["checkins"] * monitors + ["projects"] * 2 + ["user-feedback", "replays"] * projects
    )


def requests_per_stream(emulator) -> dict[str, int]:
    paths = {"sessions": "/sessions/", "usage_stats": "/stats_v2/"}
    return {s: sum(r["path"].endswith(p) for r in emulator.requests) for s, p in paths.items()}


def rows_since(emulator, stream: str, days: int) -> list[dict]:
    """The emulator's rows of `stream` from `days` UTC days before today on."""
    first = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT00:00:00Z")
    return sorted((r for r in emulator.ground_truth(stream) if r["day"] >= first), key=lambda r: r["id"])


def test_given_late_sessions_and_usage_when_incremental_then_only_the_reread_days_with_their_new_counts(
    emulator, workdir: Path
) -> None:
    config = emulator.config()
    streams = ["sessions", "usage_stats"]
    first = warm_source("read", workdir, config, streams=streams)

    assert not first.errors, first.errors
    for stream in streams:
        got = sorted(first.records[stream], key=lambda r: r["id"])
        assert got == sorted(emulator.ground_truth(stream), key=lambda r: r["id"]), stream
        schema = json.loads(
            (Path(__file__).parents[1] / "source_sentry" / "schemas" / f"{stream}.json").read_text()
        )
        assert {key for r in got for key in r} == set(schema["properties"]), stream
    # One request per day: from 90 days back to today.
    assert requests_per_stream(emulator) == {"sessions": 91, "usage_stats": 91}

    slug = emulator.project_slugs[0]
    emulator.add_sessions(slug, 9, days_ago=4, crashed=3)  # a mobile client's late sessions
    emulator.add_outcomes(slug, 25, category="transaction", outcome="rate_limited")
    emulator.reset_log()
    second = warm_source("read", workdir, config, streams=streams, state=first.final_state())

    assert not second.errors, second.errors
    # Exactly the re-read days (today and the 5 days before for sessions, today and yesterday for
    # usage), with the late sessions and outcomes counted; nothing older.
    assert sorted(second.records["sessions"], key=lambda r: r["id"]) == rows_since(emulator, "sessions", 5)
    assert sorted(second.records["usage_stats"], key=lambda r: r["id"]) == rows_since(
        emulator, "usage_stats", 1
    )
    before = {r["id"]: r for s in streams for r in first.records[s]}
    grown = {r["id"]: r["sessions"] - before[r["id"]]["sessions"] for r in second.records["sessions"]}
    assert sorted(grown.values())[-1] == 9
    assert set(grown.values()) == {0, 9}
    (new,) = [r for r in second.records["usage_stats"] if r["id"] not in before]
    assert (new["id"].split("/")[2:], new["quantity"]) == (["transaction", "rate_limited"], 25)
    assert requests_per_stream(emulator) == {"sessions": 6, "usage_stats": 2}

    emulator.reset_log()
    third = warm_source("read", workdir, config, streams=streams, state=second.final_state())

    # Nothing new: the same re-read days again, unchanged, and no older day.
    assert not third.errors
    assert {s: sorted(rs, key=lambda r: r["id"]) for s, rs in third.records.items()} == {
        s: sorted(rs, key=lambda r: r["id"]) for s, rs in second.records.items()
    }
    assert requests_per_stream(emulator) == {"sessions": 6, "usage_stats": 2}


def test_given_late_event_within_lookback_when_incremental_then_it_arrives(emulator, workdir: Path) -> None:
    config = emulator.config(lookback_minutes=120)
    first = warm_source("read", workdir, config, streams=["events"])
    slug = emulator.project_slugs[1]
    project_id = next(p["id"] for p in emulator.ground_truth("projects") if p["slug"] == slug)
    cursor = next(
        entry["cursor"]["dateReceived"]
        for entry in first.final_state()[0]["stream"]["stream_state"]["states"]
        if entry["partition"]["project_id"] == project_id
    )
    behind = datetime.now(UTC) - datetime.fromisoformat(cursor.replace("Z", "+00:00"))

    # Both happened before the last sync's cursor and reached Sentry after it.
    late = emulator.add_events(slug, 1, late_by=behind + timedelta(minutes=90))
    too_late = emulator.add_events(slug, 1, late_by=behind + timedelta(hours=5))
    second = warm_source("read", workdir, config, streams=["events"], state=first.final_state())

    assert second.ids("events") == [late[0]["id"]]
    assert too_late[0]["id"] not in second.ids("events")


def test_given_partitioned_stream_when_read_then_state_is_checkpointed_per_project(
    emulator, workdir: Path
) -> None:
    run = warm_source("read", workdir, emulator.config(), streams=["events"])

    final = run.final_state()[0]["stream"]["stream_state"]
    partitions = {entry["partition"]["project_id"] for entry in final["states"]}
    assert len(partitions) == len(emulator.project_slugs)
    assert all("states" in state["stream"]["stream_state"] for state in run.states)


def test_given_foreign_state_when_read_then_warns_and_starts_over(emulator, workdir: Path) -> None:
    foreign = [
        {
            "type": "STREAM",
            "stream": {
                "stream_descriptor": {"name": "events"},
                "stream_state": {"dateCreated": "2099-01-01T00:00:00Z"},
            },
        }
    ]

    run = warm_source("read", workdir, emulator.config(), streams=["events"], state=foreign)

    assert not run.errors
    assert any("Ignored the saved state of stream `events`" in line for line in run.logs())
    assert sorted(run.ids("events")) == sorted(e["id"] for e in emulator.ground_truth("events"))


# ---- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "faults",
    [
        "events:429=1x3,issues:429legacyx2",
        "events:503@0.2,issues:502htmlx2,releases:500x1",
        "events:reset@0.15,projects:resetx1",
        "events:truncatedx2,issues:malformedx1,releases:incompletex1",
    ],
    ids=["rate-limited", "server-errors", "connection-resets", "broken-bodies"],
)
def test_given_injected_faults_when_read_then_still_exactly_the_ground_truth(
    make_emulator, workdir: Path, faults
) -> None:
    emu = make_emulator(faults=faults)

    run = warm_source("read", workdir, emu.config(), mode="full_refresh")

    assert not run.errors, run.errors
    assert_matches_ground_truth(run, emu)
    assert_token_hidden(run, emu.token)


@pytest.mark.parametrize("num_workers", [1, 4])
def test_given_one_events_request_in_flight_when_read_then_every_event_once_and_no_429(
    make_emulator, workdir: Path, num_workers: int
) -> None:
    # sentry.io's concurrency on events (one request in flight per user), with a window too large
    # to run out, and a page that takes a while, so that workers would overlap.
    emu = make_emulator(events=600, rate_limits={"events": (10_000, 60.0, 1)}, faults="events:slow=0.05")

    config = emu.config(num_workers=num_workers)
    run = warm_source("read", workdir, config, streams=["events"], mode="full_refresh")

    assert not run.errors, run.errors
    assert_matches_ground_truth(run, emu, streams=["events"])
    # The packaged connector holds each events request until the one in flight is answered: the
    # first answer tells the limit, and no request is sent that Sentry would refuse.
    refused = [r for r in emu.requests if "/events/" in r["path"] and r["status"] == 429]
    assert refused == []


def test_given_two_events_requests_allowed_when_read_with_four_workers_then_two_in_flight_at_most(
    make_emulator, workdir: Path
) -> None:
    # The cap is what the server says, not one: with two allowed, two go side by side.
    emu = make_emulator(events=900, rate_limits={"events": (10_000, 60.0, 2)}, faults="events:slow=0.1")

    run = warm_source("read", workdir, emu.config(num_workers=4), streams=["events"], mode="full_refresh")

    assert not run.errors, run.errors
    assert_matches_ground_truth(run, emu, streams=["events"])
    assert [r for r in emu.requests if "/events/" in r["path"] and r["status"] == 429] == []
    assert _most_side_by_side(emu.requests, "/events/", held=0.1) == 2


def test_given_one_events_request_in_flight_when_cloud_manifest_reads_with_four_workers_then_correct(
    make_emulator, workdir: Path
) -> None:
    # The Cloud manifest has no concurrency pacing: its concurrency 429s are retried after about a
    # second, then 2, 4, ...: slower, but every event once and a handful of 429s, not one per page.
    emu = make_emulator(events=600, rate_limits={"events": (10_000, 60.0, 1)}, faults="events:slow=0.05")
    args = write_inputs(workdir, emu.config(num_workers=4), streams=["events"], mode="full_refresh")
    run = cloud_read(workdir, args)

    assert not run.errors, run.errors
    assert_matches_ground_truth(run, emu, streams=["events"])
    refused = [r for r in emu.requests if "/events/" in r["path"] and r["status"] == 429]
    assert all(r["response_headers"]["X-Sentry-Rate-Limit-ConcurrentRemaining"] == "0" for r in refused)
    assert len(refused) <= 3 * 4, len(refused)


def _most_side_by_side(requests_seen: list[dict], path_part: str, held: float) -> int:
    """The most answered requests to paths containing `path_part` that held the server's slot at
    once. Each is counted over a part of the `held` seconds its injected delay kept it in the slot
    (the log's duration also covers sending the answer, after the slot was freed)."""
    edges = []
    for r in requests_seen:
        if path_part in r["path"] and r["status"] == 200:
            edges += [(r["time"] + 0.01, 1), (r["time"] + held - 0.01, -1)]
    most = now = 0
    for _, step in sorted(edges):
        now += step
        most = max(most, now)
    return most


def test_given_forbidden_project_when_read_then_skipped_by_name_and_others_sync(
    emulator, workdir: Path
) -> None:
    secret = emulator.project_slugs[2]
    token = emulator.make_token(forbidden_projects=[secret])
    config = emulator.config(auth_token=token)

    run = warm_source("read", workdir, config, streams=["events"], mode="full_refresh")

    assert not run.errors, run.errors
    assert any(secret in line and "403" in line for line in run.logs())
    assert sorted(run.ids("events")) == sorted(
        e["id"] for e in emulator.ground_truth("events", emulator.project_slugs[:2])
    )


def test_given_sync_killed_midway_when_resumed_from_last_state_then_nothing_is_lost(
    make_emulator, workdir: Path
) -> None:
    emu = make_emulator(events=900, faults="*:slow=0.02")
    args = write_inputs(workdir, emu.config(), streams=["events"])
    proc = subprocess.Popen(
        [COMMAND, "read", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=workdir
    )
    seen, states = [], []
    assert proc.stdout is not None
    for line in proc.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD":
            seen.append(message["record"]["data"]["id"])
        elif message["type"] == "STATE" and seen:
            states.append(message["state"])
            break  # the first checkpoint after some records: kill here
    proc.kill()
    proc.wait()
    assert states, "no checkpoint was emitted before the kill"

    resumed = warm_source("read", workdir, emu.config(), streams=["events"], state=states[-1:])

    assert not resumed.errors
    everything = set(seen) | set(resumed.ids("events"))
    assert everything == {e["id"] for e in emu.ground_truth("events")}


def test_given_read_stopped_with_sigterm_then_it_dies_of_it_and_leaves_no_config_copy(
    make_emulator, workdir: Path
) -> None:
    emu = make_emulator(events=20_000)
    scratch = workdir / "scratch"
    scratch.mkdir()
    args = write_inputs(workdir, emu.config())
    env = {**os.environ, "TMPDIR": str(scratch)}
    proc = subprocess.Popen(
        [COMMAND, "read", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    while not any(scratch.rglob("config.json")):
        time.sleep(0.05)

    proc.terminate()

    assert proc.wait(timeout=30) == -signal.SIGTERM
    assert list(scratch.rglob("*")) == []
