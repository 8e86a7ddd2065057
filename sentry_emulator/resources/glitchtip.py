"""GlitchTip's dialect of Sentry's Web API: every Sentry route, with the differences observed
against a GlitchTip server (issue 11) replacing Sentry's behaviour where they differ.

- Lists page with an opaque cursor and a malformed ``Link`` header (see ``paging``); they take
  ``limit`` (default 50, at most 100) and ignore ``per_page``.
- Org issues: ``sort`` is one of ``last_seen``, ``first_seen``, ``count``, ``priority`` or their
  ``-`` forms (anything else, Sentry's ``date`` included, is a 422); ``start``/``end`` filter
  ``firstSeen``; a ``lastSeen:``/``firstSeen:`` query term is a tag search (matches nothing);
  without ``query`` every status is listed.
- Events: ``start``, ``end`` and ``statsPeriod`` are ignored (the whole history is listed,
  newest first); ``projectID`` is an integer.
- Releases are read with ``project:releases`` alone (Sentry's ``project:read`` is not enough).
- Releases have no ``id``; creating a version that exists answers 500 (an HTML page). A create
  keeps the project slugs the organization has and drops the others without a word; none left:
  422 "Require at least one valid project".
- No deploys: a POST meets the CSRF check, a 403 HTML page (the list: the catch-all, below).
- Monitors (its uptime monitors) have integer ids.
- ``stats_v2`` is GlitchTip's own (``glitchtip_stats``), not Sentry's.
- Events are stored asynchronously, one after another (``Emulator(glitchtip_store_rate=)``).
- ``GET /api/settings/`` describes the server (GlitchTip's own endpoint, outside ``/api/0/``).
- Only the routes in ``HAS`` exist. A path it lacks answers 404 (``{"detail": "Not Found"}``),
  unless a segment of it is one of ``CATCH_ALL``: GlitchTip's single-page-app catch-all then
  renders the frontend's ``index.html``, a 500 HTML page on a backend-only install (no
  template) and a 200 ``text/html`` page where the frontend is built
  (``Emulator(glitchtip_frontend="built")``). Observed for these four; GlitchTip's list holds a
  few more, which no Sentry route the connector reads contains. A route added to Sentry's table
  later is absent here until it is listed.
  GlitchTip's backend (apps/*/api.py) has no organization-wide client keys (only per project),
  no repositories (no integrations), no release commits (4.2.5; later versions keep a release's
  commits), and no workflow engine (its alerts are per project, under projects/.../alerts/).
  Its ``organizations/{org}/monitors/`` are uptime monitors, not Sentry's cron monitors: served
  here in Sentry's shape, a known difference (docs/sentry.md, GlitchTip).
"""

from __future__ import annotations

import json
import re

from .. import auth, data, search, serialize
from ..auth import EVENT_READ, RELEASE_WRITE
from ..paging import from_glitchtip_cursor, offset_page, parse_cursor, parse_per_page
from ..request import ApiError, Request
from ..routing import SENTRY

# Every Sentry resource registers its routes before GLITCHTIP copies them.
from . import (  # noqa: F401
    alerting,
    checkins,
    deploys,
    events,
    feedback,
    issues,
    keys,
    members,
    monitors,
    organizations,
    releases,
    replays,
    repositories,
    stats,
    teams,
)
from . import projects as _projects  # noqa: F401
from .deploys import DEPLOYS
from .releases import RELEASE, RELEASES

# GlitchTip's stats_v2 registers on GLITCHTIP below, once the table exists.

GLITCHTIP = SENTRY.derive()
RELEASE_READ = frozenset({"project:releases"})
VERSION = "4.2.5"

# The (method, route) pairs GlitchTip 4.2.5 serves; deploys are listed because the dialect answers
# them its own way (below).
HAS = {
    ("GET", "/api/0/organizations/"),
    ("GET", "/api/0/organizations/{org}/"),
    ("GET", "/api/0/organizations/{org}/projects/"),
    ("GET", "/api/0/organizations/{org}/issues/"),
    ("GET", "/api/0/organizations/{org}/teams/"),
    ("GET", "/api/0/organizations/{org}/members/"),
    ("GET", "/api/0/organizations/{org}/monitors/"),
    ("GET", RELEASES),
    ("POST", RELEASES),
    ("GET", RELEASE),
    ("PUT", RELEASE),
    ("GET", DEPLOYS),
    ("POST", DEPLOYS),
    ("GET", "/api/0/projects/"),
    ("GET", "/api/0/projects/{org}/{project}/"),
    ("GET", "/api/0/projects/{org}/{project}/events/"),
    ("GET", "/api/0/projects/{org}/{project}/issues/"),
    ("GET", "/api/0/projects/{org}/{project}/environments/"),
    ("GET", "/api/0/organizations/{org}/stats_v2/"),  # GlitchTip's own (glitchtip_stats)
}


# The ground-truth kinds (streams) whose lists GlitchTip has; a sync there reads none of the others.
HAS_KINDS = frozenset(
    {
        "projects",
        "project_detail",
        "events",
        "issues",
        "releases",
        "organization",
        "teams",
        "members",
        "environments",
        "monitors",
    }
)


CATCH_ALL = frozenset({"releases", "projects", "issues", "settings"})
INDEX_HTML = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>GlitchTip</title>'
    '<base href="/"></head><body><app-root></app-root><script src="main.js" type="module"></script>'
    "</body></html>"
)


def lacking(emu, req: Request) -> tuple[int, object]:
    """GlitchTip's answer to an API path it has no route for (see the module's docstring)."""
    if CATCH_ALL.isdisjoint(req.path.split("/")):
        raise ApiError(404, {"detail": "Not Found"})
    if emu.glitchtip_frontend == "built":
        req.extra_headers["Content-Type"] = "text/html; charset=utf-8"
        return 200, INDEX_HTML.encode()
    return _html(req, 500, "Server Error (500)")  # TemplateDoesNotExist: index.html


def _lacking(emu, req, **_args):
    return lacking(emu, req)


for _endpoint in GLITCHTIP.endpoints():
    if (_endpoint.method, _endpoint.template) not in HAS:
        GLITCHTIP.route(
            _endpoint.method,
            _endpoint.template,
            faults=_endpoint.faults,
            category=_endpoint.category,
            replaces=True,
        )(_lacking)
PAGE = 50

ISSUE_SORTS = {
    "last_seen": lambda i: (i.last_seen[0], int(i.id)),
    "first_seen": lambda i: (i.first_seen[0], int(i.id)),
    "count": lambda i: (i.count, int(i.id)),
    "priority": lambda i: (i.count, i.last_seen[0], int(i.id)),
}
_DATE_TERM = re.compile(r"(^|\s)!?(lastSeen|firstSeen|age):")


def adapt(req: Request) -> None:
    """GlitchTip's paging parameters, in the terms the shared handlers read: its cursor, and
    ``limit`` in place of ``per_page``."""
    req.dialect = "glitchtip"
    raw = req.param("cursor")
    if raw:
        req.params["cursor"] = [from_glitchtip_cursor(raw)]
    req.params["per_page"] = [str(min(100, parse_per_page(req.params, "limit", default=PAGE, clamp=True)))]


def shape(kind: str, item: dict, world) -> dict:
    """A record as GlitchTip serves it, from Sentry's form (also for ground truth)."""
    if kind == "releases":
        item.pop("id", None)
    elif kind == "events" and "projectID" in item:
        item["projectID"] = int(item["projectID"])
    elif kind == "monitors":
        item["id"] = monitor_number(world, item["id"])
    return item


def monitor_number(world, uuid: str) -> int:
    """GlitchTip's integer id of a monitor: its row number, in the order they were created."""
    return 1 + [m["id"] for m in data.monitors(world)].index(uuid)


def _html(req: Request, status: int, title: str) -> tuple[int, bytes]:
    req.extra_headers["Content-Type"] = "text/html; charset=utf-8"
    page = f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    return status, page.encode()


@GLITCHTIP.route(
    "GET",
    "/api/0/organizations/{org}/issues/",
    faults={"issues", "org_issues"},
    category="issues",
    replaces=True,
)
def list_org_issues(emu, req, org: str):
    auth.check_org(emu.world, org)
    auth.require(req, EVENT_READ)
    projects = auth.project_ids_param(emu.world, req) or auth.accessible(emu.world, req)
    sort = req.param("sort") or "-last_seen"
    key = ISSUE_SORTS.get(sort.removeprefix("-"))
    if key is None:
        choices = ", ".join(f"'{s}', '-{s}'" for s in ISSUE_SORTS)
        raise ApiError(
            422,
            {
                "detail": [
                    {"type": "literal_error", "loc": ["query", "sort"], "msg": f"Input should be {choices}"}
                ]
            },
        )
    query = req.param("query") or ""
    try:
        pred = (lambda i: False) if _DATE_TERM.search(query) else search.parse(query, 0)
    except search.SearchError as exc:
        raise ApiError(400, {"detail": str(exc)}) from exc
    start, end = req.date_window(None)
    idx = {p.idx for p in projects}
    items = [
        i
        for i in emu.world.all_issues()
        if i.project.idx in idx
        and i.count
        and (start is None or i.first_seen[0] >= start)
        and (end is None or i.first_seen[0] < end)
        and pred(i)
    ]
    items.sort(key=key, reverse=sort.startswith("-"))
    lo, hi, prev, nxt = offset_page(
        len(items), parse_cursor(req.param("cursor")), int(req.param("per_page") or PAGE)
    )
    req.link(prev, nxt)
    return 200, [serialize.issue(emu.world, i, org_endpoint=True) for i in items[lo:hi]]


@GLITCHTIP.route(
    "GET", "/api/0/projects/{org}/{project}/events/", faults={"events"}, category="events", replaces=True
)
def list_events(emu, req, org: str, project: str):
    for ignored in ("start", "end", "statsPeriod"):
        req.params.pop(ignored, None)
    status, body = events.list_events(emu, req, org, project)
    return status, [shape("events", ev, emu.world) for ev in body]


@GLITCHTIP.route("GET", RELEASES, faults={"releases"}, category="releases", replaces=True)
def list_releases(emu, req, org: str):
    auth.check_org(emu.world, org)
    auth.require(req, RELEASE_READ)
    status, body = releases.list_releases(emu, req, org)
    return status, [shape("releases", r, emu.world) for r in body]


@GLITCHTIP.route("POST", RELEASES, faults={"releases", "release_create"}, category="releases", replaces=True)
def create_release(emu, req, org: str):
    auth.check_org(emu.world, org)
    auth.require(req, RELEASE_WRITE)
    body = req.json_body()
    version = body.get("version")
    if isinstance(version, str) and version in emu.world.releases_by_version:
        return _html(req, 500, "Server Error (500)")  # a unique constraint, not Sentry's 208
    refs = body.get("projects")
    if isinstance(refs, list):
        known = [ref for ref in refs if _project_slug_known(emu, req, ref)]
        if not known:
            raise ApiError(422, {"detail": "Require at least one valid project"})
        req.raw_body = json.dumps({**body, "projects": known}).encode()
    status, created = releases.create_release(emu, req, org)
    return status, shape("releases", created, emu.world)


def _project_slug_known(emu, req: Request, ref: object) -> bool:
    """GlitchTip looks the slugs up among the organization's projects (the token's user's)."""
    project = emu.world.project(str(ref))
    return project is not None and project.slug == ref and project.idx not in req.caller.forbidden


@GLITCHTIP.route("GET", RELEASE, faults={"releases"}, category="releases", replaces=True)
def release_detail(emu, req, org: str, version: str):
    auth.check_org(emu.world, org)
    auth.require(req, RELEASE_READ)
    status, body = releases.release_detail(emu, req, org, version)
    return status, shape("releases", body, emu.world)


@GLITCHTIP.route("GET", DEPLOYS, faults={"deploys"}, category="releases", replaces=True)
def list_deploys(emu, req, org: str, version: str):
    return lacking(emu, req)


@GLITCHTIP.route("GET", "/api/0/organizations/{org}/monitors/", faults={"monitors"}, replaces=True)
def list_monitors(emu, req, org: str):
    status, body = monitors.list_monitors(emu, req, org)
    return status, [shape("monitors", m, emu.world) for m in body]


@GLITCHTIP.route("POST", DEPLOYS, faults={"deploys", "deploy_create"}, category="releases", replaces=True)
def create_deploy(emu, req, org: str, version: str):
    return _html(req, 403, "403 Forbidden: CSRF verification failed. Request aborted.")


@GLITCHTIP.route("GET", "/api/settings/", faults={"orgs"}, public=True)
def settings(emu, req):
    return 200, {
        "version": VERSION,
        "billingEnabled": False,
        "iPaidForGlitchTip": False,
        "enableUserRegistration": False,
        "enableOrganizationCreation": False,
        "serverTimeZone": "UTC",
        "environment": None,
        "socialApps": [],
    }
