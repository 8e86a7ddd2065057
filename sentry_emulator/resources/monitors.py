"""Cron monitors of the organization, with their environments."""

from __future__ import annotations

from .. import data, serialize
from ..auth import MONITOR_READ, check_org, require
from ..paging import offset_list
from ..routing import route


@route("GET", "/api/0/organizations/{org}/monitors/", faults={"monitors"})
def list_monitors(emu, req, org: str):
    check_org(emu.world, org)
    require(req, MONITOR_READ)
    found = [m for m in data.monitors(emu.world) if m["project"].idx not in req.caller.forbidden]
    return 200, [serialize.monitor(emu.world, m) for m in offset_list(req, found)]
