"""The HTTP core: a threading server on 127.0.0.1 (optionally TLS), and the dispatch of each
request to the control API or to an API route, with auth, faults and rate limits on the way.

Built on the standard library (``http.server.ThreadingHTTPServer`` + ``ssl``): it needs no
dependency the project does not already have, starts in milliseconds in-process or as a
subprocess, and gives byte-level control over responses (exact ``Link`` headers, a
``text/html`` 429 whose body is a JSON string, truncated bodies, connection resets), which
frameworks tend to "fix".
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import control, injection, resources
from .host import Host
from .listener import QuietListener
from .paging import BadRequest
from .request import ApiError, Request
from .resources.glitchtip import GLITCHTIP, adapt
from .routing import SENTRY, RouteTable
from .webhooks import control as webhook_actions
from .wire import Closed, Exchange

assert resources  # imported for its routes
assert webhook_actions  # imported for its control actions
_LOGGED_HEADERS = ("authorization", "user-agent", "content-type", "accept")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 60
    # TCP_NODELAY, as nginx sets on keep-alive connections (`tcp_nodelay on`, its default). With
    # Nagle's algorithm on, the body written after the headers waits for the client's delayed
    # ACK: about 40 ms for every request after the first on a connection, which real servers
    # do not cost and which would swamp the figures of short runs (the notifier, small pages).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass

    def _dispatch(self) -> None:
        handle(self.server.emulator, self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


class Server:
    """The listening socket and its thread; ``port`` is the one bound (``port=0``: any free)."""

    def __init__(self, emu: Host, host: str, port: int, tls: bool) -> None:
        self._httpd = QuietListener((host, port), _Handler)
        self._httpd.emulator = emu  # type: ignore[attr-defined]
        self._tls_dir: str | None = None
        self.ca_cert: str | None = None
        if tls:
            from .tls import make_certs

            ca, cert, key = make_certs()
            self._tls_dir = ca.rsplit("/", 1)[0]
            self.ca_cert = ca
            self._httpd.use_tls(cert, key)
        self.port: int = self._httpd.server_address[1]

    def serve_in_thread(self) -> None:
        threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="sentry-emulator",
            daemon=True,
        ).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._tls_dir:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None


def _log_entry(h: BaseHTTPRequestHandler, req: Request, body: bytes, started: float) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": time.time(),
        "method": req.method,
        "path": req.path,
        "query": req.params,
        "status": None,
        "fault": None,
        "token": None,
        "user_agent": h.headers.get("User-Agent"),
        "request_headers": {k: v for k, v in h.headers.items() if k.lower() in _LOGGED_HEADERS},
        "body": None,
        "response_headers": {},
        "_started": started,
    }
    if body:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            entry["body"] = json.loads(body)
    auth = h.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        entry["token"] = auth[len("Bearer ") :].strip()
    return entry


DIALECTS = {"sentry": SENTRY, "glitchtip": GLITCHTIP}


def handle(emu: Host, h: BaseHTTPRequestHandler) -> None:
    routes = DIALECTS[emu.dialect]
    started = time.monotonic()
    split = urlsplit(h.path)
    pairs = parse_qsl(split.query, keep_blank_values=True)
    length = int(h.headers.get("Content-Length") or 0)
    body = h.rfile.read(length) if length else b""
    if split.path.startswith(control.PREFIX):
        control.handle(
            emu, Exchange(h, emu.log, None), split.path[len(control.PREFIX) :].strip("/"), pairs, body
        )
        return
    segments = [unquote(s) for s in split.path.split("/")]
    host = h.headers.get("Host") or f"{emu.host}:{emu.port}"
    req = Request(h.command, "/".join(segments), pairs, h.headers, body, f"{emu.scheme}://{host}")
    if emu.dialect == "glitchtip":
        try:
            adapt(req)
        except BadRequest as exc:
            Exchange(h, emu.log, _log_entry(h, req, body, started)).send(400, exc.body)
            return
    entry = _log_entry(h, req, body, started)
    out = Exchange(h, emu.log, entry)
    with contextlib.suppress(Closed):
        _api(emu, routes, req, out, segments)


def _api(emu: Host, routes: RouteTable, req: Request, out: Exchange, segments: list[str]) -> None:
    entry = out.entry
    assert entry is not None  # handle() logs every API request
    has_slash = len(segments) > 3 and segments[-1] == ""
    if segments[:3] != ["", "api", "0"] and not (has_slash and routes.match(segments[:-1])):
        return out.send(404, {"detail": "Not found"})
    match = routes.match(segments[:-1]) if has_slash else None
    if match is None:
        if not has_slash and len(segments) > 3 and segments[-1] and routes.match(segments):
            hint = req.path + "/"
            return out.send(404, {"info": f"Route not found, did you forget a trailing slash? try: {hint}"})
        return out.send(404, {"info": "Route not found"})
    methods, args = match
    endpoint = methods.get(req.method)
    if endpoint is None:
        return out.send(
            405, {"detail": f'Method "{req.method}" not allowed.'}, {"Allow": ", ".join(sorted(methods))}
        )
    rule = emu.faults.pick(endpoint.faults)
    if rule is not None:
        entry["fault"] = rule.text
        if injection.answer_before(out, rule, emu.limiter, endpoint.category, emu.seed):
            return None
    rate_headers: dict[str, str] = {}
    key = entry["token"] or out.h.client_address[0]
    entered = False
    if emu.limiter.enabled:
        rate_headers, msg = emu.limiter.enter(endpoint.category, key)
        if msg is not None:
            return injection.send_429(out, msg, rate_headers)
        entered = True
    try:
        injection.delay(rule)
        try:
            if not endpoint.public:
                req.token = emu.tokens.authenticate(req)
            with emu.world.lock:
                status, body = endpoint.handler(emu, req, **args)
        except ApiError as exc:
            status, body = exc.status, exc.body
        except BadRequest as exc:
            status, body = 400, exc.body
        if emu.page_latency_ms and status == 200 and isinstance(body, list):
            # Outside the world lock and inside the rate limiter's in-flight count, as a slow
            # server's time to build a page is.
            time.sleep(emu.page_latency_ms / 1000)
    finally:
        # Sentry frees the slot when the answer is ready, before it is sent: a client that sends
        # its next request on receiving this answer finds the slot free.
        if entered:
            emu.limiter.leave(endpoint.category, key)
    injection.answer_after(out, rule, status, body, {**rate_headers, **req.extra_headers})
    return None
