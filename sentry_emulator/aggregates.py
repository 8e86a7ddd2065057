"""Daily aggregates of the emulated organization: release health (sessions) and usage (outcomes).

Sentry stores neither as records: it answers aggregate queries over buckets of time. Here each
UTC day of the world's span holds, per project, a deterministic set of rows (a pure function of
the seed, the project, the day and the releases existing by the day's end), plus whatever a test
added late. The day of the anchor is partial: its counts are those of the hours begun by the
anchor.

- Sessions: one row per (release, environment) of a project and day, for the project's two
  newest releases created by the end of that day, in each of the project's environments. A row
  counts sessions, errored and crashed sessions, users and crashed users. Sentry's ingestion
  (Relay) takes a session up to five days after it started and counts it on the day it started,
  so a day's sessions keep growing for five days: ``add_sessions`` refuses older days.
- Outcomes: one row per (category, outcome) of a project and day: ``quantity`` (bytes for
  attachments, items otherwise) and ``times_seen``. An outcome is dated when Sentry decides it
  (at ingestion), so only the current and the previous day can still grow.
"""

from __future__ import annotations

from dataclasses import dataclass

from .data import DAY, Project, World, _h, environments
from .timeutil import US

# How long after a session started Sentry still takes it (Relay's max_session_secs_in_past).
SESSION_MAX_AGE_DAYS = 5
SESSION_RELEASES = 2  # newest releases of a project that get sessions on a day
# (category, outcome, salt) rows a project may have on a day; each appears on some days only.
OUTCOME_ROWS = (
    ("error", "accepted", 1),
    ("error", "filtered", 3),
    ("error", "rate_limited", 4),
    ("transaction", "accepted", 2),
    ("transaction", "client_discard", 5),
    ("attachment", "accepted", 3),
    ("replay", "accepted", 4),
    ("monitor", "accepted", 2),
)


@dataclass
class SessionRow:
    project: Project
    day: int  # start of the UTC day, microseconds
    release: str
    environment: str
    sessions: int
    errored: int
    crashed: int
    users: int
    crashed_users: int

    @property
    def crash_free_rate(self) -> float | None:
        return None if not self.sessions else 1 - self.crashed / self.sessions

    @property
    def crash_free_user_rate(self) -> float | None:
        return None if not self.users else 1 - self.crashed_users / self.users


@dataclass
class OutcomeRow:
    project: Project
    day: int
    category: str
    outcome: str
    quantity: int
    times_seen: int


class Late:
    """What tests added after the fact, keyed like the rows it adds to."""

    def __init__(self) -> None:
        self.sessions: dict[tuple[int, int, str, str], list[int]] = {}
        self.outcomes: dict[tuple[int, int, str, str], list[int]] = {}


def late(w: World) -> Late:
    """The world's late additions (kept on the world, created on first use, under its lock)."""
    with w.lock:
        store = w.__dict__.get("late_aggregates")
        if store is None:
            store = w.__dict__["late_aggregates"] = Late()
        return store


def day_start(us: int) -> int:
    return us - us % DAY


def days(w: World) -> list[int]:
    """Every UTC day of the world's span, oldest first, the anchor's (partial) day last."""
    first, last = day_start(w.anchor - w.span), day_start(w.anchor)
    return list(range(first, last + DAY, DAY))


def _share(w: World, day: int, value: int) -> int:
    """The part of a day's count that had happened by the anchor's hour (none outside the span):
    at least one, so that today's groups, and with them the rows' ids, do not depend on the minute
    an emulator started."""
    first, last = day_start(w.anchor - w.span), day_start(w.anchor)
    if day < first or day > last or not value:
        return 0
    if day < last:
        return value
    hours = (w.anchor - day) // (3_600 * US) + 1
    return -(-value * hours // 24)


def late_days(w: World) -> set[int]:
    """The days tests added sessions or outcomes to."""
    store = late(w)
    return {key[1] for key in store.sessions} | {key[1] for key in store.outcomes}


def session_releases(w: World, p: Project, day: int) -> list[str]:
    """The project's newest releases created by the end of ``day``, newest first."""
    by_id = {r.id: r for r in w.releases}
    created = [rid for t, rid in p.releases if t < day + DAY and by_id[rid].status == "open"]
    return [by_id[rid].version for rid in reversed(created[-SESSION_RELEASES:])]


def sessions(w: World, p: Project, day: int) -> list[SessionRow]:
    rows = []
    store = late(w).sessions
    for release in session_releases(w, p, day):
        for env in environments(p):
            hv = _h(w.seed, "sessions", p.idx, day // US, release, env)
            total = _share(w, day, 20 + hv % 400)
            errored = total * ((hv >> 12) % 15) // 100
            crashed = errored * ((hv >> 20) % 40) // 100
            users = (total + 1) // (2 + (hv >> 28) % 3)
            crashed_users = min(users, crashed)
            extra = store.get((p.idx, day, release, env), [0, 0, 0, 0, 0])
            row = SessionRow(
                p,
                day,
                release,
                env,
                total + extra[0],
                errored + extra[1],
                crashed + extra[2],
                users + extra[3],
                crashed_users + extra[4],
            )
            if row.sessions:
                rows.append(row)
    # Late sessions of a (release, environment) the day did not have yet.
    known = {(r.release, r.environment) for r in rows}
    for (idx, d, release, env), extra in sorted(store.items()):
        if idx == p.idx and d == day and (release, env) not in known:
            rows.append(SessionRow(p, day, release, env, *extra))
    return rows


def add_sessions(
    w: World, p: Project, day: int, release: str, environment: str, n: int, crashed: int, users: int
) -> None:
    if not 0 <= crashed <= n or users < 0:
        raise ValueError("0 <= crashed <= n and users >= 0")
    key = (p.idx, day, release, environment)
    extra = late(w).sessions.setdefault(key, [0, 0, 0, 0, 0])
    for k, v in enumerate((n, crashed, crashed, users, min(users, crashed))):
        extra[k] += v


def outcomes(w: World, p: Project, day: int) -> list[OutcomeRow]:
    rows = []
    store = late(w).outcomes
    for category, outcome, salt in OUTCOME_ROWS:
        hv = _h(w.seed, "outcomes", p.idx, day // US, category, outcome)
        base = 0 if hv % salt else 5 + (hv >> 8) % 300
        times = _share(w, day, base)
        quantity = times * (1_000 + (hv >> 20) % 50_000) if category == "attachment" else times
        extra = store.get((p.idx, day, category, outcome), [0, 0])
        if quantity + extra[0] or times + extra[1]:
            rows.append(OutcomeRow(p, day, category, outcome, quantity + extra[0], times + extra[1]))
    listed = {(category, outcome) for category, outcome, _ in OUTCOME_ROWS}
    for (idx, d, category, outcome), extra in sorted(store.items()):
        if idx == p.idx and d == day and (category, outcome) not in listed:
            rows.append(OutcomeRow(p, day, category, outcome, *extra))
    return rows


def add_outcomes(
    w: World, p: Project, day: int, category: str, outcome: str, quantity: int, times_seen: int
) -> None:
    extra = late(w).outcomes.setdefault((p.idx, day, category, outcome), [0, 0])
    extra[0] += quantity
    extra[1] += times_seen
