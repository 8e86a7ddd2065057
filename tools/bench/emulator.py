"""The project's Sentry emulator in its own process, so that the CPU time and memory measured for a
client are the client's alone (the server still shares the machine's cores)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sentry_emulator import cli, process


def category(path: str) -> str:
    """The emulator's rate-limit category of an API path."""
    if path.endswith("/events/"):
        return "events"
    if path.endswith("/issues/"):
        return "issues"
    if "/releases/" in path:
        return "releases"
    return "default"


class EmulatorProcess(process.EmulatorProcess):
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
        span_days: float | None = None,
        page_latency_ms: float | None = None,
        event_offset_limit: int | None = None,
    ) -> None:
        rates: str | dict = rate_limits
        if overrides:
            rates = dict(cli.rate_limit(f"{cat}={spec}") for cat, spec in overrides.items())
        args = cli.args_for(
            seed=seed,
            projects=projects,
            events=events,
            issues=issues,
            releases=releases,
            rate_limits=rates,
            tls=tls,
            span_days=span_days,
            page_latency_ms=page_latency_ms,
            event_offset_limit=event_offset_limit,
        )
        super().__init__(args, start_timeout=600)
        self.events = events
        self.added_events = 0

    @property
    def host_port(self) -> str:
        return self.base_url.split("://", 1)[1]

    @property
    def tls_ca_cert(self) -> str:
        """The CA certificate of an emulator started with ``tls=True``."""
        if self.ca_cert is None:
            raise RuntimeError("the emulator was started without tls=True: it has no CA certificate")
        return self.ca_cert

    @property
    def slugs(self) -> list[str]:
        return list(self.info["projects"])

    def cpu_seconds(self) -> float:
        import psutil

        assert self.proc is not None, "the emulator has not been started"
        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system

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
