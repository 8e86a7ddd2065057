"""The command (launched warm) against the emulator speaking GlitchTip's dialect (issue 11): every
stream exact, incremental syncs that read only the newest pages, and a Sentry config that
fails at once, naming the setting to change."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from source_sentry.manifest import unserved_stream_names
from tools.airbyte_run import INCREMENTAL, STREAMS, Run, cloud_read, warm_source, write_inputs

pytestmark = pytest.mark.e2e

EVENTS_PATH = "/events/"
ISSUES_PATH = "/organizations/acme/issues/"


def ids(emu, stream: str) -> list[str]:
    return sorted(str(r.get("id", r.get("version"))) for r in emu.ground_truth(stream))


def read(emu, workdir, state=None, streams=STREAMS) -> Run:
    run = warm_source("read", workdir, emu.config(), streams=streams, state=state)
    assert run.returncode == 0, run.errors or run.stderr[-2000:]
    assert emu.token not in run.stdout + run.stderr
    return run


def requests_to(emu, fragment: str) -> list[dict]:
    return [r for r in emu.requests if fragment in r["path"]]


@pytest.fixture
def glitchtip(make_emulator):
    # Enough events for several 100-event pages per project, so that stopping early shows.
    return make_emulator(dialect="glitchtip", events=900, issues=30, releases=12)


# The streams GlitchTip does not serve, as the manifest says; the emulator's GlitchTip has the rest.
LACKING = unserved_stream_names({"server": "glitchtip"})
SERVED = [stream for stream in STREAMS if stream not in LACKING]
# A path of each stream GlitchTip lacks, as the connector would ask for it.
LACKING_PATHS = (
    "/repos/",
    "/project-keys/",
    "/deploys/",
    "/commits/",
    "/workflows/",
    "/detectors/",
    "/checkins/",
    "/user-feedback/",
    "/replays/",
    "/sessions/",
    "/stats_v2/",
)


def discovered(emu, workdir) -> list[str]:
    run = warm_source("discover", workdir, emu.config())
    return [s["name"] for m in run.messages if m["type"] == "CATALOG" for s in m["catalog"]["streams"]]


def assert_exact(emu, run: Run, streams, *, unchanged: bool = False) -> None:
    for stream in streams:
        got = run.ids(stream)
        assert [i for i, n in Counter(got).items() if n > 1] == [], f"{stream}: duplicates"
        expected = [] if unchanged and stream in INCREMENTAL else ids(emu, stream)
        assert sorted(got) == expected, stream


@pytest.mark.parametrize("frontend", ["absent", "built"])
def test_given_glitchtip_either_way_when_syncing_every_discovered_stream_twice_then_exact_and_cheap(
    make_emulator, workdir, frontend
) -> None:
    emu = make_emulator(dialect="glitchtip", glitchtip_frontend=frontend, events=300, issues=12, releases=6)
    streams = discovered(emu, workdir)
    assert streams == SERVED

    first = read(emu, workdir, streams=streams)
    assert_exact(emu, first, streams)
    sent_first = emu.requests
    emu.reset_log()
    second = read(emu, workdir, state=first.final_state(), streams=streams)
    assert_exact(emu, second, streams, unchanged=True)

    # The unchanged sync reads one page of events and of issues per project, not the history.
    assert len(requests_to(emu, EVENTS_PATH)) == len(emu.project_slugs)
    assert len(requests_to(emu, ISSUES_PATH)) == len(emu.project_slugs)
    sent = sent_first + emu.requests
    assert [r["path"] for r in sent if any(p in r["path"] for p in LACKING_PATHS)] == []
    assert {r["status"] for r in sent} <= {200, 429}
    assert not [w for w in warnings(first) + warnings(second) if w.startswith("Stream `")]
    versions = {r["version"] for r in emu.ground_truth("releases")}
    assert {r["id"] for r in first.records["releases"]} == versions
    # GlitchTip's integer monitor ids arrive as text (Sentry's are UUIDs): one column type for both.
    assert {type(m["id"]) for m in emu.ground_truth("monitors")} == {int}
    monitor_ids = {str(m["id"]) for m in emu.ground_truth("monitors")}
    assert {m["id"] for m in first.records["monitors"]} == monitor_ids
    assert {type(e["projectID"]) for e in first.records["events"]} == {str}
    issue_queries = [r["query"] for r in requests_to(emu, ISSUES_PATH)]
    assert issue_queries
    assert all(q["sort"] == ["-last_seen"] and "query" not in q and "start" not in q for q in issue_queries)


def test_given_a_catalog_naming_streams_glitchtip_lacks_when_syncing_then_one_warning_each_and_no_request(
    glitchtip, workdir
) -> None:
    run = read(glitchtip, workdir)

    assert_exact(glitchtip, run, SERVED)
    assert not [s for s in LACKING if run.records.get(s)]
    skips = [w for w in warnings(run) if w.startswith("Stream `")]
    assert skips == [
        f"Stream `{stream}` skipped: GlitchTip does not serve it (`server` is `glitchtip`), so nothing was "
        "requested for it. The other streams sync; take it out of the connection to drop this warning."
        for stream in STREAMS
        if stream in LACKING
    ]
    assert [r["path"] for r in glitchtip.requests if any(p in r["path"] for p in LACKING_PATHS)] == []


@pytest.mark.parametrize("frontend", ["absent", "built"])
def test_given_glitchtip_either_way_when_the_cloud_manifest_syncs_every_discovered_stream_twice_then_exact(
    make_emulator, workdir, frontend
) -> None:
    emu = make_emulator(dialect="glitchtip", glitchtip_frontend=frontend, events=300, issues=12, releases=6)

    first = cloud_read(workdir, write_inputs(workdir, emu.config(), SERVED))
    second = cloud_read(workdir, write_inputs(workdir, emu.config(), SERVED, first.final_state()))

    for run in (first, second):
        assert run.returncode == 0, run.errors or run.stderr[-2000:]
        assert not run.errors, run.errors
    assert_exact(emu, first, SERVED)
    assert_exact(emu, second, SERVED, unchanged=True)
    assert [r["path"] for r in emu.requests if any(p in r["path"] for p in LACKING_PATHS)] == []


def warnings(run: Run) -> list[str]:
    return [m["log"]["message"] for m in run.messages if m["type"] == "LOG" and m["log"]["level"] == "WARN"]


def test_given_new_late_and_repeated_activity_when_syncing_glitchtip_then_each_new_record_arrives_once(
    glitchtip, workdir
) -> None:
    slug = glitchtip.project_slugs[0]
    first = read(glitchtip, workdir)
    old_issue = glitchtip.ground_truth("issues", [slug])[-1]["id"]
    glitchtip.resolve_issue(old_issue)
    new = glitchtip.add_events(slug, 3)
    late = glitchtip.add_events(slug, 2, late_by=timedelta(minutes=30))
    again = glitchtip.add_events(slug, 1, issue_id=old_issue)
    glitchtip.add_release("9.9.9", [slug])
    glitchtip.reset_log()

    second = read(glitchtip, workdir, state=first.final_state())

    assert sorted(second.ids("events")) == sorted(e["id"] for e in new + late + again)
    assert old_issue in second.ids("issues")
    assert new[0]["groupID"] in second.ids("issues")
    assert second.ids("releases") == ["9.9.9"]
    delivered = Counter(first.ids("events") + second.ids("events"))
    assert sorted(delivered) == ids(glitchtip, "events")
    assert max(delivered.values()) == 1
    assert len(requests_to(glitchtip, f"/{slug}/events/")) == 1


def test_given_a_sentry_config_when_checking_glitchtip_then_it_fails_naming_the_server_setting(
    glitchtip, workdir
) -> None:
    run = warm_source("check", workdir, {**glitchtip.config(), "server": "sentry"})

    status = run.messages[-1]["connectionStatus"]
    assert status["status"] == "FAILED"
    assert "issues" in status["message"]
    assert "set `server` to `glitchtip`" in status["message"]


def test_given_a_token_without_project_releases_when_checking_glitchtip_then_it_names_that_scope(
    glitchtip, workdir
) -> None:
    token = glitchtip.make_token(scopes=["org:read", "project:read", "event:read"])

    run = warm_source("check", workdir, glitchtip.config(auth_token=token))

    status = run.messages[-1]["connectionStatus"]
    assert status["status"] == "FAILED"
    assert "Give the token project:releases (GlitchTip asks for it here)" in status["message"]
    assert "org:read, project:read, event:read, project:releases" in status["message"]


@pytest.mark.parametrize("frontend", ["absent", "built"])
def test_given_glitchtip_either_way_when_checking_then_what_it_serves_is_readable_and_the_rest_not_asked(
    make_emulator, workdir, frontend
) -> None:
    emu = make_emulator(dialect="glitchtip", glitchtip_frontend=frontend, events=30, issues=4, releases=2)

    run = warm_source("check", workdir, emu.config())

    status = run.messages[-1]["connectionStatus"]
    assert status["status"] == "SUCCEEDED", status["message"]
    assert (
        "Optional streams readable: organization, teams, members, environments, monitors."
        in status["message"]
    )
    assert "Not readable" not in status["message"]
    assert f"so not asked: {', '.join(LACKING)}." in status["message"]
    assert "set `server`" not in status["message"]
    assert [r["path"] for r in emu.requests if any(p in r["path"] for p in LACKING_PATHS)] == []
