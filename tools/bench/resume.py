"""Section 15: what a first sync of one big project costs, and what an interrupted one redoes,
before and after events (and issues) were cut in parts (source_sentry/packaged/parts.py).

"Before" is the same command with the parts switched off (SOURCE_SENTRY_EVENT_PARTS=off): each
project's span one window, as sentry.io's one request in flight has it, and the CDK's state pace.
The first syncs run without rate limits and count requests; their time under sentry.io's events
limit (60 requests a minute, one in flight) is derived from that count, since a 100,000-event
project takes 17 minutes there. The interruptions stop a sync with SIGTERM when 30, 50, 70 and 90%
of the project's events have been emitted (the smoke run: 50% of a small one), and run it again
from the last state it wrote.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from source_sentry.packaged.parts import PART_EVENTS, SWITCH
from tools.airbyte_run import interrupted_read
from tools.bench import clients
from tools.bench.emulator import EmulatorProcess

SENTRY_IO_EVENTS_PER_MINUTE = 60


def _env(before: bool) -> dict[str, str]:
    env = clients.our_env()
    if before:
        env[SWITCH] = "off"
    else:
        env.pop(SWITCH, None)
    return env


def _events_requests(emu: EmulatorProcess, stream: str = "events") -> list[dict[str, Any]]:
    return [e for e in emu.request_log() if e["path"].endswith(f"/{stream}/")]


def _config(emu: EmulatorProcess) -> dict[str, Any]:
    return {**clients.our_config(emu), "settle_seconds": 0, "num_workers": 1}


def first_syncs(sizes: tuple[int, ...], work: Path, problems: Any, log) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        with EmulatorProcess(events=size, issues=5, projects=1, releases=2, span_days=80) as emu:
            for label in ("before", "after"):
                emu.reset_log()
                started = time.perf_counter()
                run = interrupted_read(
                    work, _config(emu), streams=["events"], env=_env(label == "before"), timeout=3600,
                    command=clients.OURS,
                )  # fmt: skip
                wall = time.perf_counter() - started
                requests = _events_requests(emu)
                problems.check(
                    run.returncode == 0 and len(set(run.ids("events"))) == size,
                    f"resume: first sync of {size:,} events ({label}) emitted {len(run.ids('events')):,}",
                )
                row = {
                    "events": size,
                    "when": label,
                    "requests": len(requests),
                    "probes": sum(1 for e in requests if e.get("query", {}).get("per_page") == ["1"]),
                    "states": len(run.states),
                    "wall": wall,
                    "sentry_io_minutes": len(requests) / SENTRY_IO_EVENTS_PER_MINUTE,
                }
                rows.append(row)
                log(f"resume: {size:,} events {label}: {row['requests']} requests, {wall:.1f} s")
    return rows


def _interrupted(
    emu: EmulatorProcess, work: Path, before: bool, share: float, total: int, stream: str = "events"
) -> dict[str, Any]:
    emu.reset_log()
    stopped = interrupted_read(
        work, _config(emu), streams=[stream], env=_env(before), stop_after=math.ceil(share * total),
        timeout=3600, command=clients.OURS,
    )  # fmt: skip
    emitted = set(stopped.ids(stream))
    emu.reset_log()
    retry = interrupted_read(
        work, _config(emu), streams=[stream], env=_env(before), state=stopped.final_state() or None,
        timeout=3600, command=clients.OURS,
    )  # fmt: skip
    again = [i for i in retry.ids(stream) if i in emitted]
    requests = _events_requests(emu, stream)
    return {
        "stop": share,
        "emitted": len(emitted),
        "redone": len(again),
        "redone_share": len(again) / len(emitted) if emitted else 0.0,
        "retry_requests": len(requests),
        "retry_probes": sum(1 for e in requests if e.get("query", {}).get("limit") == ["1"]),
        "union_exact": len(emitted | set(retry.ids(stream))) == total,
        "retry_ok": retry.returncode == 0,
    }


def stops(total: int, shares: tuple[float, ...], work: Path, problems: Any, log) -> list[dict[str, Any]]:
    rows = []
    with EmulatorProcess(events=total, issues=5, projects=1, releases=2, span_days=80) as emu:
        for label in ("before", "after"):
            for share in shares:
                row = {"when": label, **_interrupted(emu, work, label == "before", share, total)}
                problems.check(
                    row["union_exact"] and row["retry_ok"],
                    f"resume: stop at {share:.0%} ({label}) lost events or failed its retry",
                )
                rows.append(row)
                log(f"resume: stop at {share:.0%} {label}: {row['redone']:,} of {row['emitted']:,} redone")
    return rows


def issue_stops(
    total: int, shares: tuple[float, ...], work: Path, problems: Any, log
) -> list[dict[str, Any]]:
    """The same for a project of `total` issues (one event each, and a few more events)."""
    rows = []
    with EmulatorProcess(
        events=total + total // 10, issues=total, projects=1, releases=2, span_days=80
    ) as emu:
        for label in ("before", "after"):
            for share in shares:
                row = {"when": label, **_interrupted(emu, work, label == "before", share, total, "issues")}
                problems.check(
                    row["union_exact"] and row["retry_ok"],
                    f"resume: issues stop at {share:.0%} ({label}) lost issues or failed its retry",
                )
                rows.append(row)
                log(
                    f"resume: issues stop at {share:.0%} {label}: "
                    f"{row['redone']:,} of {row['emitted']:,} redone"
                )
    return rows


def resume(plan: Any, work: Any, problems: Any, log) -> dict[str, Any]:
    path = Path(work.path) / "resume"
    path.mkdir(exist_ok=True)
    os.environ.pop(SWITCH, None)
    return {
        "part_events": PART_EVENTS,
        "first_syncs": first_syncs(plan.resume_sizes, path, problems, log),
        "stop_events": plan.resume_stop_events,
        "stops": stops(plan.resume_stop_events, plan.resume_stops, path, problems, log),
        "stop_issues": plan.resume_stop_issues,
        "issue_stops": issue_stops(plan.resume_stop_issues, plan.resume_issue_stops, path, problems, log),
    }
