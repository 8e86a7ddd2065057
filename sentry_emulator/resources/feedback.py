"""A project's user feedback (user reports), newest first. Like Sentry, the list holds by default
only reports whose issue is unresolved, filtered after paging (so a page can come back short while
more exist); ``status=`` (empty) lists every report, any other status is a 400."""

from __future__ import annotations

from .. import auth, data, serialize
from ..auth import PROJECT_READ
from ..paging import offset_list
from ..request import ApiError
from ..routing import route


@route("GET", "/api/0/projects/{org}/{project}/user-feedback/", faults={"user_feedback"})
def list_user_feedback(emu, req, org: str, project: str):
    p = auth.project(emu.world, req, org, project, PROJECT_READ)
    status = req.param("status", "unresolved")
    if status not in ("unresolved", ""):
        raise ApiError(400, {"status": "Invalid status choice"})
    page = offset_list(req, data.feedback(emu.world, p))
    if status == "unresolved":
        page = [f for f in page if f["issue"].status == "unresolved"]
    return 200, [serialize.user_feedback(emu.world, f) for f in page]
