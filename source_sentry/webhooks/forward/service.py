"""Forwarding inside the receiver: the outbox rows written with each delivery, one sender per
target, the state shown in metrics, old rows pruned, and the status page's routes."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

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

    async def start(self) -> None:
        self._outbox = await run_in_threadpool(Outbox, self._settings.database)
        self._recorder = Recorder(self._outbox)
        self._senders = [
            TargetSender(t, self._outbox, self._forward, self._metrics, self._recorder)
            for t in self._forward.targets
        ]
        self._tasks = [asyncio.create_task(sender.run()) for sender in self._senders]
        self._tasks.append(asyncio.create_task(self._recorder.run()))
        self._tasks.append(asyncio.create_task(self._housekeeping()))
        log.info("Forwarding to %d target(s): %s", len(self._senders), self._forward.redacted()["targets"])

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
