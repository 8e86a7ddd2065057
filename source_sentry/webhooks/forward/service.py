"""Forwarding inside the receiver: the outbox rows written with each delivery, one sender per
target, the state shown in metrics, old rows pruned, and the status page's routes."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from source_sentry.webhooks.forward import page
from source_sentry.webhooks.forward.metrics import ForwardMetrics
from source_sentry.webhooks.forward.outbox import Outbox
from source_sentry.webhooks.forward.recorder import Recorder
from source_sentry.webhooks.forward.sender import TargetSender
from source_sentry.webhooks.settings import Settings
from source_sentry.webhooks.store import StoreError

log = logging.getLogger("source_sentry.webhooks.forward")
# httpx logs each request's URL at INFO; a target's URL (a Slack one is a credential) must not
# reach the log.
logging.getLogger("httpx").setLevel(logging.WARNING)
# How often the per-state gauges are read from the database (all receivers' rows): every 5 s,
# or sooner when the senders poll faster (tests).
METRICS_REFRESH_SECONDS = 5.0
MS_PER_DAY = 86_400_000


class ForwardStartError(RuntimeError):
    """Forwarding cannot start for a reason the operator must fix; the message says which and
    never holds a target's URL or secret."""


# What an HTTP client reads from the environment, and so what to check when one cannot be made.
CLIENT_ENVIRONMENT = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def _check_url(where: str, url: str) -> None:
    """The settings checked the URL's scheme and host; the client's own parser is stricter (a port
    that is not a number, control characters), and would otherwise fail on every send."""
    try:
        httpx.URL(url)
    except httpx.InvalidURL:
        raise ForwardStartError(
            f"{where}.url: the HTTP client cannot use it (not shown here); check its port and characters."
        ) from None


def _client_problem(where: str, error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        said = error.strerror + (f": {error.filename}" if error.filename else "")
    else:
        # The class only: its message can quote a proxy URL, password included.
        said = type(error).__name__
    read = [name for name in CLIENT_ENVIRONMENT if os.environ.get(name) or os.environ.get(name.lower())]
    return (
        f"{where}: cannot set up its HTTP client ({said}). Check what it reads from the environment: "
        f"{', '.join(read) if read else 'none of ' + ', '.join(CLIENT_ENVIRONMENT) + ' is set'} "
        "(a CA file or directory must exist, a proxy URL must parse)."
    )


class Forwarder:
    def __init__(self, settings: Settings, registry: CollectorRegistry) -> None:
        self._settings = settings
        self._forward = settings.forward
        self._metrics = ForwardMetrics(registry)
        self._outbox: Outbox | None = None
        self._recorder: Recorder | None = None
        self._senders: list[TargetSender] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def outbox(self) -> Outbox:
        assert self._outbox is not None, "the forwarder has not started"
        return self._outbox

    def extend(self, conn: Any, seq: int) -> None:
        """The receiver's hook inside the transaction that keeps a delivery."""
        if self._forward.targets:
            self.outbox.choose_in(conn, seq, self._forward.targets, int(time.time() * 1000))

    def committed(self) -> None:
        """A new delivery committed: its rows are due now."""
        for sender in self._senders:
            sender.wake()

    def routes(self) -> list[BaseRoute]:
        return list(page.routes(self._forward, lambda: self.outbox))

    def open(self) -> None:
        """Everything that can fail for a reason the operator must fix: the outbox's connection and
        tables, each target's HTTP client. Called before the server starts (cli.py), so that such
        a failure is one message rather than a start-up traceback."""
        if self._outbox is not None:
            return
        try:
            outbox = Outbox(self._settings.database)
        except StoreError as error:
            raise ForwardStartError(str(error)) from error
        recorder = Recorder(outbox)
        senders: list[TargetSender] = []
        try:
            for index, target in enumerate(self._forward.targets):
                where = f"forward[{index}] ({target.name})"
                _check_url(where, target.url)
                try:
                    senders.append(TargetSender(target, outbox, self._forward, self._metrics, recorder))
                except Exception as error:
                    raise ForwardStartError(_client_problem(where, error)) from error
        except ForwardStartError:
            outbox.close()
            raise
        self._outbox, self._recorder, self._senders = outbox, recorder, senders

    async def start(self) -> None:
        if self._outbox is None:
            await run_in_threadpool(self.open)
        assert self._recorder is not None
        self._tasks = [asyncio.create_task(sender.run()) for sender in self._senders]
        self._tasks.append(asyncio.create_task(self._recorder.run()))
        self._tasks.append(asyncio.create_task(self._housekeeping()))
        log.info("Forwarding to %d target(s): %s", len(self._senders), self._forward.redacted()["targets"])

    def close(self) -> None:
        """Release what `open` took, when the server never started."""
        if self._outbox is not None and not self._tasks:
            self._outbox.close()
            self._outbox = None

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        grace = float(self._settings.shutdown_grace_seconds)
        await asyncio.gather(*(sender.close(grace) for sender in self._senders))
        if self._recorder is not None:
            await self._recorder.flush()
        if self._outbox is not None:
            self._outbox.close()

    async def _housekeeping(self) -> None:
        names = [t.name for t in self._forward.targets]
        last_prune = 0.0
        while True:
            try:
                now_ms = int(time.time() * 1000)
                counts = await run_in_threadpool(self.outbox.counts, now_ms)
                disabled = await run_in_threadpool(self.outbox.disabled)
                self._metrics.show(counts, disabled, names)
                if time.monotonic() - last_prune >= self._settings.prune_interval_seconds:
                    last_prune = time.monotonic()
                    cutoff = now_ms - self._settings.retention_days * MS_PER_DAY
                    removed = await run_in_threadpool(self.outbox.prune, cutoff)
                    if removed:
                        log.info("Retention: pruned %d forwarding rows", removed)
            except StoreError as error:
                log.warning("Forwarding housekeeping: %s", error)
            await asyncio.sleep(min(METRICS_REFRESH_SECONDS, 10 * self._forward.poll_seconds))
