"""Attempts' outcomes recorded in batches: every send that finished while the last commit ran is
recorded by the next one. One write transaction per batch rather than per send keeps the
database's write lock (SQLite has one for the whole file, which the receiver's commits need) free
for the receiver. A row whose outcome is not recorded yet keeps its lease, so no one sends it
meanwhile; if the process dies first, the lease runs out and the row is sent again with its
webhook-id."""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from source_sentry.webhooks.forward.outbox import Outbox, Outcome
from source_sentry.webhooks.store import StoreError

MAX_BATCH = 500
log = logging.getLogger("source_sentry.webhooks.forward")


class Recorder:
    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._queue: asyncio.Queue[Outcome] = asyncio.Queue()

    def put(self, outcome: Outcome) -> None:
        self._queue.put_nowait(outcome)

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            await self._record(self._drain(batch))

    async def flush(self) -> None:
        """Record what is queued (at shutdown, after the last send)."""
        batch = self._drain([])
        if batch:
            await self._record(batch)

    def _drain(self, batch: list[Outcome]) -> list[Outcome]:
        while len(batch) < MAX_BATCH and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _record(self, batch: list[Outcome]) -> None:
        try:
            await run_in_threadpool(self._outbox.record, batch)
        except StoreError as error:
            log.warning(
                "Forwarding: could not record %d outcomes (those rows are sent again): %s", len(batch), error
            )
