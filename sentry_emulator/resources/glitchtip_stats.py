"""GlitchTip's ``organizations/{org}/stats_v2/``: the same path as Sentry's, another API.

It takes ``category`` (``error`` or ``transaction``) and exactly one ``field``
(``sum(quantity)`` or ``sum(times_seen)``), both required, with ``start``, ``end``, ``interval``
and ``project`` ids; it has no ``groupBy`` and no ``outcome``. It answers one series over the
intervals: ``{"intervals": [...], "groups": [{"series": {field: [...]}}]}``. Anything else is
django-ninja's 422, ``{"detail": [{"type", "loc", "msg"}]}``. It counts what it stored, that is
Sentry's ``accepted`` outcome.
"""

from __future__ import annotations

from .. import aggregates
from ..auth import ORG_READ, check_org, require
from ..request import ApiError, Request
from ..timeutil import fmt
from .glitchtip import GLITCHTIP
from .stats import _days_in, _projects, buckets

CATEGORIES = ("error", "transaction")
FIELDS = {"sum(quantity)": "quantity", "sum(times_seen)": "times_seen"}
KNOWN = frozenset({"category", "field", "start", "end", "interval", "project", "statsPeriod"})


def _invalid(name: str, kind: str, msg: str) -> ApiError:
    return ApiError(422, {"detail": [{"type": kind, "loc": ["query", name], "msg": msg}]})


def _one(req: Request, name: str, allowed: tuple[str, ...]) -> str:
    values = req.params.get(name, [])
    if not values:
        raise _invalid(name, "missing", "Field required")
    if len(values) > 1:
        raise _invalid(name, "literal_error", "Input should be a single value")
    if values[0] not in allowed:
        choices = ", ".join(f"'{a}'" for a in allowed)
        raise _invalid(name, "literal_error", f"Input should be {choices}")
    return values[0]


@GLITCHTIP.route(
    "GET", "/api/0/organizations/{org}/stats_v2/", faults={"stats"}, category="default", replaces=True
)
def query_outcomes(emu, req, org: str):
    check_org(emu.world, org)
    require(req, ORG_READ)
    for name in req.params:
        if name not in KNOWN and name not in ("per_page", "cursor", "limit"):
            # GlitchTip's schema forbids parameters it does not know (groupBy, outcome, projectSlug)
            raise _invalid(name, "extra_forbidden", "Extra inputs are not permitted")
    category = _one(req, "category", CATEGORIES)
    field = _one(req, "field", tuple(FIELDS))
    start, end, interval = buckets(req)
    projects = _projects(emu, req)
    n = (end - start) // interval
    series = [0] * n
    with emu.world.lock:
        for p in projects:
            for day in _days_in(start, end):
                for row in aggregates.outcomes(emu.world, p, day):
                    if row.category == category and row.outcome == "accepted":
                        series[(row.day - start) // interval] += getattr(row, FIELDS[field])
    return 200, {
        "intervals": [fmt(start + k * interval, 0) for k in range(n)],
        "groups": [{"series": {field: series}}],
    }
