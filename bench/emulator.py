"""The project's Sentry emulator in its own process, so that the CPU time and memory measured for a
client are the client's alone (the server still shares the machine's cores)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent


def category(path: str) -> str:
    """The emulator's rate-limit category of an API path."""
    if path.endswith("/events/"):
        return "events"
    if path.endswith("/issues/"):
        return "issues"
    if "/releases/" in path:
        return "releases"
    return "default"


class EmulatorProcess:
    def __init__(
        self,
        *,
        events: int,
        issues: int,
        projects: int = 3,
        releases: int = 30,
        seed: int = 7,
        tls: bool = False,
        rate_limits: str = "none",
        overrides: dict[str, str] | None = None,
    ) -> None:
        self.args = [
            "--seed", str(seed), "--projects", str(projects), "--events", str(events),
            "--issues", str(issues), "--releases", str(releases), "--rate-limits", rate_limits,
        ]  # fmt: skip
        for cat, spec in (overrides or {}).items():
            self.args += ["--rate-limit", f"{cat}={spec}"]
        if tls:
            self.args.append("--tls")
        self.events = events
        self.added_events = 0
        self.proc: subprocess.Popen | None = None
        self.info: dict[str, Any] = {}
        self.startup_seconds = 0.0
        self._http = requests.Session()

    # lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> EmulatorProcess:
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "integration_tests.emulator", *self.args],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the emulator did not start")
        self.info = json.loads(line)
        self.startup_seconds = time.perf_counter() - started
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    # what clients need --------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.info["base_url"]

    @property
    def host_port(self) -> str:
        return self.base_url.split("://", 1)[1]

    @property
    def token(self) -> str:
        return self.info["token"]

    @property
    def organization(self) -> str:
        return self.info["organization"]

    @property
    def slugs(self) -> list[str]:
        return list(self.info["projects"])

    @property
    def ca_cert(self) -> str | None:
        return self.info.get("ca_cert")

    def cpu_seconds(self) -> float:
        import psutil

        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system

    # control API ------------------------------------------------------------------------------
    def control(self, action: str, **data: Any) -> Any:
        response = self._http.post(
            f"{self.base_url}/_emulator/{action}", json=data, timeout=600, verify=self.ca_cert or True
        )
        response.raise_for_status()
        return response.json()

    def reset_log(self) -> None:
        self.control("reset_log")

    def request_log(self) -> list[dict]:
        return self.control("requests")

    def request_counts(self) -> dict[str, Any]:
        """Requests since the last reset: total, per category, and how many got a 429."""
        log = self.request_log()
        return {
            "total": len(log),
            "by_category": dict(Counter(category(e["path"]) for e in log)),
            "ok_by_category": dict(Counter(category(e["path"]) for e in log if e["status"] == 200)),
            "429": sum(1 for e in log if e["status"] == 429),
            "errors": sum(1 for e in log if e["status"] not in (200, 201, 208, 429)),
        }

    def add_events(self, slug: str, n: int) -> None:
        # One call per 1,000 keeps each control answer (full events) small.
        while n > 0:
            step = min(n, 1000)
            self.control("add_events", project=slug, n=step)
            self.added_events += step
            n -= step

    def ground_truth(self, kind: str, projects: list[str] | None = None) -> list[dict]:
        return self.control("ground_truth", kind=kind, projects=projects)

    def expected_count(self, stream: str, projects: list[str] | None = None) -> int:
        """What a complete sync must emit. Events of big organizations are counted from how the
        emulator was started rather than listed (listing a million events takes minutes)."""
        if stream == "events" and projects is None and self.events > 20_000:
            return self.events + self.added_events
        return len(self.ground_truth(stream, projects))
