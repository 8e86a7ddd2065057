"""Section 14: issue statuses from the webhook feed. The emulator sends its `issue` webhooks to the
receiver (its own process, SQLite); the packaged command syncs `issues` with the receiver's feed.

- Cost: one organization; after its first sync, N issues change status through the API (bulk
  PUTs, each change one webhook), then one sync of `issues` reads them again by id. Requests and
  seconds of that sync, beside the status sweep of the same organization (the first sync of the
  next `issue_status_refresh_hours` period, which reads every issue in scope).
- Staleness: syncs start every `staleness_interval` seconds (as a scheduler runs them); issues
  change at random moments between them; each change's staleness is the seconds from the API
  call to the end of the first sync that sent the issue with its new status (a destination writes
  a sync's records by its end).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

import httpx

from tools.bench import clients
from tools.bench.clients import Workdir
from tools.bench.emulator import EmulatorProcess
from tools.bench.measure import fmt, median
from tools.bench.plan import Plan
from tools.receiver import FEED_TOKEN, SECRET, ReceiverProcess, read_feed

BULK = 100  # ids per bulk PUT, Sentry's own cap on one mutation


def changed_issues(plan: Plan, work: Workdir, problems, log) -> dict[str, Any]:
    from tools.bench.sections import _previous_period

    size = plan.changed_issues_org
    out: dict[str, Any] = {"issues": size, "rows": [], "staleness": {}}
    with (
        EmulatorProcess(events=size * 2, issues=size, projects=plan.projects) as emu,
        ReceiverProcess(work.path, str(work.path / "changed-issues.sqlite3")) as receiver,
    ):
        emu.control("add_sentry_app", webhook_url=f"{receiver.base_url}/sentry/webhook",
                    client_secret=SECRET, resources=["issue"])  # fmt: skip
        config = {**clients.our_config(emu), "webhooks_url": receiver.base_url, "webhooks_token": FEED_TOKEN}
        first, _ = clients.read(clients.OURS, emu, work, config, ["issues"], collect_ids=True)
        state = first.state_file_content()
        statuses = {str(i["id"]): i["status"] for i in emu.ground_truth("issues")}
        in_scope = sorted(first.ids.get("issues", {}))
        out["in_scope"] = len(in_scope)
        problems.check(len(in_scope) == len(statuses), f"changed issues: first sync sent {len(in_scope)}")
        offset = 0
        for count in plan.changed_issues_counts:
            chosen = [in_scope[(offset + k) % len(in_scope)] for k in range(min(count, len(in_scope)))]
            offset += len(chosen)
            started = time.perf_counter()
            _change(emu, chosen, statuses)
            changing = time.perf_counter() - started
            m, req = clients.read(clients.OURS, emu, work, config, ["issues"], state=state, collect_ids=True)
            by_id = sum(1 for e in emu.request_log() if "group" in (e.get("query") or {}))
            sent: Counter[str] = m.ids.get("issues", Counter())
            problems.check(
                m.returncode == 0 and set(sent) == set(chosen) and m.duplicates("issues") == 0,
                f"changed issues: {len(chosen)} changed, the sync sent {m.counts['issues']} "
                f"({len(set(sent) & set(chosen))} of them), rc {m.returncode}",
            )
            state = m.state_file_content()
            out["rows"].append(
                {"changed": len(chosen), "wall": m.wall, "cpu": m.cpu, "requests": req["total"],
                 "by_id": by_id, "issues_requests": req["by_category"].get("issues", 0),
                 "records": m.counts["issues"], "change_seconds": changing}
            )  # fmt: skip
            log(f"  {len(chosen):,} changed: {by_id} requests by id, {req['total']} in all, {m.wall:.1f} s")
        swept, swept_req = clients.read(
            clients.OURS, emu, work, config, ["issues"], state=[_previous_period(s) for s in state]
        )
        problems.check(swept.counts["issues"] == len(in_scope), f"sweep sent {swept.counts['issues']}")
        out["sweep"] = {"wall": swept.wall, "cpu": swept.cpu, "requests": swept_req["total"],
                        "records": swept.counts["issues"]}  # fmt: skip
        state = swept.state_file_content()
        out["staleness"] = _staleness(plan, emu, work, config, state, statuses, in_scope, problems, log)
        out["feed_deliveries"] = len(read_feed(receiver.base_url))
    return out


def _change(emu: EmulatorProcess, ids: list[str], statuses: dict[str, str]) -> None:
    """Flip each issue's status (resolved <-> unresolved) with bulk PUTs, and wait until the
    emulator has sent every webhook."""
    targets: dict[str, list[str]] = {}
    for issue in ids:
        target = "unresolved" if statuses[issue] == "resolved" else "resolved"
        targets.setdefault(target, []).append(issue)
        statuses[issue] = target
    path = f"{emu.base_url}/api/0/organizations/{emu.organization}/issues/"
    with httpx.Client(headers={"Authorization": f"Bearer {emu.token}"}, timeout=60) as client:
        for target, group in targets.items():
            for start in range(0, len(group), BULK):
                params: list[tuple[str, str | int | float | bool | None]] = [
                    ("id", issue) for issue in group[start : start + BULK]
                ]
                answer = client.put(path, params=params, json={"status": target})
                answer.raise_for_status()
    # The timeout in the body is the emulator's wait; the keyword would be this request's own.
    if not emu.control("drain_webhooks", {"timeout": 600})["drained"]:
        raise RuntimeError("the emulator did not send every webhook within 600 s")


def _staleness(plan: Plan, emu, work, config, state, statuses, in_scope, problems, log) -> dict[str, Any]:
    interval, changes = plan.staleness_interval, plan.staleness_changes
    rng = random.Random(14)
    chosen = rng.sample(in_scope, changes)
    began = time.time()
    # Each change at a random moment of its own interval, so that every phase of the cycle is met.
    due = [began + k * interval + rng.uniform(0.05, 0.95) * interval for k in range(changes)]
    changed: list[tuple[str, float]] = []
    syncs: list[tuple[float, set[str]]] = []  # (end, ids sent)
    next_sync = began
    while len(syncs) < changes + 2:
        now = time.time()
        if due and due[0] <= now:
            due.pop(0)
            issue = chosen[len(changed)]
            at = time.time()
            _change(emu, [issue], statuses)
            changed.append((issue, at))
            continue
        if now >= next_sync:
            next_sync += interval
            m, _ = clients.read(clients.OURS, emu, work, config, ["issues"], state=state, collect_ids=True)
            state = m.state_file_content()
            syncs.append((time.time(), set(m.ids.get("issues", {}))))
            continue
        time.sleep(min(0.05, max(0.0, min([next_sync, *due[:1]]) - now)))
    seconds = []
    for issue, at in changed:
        ends = [end for end, sent in syncs if end > at and issue in sent]
        if problems.check(bool(ends), f"staleness: issue {issue} changed at {at - began:.0f} s never came"):
            seconds.append(ends[0] - at)
    log(f"  staleness over {len(seconds)} changes, syncs every {interval:g} s: {[round(s) for s in seconds]}")
    return {"interval": interval, "seconds": seconds, "syncs": len(syncs)}


def render(res: dict, w) -> None:
    w("## 14. Issue statuses from the webhook feed\n")
    row = res.get("changed_issues")
    if not row:
        w("Not run.\n")
        return
    w(
        "The emulator sends its `issue` webhooks to the receiver (SQLite, its own process); the "
        "packaged command syncs `issues` with `webhooks_url` set. After the first sync of an "
        f"organization of {row['issues']:,} issues ({row['in_scope']:,} in scope), N issues change "
        "status through the API, then one sync reads them: the feed, then the changed issues by id, "
        "100 a request (`?group=ID&...`). The last row is the status sweep of the same organization "
        "(the first sync of the next `issue_status_refresh_hours` period), the only way statuses "
        "are corrected without the receiver.\n"
    )
    w(
        "| sync | issues sent | requests to Sentry (of them by id) | by-id requests per changed issue "
        "| wall s | CPU s |"
    )
    w("|---|---:|---:|---:|---:|---:|")
    for r in row["rows"]:
        per = r["by_id"] / r["changed"] if r["changed"] else 0.0
        changes = f"{r['changed']:,} status changes"
        w(
            f"| after {changes} | {r['records']:,} | {r['requests']:,} ({r['by_id']:,}) "
            f"| {per:.3f} | {fmt(r['wall'])} | {fmt(r['cpu'])} |"
        )
    sweep = row["sweep"]
    w(
        f"| status sweep (every issue in scope) | {sweep['records']:,} | {sweep['requests']:,} (0) | "
        f"| {fmt(sweep['wall'])} | {fmt(sweep['cpu'])} |"
    )
    w("")
    st = row.get("staleness") or {}
    if st.get("seconds"):
        seconds = st["seconds"]
        w(
            f"**Staleness, receiver up**: syncs start every {st['interval']:g} s; {len(seconds)} issues "
            "changed at random moments; from the API call to the end of the sync that sent the issue "
            f"with its new status: median {median(seconds):.1f} s, max {max(seconds):.1f} s "
            f"(each: {', '.join(f'{s:.1f}' for s in seconds)}). Expected: up to one interval plus "
            "one sync. With the receiver down, a change waits for the sweep: up to "
            "`issue_status_refresh_hours` (24 h by default).\n"
        )
