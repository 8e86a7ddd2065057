"""An interrupted first sync resumes (issue 27): the command (launched warm: tools/warm_source.py,
which dies of SIGTERM as the installed command does) reading a big project is stopped with SIGTERM
(a pod eviction, a node drain, a deploy of the worker) at 30%, 50%, 70% and 90% of its events, each
time run again from the last state it wrote, as Airbyte's retry does. Each retry emits again at most
the part that was in flight (PART_EVENTS events), and the union of the attempts is the emulator's
events, exactly."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from source_sentry.packaged.parts import PART_EVENTS
from tools.airbyte_run import Run, interrupted_read

pytestmark = pytest.mark.e2e

STOPS = (0.3, 0.5, 0.7, 0.9)


def stream_requests(emu, stream: str = "events") -> list[dict[str, Any]]:
    return [r for r in emu.requests if r["path"].endswith(f"/{stream}/")]


def probes(requests: list[dict[str, Any]]) -> int:
    """The probes among `requests`: one record asked (`per_page` for events, `limit` for issues)."""
    return sum(1 for r in requests if ["1"] in (r["query"].get("per_page"), r["query"].get("limit")))


def last_state(runs: list[Run]) -> list[dict[str, Any]] | None:
    for run in reversed(runs):
        if run.states:
            return run.final_state()
    return None


def resume_through_stops(
    emu, workdir: Path, config: dict, stops=STOPS, stream: str = "events"
) -> tuple[list[Run], list[dict]]:
    """Attempts stopped when the events emitted so far (over all attempts) reach each share of the
    project, then one run to the end; each starts from the last state any attempt wrote. Returns
    the attempts and, per retry, what it re-emitted and requested."""
    total = len(emu.ground_truth(stream))
    runs: list[Run] = []
    seen: set[str] = set()
    retries: list[dict] = []
    for share in [*stops, None]:
        emu.reset_log()
        stop_after = None if share is None else math.ceil(share * total) - len(seen)
        run = interrupted_read(
            workdir,
            config,
            streams=[stream],
            state=last_state(runs),
            stop_after=stop_after,
            known=seen,
            timeout=300,
            warm=True,
        )
        ids = run.ids(stream)
        if runs:
            requests = stream_requests(emu, stream)
            retries.append(
                {
                    "after": stops[len(runs) - 1],
                    "before": len(seen),  # emitted by the attempts before this one
                    "again": len([i for i in ids if i in seen]),
                    "new": len([i for i in ids if i not in seen]),
                    "requests": len(requests),
                    "probes": probes(requests),
                    "returncode": run.returncode,
                    "errors": [e.get("message", "")[:200] for e in run.errors],
                    "statuses": dict(Counter(r["status"] for r in requests)),
                }
            )
        assert share is None or run.returncode != 0, "the attempt ended before it was stopped"
        seen.update(ids)
        runs.append(run)
    return runs, retries


def assert_resumed_exactly(emu, runs: list[Run], retries: list[dict]) -> None:
    final = runs[-1]
    assert not final.errors, final.errors
    truth = Counter(e["id"] for e in emu.ground_truth("events"))
    union = Counter(i for run in runs for i in run.ids("events"))
    assert set(union) == set(truth)
    assert max(Counter(final.ids("events")).values()) == 1
    for retry in retries:
        assert not retry["errors"], retry
        # At most the part in flight is emitted again, and the retry's requests beyond its probes
        # and the pages of its new events (one partial last page per part, one page of the hour
        # each window reads before its start) are at most that part's pages.
        assert retry["again"] <= PART_EVENTS, retry
        parts = retry["probes"]  # one part per probe: the last probe, empty, ends the plan
        redone_requests = retry["requests"] - retry["probes"] - math.ceil(retry["new"] / 100) - 2 * parts
        assert redone_requests <= PART_EVENTS // 100 + 1, retry
    # Duplicates across attempts are the re-emitted ones alone.
    assert sum(union.values()) - len(truth) == sum(r["again"] for r in retries)


def test_given_a_big_first_sync_stopped_at_30_50_70_90_percent_when_resumed_then_each_retry_redoes_a_part(
    make_emulator, workdir: Path
) -> None:
    """One worker, one window per part, as on sentry.io; with the offset limit of some Sentry
    versions on (a 400 above 10,000), which a part never reaches."""
    # 25,000 events: five parts, ending at the 5,000th, 10,000th, ... event read (oldest first).
    # The stops (7,500, 12,500, 17,500 and 22,500 events) each fall 2,500 events past a part's end
    # and in another part than the stop before: every attempt finished a part, and every retry
    # resumes from a part's end, none from the start.
    events = 25_000
    emu = make_emulator(projects=1, events=events, issues=5, span_days=80, event_offset_limit=10_000)
    runs, retries = resume_through_stops(emu, workdir, emu.config(settle_seconds=0, num_workers=1))

    assert_resumed_exactly(emu, runs, retries)
    assert [r["after"] for r in retries] == list(STOPS)
    parts_done = [math.floor(stop * events / PART_EVENTS) for stop in STOPS]
    assert parts_done == sorted(set(parts_done)), parts_done
    assert parts_done[0] >= 1, parts_done
    # Each retry redid less than it would have from scratch: the part in flight (and the hour
    # read before a window's start, a few events here), never a part an attempt before it finished.
    for retry, done in zip(retries, parts_done, strict=True):
        assert retry["again"] < retry["before"], retry
        assert retry["again"] <= retry["before"] - done * PART_EVENTS + 100, retry
    print("retries:", retries)


def test_given_windows_side_by_side_when_stopped_midway_and_resumed_then_the_union_is_exact(
    make_emulator, workdir: Path
) -> None:
    """Four workers reading 10-day windows side by side, cut at the parts' boundaries too: the
    retry redoes at most the windows in flight, each within a part."""
    emu = make_emulator(projects=2, events=9_000, issues=5, span_days=80)
    config = emu.config(settle_seconds=0, num_workers=4, event_window_days=10)
    runs, retries = resume_through_stops(emu, workdir, config, stops=(0.5,))

    final = runs[-1]
    assert not final.errors, final.errors
    truth = {e["id"] for e in emu.ground_truth("events")}
    union = Counter(i for run in runs for i in run.ids("events"))
    assert set(union) == truth
    assert max(Counter(final.ids("events")).values()) == 1
    assert retries[0]["again"] <= 4 * PART_EVENTS, retries
    assert sum(union.values()) - len(truth) == retries[0]["again"]


def test_given_sentry_io_rate_limits_when_stopped_and_resumed_then_the_union_is_exact(
    make_emulator, workdir: Path
) -> None:
    """sentry.io's events limits: one request in flight per user, 60 in a window (here a window of
    10 seconds, so that the test waits seconds, not minutes, for its resets). The connector asks
    for four workers; the answers' limits keep it to one request at a time."""
    limits = {"events": (60, 10.0, 1)}
    emu = make_emulator(projects=1, events=6_000, issues=5, span_days=80, rate_limits=limits)
    config = emu.config(settle_seconds=0, num_workers=4)
    runs, retries = resume_through_stops(emu, workdir, config, stops=(0.9,))

    assert_resumed_exactly(emu, runs, retries)
    assert retries[0]["again"] < 0.9 * 6_000
    print("retries:", retries, "429s:", len([r for r in emu.requests if r["status"] == 429]))


def test_given_a_big_first_sync_of_issues_stopped_midway_when_resumed_then_the_retry_redoes_a_part(
    make_emulator, workdir: Path
) -> None:
    """Issues have the events' shape (newest first, one cursor per project and status period):
    15,000 issues cut in parts of at most PART_EVENTS, each part's pages starting at its end, so
    that a retry lists again at most the part in flight, and not every newer issue."""
    emu = make_emulator(projects=1, events=16_000, issues=15_000, span_days=80)
    runs, retries = resume_through_stops(
        emu, workdir, emu.config(settle_seconds=0, num_workers=1), stops=(0.5,), stream="issues"
    )

    final = runs[-1]
    assert not final.errors, final.errors
    truth = Counter(i["id"] for i in emu.ground_truth("issues"))
    union = Counter(i for run in runs for i in run.ids("issues"))
    assert set(union) == set(truth)
    assert max(Counter(final.ids("issues")).values()) == 1
    (retry,) = retries
    assert not retry["errors"], retry
    assert retry["again"] <= PART_EVENTS, retry
    assert retry["again"] < retry["new"], retry
    # The retry lists what it had not emitted and the part in flight once, not the newer parts'
    # issues again: its pages (of 100, a quarter of them short, as Sentry's search may answer) are
    # within 1.5 times those of its issues, plus its probes.
    listed = retry["requests"] - retry["probes"]
    assert listed <= 1.5 * math.ceil((retry["new"] + retry["again"]) / 100) + 2, retry
    assert sum(union.values()) - len(truth) == retry["again"]
    print("retries:", retries)
