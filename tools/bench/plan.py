"""How big each measurement is, for the full run and for the smoke run that `make test` does."""

from __future__ import annotations

from dataclasses import dataclass, field

# About one request in ten fails. 5xx: Sentry's own 500 (JSON with errorId) and a proxy's 502/503.
# 429: a spent window (reset 1 s ahead) and, on events, sentry.io's concurrency 429.
FAULT_MIXES = {
    "5xx": "*:500@0.04, *:502html@0.03, *:503@0.03",
    "429": "*:429@0.05, events:429concurrent@0.05",
}


@dataclass(frozen=True)
class Plan:
    name: str
    throughput_sizes: tuple[int, ...]  # events in the organization
    throughput_runs: dict[int, int]  # runs per size (medians)
    memory_sizes: tuple[int, ...]
    incremental_history: tuple[int, ...]  # organizations the incremental runs happen in
    incremental_new: dict[int, tuple[int, ...]]  # history -> new-event counts
    incremental_runs: int
    rate_limited_events: int
    rate_overrides: dict[str, str] = field(default_factory=dict)
    rate_limited_workers: tuple[int, ...] = (1, 4)  # num_workers of each rate-limited run
    fault_events: int = 10_000
    fault_runs: int = 3
    fault_mixes: dict[str, str] = field(default_factory=lambda: dict(FAULT_MIXES))
    official_sizes: dict[int, int] = field(default_factory=dict)  # size -> runs
    startup_runs: int = 5
    profile: bool = True
    external: bool = True  # PyPI programs (Airbyte's connector, sentry-cli)
    issues_per_events: int = 20  # one issue per this many events
    status_refresh_issues: tuple[int, ...] = (10_000, 100_000)  # issues in the org, per run
    projects: int = 3
    per_stream_events: int = 3000  # the organization `make sync` loads (tools.local_sync.Sample)
    parallel_events: int = 50_000  # events in the org read from a server slow to build pages
    page_latency_ms: float = 200.0
    # Section 12: open-loop rates tried in turn (deliveries/s) and seconds per measurement. The
    # ladder goes past every server's capacity so far (the floor's: 3,000 to 9,600/s): a server
    # that holds the last rate tried has a limit the section does not show. Each server stops at
    # its first rate not held, so the higher rates cost only the servers that hold them. From
    # 1,000/s up each rate is at most a third above the one before, so that a highest rate held
    # measures a server to about a quarter (2,500 came in on 2026-12-08, when every store stopped
    # between 2,000 and 3,000: 0.40 or 0.60 of a floor's 5,000).
    webhook_rates: tuple[int, ...] = (
        25, 50, 100, 200, 300, 400, 600, 800, 1000, 1300, 1600, 2000, 2500, 3000, 4000, 5000, 6500, 8000,
        10000,
    )  # fmt: skip
    webhook_seconds: float = 5.0
    # Capacity is the median of this many closed-loop runs: one run on two shared cores can be off
    # by a third.
    webhook_capacity_runs: int = 3
    # Section 13: forwarding, deliveries/s posted for this many seconds, per store and scenario.
    forward_rate: int = 50
    forward_seconds: float = 10.0
    forward_stores: tuple[str, ...] = ("sqlite", "postgres")
    forward_scenarios: tuple[str, ...] = ("none", "healthy", "one_down")
    # Section 15: first syncs of one project of each size, and the project stopped midway.
    resume_sizes: tuple[int, ...] = (100, 10_000, 100_000)
    resume_stop_events: int = 30_000
    resume_stops: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)
    # ... and a project of this many issues stopped at these shares of them.
    resume_stop_issues: int = 15_000
    resume_issue_stops: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)

    # Section 14: the organization's issues, the status changes synced after its first sync, and
    # the staleness run: changes (one per interval) with syncs every interval seconds.
    changed_issues_org: int = 12_000
    changed_issues_counts: tuple[int, ...] = (10, 1_000, 10_000)
    staleness_interval: float = 60.0
    staleness_changes: int = 6

    def issues(self, events: int) -> int:
        return max(events // self.issues_per_events, self.projects)


FULL = Plan(
    name="full",
    throughput_sizes=(10_000, 100_000),
    throughput_runs={10_000: 3, 100_000: 2},
    memory_sizes=(10_000, 100_000, 1_000_000),
    incremental_history=(10_000, 100_000),
    incremental_new={10_000: (0, 100), 100_000: (0, 100, 10_000)},
    incremental_runs=3,
    rate_limited_events=10_000,
    official_sizes={10_000: 3},
    startup_runs=5,
)

# Every section with tiny data, our connector and the floor only: no PyPI downloads, no profile.
SMOKE = Plan(
    name="smoke",
    # One throughput size (its streams against the floor); the other memory size a run of its own,
    # so that the memory section's own runs are exercised too.
    throughput_sizes=(900,),
    throughput_runs={900: 1},
    memory_sizes=(300, 900),
    incremental_history=(900,),
    incremental_new={900: (0, 150)},
    incremental_runs=1,
    rate_limited_events=500,
    # Sentry's windows shrunk so that the smoke run still meets every limit within seconds.
    rate_overrides={"events": "3/1/1", "issues": "5/1", "releases": "40/1", "default": "40/1"},
    resume_sizes=(100,),
    resume_stop_events=2_000,
    resume_stops=(0.5,),
    resume_stop_issues=1_500,
    resume_issue_stops=(0.5,),
    fault_events=300,
    fault_runs=1,
    startup_runs=1,
    profile=False,
    external=False,
    status_refresh_issues=(60,),
    per_stream_events=300,
    parallel_events=900,
    webhook_rates=(20, 40),
    webhook_seconds=1.0,
    # One capacity run a server: the smoke run checks that capacity is measured, not how steady.
    webhook_capacity_runs=1,
    forward_rate=20,
    forward_seconds=1.0,
    forward_stores=("sqlite",),
    forward_scenarios=("healthy", "one_down"),
    changed_issues_org=60,
    changed_issues_counts=(10,),
    staleness_interval=1.0,
    staleness_changes=1,
)
