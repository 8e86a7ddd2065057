"""The part planner's probe against a server that will not page as deep as the probe asks: Sentry
answers 400 `Pagination offset too large` at and past its offset limit, and some versions set it
at or below the probe's offset. The command then reads each project's span as one part,
saying so in one line of its own, with no error line; a 5xx or a 429 on the probe is retried as
any page's."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from source_sentry.packaged.parts import PART_EVENTS
from tools.airbyte_run import warm_source

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("fault", [None, "events:503x1", "events:429x1"])
def test_given_a_server_refusing_the_probes_offset_when_events_sync_then_each_project_is_one_part_quietly(
    make_emulator, workdir: Path, fault: str | None
) -> None:
    emu = make_emulator(event_offset_limit=PART_EVENTS, faults=fault)
    truth = emu.ground_truth("events")

    config = emu.config(settle_seconds=0, num_workers=1)

    run = warm_source("read", workdir, config, streams=["events"], timeout=120)

    assert run.returncode == 0, run.stderr[-2000:]
    assert not run.errors, run.errors
    assert Counter(run.ids("events")) == Counter(str(event["id"]) for event in truth)
    projects = len(emu.project_slugs)
    events_requests = [r for r in emu.requests if r["path"].endswith("/events/")]
    probes = [r for r in events_requests if r["query"].get("per_page") == ["1"]]
    # One probe a project answered 400 (the fault's answer first, where one is set, then retried);
    # no probe deeper, no second probe of a refused project.
    assert Counter(r["status"] for r in probes if r["fault"] is None) == {400: projects}
    faulted = [] if fault is None else [int(fault.split(":")[1][:3])]
    assert [r["status"] for r in probes if r["fault"] is not None] == faulted
    assert all(r["query"]["cursor"] == [f"0:{PART_EVENTS}:0"] for r in probes)
    logs = [m["log"] for m in run.messages if m["type"] == "LOG"]
    refused = [log for log in logs if "read as one part" in log["message"]]
    assert len(refused) == projects, refused
    assert all(log["level"] == "INFO" and "Pagination offset too large" in log["message"] for log in refused)
    assert [log for log in logs if log["level"] in ("ERROR", "FATAL")] == []
    assert not any("status code '400'" in log["message"] for log in logs)
