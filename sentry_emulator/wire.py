"""Bytes on the wire: sending an answer (whole, cut short, or none) and logging it once, just
before the bytes go out, so a test that reads the log after its response sees the entry."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler


class Closed(Exception):
    """The connection was closed without (a complete) response."""


class RequestLog:
    """The API requests served, as the dicts `Emulator.requests` documents."""

    def __init__(self) -> None:
        self._entries: list[dict] = []
        self._lock = threading.Lock()

    def append(self, entry: dict) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Exchange:
    """One request/response on a connection; ``entry`` (None: not logged) is completed and
    appended to ``log`` when the answer is sent."""

    def __init__(self, h: BaseHTTPRequestHandler, log: RequestLog, entry: dict | None) -> None:
        self.h = h
        self.log = log
        self.entry = entry

    def record(self, status: int | None, headers: dict) -> None:
        entry = self.entry
        if entry is None or "duration" in entry:
            return
        entry["status"] = status
        entry["response_headers"] = {
            k: v
            for k, v in headers.items()
            if k.startswith("X-") or k in ("Link", "Content-Type", "Location")
        }
        entry["duration"] = time.monotonic() - entry.pop("_started")
        self.log.append(entry)

    def send(
        self,
        status: int,
        body: object,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = dict(headers or {})
        headers.setdefault("Content-Type", content_type)
        self.record(status, headers)
        h = self.h
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)

    def send_incomplete(self, raw: bytes, headers: dict) -> None:
        """200 declaring the whole body's length, half of it sent, then the connection closes."""
        self.record(200, headers)
        h = self.h
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw[: len(raw) // 2])
        h.wfile.flush()
        h.close_connection = True
        raise Closed

    def reset(self) -> None:
        """Close the socket with a TCP RST and no response."""
        self.record(None, {})
        with contextlib.suppress(OSError):
            self.h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.h.connection.close()
        self.h.close_connection = True
        raise Closed
