"""Organizations: the list (one organization) and its detail."""

from __future__ import annotations

from .. import serialize
from ..auth import ORG_READ, check_org, require
from ..paging import Cursor
from ..routing import route


@route("GET", "/api/0/organizations/", faults={"orgs"})
def list_organizations(emu, req):
    require(req, ORG_READ | {"org:ci"})
    req.link(Cursor(0, 0, True, False), Cursor(0, 100, False, False))
    return 200, [serialize.organization(emu.world)]


@route("GET", "/api/0/organizations/{org}/", faults={"org"})
def organization_detail(emu, req, org: str):
    check_org(emu.world, org)
    require(req, ORG_READ)
    return 200, serialize.organization(emu.world)
