"""Sentry's alerting in its workflow engine: detectors ("Monitors" in Sentry's API docs), which
watch a project, and workflows ("Alerts"), which act on what detectors open. Both lists are
organization routes paged by offset, readable with org:read or alerts:read; they replace the
retired alert-rule endpoints.

``project`` narrows either list: numeric ids, ``-1`` for every project the token may read, and an
id the token may not read is a 403. Without it Sentry uses the user's own projects; here every
project the token may read. Workflows connected to no detector are always listed."""

from __future__ import annotations

from .. import auth, data, serialize
from ..auth import ALERTS_READ
from ..paging import offset_list
from ..routing import route

DETECTORS = "/api/0/organizations/{org}/detectors/"
WORKFLOWS = "/api/0/organizations/{org}/workflows/"


def _projects(emu, req) -> set[int]:
    chosen = auth.project_ids_param(emu.world, req)
    return {p.idx for p in (auth.accessible(emu.world, req) if chosen is None else chosen)}


@route("GET", DETECTORS, faults={"detectors"})
def list_detectors(emu, req, org: str):
    auth.check_org(emu.world, org)
    auth.require(req, ALERTS_READ)
    idx = _projects(emu, req)
    links = serialize.detector_workflow_ids(data.workflows(emu.world))
    found = [d for d in data.detectors(emu.world) if d["project"].idx in idx]
    return 200, [serialize.detector(emu.world, d, links.get(d["id"], [])) for d in offset_list(req, found)]


@route("GET", WORKFLOWS, faults={"workflows"})
def list_workflows(emu, req, org: str):
    auth.check_org(emu.world, org)
    auth.require(req, ALERTS_READ)
    idx = _projects(emu, req)
    found = [
        wf
        for wf in data.workflows(emu.world)
        if not wf["detectors"] or any(d["project"].idx in idx for d in wf["detectors"])
    ]
    return 200, [serialize.workflow(emu.world, wf) for wf in offset_list(req, found)]
