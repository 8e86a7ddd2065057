"""``python -m tools.bench``: the benchmarks of issue 6, written to docs/benchmarks.md.

``--smoke`` runs every section with tiny data, our connector and the floor only (no PyPI
downloads, no profile), in well under a minute; `make test` runs it so the benchmark cannot rot.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import timeit
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from sentry_emulator.process import ROOT
from tools.bench import changed_issues, forwarding, report, resume, sections, webhooks
from tools.bench.clients import CLI_VENV, OFFICIAL_VENV, Workdir, ensure_venv
from tools.bench.plan import FULL, SMOKE

# Each section's name for --only, and what of the page it measures.
SECTIONS = {
    "throughput": "1, 2, 4, 6 and the profile: full syncs against the floor, incremental cost, memory",
    "official": "3: Airbyte's own Sentry connector (installed from PyPI into .bench/)",
    "rate_limited": "5: a sync under Sentry's rate limits",
    "faults": "9: syncs under injected faults, beside Airbyte's connector (installed from PyPI into .bench/)",
    "startup": "7: start-up and the notifier, beside sentry-cli (installed from PyPI into .bench/)",
    "status_refresh": "8: keeping issue statuses fresh",
    "per_stream": "10: requests per stream, first and unchanged sync of `make sync`'s organization",
    "parallel": "11: whole-org events from a server taking 200 ms a page, ours against the floor",
    "webhooks": "12: the webhook receiver: deliveries/s and answer latency, SQLite and PostgreSQL vs a floor",
    "forwarding": "13: forwarding: POST-to-target time, and answer latency while a target is down",
    "changed_issues": "14: issue statuses from the webhook feed: requests and seconds, staleness",
    "resume": "15: a big project's first sync before/after parts, and what an interrupted one redoes",
}
NOTE = Path(__file__).resolve().parent / "note.md"
EPILOG = (
    "sections (--only takes a comma-separated list; the page then holds only those):\n"
    + "".join(f"  {name:<16}{what}\n" for name, what in SECTIONS.items())
    + """
examples:
  make bench                                        every section, writes docs/benchmarks.md
  python -m tools.bench --only startup --out /tmp/startup.md
  python -m tools.bench --only startup,per_stream --out /tmp/b.md --json /tmp/b.json
  python -m tools.bench --smoke --only per_stream --out /tmp/smoke.md   tiny data, seconds
  make bench BENCH_ARGS="--only rate_limited --out /tmp/rate.md"

A subset needs --out, so that docs/benchmarks.md is only ever written whole. On a shared
machine run it under the lock the tests use: flock /tmp/fulltest.lock make bench
"""
)


# The machine's own speed, beside its name: on the development machine the same work cost 30 to 60%
# more CPU in the full run of 2026-12-07 than in that of 2026-12-03 (the plain-`requests` floor and
# sentry-cli included), with nothing changed but the host. A fixed loop's CPU time says which.
CPU_REFERENCE_LOOP = "sum(i * i for i in range(1_000_000))"


def cpu_reference(repeat: int = 7) -> float:
    """CPU seconds of CPU_REFERENCE_LOOP, the best of `repeat` runs."""
    return min(timeit.repeat(CPU_REFERENCE_LOOP, number=1, repeat=repeat, timer=time.process_time))


def environment() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        memory = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        memory = "?"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, {memory}",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "source-sentry": f"{metadata.version('source-sentry')} (commit {commit or '?'})",
        "airbyte-cdk (ours)": metadata.version("airbyte-cdk"),
        "requests": metadata.version("requests"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tools.bench",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--smoke", action="store_true", help="tiny data, no PyPI programs, no profile")
    ap.add_argument(
        "--out", type=Path, help="markdown output (default docs/benchmarks.md; required with --smoke)"
    )
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    ap.add_argument(
        "--connector-overlay",
        type=Path,
        metavar="DIR",
        help="put DIR first on PYTHONPATH of our command (to measure a candidate fix); said in the page",
    )
    ap.add_argument(
        "--render", type=Path, metavar="JSON", help="only render the markdown from saved --json results"
    )
    ap.add_argument(
        "--only",
        default=",".join(SECTIONS),
        metavar="SECTIONS",
        help="run only these sections (comma-separated names, listed below)",
    )
    args = ap.parse_args(argv)
    if args.smoke and args.out is None:
        ap.error("--smoke needs --out (the smoke run must not overwrite docs/benchmarks.md)")
    only = set(args.only.split(","))
    unknown = sorted(only - set(SECTIONS))
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    if only != set(SECTIONS) and args.out is None and not args.render:
        ap.error("--only needs --out: docs/benchmarks.md is written by a run of every section")
    out = args.out or ROOT / "docs" / "benchmarks.md"
    if args.render:
        saved = _int_keys(json.loads(args.render.read_text()))
        if NOTE.exists() and saved["meta"]["plan"] == "full":
            saved["results"]["note"] = NOTE.read_text()
        out.write_text(report.render(saved["results"], saved["meta"]))
        return 0
    plan = SMOKE if args.smoke else FULL
    started = time.perf_counter()

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {text}", flush=True)

    meta: dict[str, Any] = {"plan": plan.name, "environment": environment()}
    meta["environment"]["connector under test"] = "the working tree as it is (no overlay)"
    if not args.smoke:
        reference = cpu_reference()
    # The webhook receiver's section runs the receiver from this environment, not our command.
    if plan.external and only - {"webhooks", "forwarding"}:
        from tools.bench import clients

        clients.use_own_venv()
        meta["environment"]["connector under test"] = (
            "the working tree as it is (no overlay), installed in editable mode in a virtual "
            "environment of its own"
        )
    if args.connector_overlay:
        from tools.bench import clients

        clients.OVERLAY["path"] = str(args.connector_overlay.resolve())
        note = args.connector_overlay / "OVERLAY.md"
        meta["environment"]["connector under test"] = (
            f"the working tree with `{args.connector_overlay}` first on PYTHONPATH: "
            + (note.read_text().strip() if note.exists() else "(no OVERLAY.md)")
        )
    if plan.external and ("official" in only or "faults" in only):
        ensure_venv(OFFICIAL_VENV, "airbyte-source-sentry")
    if plan.external and "startup" in only:
        ensure_venv(CLI_VENV, "sentry-cli")
    problems = sections.Problems()
    work: Workdir  # bound below, before any step runs
    results: dict = {"plan_issues_per_events": plan.issues_per_events}
    steps = {
        "throughput": lambda: results.update(sections.throughput_and_incremental(plan, work, problems, log)),
        "official": lambda: results.__setitem__("official", sections.official(plan, work, problems, log)),
        "rate_limited": lambda: results.__setitem__(
            "rate_limited", sections.rate_limited(plan, work, problems, log)
        ),
        "faults": lambda: results.__setitem__("faults", sections.faults(plan, work, problems, log)),
        "startup": lambda: results.__setitem__("startup", sections.startup(plan, work, problems, log)),
        "status_refresh": lambda: results.__setitem__(
            "status_refresh", sections.status_refresh(plan, work, problems, log)
        ),
        "per_stream": lambda: results.__setitem__(
            "per_stream", sections.requests_per_stream(plan, work, problems, log)
        ),
        "parallel": lambda: results.__setitem__("parallel", sections.parallel(plan, work, problems, log)),
        "webhooks": lambda: results.__setitem__("webhooks", webhooks.webhooks(plan, work, problems, log)),
        "forwarding": lambda: results.__setitem__(
            "forwarding", forwarding.forwarding(plan, work, problems, log)
        ),
        "changed_issues": lambda: results.__setitem__(
            "changed_issues", changed_issues.changed_issues(plan, work, problems, log)
        ),
        "resume": lambda: results.__setitem__("resume", resume.resume(plan, work, problems, log)),
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Workdir(Path(tmp))
        for name, step in steps.items():
            if name not in only or (name == "official" and not plan.external):
                continue
            try:
                step()
            except Exception as error:  # noqa: BLE001 - one broken section must not lose the others
                problems.append(f"section {name} failed: {error!r}")
                log(f"section {name} failed: {error!r}")
            if args.json:  # a checkpoint: --render can write the page from it
                args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str))
    meta["environment"]["benchmark wall time"] = f"{time.perf_counter() - started:.0f} s"
    if not args.smoke:
        if NOTE.exists():
            results["note"] = NOTE.read_text()
        meta["environment"]["CPU reference, at start and end"] = (
            f"{reference * 1000:.0f} ms and {cpu_reference() * 1000:.0f} ms: the CPU time of "
            f"`{CPU_REFERENCE_LOOP}`, best of 7 (compare runs of other days by it)"
        )
    meta["problems"] = list(problems)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.render(results, meta))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str))
    log(f"wrote {out}")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _int_keys(obj):
    """JSON turned the sizes used as keys into strings: turn them back."""
    if isinstance(obj, dict):
        return {(int(k) if isinstance(k, str) and k.isdigit() else k): _int_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_int_keys(v) for v in obj]
    return obj


if __name__ == "__main__":
    sys.exit(main())
