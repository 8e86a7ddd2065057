"""Section 13: forwarding. Deliveries posted at a fixed rate to a receiver (its own process)
that forwards them to a test target on loopback (tools.forward_target, in this process):
- the time from Sentry's POST leaving the client to the target reading the forwarded request,
  with a healthy target (p50/p99);
- the receiver's answer latency with no target, with a healthy one, and with one target down
  (it accepts connections and never answers in time) beside the healthy one, whose POST-to-target
  time is measured too.
Every delivery answered 2xx must reach the healthy target.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from tools.forward_target import SECRET, Behaviour, ForwardTarget
from tools.postgres import TempCluster
from tools.receiver import ReceiverProcess, headers, issue_body

DOWN = Behaviour(delay=60.0)
SCENARIOS = {
    "none": "no target",
    "healthy": "one healthy target",
    "one_down": "one target down, one healthy",
}


def _percentiles(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    if not ordered:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": ordered[-1] * 1000}


def _targets(scenario: str, target: ForwardTarget) -> list[dict[str, Any]]:
    healthy = {"name": "healthy", "kind": "webhook", "url": target.url("/healthy"), "secret": SECRET}
    down = {"name": "down", "kind": "webhook", "url": target.url("/down"), "secret": SECRET}
    return {"none": [], "healthy": [healthy], "one_down": [down, healthy]}[scenario]


def measure(scenario: str, database: str, root, rate: int, seconds: float) -> dict[str, Any]:
    with ForwardTarget() as target:
        target.plan(*[DOWN] * int(rate * seconds + 10), path="/down")
        settings: dict[str, Any] = {
            "log_level": "warning",
            "forward": _targets(scenario, target),
            # In-flight requests to the down target are not waited for at the end.
            "shutdown_grace_seconds": 1,
        }
        with ReceiverProcess(root, database, **settings) as receiver:
            posted: dict[bytes, float] = {}
            answers: list[float] = []
            failed = 0
            with httpx.Client(base_url=receiver.base_url, timeout=10) as client:
                started = time.perf_counter()
                for i in range(int(rate * seconds)):
                    wait = started + i / rate - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                    body = issue_body("created", f"{scenario}-{i}", "unresolved")
                    sent = headers(body, "issue")
                    at, clock = time.time(), time.perf_counter()
                    answer = client.post("/sentry/webhook", content=body, headers=sent)
                    answers.append(time.perf_counter() - clock)
                    if answer.status_code == 200:
                        posted[body] = at
                    else:
                        failed += 1
            arrived: dict[bytes, float] = {}
            if scenario != "none":
                deadline = time.monotonic() + 60
                while len(arrived) < len(posted) and time.monotonic() < deadline:
                    arrived = {r.body: r.at for r in target.requests("/healthy") if r.body in posted}
                    time.sleep(0.05)
            down_requests = len(target.requests("/down"))
    to_target = [arrived[body] - posted[body] for body in arrived]
    return {
        "posted": len(posted),
        "failed": failed,
        "arrived": len(arrived) if scenario != "none" else None,
        "answer": _percentiles(answers),
        "to_target": _percentiles(to_target) if scenario != "none" else None,
        "down_requests": down_requests,
    }


def forwarding(plan, work, problems, log) -> dict[str, Any]:
    rate, seconds = plan.forward_rate, plan.forward_seconds
    out: dict[str, Any] = {"rate": rate, "seconds": seconds, "runs": {}}
    with TempCluster() as cluster:
        for store in plan.forward_stores:
            for scenario in plan.forward_scenarios:
                database = (
                    str(work.path / f"forward-{scenario}.sqlite3")
                    if store == "sqlite"
                    else cluster.new_database()
                )
                log(f"forwarding: {store}, {SCENARIOS[scenario]}")
                result = measure(scenario, database, work.path, rate, seconds)
                if scenario != "none":
                    problems.check(
                        result["arrived"] == result["posted"] and not result["failed"],
                        f"forwarding {store} {scenario}: {result['posted'] - (result['arrived'] or 0)} of "
                        f"{result['posted']} deliveries never reached the healthy target, {result['failed']} "
                        "not answered 2xx",
                    )
                out["runs"][f"{store}/{scenario}"] = result
    return out
