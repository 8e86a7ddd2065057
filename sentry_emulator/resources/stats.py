"""Aggregate queries: release health sessions (``sessions/``) and usage outcomes (``stats_v2/``).

Both answer a time series over buckets of ``interval`` (at least one hour, at most one day, a
divisor of a day; default one hour). As in Sentry, an explicit ``end`` is inclusive: a second is
added to it, then the range is rounded up to whole intervals and its end up to an interval
boundary (so ``start=D 00:00:00, end=D 23:59:59, interval=1d`` is exactly day D, and an ``end`` of
midnight reaches into the next day). At most 1000 intervals. Days are the emulator's unit of
data: with a shorter interval a day's counts fall in the day's first bucket.

- ``sessions/``: ``field`` (sum(session), count_unique(user), crash_free_rate(session|user),
  crash_rate(session|user); duration fields answer null, as Sentry stopped recording them),
  ``groupBy`` (project, release, environment), ``environment`` filter. At most 10000 data points
  (groups x intervals); groups are ordered by the first field, largest first, and paged by
  offset (``per_page`` default and maximum 10000, ``cursor``) with a ``Link`` header.
- ``stats_v2/``: ``field`` (sum(quantity), sum(times_seen)), ``groupBy`` (outcome, category,
  reason, project), ``category`` and ``outcome`` filters; ``category`` must be grouped or filtered.
  Grouped by project there is no time series: only totals over the range. Not paged.

Projects: ``project`` ids (``-1`` = all the token may read) or ``projectSlug`` slugs; without
either, every project the token may read. None left: 400 "No projects available".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import aggregates, auth
from ..aggregates import OutcomeRow, SessionRow
from ..auth import ORG_READ, check_org, require
from ..data import DAY, Project
from ..paging import Cursor, parse_cursor, parse_per_page
from ..request import FORBIDDEN, ApiError, Request
from ..routing import route
from ..timeutil import US, fmt, now_us, parse_iso, parse_period

HOUR = 3_600 * US
MAX_POINTS = 1000
SNUBA_LIMIT = 10_000
DEFAULT_PERIOD = 24 * HOUR


def _bad(detail: str) -> ApiError:
    return ApiError(400, {"detail": detail})


def buckets(req: Request) -> tuple[int, int, int]:
    """(start, end, interval) in microseconds, constrained as Sentry constrains them."""
    try:
        interval = parse_period(req.param("interval") or "1h")
    except ValueError as exc:
        raise _bad(f"Invalid interval: {req.param('interval')}") from exc
    if interval % HOUR:
        raise _bad("The interval has to be a multiple of the minimum interval of one hour.")
    if interval > DAY:
        raise _bad("The interval has to be less than one day.")
    if DAY % interval:
        raise _bad("The interval should divide one day without a remainder.")
    period, start_raw, end_raw = req.param("statsPeriod"), req.param("start"), req.param("end")
    now = now_us()
    if period:
        try:
            start, end = now - parse_period(period), now
        except ValueError as exc:
            raise _bad(f"Invalid statsPeriod: {period}") from exc
    elif start_raw or end_raw:
        if not (start_raw and end_raw):
            raise _bad("start and end are both required")
        try:
            start, end = parse_iso(start_raw), parse_iso(end_raw) + US  # an explicit end is inclusive
        except ValueError as exc:
            raise _bad("Invalid date range: start and end must be ISO 8601 dates") from exc
        if start >= end:
            raise _bad("start must be before end")
    else:
        start, end = now - DEFAULT_PERIOD, now
    span = -(-(end - start) // interval) * interval
    if span // interval > MAX_POINTS:
        raise _bad(
            "Your interval and date range would create too many results. Use a larger interval, or a "
            "smaller date range."
        )
    end = -(-end // interval) * interval
    return end - span, end, interval


def _projects(emu, req: Request) -> list[Project]:
    w = emu.world
    slugs = [s for s in req.params.get("projectSlug", []) if s]
    if slugs:
        chosen = [p for p in w.projects if p.slug in slugs]
        if any(p.idx in req.caller.forbidden for p in chosen):
            raise ApiError(403, FORBIDDEN)
    else:
        chosen = auth.project_ids_param(w, req) or auth.accessible(w, req)
    if not chosen:
        raise _bad("No projects available")
    return chosen


def _groups_by(req: Request, allowed: tuple[str, ...]) -> list[str]:
    group_by = req.params.get("groupBy", [])
    for name in group_by:
        if name not in allowed:
            raise _bad(f'Invalid groupBy: "{name}"')
    return group_by


def _fields(req: Request, allowed: dict[str, Any], missing: str) -> list[str]:
    fields = req.params.get("field", [])
    if not fields:
        raise _bad(missing)
    for name in fields:
        if name not in allowed:
            raise _bad(f'Invalid field: "{name}"')
    return fields


def _days_in(start: int, end: int) -> list[int]:
    first = aggregates.day_start(start)
    return [d for d in range(first, end, DAY) if d >= start]


def _aggregate(rows: list, key: Callable[[Any], tuple], start: int, end: int, interval: int) -> dict:
    """Rows grouped by ``key``: {key: {bucket index: [rows]}} for the rows inside the range."""
    out: dict[tuple, dict[int, list]] = {}
    for row in rows:
        if start <= row.day < end:
            out.setdefault(key(row), {}).setdefault((row.day - start) // interval, []).append(row)
    return out


# ---------------------------------------------------------------------- sessions
def _session_value(name: str, rows: list[SessionRow]) -> int | float | None:
    total = sum(r.sessions for r in rows)
    users = sum(r.users for r in rows)
    crashed = sum(r.crashed for r in rows)
    crashed_users = sum(r.crashed_users for r in rows)
    if name == "sum(session)":
        return total
    if name == "count_unique(user)":
        return users
    if name.startswith(("crash_free_rate(", "crash_rate(")):
        num, den = (crashed, total) if name.endswith("(session)") else (crashed_users, users)
        if not den:
            return None
        rate = num / den
        return 1 - rate if name.startswith("crash_free_rate(") else rate
    return None  # session.duration: no longer recorded


SESSION_FIELDS = dict.fromkeys(
    [
        "sum(session)",
        "count_unique(user)",
        "crash_free_rate(session)",
        "crash_free_rate(user)",
        "crash_rate(session)",
        "crash_rate(user)",
        *(f"{op}(session.duration)" for op in ("avg", "p50", "p75", "p90", "p95", "p99", "max")),
    ]
)
SESSION_GROUPS = {
    "project": lambda r: int(r.project.id),
    "release": lambda r: r.release,
    "environment": lambda r: r.environment,
}


@route("GET", "/api/0/organizations/{org}/sessions/", faults={"sessions"})
def query_sessions(emu, req, org: str):
    check_org(emu.world, org)
    require(req, ORG_READ)
    fields = _fields(req, SESSION_FIELDS, 'Request is missing a "field"')
    group_by = _groups_by(req, ("project", "release", "environment", "session.status"))
    if "session.status" in group_by:
        raise _bad("The emulator does not group sessions by session.status")
    start, end, interval = buckets(req)
    projects = _projects(emu, req)
    environments = set(req.params.get("environment", []))
    w = emu.world
    with w.lock:
        rows = [
            row
            for p in projects
            for day in _days_in(start, end)
            for row in aggregates.sessions(w, p, day)
            if not environments or row.environment in environments
        ]
    n = (end - start) // interval
    grouped = _aggregate(
        rows, lambda r: tuple((g, SESSION_GROUPS[g](r)) for g in group_by), start, end, interval
    )
    groups = []
    for key, by_bucket in grouped.items():
        every = [r for bucket in by_bucket.values() for r in bucket]
        groups.append(
            {
                "by": dict(key),
                "totals": {f: _session_value(f, every) for f in fields},
                "series": {f: [_session_value(f, by_bucket.get(k, [])) for k in range(n)] for f in fields},
            }
        )
    primary = fields[0]
    groups.sort(key=lambda g: (g["totals"][primary] is not None, g["totals"][primary] or 0), reverse=True)
    # Paged by offset over the groups; without per_page, up to the data-point limit at once.
    per_page = parse_per_page(req.params, default=SNUBA_LIMIT, maximum=SNUBA_LIMIT)
    cursor = parse_cursor(req.param("cursor"))
    offset = cursor.offset if cursor else 0
    max_groups = SNUBA_LIMIT // n
    paged = req.param("per_page") is not None
    fetch = min(per_page + 1 if paged else max_groups, max_groups)
    page = groups[offset : offset + fetch]
    has_more = paged and len(page) == per_page + 1
    if has_more:
        page.pop()
    req.link(
        Cursor(0, max(0, offset - per_page), True, offset > 0), Cursor(0, offset + per_page, False, has_more)
    )
    return 200, {
        "start": fmt(start, 0),
        "end": fmt(end, 0),
        "intervals": [fmt(start + k * interval, 0) for k in range(n)],
        "groups": page,
        "query": req.param("query") or "",
    }


# ---------------------------------------------------------------------- stats_v2
OUTCOMES = (
    "accepted",
    "filtered",
    "rate_limited",
    "invalid",
    "abuse",
    "client_discard",
    "cardinality_limited",
)
CATEGORIES = (
    "error",
    "transaction",
    "attachment",
    "replay",
    "profile",
    "profile_duration",
    "profile_duration_ui",
    "profile_chunk",
    "profile_chunk_ui",
    "monitor",
    "span",
)
OUTCOME_FIELDS = {
    "sum(quantity)": lambda rows: sum(r.quantity for r in rows),
    "sum(times_seen)": lambda rows: sum(r.times_seen for r in rows),
}
OUTCOME_GROUPS = {
    "outcome": lambda r: r.outcome,
    "category": lambda r: r.category,
    "reason": lambda r: "none",
    "project": lambda r: int(r.project.id),
}


def _filter(req: Request, name: str, allowed: tuple[str, ...]) -> set[str]:
    values = set(req.params.get(name, []))
    for v in values:
        if v not in allowed:
            raise _bad(f'Invalid {name}: "{v}"')
    return values


@route("GET", "/api/0/organizations/{org}/stats_v2/", faults={"stats"})
def query_outcomes(emu, req, org: str):
    check_org(emu.world, org)
    require(req, ORG_READ)
    fields = _fields(req, OUTCOME_FIELDS, 'At least one "field" is required.')
    group_by = _groups_by(req, tuple(OUTCOME_GROUPS))
    categories = _filter(req, "category", CATEGORIES)
    outcomes = _filter(req, "outcome", OUTCOMES)
    if not categories and "category" not in group_by:
        raise _bad("Query must have category as groupby or filter")
    start, end, interval = buckets(req)
    projects = _projects(emu, req)
    w = emu.world
    with w.lock:
        rows: list[OutcomeRow] = [
            row
            for p in projects
            for day in _days_in(start, end)
            for row in aggregates.outcomes(w, p, day)
            if (not categories or row.category in categories) and (not outcomes or row.outcome in outcomes)
        ]
    n = (end - start) // interval
    series = "project" not in group_by  # Sentry has no time series by project: totals only
    grouped = _aggregate(
        rows, lambda r: tuple((g, OUTCOME_GROUPS[g](r)) for g in group_by), start, end, interval
    )
    groups = []
    for key, by_bucket in grouped.items():
        every = [r for bucket in by_bucket.values() for r in bucket]
        group: dict[str, Any] = {"by": dict(key), "totals": {f: OUTCOME_FIELDS[f](every) for f in fields}}
        if series:
            group["series"] = {f: [OUTCOME_FIELDS[f](by_bucket.get(k, [])) for k in range(n)] for f in fields}
        groups.append(group)
    body: dict[str, Any] = {"start": fmt(start, 0), "end": fmt(end, 0)}
    if series:
        body["intervals"] = [fmt(start + k * interval, 0) for k in range(n)]
    body["groups"] = groups[:SNUBA_LIMIT]
    return 200, body
