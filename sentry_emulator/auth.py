"""Tokens, scopes and project access, with the 401/403/404 answers Sentry gives.

The scope sets come from Sentry's permission classes: any one scope of a set is enough."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable

from .api_token import Token
from .data import Project, World, _hex32
from .request import FORBIDDEN, NOT_FOUND, ApiError, Request

ALL_SCOPES = (
    "org:read",
    "org:write",
    "project:read",
    "project:write",
    "project:releases",
    "event:read",
    "event:write",
    "team:read",
    "member:read",
    "alerts:read",
    "org:integrations",
)
ORG_READ = frozenset({"org:read", "org:write", "org:admin"})
PROJECT_READ = frozenset({"project:read", "project:write", "project:admin"})
EVENT_READ = frozenset({"event:read", "event:write", "event:admin"})
TEAM_READ = ORG_READ | {"team:read", "team:write", "team:admin"}
MEMBER_READ = frozenset({"member:read", "member:write", "member:admin"})
INTEGRATION_READ = frozenset({"org:integrations"})
MONITOR_READ = ORG_READ | {"alerts:read", "alerts:write"}
# Detectors and workflows (the workflow engine): OrganizationDetectorPermission and
# OrganizationWorkflowPermission read with any of these.
ALERTS_READ = ORG_READ | {"alerts:read"}
RELEASE_READ = frozenset({"project:read", "project:write", "project:admin", "project:releases", "org:ci"})
RELEASE_WRITE = frozenset({"project:releases", "project:write", "project:admin", "org:ci"})


class Tokens:
    """The tokens an emulator knows, minted deterministically from its seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._by_value: dict[str, Token] = {}
        self._counter = 0

    def mint(
        self, scopes: Iterable[str] | None, forbidden: set[int], kind: str, *, base_url: str, org: str
    ) -> str:
        self._counter += 1
        n = self._counter
        secret = _hex32(self.seed, "token", n) + _hex32(self.seed, "token2", n)
        if kind == "org":
            payload = json.dumps(
                {"iat": 1_700_000_000 + n, "url": base_url, "region_url": base_url, "org": org}
            ).encode()
            value = "sntrys_" + base64.b64encode(payload).decode().rstrip("=") + "_" + secret[:43]
            default = ["org:ci"]
        elif kind == "user":
            value = "sntryu_" + secret
            default = list(ALL_SCOPES)
        else:
            raise ValueError("kind is 'user' or 'org'")
        self._by_value[value] = Token(
            value, frozenset(default if scopes is None else scopes), frozenset(forbidden), kind
        )
        return value

    def authenticate(self, req: Request) -> Token:
        auth = req.headers.get("Authorization")
        if not auth or not auth.startswith("Bearer ") or not auth[7:].strip():
            raise ApiError(401, {"detail": "Authentication credentials were not provided."})
        token = self._by_value.get(auth[7:].strip())
        if token is None:
            raise ApiError(401, {"detail": "Invalid token"})
        return token


def require(req: Request, allowed: frozenset[str]) -> None:
    if not (req.caller.scopes & allowed):
        raise ApiError(403, FORBIDDEN)


def check_org(world: World, org: str) -> None:
    if org not in (world.org_slug, world.org_id):
        raise ApiError(404, NOT_FOUND)


def project(world: World, req: Request, org: str, ref: str, scopes: frozenset[str]) -> Project:
    """The project of a ``/projects/{org}/{project}/`` route: 404 before 403, as Sentry does."""
    check_org(world, org)
    p = world.project(ref)
    if p is None:
        raise ApiError(404, NOT_FOUND)
    require(req, scopes)
    if p.idx in req.caller.forbidden:
        raise ApiError(403, FORBIDDEN)
    return p


def accessible(world: World, req: Request) -> list[Project]:
    return [p for p in world.projects if p.idx not in req.caller.forbidden]


def project_ids_param(world: World, req: Request) -> list[Project] | None:
    """The ``project`` query parameter (numeric ids, ``-1`` = all accessible), or None if absent."""
    raw = req.params.get("project")
    if not raw:
        return None
    try:
        ids = [int(x) for x in raw]
    except ValueError as exc:
        raise ApiError(400, {"detail": "Invalid project parameter. Values must be numbers."}) from exc
    if -1 in ids:
        return accessible(world, req)
    out = []
    for pid in ids:
        p = world.project(str(pid))
        if p is None or p.idx in req.caller.forbidden:
            raise ApiError(403, FORBIDDEN)
        out.append(p)
    return out
