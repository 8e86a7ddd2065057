"""The status page: `/forward/` for holders of the admin token (see `session` for how a browser
presents it). Targets with their counts, the last deliveries and failures, a replay button for
dead ones; `/forward/status.json` gives the same to scripts. No URL or secret is shown."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from source_sentry.webhooks.forward import session
from source_sentry.webhooks.forward.config import ForwardSettings
from source_sentry.webhooks.forward.outbox import STATES, Outbox
from source_sentry.webhooks.forward.report import status_report

STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
    "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.dead{color:#b00}"
)


def routes(settings: ForwardSettings, outbox: Callable[[], Outbox]) -> list[Route]:
    token = settings.admin_token

    def session_of(request: Request) -> int | None:
        return session.session_expiry(token, request.cookies.get(session.COOKIE)) if token else None

    async def login_form(request: Request) -> Response:
        if not token:
            return _off()
        failed = request.query_params.get("failed") == "1"
        return HTMLResponse(_login_html(failed), headers=_no_store())

    async def login(request: Request) -> Response:
        if not token:
            return _off()
        given = parse_qs((await request.body()).decode("utf-8", "replace")).get("token", [""])[0]
        if not session.bearer_matches(token, f"Bearer {given}"):
            return RedirectResponse("/forward/login?failed=1", status_code=303)
        answer = RedirectResponse("/forward/", status_code=303)
        secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
        answer.set_cookie(
            session.COOKIE,
            session.new_session(token),
            max_age=session.SESSION_SECONDS,
            path="/forward",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return answer

    async def page(request: Request) -> Response:
        if not token:
            return _off()
        expiry = session_of(request)
        if expiry is None:
            return RedirectResponse("/forward/login", status_code=303)
        report = await run_in_threadpool(status_report, outbox(), settings)
        message = request.query_params.get("replayed")
        return HTMLResponse(_page_html(report, session.csrf_for(token, expiry), message), headers=_no_store())

    async def status_json(request: Request) -> Response:
        if not token:
            return _off()
        if (
            not session.bearer_matches(token, request.headers.get("authorization"))
            and session_of(request) is None
        ):
            return JSONResponse({"detail": "send Authorization: Bearer <admin_token>"}, status_code=401)
        report = await run_in_threadpool(status_report, outbox(), settings)
        return JSONResponse(report)

    async def replay(request: Request) -> Response:
        if not token:
            return _off()
        expiry = session_of(request)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        if expiry is None or form.get("csrf", [""])[0] != session.csrf_for(token, expiry):
            return JSONResponse({"detail": "log in at /forward/login"}, status_code=403)
        ids = [int(value) for value in form.get("id", []) if value.isdigit()]
        target = form.get("target", [None])[0]
        replayed = await run_in_threadpool(outbox().replay, int(time.time() * 1000), target, ids)
        return RedirectResponse(f"/forward/?replayed={replayed}", status_code=303)

    return [
        Route("/forward/login", login_form, methods=["GET"]),
        Route("/forward/login", login, methods=["POST"]),
        Route("/forward/", page, methods=["GET"]),
        Route("/forward/status.json", status_json, methods=["GET"]),
        Route("/forward/replay", replay, methods=["POST"]),
    ]


def _off() -> Response:
    return JSONResponse({"detail": "the status page is off: set admin_token"}, status_code=404)


def _no_store() -> dict[str, str]:
    return {"cache-control": "no-store", "x-frame-options": "DENY"}


def _login_html(failed: bool) -> str:
    note = '<p class="dead" id="failed">That is not the admin token.</p>' if failed else ""
    return (
        f"<!doctype html><html><head><title>Forwarding: log in</title><style>{STYLE}</style></head><body>"
        f"<h1>Forwarding status</h1>{note}<form method=post action=/forward/login>"
        "<label>Admin token <input type=password name=token id=token autocomplete=current-password></label> "
        "<button type=submit id=login>Log in</button></form></body></html>"
    )


def _page_html(report: dict[str, Any], csrf: str, replayed: str | None) -> str:
    e = html.escape
    heads = "".join(f"<th>{s.replace('_', ' ')}</th>" for s in STATES)
    rows = []
    for target in report["targets"]:
        counts = "".join(f'<td class="{s}">{target["counts"][s]}</td>' for s in STATES)
        button = ""
        if target["counts"]["dead"]:
            button = _replay_form(
                csrf,
                f'<input type=hidden name=target value="{e(target["name"])}">',
                f"replay all dead of {target['name']}",
                f"replay-{target['name']}",
            )
        disabled = e(target["disabled"] or "")
        rows.append(
            f'<tr id="target-{e(target["name"])}"><td>{e(target["name"])}</td><td>{e(target["kind"])}</td>'
            f"<td>{disabled}</td>{counts}<td>{button}</td></tr>"
        )
    note = f'<p id="replayed">Replayed {e(replayed)} dead deliveries.</p>' if replayed else ""
    return (
        f"<!doctype html><html><head><title>Forwarding status</title><style>{STYLE}</style></head><body>"
        f"<h1>Forwarding status</h1>{note}"
        f"<table id=targets><tr><th>target</th><th>kind</th><th>disabled</th>{heads}<th></th></tr>"
        f"{''.join(rows)}</table>"
        f"<h2>Failures</h2>{_entries(report['failures'], csrf, 'failures')}"
        f"<h2>Last deliveries</h2>{_entries(report['recent'], csrf, 'recent')}</body></html>"
    )


def _entries(entries: list[dict[str, Any]], csrf: str, table_id: str) -> str:
    e = html.escape
    rows = []
    for entry in entries:
        button = ""
        if entry["state"] == "dead":
            button = _replay_form(
                csrf,
                f'<input type=hidden name=id value="{entry["id"]}">',
                "replay",
                f"replay-row-{entry['id']}",
            )
        cells = [
            entry["id"],
            entry["target"],
            entry["seq"],
            f"{entry['resource']}.{entry['action']}",
            entry["project"] or "",
            entry["state"],
            entry["attempts"],
            entry["last_status"] or "",
            entry["last_error"] or "",
            entry["last_attempt"] or "",
        ]
        rows.append(
            f'<tr class="{e(entry["state"])}">'
            + "".join(f"<td>{e(str(c))}</td>" for c in cells)
            + f"<td>{button}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "row",
            "target",
            "seq",
            "what",
            "project",
            "state",
            "attempts",
            "status",
            "error",
            "last try",
            "",
        )
    )
    return f"<table id={table_id}><tr>{head}</tr>{''.join(rows)}</table>"


def _replay_form(csrf: str, fields: str, label: str, button_id: str) -> str:
    return (
        f'<form method=post action=/forward/replay><input type=hidden name=csrf value="{csrf}">{fields}'
        f'<button type=submit id="{html.escape(button_id)}">{html.escape(label)}</button></form>'
    )
