"""The organization's teams."""

from __future__ import annotations

from .. import data, serialize
from ..auth import TEAM_READ, check_org, require
from ..paging import offset_list
from ..routing import route


@route("GET", "/api/0/organizations/{org}/teams/", faults={"teams"})
def list_teams(emu, req, org: str):
    check_org(emu.world, org)
    require(req, TEAM_READ)
    return 200, [serialize.team(emu.world, t) for t in offset_list(req, data.teams(emu.world))]
