"""Projects: the organization's list, the legacy ``/projects/`` list and a project's detail."""

from __future__ import annotations

from .. import auth, data, serialize
from ..auth import ORG_READ, PROJECT_READ, check_org, require
from ..data import Project
from ..paging import offset_page, parse_cursor, parse_per_page
from ..routing import route


def _project_list(emu, req, projects: list[Project]):
    q = (req.param("query") or "").strip()
    for term in q.split():
        key, sep, val = term.partition(":")
        if sep and key == "slug":
            projects = [p for p in projects if p.slug == val]
        elif sep and key == "id":
            projects = [p for p in projects if p.id == val]
        else:
            projects = [p for p in projects if term.lower() in p.slug or term.lower() in p.name.lower()]
    per_page = parse_per_page(req.params)
    start, stop, prev, nxt = offset_page(len(projects), parse_cursor(req.param("cursor")), per_page)
    req.link(prev, nxt)
    scopes = sorted(req.caller.scopes)
    return 200, [
        serialize.project_summary(emu.world, p, scopes, p.idx not in req.caller.forbidden)
        for p in projects[start:stop]
    ]


@route("GET", "/api/0/organizations/{org}/projects/", faults={"projects"})
def list_org_projects(emu, req, org: str):
    # A forbidden project is still listed, with hasAccess false.
    check_org(emu.world, org)
    require(req, ORG_READ)
    return _project_list(emu, req, list(emu.world.projects))


@route("GET", "/api/0/projects/", faults={"projects"})
def list_legacy_projects(emu, req):
    require(req, PROJECT_READ | ORG_READ)
    return _project_list(emu, req, auth.accessible(emu.world, req))


@route("GET", "/api/0/projects/{org}/{project}/", faults={"project"})
def project_detail(emu, req, org: str, project: str):
    p = auth.project(emu.world, req, org, project, PROJECT_READ)
    return 200, serialize.project_detail(emu.world, p, sorted(req.caller.scopes), True)


@route("GET", "/api/0/projects/{org}/{project}/environments/", faults={"environments"})
def list_environments(emu, req, org: str, project: str):
    # Not paginated in Sentry: one list, visible environments only by default.
    p = auth.project(emu.world, req, org, project, PROJECT_READ)
    return 200, [serialize.environment(emu.world, p, name) for name in data.environments(p)]
