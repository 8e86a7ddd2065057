"""Events read in windows side by side (issue 13): over several projects and many windows each,
every event reaches the destination once, late ones too; an incremental sync is one request per
project; a sync that fails midway resumes without losing a window."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from tools.airbyte_run import warm_source

pytestmark = pytest.mark.e2e

# 90 days in windows of 4: 23 windows per project.
WINDOWED = {"num_workers": 4, "event_window_days": 4, "settle_seconds": 0}


def truth(emu) -> set[str]:
    return {e["id"] for e in emu.ground_truth("events")}


def windows_per_project(emu) -> dict[str, set[str]]:
    starts: dict[str, set[str]] = defaultdict(set)
    for r in emu.requests:
        # Not the one-event probes that plan a long span's parts (they read no window).
        if r["path"].endswith("/events/") and r["query"].get("per_page") != ["1"]:
            starts[r["path"].split("/")[-3]].add(r["query"]["start"][0])
    return starts


def test_given_windows_over_projects_when_syncing_then_each_event_once_and_incremental_one_request_a_project(
    make_emulator, workdir: Path
) -> None:
    emu = make_emulator(projects=3, events=900, issues=10)
    config = emu.config(**WINDOWED)

    first = warm_source("read", workdir, config, streams=["events"])
    windows = windows_per_project(emu)
    late = emu.add_events(emu.project_slugs[0], 2, late_by=timedelta(minutes=30))
    new = emu.add_events(emu.project_slugs[1], 3)
    second = warm_source("read", workdir, config, streams=["events"], state=first.final_state())
    emu.reset_log()
    third = warm_source("read", workdir, config, streams=["events"], state=second.final_state())

    assert {slug: len(s) for slug, s in windows.items()} == {slug: 23 for slug in emu.project_slugs}
    assert Counter(first.ids("events")).most_common(1)[0][1] == 1
    assert set(first.ids("events")) | {e["id"] for e in late + new} == truth(emu)
    assert sorted(second.ids("events")) == sorted(e["id"] for e in late + new)
    assert third.ids("events") == []
    assert len([r for r in emu.requests if r["path"].endswith("/events/")]) == 3


def test_given_windowed_sync_failing_midway_when_resumed_from_its_state_then_no_event_is_lost(
    make_emulator, workdir: Path
) -> None:
    """The state of a project never passes a window left unread: one in ten events requests
    fails at once (a 400 is not retried), the sync ends with some windows unread, and the sync
    resumed from its last state reads exactly what is missing, once."""
    emu = make_emulator(projects=3, events=900, span_days=88, faults="events:400@0.1")
    failed = warm_source("read", workdir, emu.config(**WINDOWED), streams=["events"])
    assert failed.errors
    assert set(failed.ids("events")) != truth(emu)
    emu.clear_faults()

    resumed = warm_source(
        "read", workdir, emu.config(**WINDOWED), streams=["events"], state=failed.final_state()
    )

    assert not resumed.errors
    assert Counter(resumed.ids("events")).most_common(1)[0][1] == 1
    assert set(failed.ids("events")) | set(resumed.ids("events")) == truth(emu)


@pytest.mark.parametrize(("in_flight", "windows"), [(1, {0: 1, 1: 1, 2: 1}), (2, {0: 23, 1: 23, 2: 23})])
def test_given_events_allowing_in_flight_when_syncing_with_windows_then_windows_only_where_side_by_side(
    make_emulator, workdir: Path, in_flight: int, windows: dict[int, int]
) -> None:
    # With one events request in flight (sentry.io), windows would be read one after another and
    # each costs requests of its own: every project is one window (the probe that plans the first
    # project's parts is answered before its windows are cut, so the limit is known). With two,
    # all 23.
    emu = make_emulator(projects=3, events=900, issues=10, rate_limits={"events": (10_000, 60.0, in_flight)})

    run = warm_source("read", workdir, emu.config(**WINDOWED), streams=["events"])

    assert not run.errors, run.errors
    assert Counter(run.ids("events")).most_common(1)[0][1] == 1
    assert set(run.ids("events")) == truth(emu)
    counts = sorted(len(s) for s in windows_per_project(emu).values())
    assert counts == sorted(windows.values())
    assert [r for r in emu.requests if r["path"].endswith("/events/") and r["status"] == 429] == []
