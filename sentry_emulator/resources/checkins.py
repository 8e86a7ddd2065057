"""Check-ins of one cron monitor: a date window (default the last 90 days) on the date Sentry
received each, newest first, offset-paged."""

from __future__ import annotations

from .. import data, serialize
from ..auth import MONITOR_READ, check_org, require
from ..paging import offset_list
from ..request import FORBIDDEN, NOT_FOUND, ApiError
from ..routing import route
from ..timeutil import US

DEFAULT_PERIOD = 90 * 86_400 * US


@route("GET", "/api/0/organizations/{org}/monitors/{monitor}/checkins/", faults={"monitors", "checkins"})
def list_checkins(emu, req, org: str, monitor: str):
    check_org(emu.world, org)
    require(req, MONITOR_READ)
    found = next((m for m in data.monitors(emu.world) if monitor in (m["id"], m["slug"])), None)
    if found is None:
        raise ApiError(404, NOT_FOUND)
    if found["project"].idx in req.caller.forbidden:
        raise ApiError(403, FORBIDDEN)
    start, end = req.date_window(DEFAULT_PERIOD)
    inside = [c for c in data.checkins(emu.world, found) if start <= c["created"] <= end]
    return 200, [serialize.checkin(emu.world, found, c) for c in offset_list(req, inside)]
