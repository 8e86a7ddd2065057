"""The organization's code repositories (an integration's data: scope org:integrations)."""

from __future__ import annotations

from .. import data, serialize
from ..auth import INTEGRATION_READ, check_org, require
from ..paging import offset_list
from ..routing import route


@route("GET", "/api/0/organizations/{org}/repos/", faults={"repos"})
def list_repositories(emu, req, org: str):
    check_org(emu.world, org)
    require(req, INTEGRATION_READ)
    return 200, [serialize.repository(r) for r in offset_list(req, data.repositories(emu.world))]
