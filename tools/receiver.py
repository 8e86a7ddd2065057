"""The webhook receiver as the tests and the benchmark run it: its own process on loopback
(`python -m source_sentry.run webhooks --config FILE`), and deliveries signed as Sentry signs
them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from source_sentry.webhooks.signature import sign
from tools.postgres import free_port

SECRET = "c5f6a1e3b2d94e7f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5"
OLD_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
FEED_TOKEN = "feed-token-for-tests-0123456789"
INSTALLATION = "7a485448-a9e2-4c85-8a3c-4f44175783c9"


def compact(payload: dict[str, Any]) -> bytes:
    """Sentry's body bytes: compact separators, non-ASCII escaped."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def issue_body(
    action: str, issue_id: str, status: str, project: str = "backend", title: str = "Boom"
) -> bytes:
    issue = {
        "id": issue_id,
        "shortId": f"{project.upper()}-{issue_id}",
        "title": title,
        "status": status,
        "substatus": "ongoing" if status == "unresolved" else None,
        "project": {"id": "11", "name": project, "slug": project},
        "url": f"https://sentry.io/api/0/organizations/acme/issues/{issue_id}/",
    }
    data: dict[str, Any] = {"issue": issue}
    if action == "resolved":
        data["resolution_type"] = "now"
    return compact(
        {
            "action": action,
            "installation": {"uuid": INSTALLATION},
            "data": data,
            "actor": {"type": "user", "id": 1, "name": "Ada"},
        }
    )


def headers(
    body: bytes, resource: str, secret: str = SECRET, request_id: str | None = None
) -> dict[str, str]:
    """Sentry's headers for one request object: a new Request-ID and timestamp each time."""
    return {
        "Content-Type": "application/json",
        "Request-ID": request_id or uuid.uuid4().hex,
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": str(int(time.time())),
        "Sentry-Hook-Signature": sign(body, secret),
    }


def settings(database: str, port: int, **extra: Any) -> dict[str, Any]:
    return {
        "client_secrets": [SECRET, OLD_SECRET],
        "database": database,
        "feed_token": FEED_TOKEN,
        "listen": f"127.0.0.1:{port}",
        **extra,
    }


class ReceiverProcess:
    """`source-sentry webhooks` in a process of its own, up once /healthz answers. `module`: another
    program taking the receiver's `--config FILE` (the benchmark's receiver keeping nothing)."""

    COMMAND = ("source_sentry.run", "webhooks")

    def __init__(self, workdir: Path, database: str, module: Sequence[str] = COMMAND, **extra: Any) -> None:
        self.module = module
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config = workdir / f"receiver-{self.port}.json"
        self.config.write_text(json.dumps(settings(database, self.port, **extra)))
        self.log = workdir / f"receiver-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ReceiverProcess:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *self.module, "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the receiver exited with {self.process.returncode}: {self.log_text()[-2000:]}"
                )
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(
            f"the receiver did not answer /healthz within {timeout} s: {self.log_text()[-2000:]}"
        )

    def pids(self) -> list[int]:
        """The receiver's process (its one process: the committer and the senders are threads and
        tasks in it)."""
        assert self.process is not None
        return [self.process.pid]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, as a container runtime stops it; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> ReceiverProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def read_feed(
    base_url: str, after: int = 0, limit: int = 1000, token: str = FEED_TOKEN
) -> list[dict[str, Any]]:
    """Every delivery after `after`, following the feed page by page."""
    entries: list[dict[str, Any]] = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        while True:
            page = client.get("/v1/deliveries", params={"after": after, "limit": limit})
            page.raise_for_status()
            answer = page.json()
            entries.extend(answer["deliveries"])
            after = answer["next_after"]
            if not answer["more"]:
                return entries
