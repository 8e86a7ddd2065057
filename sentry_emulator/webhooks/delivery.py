"""Sending webhooks as Sentry's tasks do: in the background, each delivery on its own, with
Sentry's timeout, no redirect followed, and its retry rules; every request is logged on its app.

Standard library HTTP (``http.client``), as the rest of the emulator: it follows no redirect by
itself and lets the timeout be Sentry's per-socket-operation one."""

from __future__ import annotations

import heapq
import http.client
import itertools
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from .apps import SentryApp

WORKERS = 4  # Sentry runs each delivery as its own task: a slow receiver does not hold the others


@dataclass(frozen=True)
class Delivery:
    """One webhook: the body and signature stay the same for every try of it."""

    app: SentryApp
    delivery_id: str  # the same on every try, so a test can follow one delivery through its retries
    resource: str
    action: str
    body: bytes
    signature: str
    attempt: int = 1
    duplicate: bool = False  # a 2xx delivery sent again, as a retry Sentry makes without seeing the answer
    wait: float = 0.0  # seconds between being scheduled and this try (reordering, or a retry's spacing)


class Outbox:
    """A schedule of tries (by due time) and the worker threads that make them."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._workers = workers
        self._due: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def start(self) -> None:
        with self._cond:
            self._stopping = False
        for k in range(self._workers):
            t = threading.Thread(target=self._run, name=f"sentry-emulator-webhooks-{k}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Stop the workers; tries not yet made are dropped, as a stopped Sentry would not make them."""
        with self._cond:
            self._stopping = True
            self._due.clear()
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()

    def put(self, delivery: Delivery) -> None:
        with self._cond:
            heapq.heappush(self._due, (time.monotonic() + delivery.wait, next(self._order), delivery))
            self._cond.notify()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until no try is scheduled or under way (retries included); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._due or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._due) + self._busy

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._due or self._due[0][0] > time.monotonic()):
                    self._cond.wait(self._due[0][0] - time.monotonic() if self._due else None)
                if self._stopping:
                    return
                _, _, delivery = heapq.heappop(self._due)
                self._busy += 1
            try:
                self._attempt(delivery)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _attempt(self, d: Delivery) -> None:
        app = d.app
        request_id = uuid.uuid4().hex
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Request-ID": request_id,
            "Sentry-Hook-Resource": d.resource,
            "Sentry-Hook-Timestamp": timestamp,
            "Sentry-Hook-Signature": d.signature,
        }
        status, error = _post(app.webhook_url, d.body, headers, app.timeout, app.ca_cert)
        with app.lock:
            app.requests.append(
                {
                    "request_id": request_id,
                    "delivery_id": d.delivery_id,
                    "resource": d.resource,
                    "action": d.action,
                    "event_type": f"{d.resource}.{d.action}",
                    "status": status,
                    "error": error,
                    "attempt": d.attempt,
                    "duplicate": d.duplicate,
                    "wait": d.wait,
                    "timestamp": timestamp,
                    "time": time.time(),
                    "signature": d.signature,
                    "body": d.body.decode("ascii"),
                }
            )
            again = 200 <= status < 300 and not d.duplicate and app.rng.random() < app.duplicate_rate
        # A 4xx (and a 3xx: a redirect is not followed) is the receiver's answer: never retried.
        failed = status == 0 or status >= 500
        if (failed and d.attempt <= app.max_retries) or again:
            self.put(replace(d, attempt=d.attempt + 1, duplicate=again, wait=app.retry_delay))


def _post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, ca_cert: str | None
) -> tuple[int, str | None]:
    """(HTTP status, None), or (0, "timeout" | "connection") when no answer came."""
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        ctx = ssl.create_default_context(cafile=ca_cert)
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", target, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, None
    except TimeoutError:
        return 0, "timeout"
    except (OSError, http.client.HTTPException):
        return 0, "connection"
    finally:
        conn.close()
