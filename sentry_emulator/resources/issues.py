"""Issues: the organization's list and a project's list (a shorter form of the same items)."""

from __future__ import annotations

from .. import auth, search, serialize
from ..auth import EVENT_READ
from ..data import Project, _h
from ..paging import parse_cursor, parse_per_page, score_cursors, score_window
from ..request import ApiError
from ..routing import route
from ..timeutil import US, now_us

DEFAULT_ORG_ISSUES_PERIOD = 14 * 86_400 * US
MAX_HITS = 1000

SORTS = {
    "date": lambda i: i.last_seen[0] // 1000,
    "new": lambda i: i.first_seen[0] // 1000,
    "freq": lambda i: i.count,
    "user": lambda i: i.user_count,
    "priority": lambda i: i.last_seen[0] // 1000,
    "trends": lambda i: i.last_seen[0] // 1000,
    "inbox": lambda i: i.last_seen[0] // 1000,
    "recommended": lambda i: i.last_seen[0] // 1000,
}

# Fields of an org issues item that the project issues endpoint does not send.
_NOT_IN_PROJECT_LIST = (
    "filtered",
    "inbox",
    "integrationIssues",
    "isUnhandled",
    "issueCategory",
    "issueType",
    "latestEventHasAttachments",
    "lifetime",
    "owners",
    "platform",
    "pluginActions",
    "pluginIssues",
    "priority",
    "priorityLockedAt",
    "seerAutofixLastTriggered",
    "seerFixabilityScore",
    "sentryAppIssues",
    "sessionCount",
    "substatus",
)


def _short_page(emu, req, lo: int, hi: int) -> int:
    """Where a page deterministically chosen to come back short (or, once, empty) ends."""
    key = f"{req.path}|{req.param('cursor') or 'first'}|" + "&".join(
        f"{k}={v}" for k, v in sorted(req.pairs) if k != "cursor"
    )
    hv = _h(emu.seed, "short", key)
    if hv % emu.short_pages == 0:
        if (hv >> 8) % 3 == 0 and key not in emu.served_empty:
            emu.served_empty.add(key)
            return lo
        if hi - lo > 1:
            return lo + 1 + (hv >> 16) % (hi - lo - 1)
    return hi


def _issue_list(emu, req, projects: list[Project], window: tuple[int | None, int | None]):
    query = req.param("query") if "query" in req.params else "is:unresolved"
    try:
        pred = search.parse(query, now_us())
    except search.SearchError as exc:
        raise ApiError(400, {"detail": str(exc)}) from exc
    sort = req.param("sort") or "date"
    if sort not in SORTS:
        raise ApiError(400, {"detail": f"Invalid sort: {sort}"})
    score = SORTS[sort]
    limit = parse_per_page(req.params, "limit", clamp=True)
    cursor = parse_cursor(req.param("cursor"))
    envs = set(req.params.get("environment", []))
    start, end = window
    idx = {p.idx for p in projects}
    items = []
    for iss in emu.world.all_issues():
        if iss.project.idx not in idx or not iss.count:
            continue
        if envs and not envs & set(iss.envs):
            continue
        if start is not None and iss.last_seen[0] < start:
            continue
        if end is not None and iss.first_seen[0] >= end:
            continue
        if pred(iss):
            items.append(iss)
    # Each issue's score worked out once, not once by the sort and again for the cursors.
    keyed = sorted(((score(i), int(i.id), i) for i in items), key=lambda k: k[:2], reverse=True)
    items = [i for _, _, i in keyed]
    neg = [-s for s, _, _ in keyed]
    lo, hi = score_window(neg, cursor, limit)
    if emu.short_pages and (cursor is None or not cursor.is_prev) and hi < len(items):
        hi = _short_page(emu, req, lo, hi)
    prev, nxt = score_cursors(neg, lo, hi)
    req.link(prev, nxt)
    req.extra_headers["X-Hits"] = str(len(items))
    req.extra_headers["X-Max-Hits"] = str(MAX_HITS)
    return 200, [serialize.issue(emu.world, i, org_endpoint=True) for i in items[lo:hi]]


@route("GET", "/api/0/organizations/{org}/issues/", faults={"issues", "org_issues"}, category="issues")
def list_org_issues(emu, req, org: str):
    auth.check_org(emu.world, org)
    auth.require(req, EVENT_READ)
    projects = auth.project_ids_param(emu.world, req) or auth.accessible(emu.world, req)
    window = req.date_window(DEFAULT_ORG_ISSUES_PERIOD)  # Sentry parses the dates either way
    if "group" in req.params:
        return _issues_by_id(emu, req, projects)
    return _issue_list(emu, req, projects, window)


def _issues_by_id(emu, req, projects: list[Project]):
    """Sentry's index given ``group=ID`` (repeatable): exactly those issues of the requested (else
    accessible) projects, whatever their status, dates or events; ``query``, ``sort``, ``limit``
    and the cursor are ignored, no page follows (no Link header) and there is no cap on the count.
    An id that is not an integer is a 400; an unknown one, or one in another project, is left out."""
    try:
        wanted = {int(value) for value in req.params["group"]}
    except ValueError as exc:
        raise ApiError(400, {"detail": "Group ids must be integers"}) from exc
    idx = {p.idx for p in projects}
    found = [iss for iss in emu.world.all_issues() if int(iss.id) in wanted and iss.project.idx in idx]
    found.sort(key=lambda i: int(i.id))
    return 200, [serialize.issue(emu.world, i, org_endpoint=True) for i in found]


@route(
    "GET", "/api/0/projects/{org}/{project}/issues/", faults={"issues", "project_issues"}, category="issues"
)
def list_project_issues(emu, req, org: str, project: str):
    p = auth.project(emu.world, req, org, project, EVENT_READ)
    period = req.param("statsPeriod")
    if period not in (None, "", "24h", "14d"):
        raise ApiError(400, {"detail": "Invalid stats_period. Valid choices are '', '24h', and '14d'"})
    status, body = _issue_list(emu, req, [p], (None, None))
    for item in body:
        for k in _NOT_IN_PROJECT_LIST:
            item.pop(k, None)
        item["project"].pop("platform", None)
    return status, body
