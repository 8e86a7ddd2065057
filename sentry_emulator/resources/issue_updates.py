"""Changing issues: one issue's details (GET, PUT) and the bulk mutation of the issue lists
(PUT ``?id=``), each status change or assignment sending Sentry's ``issue`` webhook."""

from __future__ import annotations

from collections.abc import Callable

from .. import auth, data, serialize
from ..auth import EVENT_READ
from ..data import Issue
from ..host import Host
from ..request import FORBIDDEN, NOT_FOUND, ApiError, Request
from ..routing import route
from ..webhooks import payloads

EVENT_WRITE = frozenset({"event:write", "event:admin"})
# The API's status choices, and the resolution each resolve is (the webhook's resolution_type).
STATUSES = {
    "resolved": "now",
    "resolvedInNextRelease": "in_next_release",
    "unresolved": None,
    "ignored": None,
}


def actor_of(emu: Host, req: Request) -> dict:
    """Who a webhook says made the change: the token's user; an org token has none, so Sentry."""
    token = req.token
    return (
        payloads.user_actor(emu.world)
        if token is not None and token.kind == "user"
        else payloads.SENTRY_ACTOR
    )


def set_status(emu: Host, iss: Issue, status: str, actor: dict) -> None:
    """Set ``status`` (an API choice); a change sends ``issue.<status>`` (lastSeen does not move)."""
    if status not in STATUSES:
        raise ApiError(400, {"status": [f'"{status}" is not a valid choice.']})
    plain = "resolved" if status.startswith("resolved") else status
    before = iss.status
    emu.world.set_status(iss, plain)
    if before == plain:
        return
    extra = {"resolution_type": STATUSES[status]} if plain == "resolved" else {}
    emu.webhooks.issue(iss, plain, actor, **extra)
    if plain == "ignored":
        emu.webhooks.issue(iss, "archived", actor)  # to the apps subscribed to that name only


def assign(emu: Host, iss: Issue, value: str | None, actor: dict) -> None:
    """``assignedTo``: ``user:ID``, ``team:ID``, a member's user id, username or email; empty
    unassigns. Only a change to another assignee sends ``issue.assigned``, as Sentry sends it when
    the assignment row changed; unassigning sends nothing."""
    if not value:
        iss.assignee = None
        return
    new = _assignee(emu, value)
    hook = {k: new[k] for k in ("type", "name", "email") if k in new} | {"id": int(new["id"])}
    if iss.assignee == new:
        return
    iss.assignee = new
    emu.webhooks.issue(iss, "assigned", actor, assignee=hook)


def _assignee(emu: Host, value: str) -> dict:
    """The issue's ``assignedTo`` for an API value; a 400 for one that names nobody."""
    kind, _, ref = value.partition(":") if ":" in value else ("user", "", value)
    if kind == "team":
        team = next((t for t in data.teams(emu.world) if t["id"] == ref), None)
        if team is not None:
            return {"type": "team", "id": team["id"], "name": team["slug"]}
    elif kind == "user":
        users = [m for m in data.members(emu.world) if not m["pending"]]
        m = next((m for m in users if ref in (m["user_id"], m["email"])), None)
        if m is not None:
            return {"type": "user", "id": m["user_id"], "name": m["name"], "email": m["email"]}
    else:
        parse = "Could not parse actor. Format should be `type:id` where type is `team` or `user`."
        raise ApiError(400, {"assignedTo": [parse]})
    raise ApiError(400, {"assignedTo": ["Unknown actor input"]})


def _apply(emu: Host, req: Request, issues: list[Issue]) -> dict:
    """The body's changes on every issue; the answer the bulk mutation gives."""
    body = req.json_body()
    actor = actor_of(emu, req)
    result: dict = {}
    if "status" in body:
        for iss in issues:
            set_status(emu, iss, str(body["status"]), actor)
        result.update(
            {"status": body["status"], "statusDetails": body.get("statusDetails") or {}, "inbox": None}
        )
    if "assignedTo" in body:
        for iss in issues:
            assign(emu, iss, body["assignedTo"], actor)
        result["assignedTo"] = issues[0].assignee if issues else None
    return result


def _issue(emu: Host, req: Request, issue_id: str, scopes: frozenset[str]) -> Issue:
    emu.world.release_due()
    iss = emu.world.issues_by_id.get(issue_id)
    if iss is None or not iss.count:
        raise ApiError(404, NOT_FOUND)
    auth.require(req, scopes)
    if iss.project.idx in req.caller.forbidden:
        raise ApiError(403, FORBIDDEN)
    return iss


def issue_for(emu: Host, req: Request, org: str | None, issue_id: str, scopes: frozenset[str]) -> Issue:
    """The issue of a ``/issues/{id}/`` route (with or without the organization in the path)."""
    if org is not None:
        auth.check_org(emu.world, org)
    return _issue(emu, req, issue_id, scopes)


def issue_route(method: str, rest: str = "") -> Callable[[Callable], Callable]:
    """Declare a route of one issue under both of Sentry's prefixes, ``/api/0/issues/{issue_id}/``
    and ``/api/0/organizations/{org}/issues/{issue_id}/`` (the handler takes ``org=None``)."""

    def register(handler: Callable) -> Callable:
        for prefix in ("/api/0/issues/", "/api/0/organizations/{org}/issues/"):
            route(method, f"{prefix}{{issue_id}}/{rest}", faults={"issues"}, category="issues")(handler)
        return handler

    return register


@issue_route("GET")
def get_issue(emu, req, issue_id: str, org: str | None = None):
    return 200, serialize.issue(emu.world, issue_for(emu, req, org, issue_id, EVENT_READ), org_endpoint=True)


@issue_route("PUT")
def update_issue(emu, req, issue_id: str, org: str | None = None):
    iss = issue_for(emu, req, org, issue_id, EVENT_WRITE)
    _apply(emu, req, [iss])
    return 200, serialize.issue(emu.world, iss, org_endpoint=True)


def _bulk(emu, req, projects) -> tuple[int, object]:
    ids = req.params.get("id")
    if not ids:
        # Sentry then changes every issue the query matches; the emulator asks for ids.
        raise ApiError(400, {"detail": "The emulator's bulk mutation needs id parameters"})
    auth.require(req, EVENT_WRITE)
    idx = {p.idx for p in projects}
    emu.world.release_due()
    found = [emu.world.issues_by_id.get(i) for i in ids]
    issues = [i for i in found if i is not None and i.count and i.project.idx in idx]
    if not issues:
        return 204, b""
    return 200, _apply(emu, req, issues)


@route("PUT", "/api/0/organizations/{org}/issues/", faults={"issues"}, category="issues")
def bulk_update_org_issues(emu, req, org: str):
    auth.check_org(emu.world, org)
    return _bulk(emu, req, auth.project_ids_param(emu.world, req) or auth.accessible(emu.world, req))


@route("PUT", "/api/0/projects/{org}/{project}/issues/", faults={"issues"}, category="issues")
def bulk_update_project_issues(emu, req, org: str, project: str):
    return _bulk(emu, req, [auth.project(emu.world, req, org, project, EVENT_WRITE)])
