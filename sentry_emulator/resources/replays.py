"""The organization's session replays: ``{"data": [...]}``, offset-paged by ``Link``. A replay is
listed when it was active inside the window (``start``/``end`` or ``statsPeriod``), so one that
started before ``start`` still comes. Without Sentry's global-views feature (not every plan has
it) a request may name one project only: more is a 400, as is asking for none when the token sees
several."""

from __future__ import annotations

from .. import auth, data, serialize
from ..auth import ORG_READ, check_org, require
from ..paging import offset_list
from ..request import ApiError
from ..routing import route
from ..timeutil import US

DEFAULT_PERIOD = 14 * 86_400 * US
SORTS = {
    "started_at": lambda r: (r["started"], r["id"]),
    "finished_at": lambda r: (r["finished"], r["id"]),
    "duration": lambda r: (r["finished"] - r["started"], r["id"]),
    "count_errors": lambda r: (r["errors"], r["id"]),
}


@route("GET", "/api/0/organizations/{org}/replays/", faults={"replays"})
def list_replays(emu, req, org: str):
    check_org(emu.world, org)
    require(req, ORG_READ)
    chosen = auth.project_ids_param(emu.world, req)
    if chosen is None:
        chosen = auth.accessible(emu.world, req)
    if len(chosen) > 1:
        raise ApiError(400, {"detail": "You cannot view events from multiple projects."})
    sort = req.param("sort") or "-started_at"
    key = SORTS.get(sort.lstrip("-"))
    if key is None:
        raise ApiError(400, {"detail": f"Invalid sort: {sort}"})
    start, end = req.date_window(DEFAULT_PERIOD)
    found = [
        r
        for p in chosen
        for r in data.replays(emu.world, p)
        if r["started"] <= end and r["finished"] >= start
    ]
    found.sort(key=key, reverse=sort.startswith("-"))
    return 200, {"data": [serialize.replay(r) for r in offset_list(req, found)]}
