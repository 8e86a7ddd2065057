"""The issues status refresh (`issue_status_refresh_hours`): the first sync of a new status period
reads every issue in scope again, and the packaged command plans it like a first sync. A project
of more than a part of issues is cut by probes, the state moves at each part's end, and the
records are the emulator's issues, each once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from source_sentry.packaged.parts import PART_EVENTS
from tools.airbyte_run import warm_source

pytestmark = pytest.mark.e2e

ISSUES = PART_EVENTS + 500  # two parts
EXPIRED_PERIOD = "2000-01-01T00:00:00Z"


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def score(when: datetime) -> int:
    """Sentry's score of an issue seen at `when`, sorted by date: its milliseconds since 1970."""
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def state_of_an_expired_period(project_id: str, last_seen: str) -> list[dict[str, Any]]:
    """The issues state the previous period's last sync wrote: the project read up to its newest
    issue, under a status period that has ended."""
    partition = {"parent_slice": {}, "project_id": project_id, "status_period": EXPIRED_PERIOD}
    blob = {"states": [{"partition": partition, "cursor": {"lastSeen": last_seen}}]}
    return [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "issues"}, "stream_state": blob}}]


def positions_in_order(messages: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(index of the message, the project's saved lastSeen) of each issues state message of the
    current period, in the order written."""
    positions = []
    for index, message in enumerate(messages):
        if message["type"] != "STATE" or message["state"]["stream"]["stream_descriptor"]["name"] != "issues":
            continue
        for entry in message["state"]["stream"]["stream_state"].get("states", []):
            if entry["partition"]["status_period"] != EXPIRED_PERIOD and entry.get("cursor"):
                positions.append((index, entry["cursor"]["lastSeen"]))
    return positions


def test_given_an_expired_status_period_when_issues_sync_then_the_refresh_is_read_in_parts(
    make_emulator, workdir: Path
) -> None:
    emu = make_emulator(projects=1, events=ISSUES + 500, issues=ISSUES, span_days=80)
    truth = emu.ground_truth("issues")
    assert len(truth) > PART_EVENTS  # in scope: issues with an event
    [project] = emu.ground_truth("projects")
    state = state_of_an_expired_period(str(project["id"]), truth[0]["lastSeen"])

    run = warm_source(
        "read",
        workdir,
        emu.config(settle_seconds=0, num_workers=1),
        streams=["issues"],
        state=state,
        timeout=120,
    )

    assert run.returncode == 0, run.stderr[-2000:]
    assert not run.errors, run.errors
    # Every issue again, once: the refresh re-reads the whole scope.
    assert Counter(run.ids("issues")) == Counter(str(issue["id"]) for issue in truth)

    # The span was cut by probes: one record asked at offset PART_EVENTS below each part's end.
    issue_requests = [r for r in emu.requests if r["path"].endswith("/issues/")]
    probes = [r["query"]["cursor"][0] for r in issue_requests if r["query"].get("limit") == ["1"]]
    deep = [cursor for cursor in probes if cursor.endswith(f":{PART_EVENTS}:0")]
    assert len(deep) == 2, probes  # the newest part's end, then the older rest's (none there)

    # The state moved at the end of the older part, before the newest part's issues were all out,
    # and only over issues already emitted.
    positions = positions_in_order(run.messages)
    assert positions, "no issues state of the new period was written"
    final = positions[-1][1]
    assert parse(final) == max(parse(issue["lastSeen"]) for issue in truth)
    part_ends = sorted({text for _, text in positions if text != final})
    assert len(part_ends) == 1, positions
    [boundary] = part_ends
    # It is the boundary the first probe found: the second probe asks below it.
    assert deep[1] == f"{score(parse(boundary))}:{PART_EVENTS}:0"
    newer = [issue for issue in truth if parse(issue["lastSeen"]) > parse(boundary)]
    assert 0 < len(newer) <= PART_EVENTS
    index = next(i for i, text in positions if text == boundary)
    emitted_before = {str(m["record"]["data"]["id"]) for m in run.messages[:index] if m["type"] == "RECORD"}
    older = {str(issue["id"]) for issue in truth if parse(issue["lastSeen"]) <= parse(boundary)}
    assert older <= emitted_before
    assert len(emitted_before) < len(truth)
    # The older part's first page started at its end's score, so that the newer part's issues were
    # not listed with it.
    starts = [r["query"].get("cursor", [""])[0] for r in issue_requests if r["query"].get("limit") != ["1"]]
    assert f"{score(parse(boundary))}:0:0" in starts
