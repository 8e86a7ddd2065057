"""A release's deploys: the list (newest per project and environment) and create (not idempotent)."""

from __future__ import annotations

from .. import serialize
from ..auth import RELEASE_READ, RELEASE_WRITE
from ..paging import offset_page, parse_cursor, parse_per_page
from ..request import ApiError, body_date
from ..routing import route
from ..timeutil import now_us
from .releases import find_release

DEPLOYS = "/api/0/organizations/{org}/releases/{version}/deploys/"


@route("GET", DEPLOYS, faults={"deploys"}, category="releases")
def list_deploys(emu, req, org: str, version: str):
    rel = find_release(emu, req, org, version, RELEASE_READ)
    deploys = emu.world.latest_deploys(rel)
    per_page = parse_per_page(req.params)
    start, stop, prev, nxt = offset_page(len(deploys), parse_cursor(req.param("cursor")), per_page)
    req.link(prev, nxt)
    return 200, [serialize.deploy(d) for d in deploys[start:stop]]


def _field_errors(data: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    env = data.get("environment")
    if env is None:
        errors["environment"] = ["This field is required."]
    elif not isinstance(env, str) or env.strip() == "":
        errors["environment"] = ["This field may not be blank."]
    elif len(env) > 64:
        errors["environment"] = ["Ensure this field has no more than 64 characters."]
    elif "/" in env or "\n" in env or "\r" in env or env in (".", ".."):
        errors["environment"] = ["Invalid value for environment"]
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 64):
        errors["name"] = ["Ensure this field has no more than 64 characters."]
    url = data.get("url")
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        errors["url"] = ["Enter a valid URL."]
    return errors


@route("POST", DEPLOYS, faults={"deploys", "deploy_create"}, category="releases")
def create_deploy(emu, req, org: str, version: str):
    rel = find_release(emu, req, org, version, RELEASE_WRITE)
    data = req.json_body()
    errors = _field_errors(data)
    if errors:
        raise ApiError(400, errors)
    started = body_date(data, "dateStarted")
    finished = body_date(data, "dateFinished") or (now_us(), 6)
    refs = data.get("projects")
    if refs is None:
        projects = list(rel.projects)  # without `projects`, every project of the release
    else:
        if not isinstance(refs, list):
            raise ApiError(400, {"projects": ['Expected a list of items but got type "str".']})
        projects, bad = [], []
        for ref in refs:
            p = emu.world.project(str(ref))
            if p is None or p.idx not in rel.projects:
                bad.append(str(ref))
            elif p.idx not in projects:
                projects.append(p.idx)
        if bad:
            raise ApiError(
                400,
                {
                    "detail": {
                        "code": "parameter-validation-error",
                        "message": f"Invalid projects for this release: {', '.join(bad)}",
                        "extra": None,
                    }
                },
            )
    dep = emu.world.create_deploy(
        rel, data.get("environment"), data.get("name"), data.get("url"), started, finished, projects
    )
    return 201, serialize.deploy(dep)
