"""The control API, ``/_emulator/<action>``: the test-facing methods of `Emulator` over HTTP,
for a client in another process. No auth, no rate limit, not logged. A JSON body (or query
parameters) carries the arguments; an unknown action or id is a 404, bad input a 400."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .host import Host
from .wire import Exchange

PREFIX = "/_emulator/"
ACTIONS: dict[str, Callable[[Host, dict], Any]] = {}


def action(name: str) -> Callable[[Callable], Callable]:
    def register(fn: Callable) -> Callable:
        ACTIONS[name] = fn
        return fn

    return register


@action("info")
def _info(emu: Host, d: dict) -> dict:
    return emu.info()


@action("ground_truth")
def _ground_truth(emu: Host, d: dict) -> list[dict]:
    return emu.ground_truth(d["kind"], d.get("projects"), full=bool(d.get("full")))


@action("add_events")
def _add_events(emu: Host, d: dict) -> list[dict]:
    return emu.add_events(
        d["project"],
        int(d.get("n", 1)),
        issue_id=d.get("issue_id"),
        late_by=d.get("late_by_seconds"),
        ahead_by=d.get("ahead_by_seconds"),
        visible_after=d.get("visible_after_seconds"),
    )


@action("release_pending")
def _release_pending(emu: Host, d: dict) -> dict:
    return {"released": emu.release_pending()}


@action("add_issues")
def _add_issues(emu: Host, d: dict) -> list[dict]:
    return emu.add_issues(d["project"], int(d.get("n", 1)))


@action("resolve_issue")
def _resolve_issue(emu: Host, d: dict) -> dict:
    return emu.resolve_issue(d["issue_id"])


@action("set_issue_status")
def _set_issue_status(emu: Host, d: dict) -> dict:
    return emu.set_issue_status(d["issue_id"], d["status"], automatic=bool(d.get("automatic")))


@action("add_release")
def _add_release(emu: Host, d: dict) -> dict:
    return emu.add_release(d["version"], d.get("projects"))


@action("add_repository")
def _add_repository(emu: Host, d: dict) -> dict:
    return emu.add_repository(
        d["name"], url=d.get("url"), provider=d.get("provider", "github"), path=d.get("path")
    )


@action("faults")
def _faults(emu: Host, d: dict) -> dict:
    emu.set_faults(d.get("spec"))
    return {"ok": True}


@action("clear_faults")
def _clear_faults(emu: Host, d: dict) -> dict:
    emu.clear_faults()
    return {"ok": True}


@action("make_token")
def _make_token(emu: Host, d: dict) -> dict:
    return {"token": emu.make_token(d.get("scopes"), d.get("forbidden_projects", ()), d.get("kind", "user"))}


@action("requests")
def _requests(emu: Host, d: dict) -> list[dict]:
    return emu.requests


@action("reset_log")
def _reset_log(emu: Host, d: dict) -> dict:
    emu.reset_log()
    return {"ok": True}


def handle(emu: Host, out: Exchange, name: str, pairs: list[tuple[str, str]], body: bytes) -> None:
    try:
        data = json.loads(body) if body else {}
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        for k, v in pairs:
            data.setdefault(k, v)
        if name not in ACTIONS:
            raise KeyError(f"unknown control action {name!r}")
        status, result = 200, ACTIONS[name](emu, data)
    except KeyError as exc:
        status, result = 404, {"error": str(exc)}
    except (ValueError, TypeError) as exc:
        status, result = 400, {"error": str(exc)}
    out.send(status, result)
