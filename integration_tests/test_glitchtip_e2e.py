"""The installed command against the emulator speaking GlitchTip's dialect (issue 11): every
stream exact, incremental syncs that read only the newest pages, and a Sentry config that
fails at once, naming the setting to change."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from sentry_emulator.resources.glitchtip import HAS_KINDS
from tools.airbyte_run import STREAMS, Run, source

pytestmark = pytest.mark.e2e

EVENTS_PATH = "/events/"
ISSUES_PATH = "/organizations/acme/issues/"


def ids(emu, stream: str) -> list[str]:
    return sorted(str(r.get("id", r.get("version"))) for r in emu.ground_truth(stream))


def read(emu, workdir, state=None, streams=STREAMS) -> Run:
    run = source("read", workdir, emu.config(), streams=streams, state=state)
    assert run.returncode == 0, run.errors or run.stderr[-2000:]
    assert emu.token not in run.stdout + run.stderr
    return run


def requests_to(emu, fragment: str) -> list[dict]:
    return [r for r in emu.requests if fragment in r["path"]]


@pytest.fixture
def glitchtip(make_emulator):
    # Enough events for several 100-event pages per project, so that stopping early shows.
    return make_emulator(dialect="glitchtip", events=900, issues=30, releases=12)


# The streams whose endpoints GlitchTip lacks: those outside the emulator's GlitchTip allow-list.
LACKING = tuple(stream for stream in STREAMS if stream not in HAS_KINDS)


def test_given_glitchtip_when_syncing_every_stream_then_each_record_arrives_once(glitchtip, workdir) -> None:
    run = read(glitchtip, workdir)

    for stream in STREAMS:
        got = run.ids(stream)
        assert [i for i, n in Counter(got).items() if n > 1] == [], f"{stream}: duplicates"
        assert sorted(got) == ids(glitchtip, stream), stream
        assert bool(got) == (stream not in LACKING), stream
    skips = [
        m["log"]["message"]
        for m in run.messages
        if m["type"] == "LOG" and m["log"]["level"] == "WARN" and m["log"]["message"].startswith("Stream `")
    ]
    assert sorted(message.split("`")[1] for message in skips) == sorted(LACKING)
    assert all("this server does not have" in message and "(404)" in message for message in skips)
    assert {r["id"] for r in run.records["releases"]} == {
        r["version"] for r in glitchtip.ground_truth("releases")
    }
    assert {type(e["projectID"]) for e in run.records["events"]} == {str}
    issue_queries = [r["query"] for r in requests_to(glitchtip, ISSUES_PATH)]
    assert issue_queries
    assert all(q["sort"] == ["-last_seen"] and "query" not in q and "start" not in q for q in issue_queries)


def test_given_nothing_new_when_syncing_glitchtip_again_then_nothing_is_sent_and_no_history_is_read(
    glitchtip, workdir
) -> None:
    first = read(glitchtip, workdir)
    glitchtip.reset_log()

    again = read(glitchtip, workdir, state=first.final_state())

    assert sum(len(again.records.get(s, [])) for s in ("events", "issues", "releases", "projects")) == 0
    projects = len(glitchtip.project_slugs)
    assert len(requests_to(glitchtip, EVENTS_PATH)) == projects  # one page each, not the history
    assert len(requests_to(glitchtip, ISSUES_PATH)) == projects


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
    run = source("check", workdir, {**glitchtip.config(), "server": "sentry"})

    status = run.messages[-1]["connectionStatus"]
    assert status["status"] == "FAILED"
    assert "issues" in status["message"]
    assert "set `server` to `glitchtip`" in status["message"]
