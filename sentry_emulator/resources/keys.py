"""Client keys (DSNs): the organization-wide list; keys of projects the token may not see are
left out, as in the org issues list."""

from __future__ import annotations

from .. import data, serialize
from ..auth import ORG_READ, check_org, require
from ..paging import offset_list
from ..routing import route


@route("GET", "/api/0/organizations/{org}/project-keys/", faults={"project_keys"})
def list_project_keys(emu, req, org: str):
    check_org(emu.world, org)
    require(req, ORG_READ)
    keys = [k for k in data.project_keys(emu.world) if k["project"].idx not in req.caller.forbidden]
    return 200, [serialize.project_key(emu.world, k) for k in offset_list(req, keys)]
