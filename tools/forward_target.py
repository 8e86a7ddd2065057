"""A forward target for tests and the benchmark: a real HTTP server on 127.0.0.1 that records
every request and answers as told: 200 by default, or, for the next requests in turn, a status
(500, 410, ...), 429 with a Retry-After, a late answer (the sender times out), or a connection
closed without an answer. It checks Standard Webhooks signatures the way a target should."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from sentry_emulator.listener import QuietListener

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass(frozen=True)
class Behaviour:
    status: int = 200
    retry_after: str | None = None
    delay: float = 0.0  # seconds before answering
    close: bool = False  # read the request, then close the connection without an answer
    location: str | None = None  # a Location header (with a 3xx status)


OK = Behaviour()
TIMEOUT = Behaviour(delay=2.0)
CLOSE = Behaviour(close=True)


@dataclass(frozen=True)
class Received:
    at: float  # time.time() when the request was read
    path: str
    headers: dict[str, str]
    body: bytes
    answered: Behaviour

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def accepted(self) -> bool:
        """The target took it (a 2xx the sender could read)."""
        return 200 <= self.answered.status < 300 and not self.answered.close and self.answered.delay < 1.0


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: float = 300) -> bool:
    """What a target should do with a Standard Webhooks delivery (docs/webhooks.md shows it)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > tolerance:
        return False
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [
        part.removeprefix("v1,") for part in headers["webhook-signature"].split() if part.startswith("v1,")
    ]
    return any(hmac.compare_digest(expected, sig) for sig in given)


class ForwardTarget:
    """`with ForwardTarget() as target: target.url ...; target.plan(Behaviour(500), ...)`."""

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        """tls: (certificate, key) files to serve HTTPS with."""
        self.received: list[Received] = []
        self._plans: dict[str, deque[Behaviour]] = {}
        self._lock = threading.Lock()
        self._server = QuietListener(("127.0.0.1", 0), self._handler())
        self.port = int(self._server.server_address[1])
        self.scheme = "https" if tls else "http"
        if tls:
            self._server.use_tls(*tls)
        self._thread = threading.Thread(target=self._server.serve_forever, name="forward-target", daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def plan(self, *behaviours: Behaviour, path: str = "/hook") -> None:
        """The answers to the next requests on `path`, in turn; after them, 200."""
        with self._lock:
            self._plans.setdefault(path, deque()).extend(behaviours)

    def requests(self, path: str = "/hook") -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait_for(
        self, count: int, path: str = "/hook", timeout: float = 30.0, accepted: bool = True
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [r for r in self.requests(path) if r.accepted or not accepted]
            if len({r.webhook_id or id(r) for r in got}) >= count:
                return got
            time.sleep(0.02)
        return [r for r in self.requests(path) if r.accepted or not accepted]

    def _next(self, path: str) -> Behaviour:
        with self._lock:
            queued = self._plans.get(path)
            return queued.popleft() if queued else OK

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                behaviour = target._next(self.path)
                with target._lock:
                    target.received.append(
                        Received(
                            time.time(),
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            behaviour,
                        )
                    )
                if behaviour.close:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if behaviour.delay:
                    time.sleep(behaviour.delay)
                self.send_response(behaviour.status)
                if behaviour.retry_after is not None:
                    self.send_header("Retry-After", behaviour.retry_after)
                if behaviour.location is not None:
                    self.send_header("Location", behaviour.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> ForwardTarget:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
