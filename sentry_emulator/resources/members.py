"""The organization's members, pending invites included (as Sentry lists them)."""

from __future__ import annotations

from .. import data, serialize
from ..auth import MEMBER_READ, check_org, require
from ..paging import offset_list
from ..routing import route


@route("GET", "/api/0/organizations/{org}/members/", faults={"members"})
def list_members(emu, req, org: str):
    check_org(emu.world, org)
    require(req, MEMBER_READ)
    return 200, [serialize.member(emu.world, m) for m in offset_list(req, data.members(emu.world))]
