"""A webhook target for the emulator's webhook tests: a real HTTP server on 127.0.0.1 that keeps
every request as received (raw body bytes, headers) and answers as each test scripts it."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest

from sentry_emulator.listener import QuietListener
from sentry_emulator.tls import make_certs


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


class WebhookTarget:
    """``answers``: what the next requests get, in order (an int status, ``("slow", seconds)``
    answered 200 that late, or ``("redirect", url)``); then 200. ``hold``: while it is clear,
    requests wait for it before answering."""

    def __init__(self, *, tls: bool = False) -> None:
        self.received: list[Received] = []
        self.answers: list[object] = []
        self.hold = threading.Event()
        self.hold.set()
        self._lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with target._lock:
                    target.received.append(Received(self.path, dict(self.headers.items()), body))
                    answer = target.answers.pop(0) if target.answers else 200
                target.hold.wait(10)
                headers = {}
                if isinstance(answer, tuple) and answer[0] == "slow":
                    time.sleep(answer[1])
                    answer = 200
                elif isinstance(answer, tuple) and answer[0] == "redirect":
                    headers["Location"] = answer[1]
                    answer = 302
                self.send_response(int(answer))  # type: ignore[call-overload]
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

        # A "slow" answer outlives the emulator's one-second wait, so its client is gone when it
        # is written: quiet about that, as the emulator is.
        self._httpd = QuietListener(("127.0.0.1", 0), Handler)
        self.ca_cert: str | None = None
        if tls:
            self.ca_cert, cert, key = make_certs()
            self._httpd.use_tls(cert, key)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}/sentry/webhook"
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def close(self) -> None:
        self.hold.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self.ca_cert:
            shutil.rmtree(self.ca_cert.rsplit("/", 1)[0], ignore_errors=True)


@pytest.fixture
def webhook_target() -> Iterator[WebhookTarget]:
    target = WebhookTarget()
    yield target
    target.close()


@pytest.fixture
def tls_webhook_target() -> Iterator[WebhookTarget]:
    """The same over HTTPS, with a certificate from a throw-away CA (``ca_cert``)."""
    target = WebhookTarget(tls=True)
    yield target
    target.close()
