"""Section 12: the webhook receiver under load, on SQLite and PostgreSQL, beside its floor.

Sentry sends each webhook from a worker of its own: deliveries arrive when they arrive, however
many are still waiting for an answer, and each is given up after Sentry's one second. The load is
shaped the same way, from WORKERS load-generating processes (aiohttp on uvloop, keep-alive
connections), against a fresh receiver process on loopback:
- capacity: CONNECTIONS senders per process, each posting again as soon as answered (closed
  loop), for a fixed time: deliveries answered 2xx per second;
- latency at a rate: deliveries sent on a fixed schedule (open loop: each is sent when due,
  whether or not earlier ones were answered, on a connection of its own when every open one is
  busy, as Sentry's many senders do), rate after rate, each answer's latency counted from
  the moment it was due, so a server falling behind shows as latency, not as a slower schedule.
  A rate is held when every delivery was answered 2xx within Sentry's second, the schedule
  finished within 10% of its time, and the answers kept pace with it: the latency did not climb
  through the step (its least-squares slope against the time a delivery was due stays under
  PACE_SLOPE). A server answering 2% fewer than are sent falls 0.02 s further behind each
  second, however long it takes to pass Sentry's second; a step of 5 s alone would call it held.
  The highest rate held, its p50 and p99.
The deliveries of a step are signed before its schedule starts. After each store's run the feed
is read: every delivery answered 2xx must be in it, once. Between the floor and the stores, the
receiver itself over a store keeping nothing (webhook_nostore.py): the most of the floor's rate a
store could reach here. Each capacity run also counts where the CPU went (Watch): the server's
process, PostgreSQL's server for its store, the generators, and how idle the machine was.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import aiohttp
import httpx
import psutil
import uvloop

from tools.postgres import TempCluster, free_port
from tools.receiver import ReceiverProcess, headers, issue_body, read_feed

PAD = "frame " * 250  # a body of about 2 KB, a small issue as Sentry serialises it
# Two processes for two cores; in the closed loop each keeps CONNECTIONS requests in flight. (An
# earlier generator of 4 processes with one blocking connection each could never have more than 4
# deliveries waiting, so it measured the store's commit time, not what the receiver can take.)
# The open loop has no such cap: with one, a delivery due while every connection waited for an
# answer waited in the generator, and that wait was counted as the server's latency (at 3,000/s,
# 64 connections leave each answer 21 ms before the schedule backs up in the generator).
WORKERS = 2
CONNECTIONS = 32
SENTRY_TIMEOUT_S = 1.0
P99_TARGET_MS = 100.0
# Seconds of latency gained per second of schedule: above this the server answers fewer than
# 98% of the deliveries sent, and its queue grows for as long as the rate lasts.
PACE_SLOPE = 0.02
NOSTORE = ("tools.bench.webhook_nostore",)


class FloorProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> FloorProcess:
        self.process = subprocess.Popen([sys.executable, "-m", "tools.bench.webhook_floor", str(self.port)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the floor server did not start")

    def pids(self) -> list[int]:
        assert self.process is not None
        return [self.process.pid]

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(20)


class Bodies:
    """Signed Sentry-shaped deliveries, each about an issue of its own."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.count = 0

    def next(self) -> tuple[str, bytes, dict[str, str]]:
        self.count += 1
        issue = f"{self.prefix}{self.count}"
        body = issue_body("created", issue, "unresolved", title=PAD)
        return issue, body, headers(body, "issue")


def _worker(base_url: str, prefix: str, rate: float | None, seconds: float) -> dict[str, Any]:
    """One load-generating process: rate None, CONNECTIONS senders each posting again as soon as
    answered; otherwise each delivery sent when due, and its latency counted from then."""
    try:
        return uvloop.run(_send(base_url, prefix, rate, seconds))
    finally:
        gc.unfreeze()  # the run's schedule, frozen in _send, may now be collected


async def _send(base_url: str, prefix: str, rate: float | None, seconds: float) -> dict[str, Any]:
    bodies = Bodies(prefix)
    scheduled = [bodies.next() for _ in range(int(rate * seconds))] if rate else []
    # The generator's own full collections walked the schedule and aiohttp's modules while due
    # deliveries waited: 100 to 220 ms of its lateness, counted as the server's latency.
    gc.collect()
    gc.freeze()
    latencies: list[float] = []
    dues: list[float] = []
    late_sends: list[float] = []
    answered: list[str] = []
    errors = 0
    # time.perf_counter, not loop.time: uvloop's clock moves in whole milliseconds.
    clock = time.perf_counter
    # limit=0: no cap on connections (the open loop's deliveries are each sent when due).
    connector = aiohttp.TCPConnector(limit=0 if rate else CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as session:

        async def post(delivery: tuple[str, bytes, dict[str, str]], due: float) -> None:
            nonlocal errors
            issue, body, sent = delivery
            # How late the generator itself began sending (its own share of the latency).
            late_sends.append(clock() - due)
            try:
                async with session.post("/sentry/webhook", data=body, headers=sent) as answer:
                    await answer.read()
                    status = answer.status
            except (TimeoutError, aiohttp.ClientError):
                errors += 1
                return
            latencies.append(clock() - due)
            dues.append(due - started)
            if status == 200:
                answered.append(issue)
            else:
                errors += 1

        started = clock()
        cpu_started = time.process_time()
        if rate:
            sending = []
            for i, delivery in enumerate(scheduled):
                due = started + i / rate
                if due > clock():
                    await asyncio.sleep(due - clock())
                sending.append(asyncio.create_task(post(delivery, due)))
            await asyncio.gather(*sending)
        else:

            async def sender() -> None:
                while clock() < started + seconds:
                    await post(bodies.next(), clock())

            await asyncio.gather(*(sender() for _ in range(CONNECTIONS)))
        wall = clock() - started
        cpu = time.process_time() - cpu_started
    return {
        "cpu": cpu,
        "latencies": latencies,
        "dues": dues,
        "late_sends": late_sends,
        "answered": answered,
        "errors": errors,
        "wall": wall,
    }


class Watch:
    """The CPU time of the server's processes (and PostgreSQL's, for its store) over one run, and
    the machine's idle share: with the generators' own, where a closed-loop run's CPU went.
    Capacity is about the busy cores divided by the CPU all processes spend per delivery."""

    def __init__(self, **groups: Callable[[], list[int]]) -> None:
        self.groups = groups  # name -> the pids to count (read again at each run)

    def read(self) -> dict[str, Any]:
        return {
            "groups": {name: _cpu_by_pid(pids()) for name, pids in self.groups.items()},
            "machine": psutil.cpu_times(),
        }

    def spent(self, before: dict[str, Any]) -> dict[str, Any]:
        after = self.read()
        groups = {}
        for name, then in before["groups"].items():
            now = after["groups"][name]
            # A process that ended during the run (none should) takes its time with it.
            groups[name] = sum(now[pid] - then[pid] for pid in then if pid in now)
        t0, t1 = before["machine"], after["machine"]
        total = sum(t1) - sum(t0)
        return {"groups": groups, "idle": (t1.idle - t0.idle) / total if total > 0 else 0.0}


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    seconds: dict[int, float] = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[pid] = times.user + times.system
    return seconds


class Load:
    """WORKERS processes sending together; what they measured, merged."""

    def __init__(self, pool: ProcessPoolExecutor, base_url: str, label: str) -> None:
        self.pool = pool
        self.base_url = base_url
        self.label = label
        self.runs = 0

    def run(self, rate: float | None, seconds: float, watch: Watch | None = None) -> dict[str, Any]:
        self.runs += 1
        share = rate / WORKERS if rate else None
        before = watch.read() if watch else None
        futures = [
            self.pool.submit(_worker, self.base_url, f"{self.label}-{self.runs}-{w}-", share, seconds)
            for w in range(WORKERS)
        ]
        parts = [f.result() for f in futures]
        spent = watch.spent(before) if watch and before else None
        slope = _slope([d for p in parts for d in p["dues"]], [x for p in parts for x in p["latencies"]])
        latencies = sorted(x for p in parts for x in p["latencies"])
        late_sends = sorted(x for p in parts for x in p["late_sends"])
        answered = [x for p in parts for x in p["answered"]]
        wall = max(p["wall"] for p in parts)
        cpu = None
        if spent is not None and answered:
            per = 1e6 / len(answered)
            cpu = {group: used * per for group, used in spent["groups"].items()}
            cpu["generators"] = sum(p["cpu"] for p in parts) * per
            cpu["idle"] = spent["idle"]
        return {
            "cpu": cpu,
            "answered": answered,
            "errors": sum(p["errors"] for p in parts),
            "late": sum(1 for x in latencies if x > SENTRY_TIMEOUT_S),
            "wall": wall,
            "achieved": len(answered) / wall,
            "p50_ms": _percentile(latencies, 0.50) * 1000,
            "p99_ms": _percentile(latencies, 0.99) * 1000,
            "slope": slope,
            "send_p99_ms": _percentile(late_sends, 0.99) * 1000,
        }


def cpu_budget(runs: list[dict[str, float]]) -> dict[str, float] | None:
    """The capacity runs' CPU per delivery (µs) by group and idle share, each the median of the
    runs', and what they predict: the busy cores divided by all the CPU a delivery took."""
    if not runs:
        return None
    budget = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    spent = sum(value for key, value in budget.items() if key != "idle")
    cores = psutil.cpu_count() or 1
    budget["all"] = spent
    budget["cores"] = cores
    budget["predicted"] = cores * (1 - budget["idle"]) / spent * 1e6 if spent > 0 else 0.0
    return budget


def paired_share(runs: list[float], floor_runs: list[float]) -> float:
    """The median of each capacity run's share of the floor's run just before it. The machine's
    speed drifts over minutes (on 2026-12-07 the floor's closed loop gave 5,179 to 10,062/s within
    a quarter of an hour), so a store measured minutes after the floor's runs is compared with a
    different machine; a run against the floor's run half a minute earlier is not."""
    return statistics.median(run / floor for run, floor in zip(runs, floor_runs, strict=True))


def _slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys against xs (0 for fewer than two distinct xs)."""
    try:
        return statistics.linear_regression(xs, ys).slope
    except statistics.StatisticsError:
        return 0.0


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def measure_server(
    pool: ProcessPoolExecutor,
    base_url: str,
    label: str,
    plan,
    log,
    floor: Load | None = None,
    watch: Watch | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """`floor`: the floor's load, to run just before each capacity run (see paired_share).
    `watch`: the processes whose CPU the capacity runs count (see Watch)."""
    rates, seconds = plan.webhook_rates, plan.webhook_seconds
    load = Load(pool, base_url, label)
    runs = []
    floor_runs: list[float] = []
    for _ in range(plan.webhook_capacity_runs):
        if floor is not None:
            floor_runs.append(floor.run(None, seconds)["achieved"])
        runs.append(load.run(None, seconds, watch))
    capacity = sorted(runs, key=lambda run: run["achieved"])[len(runs) // 2]
    each = ", ".join(f"{run['achieved']:.0f}" for run in runs)
    errors = sum(run["errors"] for run in runs)
    log(f"  {label}: capacity {capacity['achieved']:.0f} deliveries/s, median of {each} ({errors} errors)")
    paired = paired_share([run["achieved"] for run in runs], floor_runs) if floor_runs else None
    if paired is not None:
        floors = ", ".join(f"{x:.0f}" for x in floor_runs)
        log(f"  {label}: {paired:.2f} of the floor's run just before each (floor {floors})")
    answered = [issue for run in runs for issue in run["answered"]]
    steps = []
    for rate in rates:
        step = load.run(rate, seconds)
        answered += step.pop("answered")
        step["kept_pace"] = step["slope"] <= PACE_SLOPE
        step["held"] = (
            step["errors"] == 0
            and step["late"] == 0
            and step["wall"] <= seconds * 1.1 + 0.1
            and step["kept_pace"]
        )
        step["rate"] = rate
        steps.append(step)
        log(
            f"  {label}: {rate}/s {'held' if step['held'] else 'NOT held'}, "
            f"p50 {step['p50_ms']:.1f} ms, p99 {step['p99_ms']:.1f} ms, {step['late']} past 1 s, "
            f"latency climbing {step['slope'] * 1000:.0f} ms per s, "
            f"generator's own lateness p99 {step['send_p99_ms']:.1f} ms"
        )
        if not step["held"]:
            break
    held = [s for s in steps if s["held"]]
    best = held[-1] if held else None
    fast = [s for s in held if s["p99_ms"] < P99_TARGET_MS]
    return {
        "fast_rate": fast[-1]["rate"] if fast else 0,
        "capacity": capacity["achieved"],
        "capacity_runs": [run["achieved"] for run in runs],
        "cpu": cpu_budget([run["cpu"] for run in runs if run["cpu"]]),
        "floor_runs": floor_runs,
        "paired_share": paired,
        "capacity_errors": errors,
        "steps": steps,
        "held_rate": best["rate"] if best else 0,
        "p50_ms": best["p50_ms"] if best else None,
        "p99_ms": best["p99_ms"] if best else None,
        "send_p99_ms": best["send_p99_ms"] if best else None,
    }, answered


def webhooks(plan, work, problems, log) -> dict[str, Any]:
    rates, seconds = plan.webhook_rates, plan.webhook_seconds
    out: dict[str, Any] = {
        "seconds": seconds,
        "rates": list(rates),
        "capacity_runs": plan.webhook_capacity_runs,
        "servers": {},
    }
    root = work.path
    pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("fork"))
    # The floor stays up (idle between its runs) so that each store's capacity runs can each follow
    # one of the floor's.
    with pool, FloorProcess() as floor, TempCluster() as cluster:
        log("webhooks: floor (uvicorn + Starlette answering 200)")
        out["servers"]["floor"], _ = measure_server(
            pool, floor.base_url, "floor", plan, log, watch=Watch(server=floor.pids)
        )
        floor_load = Load(pool, floor.base_url, "floor-paired")
        # The receiver itself over a store keeping nothing: the most of the floor a store could reach.
        log("webhooks: receiver keeping nothing")
        with ReceiverProcess(root, str(root / "unused.sqlite3"), module=NOSTORE) as nothing:
            out["servers"]["nothing"], _ = measure_server(
                pool, nothing.base_url, "nothing", plan, log, floor_load, Watch(server=nothing.pids)
            )
        for store, database, extra in (
            ("sqlite", str(root / "webhooks-bench.sqlite3"), {}),
            ("sqlite_normal", str(root / "webhooks-bench-normal.sqlite3"), {"sqlite_synchronous": "normal"}),
            ("postgres", cluster.new_database(), {}),
        ):
            log(f"webhooks: {store}")
            # The receiver's default settings (log_level info, no access log) but for the store's.
            with ReceiverProcess(root, database, **extra) as receiver:
                watch = Watch(server=receiver.pids)
                if store == "postgres":
                    watch.groups["postgres"] = cluster.server_pids
                result, answered = measure_server(
                    pool, receiver.base_url, store, plan, log, floor_load, watch
                )
                fed = [entry["issue_id"] for entry in read_feed(receiver.base_url)]
            missing = set(answered) - set(fed)
            repeated = len(fed) - len(set(fed))
            problems.check(
                not missing and not repeated,
                f"webhooks {store}: {len(missing)} answered deliveries missing from the feed, "
                f"{repeated} repeated",
            )
            result.update({"answered": len(answered), "in_feed": len(fed), "missing": len(missing)})
            out["servers"][store] = result
    return out
