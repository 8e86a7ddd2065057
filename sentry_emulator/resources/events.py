"""A project's error events."""

from __future__ import annotations

from .. import auth, serialize
from ..auth import EVENT_READ
from ..paging import offset_page, parse_cursor, parse_per_page
from ..request import ApiError
from ..routing import route
from ..timeutil import US, now_us

RETENTION = 90 * 86_400 * US


@route("GET", "/api/0/projects/{org}/{project}/events/", faults={"events"}, category="events")
def list_events(emu, req, org: str, project: str):
    p = auth.project(emu.world, req, org, project, EVENT_READ)
    per_page = parse_per_page(req.params)
    cursor = parse_cursor(req.param("cursor"))
    start, end = req.date_window(None)
    floor = now_us() - RETENTION
    start = floor if start is None else max(start, floor)
    offset = cursor.offset if cursor else 0
    # Sentry's own words for it (sentry-cli users met them: getsentry/sentry-cli#589).
    if emu.event_offset_limit is not None and offset >= emu.event_offset_limit:
        raise ApiError(400, {"detail": "Pagination offset too large"})
    full = bool(req.param("full"))
    sample = bool(req.param("sample"))
    items, total = emu.world.events_slice(p, start, end, offset, per_page, sample=sample)
    _s, _e, prev, nxt = offset_page(total, cursor, per_page)
    req.link(prev, nxt)
    ser = serialize.event_full if full else serialize.event_simple
    return 200, [ser(emu.world, ev) for ev in items]
